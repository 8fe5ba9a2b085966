// The bell in the header: mentions and replies, unread ones counted on the bell. Opening
// one marks it read and opens its document on its thread (`/d/{id}?thread=…`).
import { type components } from '@tandem/client'
import { api, explain, ok, session } from './api'
import { h, icon, timeAgo } from './dom'
import { navigate } from './router'
import { UNTITLED } from './title'

type Note = components['schemas']['NotificationView']

/** How often the count on the bell is brought up to date while the page is visible. */
const POLL_MS = 60_000
let timer: ReturnType<typeof setInterval> | undefined
/** The bell on the page now (the header is rebuilt with each page). */
let current: { count: HTMLElement, menu: HTMLDetailsElement } | undefined

export function notificationsMenu (): HTMLElement {
  const count = h('span', { class: 'count-badge', hidden: true, 'data-testid': 'unread-count' })
  const items = h('div', { class: 'menu-items notes', role: 'menu', 'data-testid': 'notifications' })
  const menu = h('details', { class: 'menu' },
    h('summary', { class: 'icon-button', title: 'Notifications', 'aria-label': 'Notifications' }, icon('bell'), count),
    items)
  current = { count, menu }
  menu.addEventListener('toggle', () => { if (menu.open) void fill(items) })
  void refreshCount()
  timer ??= setInterval(() => { if (document.visibilityState === 'visible') void refreshCount() }, POLL_MS)
  return menu
}

async function refreshCount (): Promise<void> {
  if (!session.user || !current) return
  const { count } = current
  try {
    const { items } = await ok(api.GET('/api/v1/users/me/notifications', { params: { query: { unread: true } } }))
    count.textContent = items.length >= 100 ? '99+' : String(items.length)
    count.hidden = items.length === 0
  } catch { /* The count waits for the next poll; the list says what went wrong. */ }
}

async function fill (items: HTMLElement): Promise<void> {
  items.replaceChildren(h('p', { class: 'menu-label' }, 'Loading…'))
  try {
    const { items: notes } = await ok(api.GET('/api/v1/users/me/notifications'))
    const readAll = h('button', { type: 'button', class: 'notes-read-all', hidden: !notes.some((n) => !n.read) }, 'Mark all read')
    readAll.addEventListener('click', async () => {
      await markRead({ all: true })
      items.querySelectorAll('.note.unread').forEach((el) => el.classList.remove('unread'))
      readAll.hidden = true
    })
    items.replaceChildren(h('div', { class: 'notes-head' }, h('p', { class: 'menu-label' }, 'Notifications'), readAll),
      ...(notes.length ? notes.map(entry) : [h('p', { class: 'notes-empty muted' }, 'Nothing yet. Mentions and replies to your comments show up here.')]))
  } catch (e) {
    items.replaceChildren(h('p', { class: 'alert' }, explain(e)))
  }
}

function entry (n: Note): HTMLElement {
  const what = n.kind === 'mention' ? 'mentioned you in' : 'replied in'
  const button = h('button', { type: 'button', role: 'menuitem', class: `note${n.read ? '' : ' unread'}` },
    h('span', { class: 'note-line' }, h('strong', {}, n.author_name), ` ${what} `, h('strong', {}, n.document_title || UNTITLED)),
    h('span', { class: 'note-excerpt' }, n.excerpt),
    timeAgo(n.created_at))
  button.addEventListener('click', async () => {
    if (current) current.menu.open = false
    if (!n.read) await markRead({ ids: [n.id] })
    navigate(`/d/${encodeURIComponent(n.document_id)}?thread=${encodeURIComponent(n.thread_id)}`)
  })
  return button
}

/** Marks read; a failure leaves them unread (the count says so), it stops nothing. */
async function markRead (body: { ids: string[] } | { all: true }): Promise<void> {
  try {
    await ok(api.POST('/api/v1/users/me/notifications/read', { body }))
  } catch { /* Still unread: shown so on the next look. */ }
  void refreshCount()
}
