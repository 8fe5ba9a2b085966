// The comment panel beside the editor: a document's threads in Open and Resolved tabs,
// the box to start one on the selected text (anchored by Yjs relative positions taken
// from the local text, so exact while anyone types), and the highlights of open threads
// in CodeMirror. Loaded again whenever the document's event stream says a comment
// changed; what a person may do follows their role (viewers and links only read).
import type * as Y from 'yjs'
import type { EditorView } from '@codemirror/view'
import type { Extension } from '@codemirror/state'
import type { Author, Comment, NewAnchor, Thread } from '@tandem/client'
import { TandemError } from '@tandem/client'
import { anchorRange, commentAnchor } from '@tandem/client/documents'
import { explain, Role, session, tandem } from './api'
import { h, icon, tickTimes } from './dom'
import { activate, commentMarks, type Mark, setCommenting, showMarks, showPending } from './comment-marks'
import { mentionBox } from './mentions'
import { submitOnModEnter, ThreadCard, type ThreadContext } from './threads'

const COMMENTERS: Role[] = ['commenter', 'editor', 'admin', 'owner']
const MODERATORS: Role[] = ['admin', 'owner']
/** Events come in bursts (a reply and its notification): one load for a burst. */
const LOAD_DELAY_MS = 60
/** How often the "5 min ago" times are brought up to date. */
const CLOCK_MS = 30_000
/** Narrower than this the panel is a sheet over the editor, closed until asked for. */
const WIDE = 1024
const OPEN_KEY = 'tandem-comments'

type Tab = 'open' | 'resolved'

interface Draft { anchor?: NewAnchor, quote: string }

export class CommentsPanel {
  readonly element: HTMLElement
  /** The toolbar's button that shows and hides the panel, with the open threads' count. */
  readonly toggle: HTMLButtonElement
  /** Highlights and the "Comment" action, for the editor's extensions. */
  readonly extension: Extension
  /** Called when the panel opens (the history panel makes room). */
  onOpen: () => void = () => undefined
  #threads: Thread[] = []
  #loaded = false
  #tab: Tab = 'open'
  #role: Role | null = null
  #active: string | null = null
  #draft: Draft | null = null
  #live?: { text: Y.Text, view: EditorView, synced: boolean, saved: () => Promise<void> }
  readonly #cards = new Map<string, ThreadCard>()
  readonly #people = new Map<string, string>()
  readonly #list = h('ol', { class: 'threads', 'aria-live': 'polite' })
  readonly #empty = h('p', { class: 'threads-empty muted' })
  readonly #alert = h('p', { role: 'alert', class: 'alert', hidden: true })
  readonly #composerHost = h('div', { class: 'composer-host' })
  readonly #tabs: Record<Tab, HTMLButtonElement>
  readonly #newButton: HTMLButtonElement
  readonly #count = h('span', { class: 'count', 'data-testid': 'comment-count' }, '0')
  #timer: ReturnType<typeof setTimeout> | undefined
  #loads = 0
  readonly #clock: ReturnType<typeof setInterval>
  #destroyed = false
  /** A thread to show once the threads are loaded (`?thread=`, from a notification). */
  #wanted = new URLSearchParams(location.search).get('thread')

  constructor (readonly docId: string, readonly link: string | undefined) {
    const tab = (t: Tab, label: string) => h('button', {
      type: 'button', role: 'tab', 'aria-selected': 'false', 'data-testid': `tab-${t}`, onclick: () => this.setTab(t)
    }, label, h('span', { class: 'count' }, '0'))
    this.#tabs = { open: tab('open', 'Open'), resolved: tab('resolved', 'Resolved') }
    this.#newButton = h('button', {
      type: 'button', class: 'button primary small', 'data-testid': 'new-comment', hidden: true,
      title: 'Comment on the selected text, or on the whole document (Ctrl+Alt+M)',
      onclick: () => { if (this.#live) this.comment(this.#live.view) }
    }, icon('plus'), 'New')
    this.element = h('aside', { class: 'comments-panel', 'data-testid': 'comments', 'aria-label': 'Comments', hidden: true },
      h('div', { class: 'comments-head' },
        h('h2', {}, 'Comments'),
        this.#newButton,
        h('button', { type: 'button', class: 'icon-button', 'aria-label': 'Close comments', title: 'Close', onclick: () => this.setOpen(false) }, icon('close'))),
      h('div', { class: 'segmented tabs', role: 'tablist', 'aria-label': 'Threads' }, this.#tabs.open, this.#tabs.resolved),
      h('div', { class: 'comments-body' }, this.#alert, this.#composerHost, this.#list, this.#empty))
    this.toggle = h('button', {
      type: 'button', class: 'button ghost small', 'data-testid': 'toggle-comments', 'aria-pressed': 'false',
      title: 'Comments', onclick: () => this.setOpen(this.element.hidden)
    }, icon('comment'), h('span', { class: 'toggle-label' }, 'Comments'), this.#count)
    this.extension = commentMarks({
      comment: (view) => this.comment(view),
      open: (id) => this.show(id),
      // No event says so: ask the server again once the deletion has reached it.
      vanished: () => { void this.#live?.saved().then(() => this.refresh()) }
    })
    this.#clock = setInterval(() => tickTimes(this.element), CLOCK_MS)
    this.setTab('open')
    const remembered = localStorage.getItem(OPEN_KEY)
    this.setOpen(innerWidth >= WIDE && remembered !== '0', false)
    this.#render()
  }

  /**
   * The live text and its editor (highlights are placed once the text is synced), and
   * when the server has every local edit (`saved`).
   */
  attach (text: Y.Text, view: EditorView, saved: () => Promise<void>): void {
    this.#live = { text, view, synced: false, saved }
    setCommenting(view, this.#actions(), this.#canWrite())
  }

  /** The live text is in step with the server: anchors can be resolved against it. */
  synced (): void {
    if (!this.#live || this.#live.synced) return
    this.#live.synced = true
    this.#mark()
  }

  /** The caller's role: what they may do. */
  setRole (role: Role | null): void {
    if (role === this.#role) return
    this.#role = role
    const canWrite = this.#canWrite()
    this.#newButton.hidden = !canWrite
    if (!canWrite) this.#cancelDraft()
    if (this.#live) setCommenting(this.#live.view, this.#actions(), canWrite)
    this.#render()
  }

  /** Loads the threads again (soon, once for a burst of calls). */
  refresh (): void {
    clearTimeout(this.#timer)
    this.#timer = setTimeout(() => { void this.#load() }, LOAD_DELAY_MS)
  }

  setOpen (open: boolean, remember = true): void {
    if (open && this.element.hidden) this.onOpen()
    this.element.hidden = !open
    this.toggle.setAttribute('aria-pressed', String(open))
    if (remember && innerWidth >= WIDE) localStorage.setItem(OPEN_KEY, open ? '1' : '0')
    this.#live?.view.requestMeasure()
  }

  setTab (tab: Tab): void {
    this.#tab = tab
    for (const [t, button] of Object.entries(this.#tabs)) button.setAttribute('aria-selected', String(t === tab))
    this.#render()
  }

  /** Opens the panel on a thread (a highlight was clicked). */
  show (threadId: string): void {
    const thread = this.#threads.find((t) => t.id === threadId)
    if (!thread) return
    this.setOpen(true)
    if ((thread.resolved ? 'resolved' : 'open') !== this.#tab) this.setTab(thread.resolved ? 'resolved' : 'open')
    this.#select(thread)
    this.#cards.get(threadId)?.el.scrollIntoView({ block: 'nearest' })
  }

  /** Starts a comment on the editor's selection (on the whole document if nothing is selected). */
  comment (view: EditorView): void {
    if (!this.#canWrite()) return
    const { from, to } = view.state.selection.main
    const text = this.#live?.text
    const draft: Draft = { quote: view.state.sliceDoc(from, to) }
    if (to > from && text) draft.anchor = commentAnchor(text, from, to - from)
    this.#draft = draft
    showPending(view, to > from ? { from, to } : null)
    this.setOpen(true)
    this.setTab('open')
    this.#composer(draft)
  }

  destroy (): void {
    this.#destroyed = true
    clearTimeout(this.#timer)
    clearInterval(this.#clock)
  }

  #canWrite (): boolean {
    return !this.link && session.user !== null && this.#role !== null && COMMENTERS.includes(this.#role)
  }

  #actions () {
    return { comment: (view: EditorView) => this.comment(view), open: (id: string) => this.show(id) }
  }

  async #load (): Promise<void> {
    const mine = ++this.#loads
    try {
      const threads = await tandem.comments.list(this.docId, { link: this.link })
      if (mine !== this.#loads || this.#destroyed) return
      this.#threads = threads
      this.#loaded = true
      this.#alert.hidden = true
      for (const t of threads) for (const c of [t, ...t.replies]) this.#people.set(c.author.id, c.author.name)
      this.#render()
      this.#mark()
      if (this.#wanted) { this.show(this.#wanted); this.#wanted = null }
    } catch (e) {
      // Losing access is the editor's to tell; anything else is told here.
      if (this.#destroyed || (e instanceof TandemError && [401, 403, 404].includes(e.status))) return
      this.#fail(e)
    }
  }

  /** The open threads' ranges, from their relative positions in the local text where it has them. */
  #mark (): void {
    const live = this.#live
    if (!live?.synced) return
    const marks: Mark[] = []
    for (const t of this.#threads) {
      if (t.resolved || !t.anchor || t.anchor.orphaned) continue
      const range = anchorRange(live.text, t.anchor) ?? { from: t.anchor.index, to: t.anchor.index + t.anchor.length }
      marks.push({ id: t.id, ...range })
    }
    showMarks(live.view, marks)
    activate(live.view, this.#active)
  }

  #render (): void {
    const open = this.#threads.filter((t) => !t.resolved)
    const shown = this.#threads.filter((t) => t.resolved === (this.#tab === 'resolved'))
    this.#count.textContent = String(open.length)
    this.#count.hidden = open.length === 0
    this.toggle.setAttribute('aria-label', open.length ? `Comments (${open.length} open)` : 'Comments')
    this.#tabs.open.querySelector('.count')!.textContent = String(open.length)
    this.#tabs.resolved.querySelector('.count')!.textContent = String(this.#threads.length - open.length)
    const ctx = this.#context()
    const keep = new Set(shown.map((t) => t.id))
    for (const [id, card] of this.#cards) if (!keep.has(id)) { card.el.remove(); this.#cards.delete(id) }
    // In order, moving only cards out of place (moving a card would take the focus from its reply box).
    let at: ChildNode | null = this.#list.firstChild
    for (const t of shown) {
      let card = this.#cards.get(t.id)
      if (card) card.update(t, ctx)
      else { card = new ThreadCard(t, ctx); this.#cards.set(t.id, card) }
      card.el.classList.toggle('active', t.id === this.#active)
      if (at === card.el) at = at.nextSibling
      else this.#list.insertBefore(card.el, at)
    }
    this.#empty.hidden = shown.length > 0 || !this.#loaded
    this.#empty.textContent = this.#tab === 'resolved'
      ? 'No resolved comments.'
      : this.#canWrite() ? 'No open comments. Select text in the editor and choose Comment.' : 'No open comments.'
  }

  #context (): ThreadContext {
    const me = session.user?.id ?? null
    return {
      me: this.link ? null : me,
      canWrite: this.#canWrite(),
      moderator: this.#role !== null && MODERATORS.includes(this.#role),
      names: () => [...this.#people.values()],
      lookup: (q) => this.#lookup(q),
      reply: (t, body, mentions) => this.#do(async () => { await tandem.comments.reply(this.docId, t.id, { body, mentions }) }),
      edit: (c, body) => this.#do(async () => { await tandem.comments.edit(this.docId, c.id, body) }),
      remove: (c: Comment) => this.#do(async () => { await tandem.comments.delete(this.docId, c.id) }),
      resolve: (t, resolved) => this.#do(async () => {
        await tandem.comments.resolve(this.docId, t.id, resolved)
        if (this.#active === t.id) this.#active = null
      }),
      select: (t) => this.#select(t)
    }
  }

  /**
   * Runs a change, then shows the threads as they are now (the event will say so too,
   * later); whether it was made (if not, the panel says why).
   */
  async #do (change: () => Promise<void>): Promise<boolean> {
    try {
      await change()
    } catch (e) {
      this.#fail(e)
      return false
    }
    this.#alert.hidden = true
    await this.#load()
    return true
  }

  async #lookup (prefix: string): Promise<Author[]> {
    const people = await tandem.comments.mentionable(this.docId, prefix)
    for (const p of people) this.#people.set(p.id, p.name)
    return people
  }

  #select (t: Thread): void {
    this.#active = t.id
    for (const [id, card] of this.#cards) card.el.classList.toggle('active', id === t.id)
    if (this.#live) activate(this.#live.view, t.resolved ? null : t.id)
  }

  #composer (draft: Draft): void {
    const box = mentionBox((q) => this.#lookup(q), { name: 'body', 'aria-label': 'Comment', placeholder: 'Add a comment… (@ to mention)', rows: 3 })
    const send = h('button', { type: 'submit', class: 'button primary small', 'data-testid': 'send-comment' }, 'Comment')
    const form = h('form', { class: 'composer', 'data-testid': 'composer' },
      draft.anchor
        ? h('blockquote', { class: 'thread-quote' }, draft.quote)
        : h('p', { class: 'thread-anchor' }, h('span', { class: 'badge' }, 'Whole document')),
      box.field,
      h('div', { class: 'form-actions' },
        h('span', { class: 'hint muted' }, 'Ctrl+Enter to send'),
        h('button', { type: 'button', class: 'button ghost small', onclick: () => this.#cancelDraft() }, 'Cancel'),
        send))
    submitOnModEnter(box.textarea, form)
    box.textarea.addEventListener('keydown', (e) => { if (e.key === 'Escape' && !e.defaultPrevented) this.#cancelDraft() })
    form.addEventListener('submit', (e) => {
      e.preventDefault()
      const body = box.textarea.value.trim()
      if (!body || this.#draft !== draft) return
      send.disabled = true
      void this.#do(async () => {
        const thread = await tandem.comments.create(this.docId, { body, mentions: box.mentions(), ...(draft.anchor ? { anchor: draft.anchor } : {}) })
        this.#cancelDraft()
        this.#active = thread.id
        // Done with the selection: no "Comment" button over it again.
        const view = this.#live?.view
        if (view && !view.state.selection.main.empty) view.dispatch({ selection: { anchor: view.state.selection.main.head } })
      }).then((made) => { if (!made) send.disabled = false })
    })
    this.#composerHost.replaceChildren(form)
    box.textarea.focus()
  }

  #cancelDraft (): void {
    this.#draft = null
    this.#composerHost.replaceChildren()
    if (this.#live) showPending(this.#live.view, null)
  }

  #fail (e: unknown): void {
    this.#alert.textContent = explain(e)
    this.#alert.hidden = false
  }
}
