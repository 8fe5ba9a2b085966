// The history panel beside the editor (a sheet on phones; the toolbar's History button
// opens it, in the comments panel's place): the document's versions, newest first, each
// with its kind, name, age, who edited since the one before, and size; "Save version…"
// for editors. Picking one shows it in the editor's place (version-view.ts), where
// editors restore it after a confirmation: a forward edit everyone connected sees live.
// Loaded again whenever the document's event stream says a version was saved.
import type * as Y from 'yjs'
import type { Version } from '@tandem/client'
import { TandemError } from '@tandem/client'
import { explain, Role, session, tandem } from './api'
import { byteSize, h, icon, relativeTime, tickTimes, timeAgo } from './dom'
import { askText, confirmAction, notify } from './dialogs'
import { avatar } from './presence'
import { kindBadge, VersionView, versionLabel } from './version-view'

const WRITERS: Role[] = ['editor', 'admin', 'owner']
const PAGE = 50
/** Events come in bursts (a restore and the version recording it): one load for a burst. */
const LOAD_DELAY_MS = 60
/** Typing pauses this long before the changes shown are taken again. */
const DIFF_DELAY_MS = 700
const CLOCK_MS = 30_000
/** The server's limit on a version's name. */
const MAX_NAME = 200
/** Narrower than this the panel is a sheet, over the version it shows until sent back. */
const PHONE_WIDTH = 720

export class HistoryPanel {
  readonly element: HTMLElement
  /** The toolbar's button that shows and hides the panel. */
  readonly toggle: HTMLButtonElement
  /** The version picked, shown in the editor's place. */
  readonly view: VersionView
  /** Called when the panel opens (the comments panel makes room). */
  onOpen: () => void = () => undefined
  /** Called when a version is shown in the editor's place, or the editor is back. */
  onView: (shown: boolean) => void = () => undefined
  #versions: Version[] = []
  #cursor: string | null = null
  #loaded = false
  /** Versions were saved since the list was loaded (while the panel was closed). */
  #stale = true
  #role: Role | null = null
  #saved: () => Promise<void> = () => Promise.resolve()
  #timer: ReturnType<typeof setTimeout> | undefined
  #loads = 0
  readonly #clock: ReturnType<typeof setInterval>
  #destroyed = false
  readonly #list = h('ol', { class: 'versions', 'data-testid': 'versions', 'aria-label': 'Versions' })
  readonly #alert = h('p', { role: 'alert', class: 'alert', hidden: true })
  readonly #saveButton: HTMLButtonElement
  readonly #more: HTMLButtonElement

  constructor (readonly docId: string, readonly link: string | undefined, private readonly root: HTMLElement) {
    this.view = new VersionView(docId, link, {
      restore: (v) => { void this.#restore(v) },
      close: () => this.select(null),
      back: () => this.element.removeAttribute('data-picked')
    })
    this.#saveButton = h('button', {
      type: 'button', class: 'button primary small', 'data-testid': 'save-version', hidden: true,
      title: 'Name the document as it is now, to find it again here', onclick: () => { void this.#save() }
    }, icon('bookmark'), 'Save version…')
    this.#more = h('button', { type: 'button', class: 'button ghost small wide', hidden: true, onclick: () => { void this.#load(true) } }, 'Show older versions')
    this.element = h('aside', { class: 'history-panel', 'data-testid': 'history', 'aria-label': 'Version history', hidden: true },
      h('div', { class: 'comments-head' },
        h('h2', {}, 'History'),
        this.#saveButton,
        h('button', { type: 'button', class: 'icon-button', 'aria-label': 'Close history', title: 'Close', onclick: () => this.setOpen(false) }, icon('close'))),
      h('div', { class: 'history-body' }, this.#alert, this.#list, this.#more))
    this.toggle = h('button', {
      type: 'button', class: 'button ghost small', 'data-testid': 'toggle-history', 'aria-pressed': 'false',
      title: 'Version history', 'aria-label': 'Version history', onclick: () => this.setOpen(this.element.hidden)
    }, icon('history'), h('span', { class: 'toggle-label' }, 'History'))
    this.#clock = setInterval(() => tickTimes(this.element), CLOCK_MS)
    this.#render()
  }

  /** The live text (the changes shown follow it) and when the server has every local edit. */
  attach (text: Y.Text, saved: () => Promise<void>): void {
    this.#saved = saved
    text.observe(() => this.view.documentChanged(saved, DIFF_DELAY_MS))
  }

  /** The caller's role: editors save and restore; everyone else reads. */
  setRole (role: Role | null): void {
    this.#role = role
    const canWrite = this.#canWrite()
    this.#saveButton.hidden = !canWrite
    this.view.setCanRestore(canWrite)
  }

  /** Loads the versions again (soon, once for a burst of calls), or when next opened. */
  refresh (): void {
    this.#stale = true
    if (this.element.hidden) return
    clearTimeout(this.#timer)
    this.#timer = setTimeout(() => { void this.#load() }, LOAD_DELAY_MS)
  }

  setOpen (open: boolean): void {
    if (open === !this.element.hidden) return
    this.element.hidden = !open
    this.toggle.setAttribute('aria-pressed', String(open))
    if (!open) { this.select(null); return }
    this.onOpen()
    if (this.#stale) void this.#load()
  }

  /** Shows a version in the editor's place, or (null) the editor again. */
  select (v: Version | null): void {
    if (v?.id === this.view.version?.id) return
    this.view.show(v)
    if (v && innerWidth < PHONE_WIDTH) this.element.setAttribute('data-picked', '')
    else this.element.removeAttribute('data-picked')
    // Marked in place: rebuilding the rows would take the focus from the one just chosen.
    this.#list.querySelectorAll<HTMLElement>('[aria-current]').forEach((row) => {
      row.setAttribute('aria-current', String((row.dataset.versionId ?? null) === (v?.id ?? null)))
    })
    this.onView(v !== null)
  }

  destroy (): void {
    this.#destroyed = true
    clearTimeout(this.#timer)
    clearInterval(this.#clock)
    this.view.destroy()
  }

  #canWrite (): boolean {
    return !this.link && session.user !== null && this.#role !== null && WRITERS.includes(this.#role)
  }

  /** The first page again (older pages already shown are kept), or (`older`) the next page. */
  async #load (older = false): Promise<void> {
    const mine = ++this.#loads
    this.#stale = false
    try {
      const page = await tandem.versions.list(this.docId, { link: this.link, limit: PAGE, cursor: older ? this.#cursor ?? undefined : undefined })
      if (mine !== this.#loads || this.#destroyed) return
      if (older) {
        this.#versions.push(...page.items.filter((v) => !this.#versions.some((w) => w.id === v.id)))
        this.#cursor = page.next_cursor ?? null
      } else {
        const oldest = page.items.at(-1)
        const kept = page.next_cursor && oldest ? this.#versions.filter((v) => v.created_at < oldest.created_at) : []
        if (!kept.length) this.#cursor = page.next_cursor ?? null
        this.#versions = [...page.items, ...kept]
      }
      this.#loaded = true
      this.#alert.hidden = true
      this.#render()
    } catch (e) {
      // Losing access is the editor's to tell; anything else is told here.
      if (this.#destroyed || (e instanceof TandemError && [401, 403, 404].includes(e.status))) return
      this.#fail(e)
    }
  }

  #render (): void {
    const picked = this.view.version?.id ?? null
    const current = h('button', {
      type: 'button', class: 'version current', 'data-testid': 'current-version', 'aria-current': picked === null ? 'true' : 'false',
      onclick: () => this.select(null)
    }, h('span', { class: 'version-top' }, h('span', { class: 'badge kind kind-live' }, 'Live'), h('span', { class: 'version-name' }, 'Current version')),
    h('span', { class: 'version-meta' }, h('span', { class: 'version-people' }, 'The document as everyone edits it now')))
    const rows = this.#versions.map((v) => h('li', {}, this.#row(v, v.id === picked)))
    const empty = this.#loaded && !this.#versions.length
      ? h('li', { class: 'versions-empty muted' }, this.#canWrite()
        ? 'No versions yet. Versions are saved as the document is edited; save one yourself to name it.'
        : 'No versions yet. Versions are saved as the document is edited.')
      : null
    const loading = this.#loaded ? null : h('li', { class: 'versions-empty muted' }, h('span', { class: 'spinner small' }), 'Loading versions…')
    const focused = (document.activeElement as HTMLElement | null)?.closest?.<HTMLElement>('.versions [data-testid]')
    this.#list.replaceChildren(h('li', {}, current), ...rows, ...[empty, loading].filter((x): x is HTMLLIElement => x !== null))
    // A row that had the focus keeps it across the reload.
    if (focused) {
      const again = focused.dataset.versionId ? this.#list.querySelector<HTMLElement>(`[data-version-id="${CSS.escape(focused.dataset.versionId)}"]`) : current
      again?.focus()
    }
    this.#more.hidden = !this.#cursor
  }

  #row (v: Version, picked: boolean): HTMLElement {
    const people = v.contributors.length ? v.contributors : v.created_by ? [v.created_by] : []
    const names = people.map((p) => p.name).join(', ')
    return h('button', {
      type: 'button', class: 'version', 'data-testid': 'version', 'data-version-id': v.id, 'data-kind': v.kind,
      'aria-current': String(picked), title: `${versionLabel(v)}, ${new Date(v.created_at).toLocaleString()}`,
      onclick: () => this.select(v)
    },
    h('span', { class: 'version-top' }, kindBadge(v.kind), h('span', { class: 'version-name' }, versionLabel(v)), timeAgo(v.created_at)),
    h('span', { class: 'version-meta' },
      h('span', { class: 'version-avatars', 'aria-hidden': 'true' }, ...people.slice(0, 3).map(avatar)),
      h('span', { class: 'version-people', 'data-testid': 'contributors', title: v.contributors.length ? `Edited by ${names}` : '' },
        v.contributors.length ? names : v.created_by ? `No new edits · saved by ${v.created_by.name}` : 'No new edits'),
      h('span', { class: 'version-size' }, byteSize(v.bytes))))
  }

  async #save (): Promise<void> {
    const name = await askText(this.root, {
      title: 'Save version',
      description: 'Name the document as it is now, to find it again in its history. Named versions are kept until the document is deleted.',
      label: 'Version name', placeholder: 'Before review', maxlength: MAX_NAME, submit: 'Save'
    })
    if (!name) return
    try {
      // What was typed here belongs in it: saved once the server has it.
      await this.#saved()
      await tandem.versions.save(this.docId, name)
      notify(`Saved version “${name}”`)
      await this.#load()
    } catch (e) { this.#fail(e) }
  }

  async #restore (v: Version): Promise<void> {
    const label = versionLabel(v)
    const confirmed = await confirmAction(this.root, {
      title: 'Restore this version?',
      description: `The document will read as “${label}” (saved ${relativeTime(v.created_at)}) again, for everyone: people editing it now see the change at once. The restore is kept in the history as a version of its own.`,
      confirm: 'Restore'
    })
    if (!confirmed) return
    try {
      await tandem.versions.restore(this.docId, v.id)
      this.select(null)
      notify(`Restored “${label}”`)
      await this.#load()
    } catch (e) { this.view.fail(explain(e)) }
  }

  #fail (e: unknown): void {
    this.#alert.textContent = explain(e)
    this.#alert.hidden = false
  }
}
