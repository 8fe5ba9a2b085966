// The instance admin's page at `/admin`: what this server holds, its users (search,
// disable, enable) and the audit log of security events. The server checks every call;
// this page only shows what an admin may do.
import { TandemError, type components } from '@tandem/client'
import { api, explain, ok, session } from './api'
import { byteSize, h, timeAgo } from './dom'
import { confirmAction, notify } from './dialogs'
import { header } from './header'
import { card } from './account'

type AdminUser = components['schemas']['AdminUser']
type AuditEvent = components['schemas']['AuditEvent']
type SystemInfo = components['schemas']['SystemInfo']

const ACTIONS = ['auth.login', 'auth.login_failed', 'auth.refresh_reuse', 'member.added', 'member.role_changed', 'member.removed',
  'share.created', 'share.revoked', 'link.created', 'link.revoked', 'token.created', 'token.revoked', 'document.trashed',
  'document.deleted', 'admin.user_disabled', 'admin.user_enabled', 'admin.granted', 'admin.revoked']

export function adminPage (root: HTMLElement): () => void {
  const page = h('main', { class: 'list-page settings-page' },
    h('div', { class: 'list-head' }, h('h1', {}, 'Administration')))
  root.append(header(), page)
  // The numbers first: whoever may not read them is told so once, and asks nothing more.
  void ok(api.GET('/api/v1/system/info')).then((info) => {
    page.append(systemCard(info), usersCard(root), auditCard())
  }).catch((e) => {
    const words = e instanceof TandemError && e.status === 403 ? 'You do not have permission to administer this server.' : explain(e)
    page.append(h('p', { role: 'alert', class: 'alert' }, words))
  })
  return () => {}
}

function systemCard (s: SystemInfo): HTMLElement {
  const stat = (label: string, value: string) => h('div', {}, h('dt', {}, label), h('dd', {}, value))
  const stats = h('dl', { class: 'stats', 'data-testid': 'system-info' },
    stat('Users', `${s.storage.users} (${s.storage.disabled_users} disabled)`),
    stat('Workspaces', String(s.storage.workspaces)),
    stat('Documents', String(s.storage.documents)),
    stat('Database', byteSize(s.storage.database_bytes)),
    stat('Open documents (this node)', String(s.node.rooms)),
    stat('Connections (this node)', String(s.node.connections)),
    stat('Version', s.version),
    stat('Up for', uptime(s.uptime_seconds)))
  return card('This server', 'Counts for the whole instance; rooms and connections of the node that answered.', stats)
}

function uptime (s: number): string {
  if (s < 3600) return `${Math.floor(s / 60)} min`
  if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`
  return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`
}

function usersCard (root: HTMLElement): HTMLElement {
  const alert = h('p', { role: 'alert', class: 'alert', hidden: true })
  const search = h('input', { type: 'search', name: 'user-search', placeholder: 'Email or name starts with…', 'aria-label': 'Search users' })
  const list = h('ul', { class: 'token-list', 'data-testid': 'user-list' })
  const more = h('button', { type: 'button', class: 'button ghost small', hidden: true }, 'Load more')
  let cursor: string | null = null
  let generation = 0

  async function load (append = false): Promise<void> {
    const mine = ++generation
    alert.hidden = true
    const q = search.value.trim()
    try {
      const page = await ok(api.GET('/api/v1/admin/users', { params: { query: { limit: 50, ...(q ? { q } : {}), ...(append && cursor ? { cursor } : {}) } } }))
      if (mine !== generation) return
      cursor = page.next_cursor ?? null
      more.hidden = !cursor
      const rows = page.users.map(row)
      if (append) list.append(...rows)
      else list.replaceChildren(...(rows.length ? rows : [h('li', { class: 'muted' }, 'No users match.')]))
    } catch (e) { alert.textContent = explain(e); alert.hidden = false }
  }

  function row (u: AdminUser): HTMLElement {
    const self = u.id === session.user?.id
    const action = h('button', { type: 'button', class: `button ghost small${u.disabled_at ? '' : ' danger-text'}`, hidden: self }, u.disabled_at ? 'Enable' : 'Disable')
    action.addEventListener('click', async () => {
      const disabling = !u.disabled_at
      if (disabling && !await confirmAction(root, { title: `Disable ${u.name}?`, description: 'They are signed out everywhere at once, their open documents close, and their tokens stop working until you enable them again.', confirm: 'Disable', danger: true })) return
      try {
        const path = disabling ? '/api/v1/admin/users/{id}/disable' : '/api/v1/admin/users/{id}/enable'
        await ok(api.POST(path, { params: { path: { id: u.id } } }))
        notify(disabling ? `${u.name} is disabled` : `${u.name} can sign in again`)
        await load()
      } catch (e) { alert.textContent = explain(e); alert.hidden = false }
    })
    const badges = [u.is_admin ? h('span', { class: 'badge' }, 'admin') : null, u.disabled_at ? h('span', { class: 'badge warn' }, 'disabled') : null]
    return h('li', { class: 'token-item', 'data-user': u.email ?? u.id },
      h('div', { class: 'doc-main' },
        h('span', { class: 'token-name' }, u.name, ' ', ...badges.filter((b): b is HTMLElement => b !== null)),
        h('span', { class: 'doc-meta' }, h('span', {}, u.email ?? 'identity provider account'), '·', h('span', {}, 'joined ', timeAgo(u.created_at)))),
      action)
  }

  let timer: ReturnType<typeof setTimeout> | undefined
  search.addEventListener('input', () => { clearTimeout(timer); timer = setTimeout(() => { void load() }, 250) })
  more.addEventListener('click', () => { void load(true) })
  void load()
  return card('Users', 'Disabling someone signs them out everywhere and closes what they have open; nothing of theirs is deleted.',
    alert, h('div', { class: 'token-form' }, search), list, more)
}

function auditCard (): HTMLElement {
  const alert = h('p', { role: 'alert', class: 'alert', hidden: true })
  const filter = h('select', { class: 'select', name: 'audit-action', 'aria-label': 'Action' },
    h('option', { value: '' }, 'All actions'), ...ACTIONS.map((a) => h('option', { value: a }, a)))
  const list = h('ul', { class: 'audit-list', 'data-testid': 'audit-list' })
  const more = h('button', { type: 'button', class: 'button ghost small', hidden: true }, 'Load more')
  let cursor: string | null = null
  let generation = 0

  async function load (append = false): Promise<void> {
    const mine = ++generation
    alert.hidden = true
    list.setAttribute('aria-busy', 'true')
    try {
      const query = { limit: 50, ...(filter.value ? { action: filter.value } : {}), ...(append && cursor ? { cursor } : {}) }
      const page = await ok(api.GET('/api/v1/admin/audit', { params: { query } }))
      if (mine !== generation) return
      cursor = page.next_cursor ?? null
      more.hidden = !cursor
      const rows = page.events.map(entry)
      if (append) list.append(...rows)
      else list.replaceChildren(...(rows.length ? rows : [h('li', { class: 'muted' }, 'Nothing recorded.')]))
    } catch (e) { alert.textContent = explain(e); alert.hidden = false } finally {
      if (mine === generation) list.removeAttribute('aria-busy')
    }
  }

  filter.addEventListener('change', () => { void load() })
  more.addEventListener('click', () => { void load(true) })
  void load()
  return card('Audit log', 'Security events, newest first: sign-ins, role changes, shares and links, tokens, deletions and what admins did.',
    alert, h('div', { class: 'token-form' }, filter), list, more)
}

function entry (e: AuditEvent): HTMLElement {
  const target = e.target_kind ? `${e.target_kind} ${e.target_id ?? ''}` : ''
  const detail = e.detail ? JSON.stringify(e.detail) : ''
  return h('li', { class: 'audit-item' },
    h('code', { class: 'audit-action' }, e.action),
    h('span', { class: 'grow' }, h('span', {}, e.actor_id ? `by ${e.actor_name ?? 'a deleted account'}` : 'unknown actor'), target ? ` · ${target}` : '', detail ? h('span', { class: 'muted' }, ` ${detail}`) : ''),
    h('span', { class: 'muted' }, e.address ?? ''),
    timeAgo(e.at))
}
