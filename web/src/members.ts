// Workspace members and invitations, for the workspace's admins and owners: roles changed
// in place, members removed, people invited by email (the invitation link is shown once,
// to send), pending invitations revoked.
import { api, explain, ok, Role, session, Workspace } from './api'
import { h } from './dom'

const ROLES: Role[] = ['owner', 'admin', 'editor', 'commenter', 'viewer']

export function membersDialog (workspace: Workspace, root: HTMLElement): void {
  const id = workspace.id
  const alert = h('p', { role: 'alert', class: 'alert', hidden: true })
  const members = h('ul', { class: 'share-list' })
  const pending = h('ul', { class: 'share-list' })
  const created = h('p', { class: 'invite-link', hidden: true })
  const fail = (e: unknown) => { alert.textContent = explain(e); alert.hidden = false }
  const roleSelect = (roles: Role[], value: Role) => h('select', { class: 'select', name: 'role', 'aria-label': 'Role' }, ...roles.map((r) => h('option', { value: r, selected: r === value }, r)))

  const email = h('input', { type: 'email', name: 'email', placeholder: 'name@example.com', required: true, 'aria-label': 'Email' })
  const inviteForm = h('form', { class: 'inline-form' }, email, roleSelect(['admin', 'editor', 'commenter', 'viewer'], 'editor'), h('button', { type: 'submit', class: 'button primary small' }, 'Invite'))
  inviteForm.addEventListener('submit', async (e) => {
    e.preventDefault()
    const role = (inviteForm.elements.namedItem('role') as HTMLSelectElement).value as Role
    try {
      const inv = await ok(api.POST('/api/v1/workspaces/{id}/invitations', { params: { path: { id } }, body: { email: email.value.trim(), role } }))
      const url = `${location.origin}/invite/${inv.token}`
      created.replaceChildren(`Send this link to ${inv.email} (shown only once): `, h('input', { readonly: true, value: url, 'aria-label': 'Invitation link' }))
      created.hidden = false
      alert.hidden = true
      email.value = ''
      await load()
    } catch (err) { fail(err) }
  })

  async function load (): Promise<void> {
    try {
      const [ms, ps] = await Promise.all([
        ok(api.GET('/api/v1/workspaces/{id}/members', { params: { path: { id } } })),
        ok(api.GET('/api/v1/workspaces/{id}/invitations', { params: { path: { id } } }))])
      members.replaceChildren(...ms.map((m) => {
        const self = m.user.id === session.user?.id
        const select = roleSelect(workspace.role === 'owner' ? ROLES : ROLES.filter((r) => r !== 'owner'), m.role)
        select.disabled = self
        select.addEventListener('change', async () => {
          const path = { id, user_id: m.user.id }
          try { await ok(api.PATCH('/api/v1/workspaces/{id}/members/{user_id}', { params: { path }, body: { role: select.value as Role } })); await load() } catch (e) { fail(e); await load() }
        })
        return h('li', {}, h('span', { class: 'grow' }, m.user.name, self ? ' (you)' : '', h('span', { class: 'muted' }, ` ${m.user.email ?? ''}`)), select,
          self ? null : h('button', { type: 'button', class: 'button ghost small', onclick: () => act(api.DELETE('/api/v1/workspaces/{id}/members/{user_id}', { params: { path: { id, user_id: m.user.id } } })) }, 'Remove'))
      }))
      pending.replaceChildren(...ps.map((p) => h('li', {}, h('span', { class: 'grow' }, p.email), h('span', { class: 'badge' }, p.role),
        h('button', { type: 'button', class: 'button ghost small', onclick: () => act(api.DELETE('/api/v1/workspaces/{id}/invitations/{invitation_id}', { params: { path: { id, invitation_id: p.id } } })) }, 'Revoke'))))
      if (!ps.length) pending.appendChild(h('li', { class: 'muted' }, 'No pending invitations.'))
    } catch (e) { fail(e) }
  }
  async function act (call: Promise<{ error?: unknown, response: Response }>): Promise<void> {
    try { await ok(call); await load() } catch (e) { fail(e) }
  }

  const dialog = h('dialog', { class: 'dialog', 'aria-label': 'Members' },
    h('div', { class: 'dialog-head' }, h('h2', {}, `Members of ${workspace.name}`), h('button', { type: 'button', class: 'icon-button', 'aria-label': 'Close', onclick: () => dialog.close() }, '×')),
    alert, h('h3', {}, 'People'), members,
    h('h3', {}, 'Invite someone'), inviteForm, created,
    h('h3', {}, 'Pending invitations'), pending)
  dialog.addEventListener('close', () => dialog.remove())
  root.appendChild(dialog)
  dialog.showModal()
  void load()
}

/** `/invite/{token}`: accepts the invitation with the signed-in account. */
export function invitePage (root: HTMLElement, token: string, go: (path: string) => void): void {
  const alert = h('p', { role: 'alert', class: 'alert', hidden: true })
  const button = h('button', { type: 'submit', class: 'button primary wide' }, 'Join the workspace')
  const form = h('form', { class: 'auth-form' }, alert, button)
  form.addEventListener('submit', async (e) => {
    e.preventDefault()
    button.disabled = true
    try {
      const ws = await ok(api.POST('/api/v1/invitations/{token}/accept', { params: { path: { token } } }))
      localStorage.setItem('tandem-workspace', ws.id)
      go(`/?workspace=${encodeURIComponent(ws.id)}`)
    } catch (err) {
      alert.textContent = explain(err)
      alert.hidden = false
      button.disabled = false
    }
  })
  root.appendChild(h('main', { class: 'auth-page' }, h('div', { class: 'auth-card' },
    h('h1', {}, 'You are invited'),
    h('p', { class: 'muted' }, `Join as ${session.user?.name ?? ''}: the invitation must be for this account's email.`),
    form)))
}
