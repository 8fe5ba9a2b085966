// The account page at `/settings`: one card per concern: the profile and the account's
// data (profile.ts), and personal API tokens: make one (its secret shown this once, with a
// copy button), see when each was last used, revoke. Admins get a link to `/admin`.
import { type components } from '@tandem/client'
import { api, explain, ok } from './api'
import { h, timeAgo } from './dom'
import { confirmAction, notify } from './dialogs'
import { header } from './header'
import { dataCard, profileCard } from './profile'

type TokenView = components['schemas']['TokenView']

const DAY = 86_400
const LIFETIMES: [string, number | null][] = [['30 days', 30 * DAY], ['90 days', 90 * DAY], ['1 year', 365 * DAY], ['Never', null]]

export function settingsPage (root: HTMLElement): () => void {
  const adminLink = h('a', { href: '/admin', 'data-link': true, class: 'button ghost', hidden: true, 'data-testid': 'admin-link' }, 'Administration')
  const page = h('main', { class: 'list-page settings-page' },
    h('div', { class: 'list-head' }, h('h1', {}, 'Settings'), adminLink),
    profileCard((p) => { adminLink.hidden = !p.is_admin }),
    tokensCard(root),
    dataCard(root))
  root.append(header(), page)
  return () => {}
}

/** A titled card of the settings page. */
export function card (title: string, description: string, ...body: Node[]): HTMLElement {
  return h('section', { class: 'settings-card' }, h('h2', {}, title), h('p', { class: 'muted' }, description), ...body)
}

function tokensCard (root: HTMLElement): HTMLElement {
  const alert = h('p', { role: 'alert', class: 'alert', hidden: true })
  const list = h('ul', { class: 'token-list', 'data-testid': 'token-list' })
  const name = h('input', { name: 'token-name', required: true, maxlength: 100, placeholder: 'What it is for, e.g. backup script', 'aria-label': 'Token name', autocomplete: 'off' })
  const scope = h('select', { class: 'select', name: 'token-scope', 'aria-label': 'Scope' },
    h('option', { value: 'read' }, 'Read only'), h('option', { value: 'write' }, 'Read and write'))
  const lifetime = h('select', { class: 'select', name: 'token-lifetime', 'aria-label': 'Expires after' },
    ...LIFETIMES.map(([label, secs], i) => h('option', { value: String(i), selected: secs === 90 * DAY }, label)))
  const create = h('button', { type: 'submit', class: 'button primary small' }, 'Create token')
  const form = h('form', { class: 'token-form' }, name, scope, lifetime, create)
  const secret = h('div', { class: 'token-secret', hidden: true, 'data-testid': 'token-secret' })

  const showError = (e: unknown) => { alert.textContent = explain(e); alert.hidden = false }

  async function load (): Promise<void> {
    try {
      const tokens = await ok(api.GET('/api/v1/users/me/tokens'))
      list.replaceChildren(...(tokens.length ? tokens.map(row) : [h('li', { class: 'muted' }, 'No tokens yet.')]))
    } catch (e) { showError(e) }
  }

  function row (t: TokenView): HTMLElement {
    const used = t.last_used_at ? h('span', {}, 'used ', timeAgo(t.last_used_at)) : h('span', {}, 'never used')
    const expires = t.expires_at ? `expires ${new Date(t.expires_at).toLocaleDateString()}` : 'never expires'
    const revoke = h('button', { type: 'button', class: 'button ghost small danger-text' }, 'Revoke')
    revoke.addEventListener('click', async () => {
      const sure = await confirmAction(root, { title: `Revoke “${t.name}”?`, description: 'Scripts using it stop working at once, and connections opened with it close.', confirm: 'Revoke', danger: true })
      if (!sure) return
      try {
        await ok(api.DELETE('/api/v1/users/me/tokens/{id}', { params: { path: { id: t.id } } }))
        notify('Token revoked')
        await load()
      } catch (e) { showError(e) }
    })
    return h('li', { class: 'token-item', 'data-token': t.id },
      h('div', { class: 'doc-main' },
        h('span', { class: 'token-name' }, t.name, ' ', h('span', { class: 'badge' }, t.scopes.includes('write') ? 'read, write' : 'read')),
        h('span', { class: 'doc-meta' }, h('code', {}, `${t.prefix}…`), h('span', {}, 'created ', timeAgo(t.created_at)), '·', used, '·', h('span', {}, expires))),
      revoke)
  }

  form.addEventListener('submit', async (e) => {
    e.preventDefault()
    alert.hidden = true
    create.disabled = true
    const expires = LIFETIMES[Number(lifetime.value)]?.[1] ?? null
    try {
      const made = await ok(api.POST('/api/v1/users/me/tokens', {
        body: { name: name.value.trim(), scopes: [scope.value as 'read' | 'write'], ...(expires ? { expires_in: expires } : {}) }
      }))
      name.value = ''
      showSecret(made.token)
      await load()
    } catch (err) { showError(err) } finally { create.disabled = false }
  })

  function showSecret (token: string): void {
    const value = h('input', { readonly: true, value: token, 'aria-label': 'New token', 'data-testid': 'token-value' })
    const copy = h('button', { type: 'button', class: 'button small' }, 'Copy')
    copy.addEventListener('click', async () => {
      value.select()
      try { await navigator.clipboard.writeText(token); notify('Copied') } catch { notify('Select the token and copy it') }
    })
    secret.replaceChildren(h('p', {}, 'Copy this token now: it is not shown again.'), h('div', { class: 'inline-form' }, value, copy))
    secret.hidden = false
  }

  void load()
  return card('Personal API tokens', 'For scripts and apps: send one as a Bearer token to the API, or as the token parameter when opening a document over WebSocket. A read-only token opens documents read-only.',
    alert, form, secret, list)
}
