// The header bar every signed-in page shares: brand, page-specific middle, notifications,
// theme, user (the avatar leads to the settings page).
import { session } from './api'
import { h, icon } from './dom'
import { navigate } from './router'
import { toggleTheme } from './theme'
import { notificationsMenu } from './notifications'

export function header (...middle: (Node | null)[]): HTMLElement {
  const user = session.user
  const right = h('div', { class: 'header-right' },
    user ? notificationsMenu() : null,
    h('button', { type: 'button', class: 'icon-button', title: 'Light or dark theme', 'aria-label': 'Toggle theme', onclick: () => toggleTheme() }, icon('moon')),
    user
      ? h('div', { class: 'user-menu' },
        h('a', { href: '/settings', 'data-link': true, class: 'avatar', title: `${user.email ?? user.name}: settings`, 'aria-label': 'Settings' }, initials(user.name)),
        h('button', { type: 'button', class: 'button ghost small', onclick: async () => { navigate((await session.logout()) ? '/login' : '/login?signout=incomplete') } }, 'Log out'))
      : h('a', { href: '/login', 'data-link': true, class: 'button ghost small' }, 'Log in'))
  return h('header', { class: 'topbar' },
    h('a', { href: '/', 'data-link': true, class: 'brand' }, h('img', { src: '/favicon.svg', alt: '', width: 24, height: 24 }), h('span', {}, 'Tandem')),
    h('div', { class: 'header-middle' }, ...middle),
    right)
}

export function initials (name: string): string {
  return name.split(/\s+/).filter(Boolean).slice(0, 2).map((w) => w[0].toUpperCase()).join('') || '?'
}
