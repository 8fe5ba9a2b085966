// Settings cards about the person: their profile (name and avatar, as collaborators see
// them) and their data (a zip of everything they can read; deleting the account).
import { type components } from '@tandem/client'
import { api, explain, ok, session } from './api'
import { h } from './dom'
import { confirmAction, notify } from './dialogs'
import { card } from './account'
import { navigate } from './router'

type Profile = components['schemas']['Profile']

/** The profile card; `loaded` hears the profile once read. */
export function profileCard (loaded: (p: Profile) => void): HTMLElement {
  const alert = h('p', { role: 'alert', class: 'alert', hidden: true })
  const name = h('input', { name: 'profile-name', required: true, maxlength: 100, autocomplete: 'name' })
  const avatar = h('input', { name: 'profile-avatar', type: 'url', maxlength: 2048, placeholder: 'https://…', autocomplete: 'photo' })
  const preview = h('img', { class: 'avatar-preview', alt: '', hidden: true, referrerpolicy: 'no-referrer' })
  const email = h('span', { class: 'muted' })
  const save = h('button', { type: 'submit', class: 'button primary small' }, 'Save profile')
  const form = h('form', { class: 'profile-form' },
    h('label', { class: 'field' }, 'Name', name),
    h('label', { class: 'field' }, 'Avatar image URL', h('div', { class: 'avatar-row' }, preview, avatar)),
    h('div', { class: 'form-foot' }, email, save))

  const showPreview = () => {
    const url = avatar.value.trim()
    preview.hidden = !/^https?:\/\//.test(url)
    if (!preview.hidden) preview.src = url
  }
  avatar.addEventListener('change', showPreview)
  preview.addEventListener('error', () => { preview.hidden = true })

  void ok(api.GET('/api/v1/users/me')).then((p) => {
    name.value = p.name
    avatar.value = p.avatar_url ?? ''
    email.textContent = p.email ? `Signed in as ${p.email}` : 'Signed in through your organization'
    showPreview()
    loaded(p)
  }).catch((e) => { alert.textContent = explain(e); alert.hidden = false })

  form.addEventListener('submit', async (e) => {
    e.preventDefault()
    alert.hidden = true
    save.disabled = true
    const url = avatar.value.trim()
    try {
      const p = await ok(api.PATCH('/api/v1/users/me', { body: { name: name.value.trim(), avatar_url: url || null } }))
      name.value = p.name
      notify('Profile saved')
    } catch (err) { alert.textContent = explain(err); alert.hidden = false } finally { save.disabled = false }
  })
  return card('Profile', 'How the people you work with see you: beside your comments, your cursor and your edits.', alert, form)
}

export function dataCard (root: HTMLElement): HTMLElement {
  const alert = h('p', { role: 'alert', class: 'alert', hidden: true })
  const exportButton = h('button', { type: 'button', class: 'button small', 'data-testid': 'export-account' }, 'Download my data')
  exportButton.addEventListener('click', async () => {
    alert.hidden = true
    exportButton.disabled = true
    exportButton.textContent = 'Preparing…'
    try {
      const blob = await ok(api.GET('/api/v1/users/me/export', { parseAs: 'blob' })) as unknown as Blob
      const a = h('a', { href: URL.createObjectURL(blob), download: 'tandem-export.zip' })
      a.click()
      setTimeout(() => URL.revokeObjectURL(a.href), 60_000)
    } catch (e) { alert.textContent = explain(e); alert.hidden = false } finally {
      exportButton.disabled = false
      exportButton.textContent = 'Download my data'
    }
  })

  const password = h('input', { type: 'password', name: 'delete-password', autocomplete: 'current-password', placeholder: 'Your password', 'aria-label': 'Password' })
  const remove = h('button', { type: 'submit', class: 'button small danger' }, 'Delete my account')
  const deleteForm = h('form', { class: 'inline-form' }, password, remove)
  deleteForm.addEventListener('submit', async (e) => {
    e.preventDefault()
    alert.hidden = true
    const sure = await confirmAction(root, {
      title: 'Delete your account?',
      description: 'Your account, your personal workspace and its documents are deleted for good. Workspaces you share with others stay with them.',
      confirm: 'Delete for good',
      danger: true
    })
    if (!sure) return
    remove.disabled = true
    try {
      await ok(api.DELETE('/api/v1/users/me', { body: { password: password.value || null } }))
      await session.logout().catch(() => false)
      navigate('/login', true)
    } catch (err) { alert.textContent = explain(err); alert.hidden = false } finally { remove.disabled = false }
  })

  return card('Your data', 'A zip of every document you can read, as Markdown, with a manifest of titles, tags, workspaces and comments.',
    alert, h('div', {}, exportButton),
    h('h3', { class: 'danger-heading' }, 'Delete account'),
    h('p', { class: 'muted' }, 'Not possible while you are the last owner of a workspace others use: make someone else an owner first.'),
    deleteForm)
}
