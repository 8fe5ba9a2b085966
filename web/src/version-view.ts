// One version, shown in the editor's place while it is picked in the history panel: what
// changed between it and the document as it is now (the server's word-level diff, taken
// again as the document changes) or the version rendered (the server's sanitised HTML),
// and "Restore this version" for those who may edit.
import type { Version } from '@tandem/client'
import { TandemError } from '@tandem/client'
import { explain, tandem } from './api'
import { byteSize, h, icon, timeAgo } from './dom'
import { diffView } from './diff-view'
import { showRendered } from './rendered'

type Tab = 'changes' | 'preview'

/** What the view asks of the history panel. */
export interface VersionActions {
  restore (version: Version): void
  /** Back to the editor. */
  close (): void
  /** Back to the list of versions (on phones, where the list is a sheet over the view). */
  back (): void
}

/** A version's name as people read it: its own, or what it is. */
export function versionLabel (v: Version): string {
  return v.name ?? (v.kind === 'auto' ? 'Automatic' : 'Untitled version')
}

const KINDS: Record<string, string> = { auto: 'Auto', named: 'Named', restore: 'Restore' }

export function kindBadge (kind: string): HTMLElement {
  return h('span', { class: `badge kind kind-${kind}`, 'data-testid': 'version-kind' }, KINDS[kind] ?? kind)
}

export class VersionView {
  readonly element: HTMLElement
  #version: Version | null = null
  #tab: Tab = 'changes'
  readonly #aborts: Partial<Record<Tab, AbortController>> = {}
  #timer: ReturnType<typeof setTimeout> | undefined
  /** The document changed since the diff shown was taken. */
  #stale = false
  readonly #title = h('h2', { class: 'version-title', 'data-testid': 'version-title' })
  readonly #sub = h('p', { class: 'version-sub' })
  readonly #restore: HTMLButtonElement
  readonly #tabs: Record<Tab, HTMLButtonElement>
  readonly #alert = h('p', { role: 'alert', class: 'alert', hidden: true })
  readonly #changes = h('div', { class: 'version-changes', role: 'tabpanel', 'aria-label': 'Changes' })
  readonly #preview = h('article', { class: 'markdown-body version-preview', 'data-testid': 'version-preview', role: 'tabpanel', 'aria-label': 'Preview' })

  constructor (private readonly docId: string, private readonly link: string | undefined, private readonly actions: VersionActions) {
    const tab = (t: Tab, label: string) => h('button', {
      type: 'button', role: 'tab', 'aria-selected': 'false', 'data-testid': `version-tab-${t}`, onclick: () => this.setTab(t)
    }, label)
    this.#tabs = { changes: tab('changes', 'Changes'), preview: tab('preview', 'Preview') }
    this.#restore = h('button', {
      type: 'button', class: 'button primary small', 'data-testid': 'restore-version', hidden: true,
      onclick: () => { if (this.#version) this.actions.restore(this.#version) }
    }, icon('restore'), 'Restore', h('span', { class: 'wide-only' }, ' this version'))
    this.element = h('section', { class: 'version-view', 'data-testid': 'version-view', 'aria-label': 'Version', hidden: true },
      h('header', { class: 'version-head' },
        h('button', { type: 'button', class: 'button ghost small version-back', onclick: () => this.actions.back() }, icon('back'), 'Versions'),
        h('div', { class: 'version-heading' }, this.#title, this.#sub),
        h('div', { class: 'version-tools' },
          h('div', { class: 'segmented', role: 'tablist', 'aria-label': 'Show' }, this.#tabs.changes, this.#tabs.preview),
          this.#restore,
          h('button', { type: 'button', class: 'icon-button', 'aria-label': 'Close version', title: 'Back to the document (Esc)', onclick: () => this.actions.close() }, icon('close')))),
      h('div', { class: 'version-body' }, this.#alert, this.#changes, this.#preview))
    this.element.addEventListener('keydown', (e) => { if (e.key === 'Escape') { e.preventDefault(); this.actions.close() } })
    this.setTab('changes')
  }

  get version (): Version | null { return this.#version }

  /** Shows `v` (from its changes), or hides the view (null). */
  show (v: Version | null): void {
    this.#stop()
    this.#version = v
    this.element.hidden = v === null
    if (!v) return
    this.#title.textContent = versionLabel(v)
    const by = v.kind === 'auto' ? null : v.created_by?.name
    this.#sub.replaceChildren(kindBadge(v.kind), h('span', {}, by ? `Saved by ${by}` : 'Saved automatically'), timeAgo(v.created_at), h('span', {}, byteSize(v.bytes)))
    this.#preview.replaceChildren()
    this.#changes.replaceChildren()
    this.#alert.hidden = true
    this.setTab('changes')
  }

  setCanRestore (can: boolean): void {
    this.#restore.hidden = !can
  }

  setTab (tab: Tab): void {
    this.#tab = tab
    for (const [t, button] of Object.entries(this.#tabs)) button.setAttribute('aria-selected', String(t === tab))
    this.#changes.hidden = tab !== 'changes'
    this.#preview.hidden = tab !== 'preview'
    if (!this.#version) return
    if (tab === 'changes' && (this.#stale || !this.#changes.firstChild)) void this.#loadChanges()
    if (tab === 'preview' && !this.#preview.firstChild) void this.#loadPreview()
  }

  /** The document changed: the changes shown are out of date; taken again soon if shown. */
  documentChanged (wait: () => Promise<void>, delayMs: number): void {
    if (!this.#version) return
    this.#stale = true
    if (this.#tab !== 'changes') return
    clearTimeout(this.#timer)
    const v = this.#version
    // Compared with the server's copy, so only once the edits reached it.
    this.#timer = setTimeout(() => { void wait().then(() => { if (this.#version === v) void this.#loadChanges(true) }) }, delayMs)
  }

  /** Says why something failed (a restore), above what is shown. */
  fail (message: string): void {
    this.#alert.textContent = message
    this.#alert.hidden = false
  }

  destroy (): void {
    this.#stop()
  }

  #stop (): void {
    clearTimeout(this.#timer)
    for (const abort of Object.values(this.#aborts)) abort.abort()
  }

  async #loadChanges (quiet = false): Promise<void> {
    const v = this.#version
    if (!v) return
    this.#stale = false
    const signal = this.#begin('changes')
    if (!quiet || !this.#changes.firstChild) this.#changes.replaceChildren(loading('Comparing with the current document…'))
    try {
      const diff = await tandem.versions.diff(this.docId, v.id, 'current', { link: this.link, signal })
      if (signal.aborted) return
      this.#alert.hidden = true
      this.#changes.replaceChildren(diff.hunks.length
        ? h('div', { class: 'diff-wrap' }, legend(), diffView(diff))
        : h('p', { class: 'version-same', 'data-testid': 'no-changes' }, icon('check'), 'The document reads as this version: nothing changed since.'))
    } catch (e) {
      this.#failed(e, signal, this.#changes)
    }
  }

  async #loadPreview (): Promise<void> {
    const v = this.#version
    if (!v) return
    const signal = this.#begin('preview')
    this.#preview.replaceChildren(loading('Rendering…'))
    try {
      const html = await tandem.versions.render(this.docId, v.id, { link: this.link, signal })
      if (signal.aborted) return
      await showRendered(this.#preview, html)
      if (!this.#preview.firstChild) this.#preview.replaceChildren(h('p', { class: 'muted' }, 'This version is empty.'))
    } catch (e) {
      this.#failed(e, signal, this.#preview)
    }
  }

  #begin (tab: Tab): AbortSignal {
    this.#aborts[tab]?.abort()
    const abort = this.#aborts[tab] = new AbortController()
    return abort.signal
  }

  #failed (e: unknown, signal: AbortSignal, pane: HTMLElement): void {
    if (signal.aborted || (e as Error).name === 'AbortError') return
    pane.replaceChildren()
    this.#alert.textContent = e instanceof TandemError && e.code === 'diff_busy' ? 'The server is busy comparing versions. Try again in a moment.' : explain(e)
    this.#alert.hidden = false
  }
}

function loading (text: string): HTMLElement {
  return h('p', { class: 'version-loading muted' }, h('span', { class: 'spinner small' }), text)
}

function legend (): HTMLElement {
  return h('p', { class: 'diff-legend muted' },
    'Compared with the document now:',
    h('span', {}, h('del', {}, 'struck'), ' only in this version'),
    h('span', {}, h('ins', {}, 'marked'), ' added since'))
}
