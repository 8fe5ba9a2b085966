// Small modal dialogs: asking for one line of text (a workspace's or a version's name)
// and confirming an action that changes what everyone sees. Built on <dialog>: Escape
// and the close button cancel, the focus returns where it was. And a passing notice.
import { h } from './dom'

export interface AskOptions {
  title: string
  /** A sentence under the title. */
  description: string
  label: string
  placeholder?: string
  maxlength: number
  submit: string
}

/** Asks for a line of text; null when cancelled (or left empty). */
export function askText (root: HTMLElement, opts: AskOptions): Promise<string | null> {
  return new Promise((resolve) => {
    const input = h('input', { name: 'name', required: true, maxlength: opts.maxlength, placeholder: opts.placeholder, 'aria-label': opts.label, autocomplete: 'off' })
    const form = h('form', { method: 'dialog', class: 'inline-form' }, input, h('button', { type: 'submit', class: 'button primary small' }, opts.submit))
    const dialog = h('dialog', { class: 'dialog narrow', 'aria-label': opts.title },
      h('div', { class: 'dialog-head' }, h('h2', {}, opts.title), h('button', { type: 'button', class: 'icon-button', 'aria-label': 'Close', onclick: () => dialog.close() }, '×')),
      h('p', { class: 'muted' }, opts.description), form)
    let text: string | null = null
    form.addEventListener('submit', () => { text = input.value.trim() || null })
    dialog.addEventListener('close', () => { dialog.remove(); resolve(text) })
    root.appendChild(dialog)
    dialog.showModal()
  })
}

export interface ConfirmOptions {
  title: string
  /** What will happen, in a sentence or two. */
  description: string
  confirm: string
  danger?: boolean
}

/** Asks before doing something; whether the person confirmed. */
export function confirmAction (root: HTMLElement, opts: ConfirmOptions): Promise<boolean> {
  return new Promise((resolve) => {
    let confirmed = false
    const yes = h('button', { type: 'submit', class: `button small ${opts.danger ? 'danger' : 'primary'}`, 'data-testid': 'confirm' }, opts.confirm)
    const form = h('form', { method: 'dialog', class: 'dialog-actions' },
      h('button', { type: 'button', class: 'button ghost small', onclick: () => dialog.close() }, 'Cancel'), yes)
    const dialog = h('dialog', { class: 'dialog narrow', 'aria-label': opts.title, role: 'alertdialog' },
      h('div', { class: 'dialog-head' }, h('h2', {}, opts.title)),
      h('p', { class: 'dialog-text' }, opts.description), form)
    form.addEventListener('submit', () => { confirmed = true })
    dialog.addEventListener('close', () => { dialog.remove(); resolve(confirmed) })
    root.appendChild(dialog)
    // The focus starts on Cancel: a second press of Enter does not confirm by accident.
    dialog.showModal()
  })
}

const TOAST_MS = 4000

/** A short message at the bottom of the screen that goes away by itself ("Version saved"). */
export function notify (message: string): void {
  document.querySelector('.toast')?.remove()
  const toast = h('div', { class: 'toast', role: 'status', 'data-testid': 'toast' }, message)
  document.body.appendChild(toast)
  setTimeout(() => toast.remove(), TOAST_MS)
}
