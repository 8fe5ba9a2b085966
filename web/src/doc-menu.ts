// The editor's document menu (the toolbar's "⋯"): export as Markdown or HTML, and, for
// those who may edit the document, "Use as template" to offer it in the document list's
// "New from template".
import { answer, api, explain, tandem } from './api'
import { h, icon } from './dom'

export class DocumentMenu {
  readonly element: HTMLDetailsElement
  readonly #template: HTMLButtonElement
  readonly #separator: HTMLElement
  #isTemplate = false

  constructor (private readonly docId: string, private readonly link: string | undefined, private readonly showError: (message: string) => void) {
    this.#template = h('button', {
      type: 'button', role: 'menuitemcheckbox', 'aria-checked': 'false', 'data-testid': 'use-as-template', hidden: true,
      title: 'Offer this document in New from template', onclick: () => { void this.#toggleTemplate() }
    }, icon('check'), 'Use as template')
    this.#separator = h('hr', { class: 'menu-separator', hidden: true })
    this.element = h('details', { class: 'menu', 'data-testid': 'document-menu' },
      h('summary', { class: 'button ghost small', 'aria-label': 'Document menu', title: 'Export, template' }, icon('more')),
      h('div', { class: 'menu-items', role: 'menu' },
        h('p', { class: 'menu-label' }, 'Export'),
        h('button', { type: 'button', role: 'menuitem', onclick: () => { void this.#export('md') } }, icon('download'), 'Markdown (.md)'),
        h('button', { type: 'button', role: 'menuitem', onclick: () => { void this.#export('html') } }, icon('download'), 'HTML page (.html)'),
        this.#separator,
        this.#template))
  }

  /** Whether the document is a template, as the server last said. */
  setTemplate (isTemplate: boolean): void {
    this.#isTemplate = isTemplate
    this.#template.setAttribute('aria-checked', String(isTemplate))
  }

  /** Whether the caller may change that (signed-in editors and above, never through a link). */
  setCanEdit (canEdit: boolean): void {
    this.#template.hidden = !canEdit || !!this.link
    this.#separator.hidden = this.#template.hidden
  }

  async #toggleTemplate (): Promise<void> {
    this.#template.disabled = true
    try {
      const doc = await tandem.templates.mark(this.docId, !this.#isTemplate)
      this.setTemplate(doc.is_template)
    } catch (e) {
      this.showError(explain(e))
    } finally {
      this.#template.disabled = false
    }
  }

  /** Downloads what the server exports, named as the server says. */
  async #export (format: 'md' | 'html'): Promise<void> {
    this.element.open = false
    try {
      const { data: blob, response } = await answer(api.GET('/api/v1/documents/{id}/export', {
        params: { path: { id: this.docId }, query: { format } }, headers: this.link ? { 'tandem-link': this.link } : {}, parseAs: 'blob'
      }))
      const url = URL.createObjectURL(blob)
      const name = /filename="([^"]+)"/.exec(response.headers.get('content-disposition') ?? '')?.[1] ?? `document.${format}`
      const a = h('a', { href: url, download: name })
      document.body.appendChild(a)
      a.click()
      a.remove()
      setTimeout(() => URL.revokeObjectURL(url), 10_000)
    } catch (e) { this.showError(explain(e)) }
  }
}
