// The share dialog: shares by email (with a role), public links (view or edit) to copy,
// and revoking either. Only the document's managers may use it; others see why not.
import { api, explain, ok, Role } from './api'
import { h } from './dom'

export function shareDialog (docId: string, root: HTMLElement): void {
  const path = { id: docId }
  const alert = h('p', { role: 'alert', class: 'alert', hidden: true })
  const people = h('ul', { class: 'share-list' })
  const links = h('ul', { class: 'share-list' })
  const fail = (e: unknown) => { alert.textContent = explain(e); alert.hidden = false }
  const roleSelect = (roles: Role[]) => h('select', { class: 'select', name: 'role', 'aria-label': 'Role' }, ...roles.map((r) => h('option', { value: r }, r)))

  const email = h('input', { type: 'email', name: 'email', placeholder: 'name@example.com', required: true, 'aria-label': 'Email' })
  const shareForm = h('form', { class: 'inline-form' }, email, roleSelect(['viewer', 'commenter', 'editor']), h('button', { type: 'submit', class: 'button primary small' }, 'Share'))
  shareForm.addEventListener('submit', async (e) => {
    e.preventDefault()
    const role = (shareForm.elements.namedItem('role') as HTMLSelectElement).value as Role
    try {
      await ok(api.POST('/api/v1/documents/{id}/shares', { params: { path }, body: { email: email.value.trim(), role } }))
      alert.hidden = true
      email.value = ''
      await load()
    } catch (err) { fail(err) }
  })
  const linkForm = h('form', { class: 'inline-form' }, roleSelect(['viewer', 'editor']), h('button', { type: 'submit', class: 'button small' }, 'Create link'))
  linkForm.addEventListener('submit', async (e) => {
    e.preventDefault()
    const role = (linkForm.elements.namedItem('role') as HTMLSelectElement).value as Role
    try { await ok(api.POST('/api/v1/documents/{id}/links', { params: { path }, body: { role } })); await load() } catch (err) { fail(err) }
  })

  async function load (): Promise<void> {
    try {
      const [shares, ls] = await Promise.all([
        ok(api.GET('/api/v1/documents/{id}/shares', { params: { path } })),
        ok(api.GET('/api/v1/documents/{id}/links', { params: { path } }))])
      people.replaceChildren(...shares.map((m) => h('li', {},
        h('span', { class: 'grow' }, m.user.name, h('span', { class: 'muted' }, ` ${m.user.email ?? ''}`)), h('span', { class: 'badge' }, m.role),
        h('button', { type: 'button', class: 'button ghost small', onclick: () => revoke(api.DELETE('/api/v1/documents/{id}/shares/{user_id}', { params: { path: { ...path, user_id: m.user.id } } })) }, 'Remove'))))
      if (!shares.length) people.appendChild(h('li', { class: 'muted' }, 'Not shared with anyone yet.'))
      links.replaceChildren(...ls.map((l) => {
        const url = `${location.origin}/d/${docId}?link=${l.token}`
        const input = h('input', { readonly: true, value: url, 'aria-label': 'Link', class: 'grow' })
        return h('li', {}, input, h('span', { class: 'badge' }, l.role === 'viewer' ? 'view' : 'edit'),
          h('button', { type: 'button', class: 'button ghost small', onclick: () => { void navigator.clipboard?.writeText(url); input.select() } }, 'Copy'),
          h('button', { type: 'button', class: 'button ghost small', onclick: () => revoke(api.DELETE('/api/v1/documents/{id}/links/{link_id}', { params: { path: { ...path, link_id: l.id } } })) }, 'Revoke'))
      }))
      if (!ls.length) links.appendChild(h('li', { class: 'muted' }, 'No public links.'))
    } catch (e) { fail(e) }
  }
  async function revoke (call: Promise<{ error?: unknown, response: Response }>): Promise<void> {
    try { await ok(call); await load() } catch (e) { fail(e) }
  }

  const dialog = h('dialog', { class: 'dialog', 'aria-label': 'Share' },
    h('div', { class: 'dialog-head' }, h('h2', {}, 'Share'), h('button', { type: 'button', class: 'icon-button', 'aria-label': 'Close', onclick: () => dialog.close() }, '×')),
    alert,
    h('h3', {}, 'People'), shareForm, people,
    h('h3', {}, 'Public links'), h('p', { class: 'muted' }, 'Anyone with a link can open the document without an account.'), linkForm, links)
  dialog.addEventListener('close', () => dialog.remove())
  root.appendChild(dialog)
  dialog.showModal()
  void load()
}
