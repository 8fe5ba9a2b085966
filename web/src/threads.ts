// One thread in the comment panel: where it points (the quoted text, the whole document,
// or text since deleted), its messages with their authors and times, and the controls a
// person's role allows: reply (with @-mentions), resolve or reopen, edit and delete.
// A card is updated in place when the threads are loaded again, so a reply being typed,
// or a message being edited, survives comments arriving from others.
import type { Author, Comment, Thread } from '@tandem/client'
import { h, icon, timeAgo } from './dom'
import { avatar } from './presence'
import { mentionBox, type MentionBox, withMentions } from './mentions'

/** What a card may do, and for whom: the panel's answer to each action. */
export interface ThreadContext {
  /** The signed-in user's id (null through a link). */
  me: string | null
  /** Commenters and above (never through a link). */
  canWrite: boolean
  /** Workspace owners and admins delete anyone's messages. */
  moderator: boolean
  /** Names to set apart as @-mentions in messages. */
  names (): Iterable<string>
  lookup (prefix: string): Promise<Author[]>
  /** Each change resolves to whether it was made (the panel tells why not). */
  reply (thread: Thread, body: string, mentions: string[]): Promise<boolean>
  edit (comment: Comment, body: string): Promise<boolean>
  remove (comment: Comment, thread: Thread): Promise<boolean>
  resolve (thread: Thread, resolved: boolean): Promise<boolean>
  select (thread: Thread): void
}

export class ThreadCard {
  readonly el: HTMLLIElement
  readonly #content: HTMLElement
  readonly #replyHost: HTMLElement
  #reply: { form: HTMLFormElement, box: MentionBox } | null = null
  /** A message is being edited: later updates wait until it is saved or given up. */
  #editing = false
  #latest: Thread
  #ctx: ThreadContext

  constructor (thread: Thread, ctx: ThreadContext) {
    this.#latest = thread
    this.#ctx = ctx
    this.#content = h('div', { class: 'thread-content' })
    this.#replyHost = h('div', { class: 'thread-reply' })
    this.el = h('li', { class: 'thread', 'data-testid': 'thread', 'data-thread-id': thread.id, tabindex: 0 }, this.#content, this.#replyHost)
    // Picking a thread shows its text in the editor: by click, or Enter on the focused card.
    this.el.addEventListener('click', (e) => {
      if (!(e.target as Element).closest('button, textarea, a, form')) this.#ctx.select(this.#latest)
    })
    this.el.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && e.target === this.el) { e.preventDefault(); this.#ctx.select(this.#latest) }
    })
    this.update(thread, ctx)
  }

  get thread (): Thread { return this.#latest }

  update (thread: Thread, ctx: ThreadContext): void {
    this.#latest = thread
    this.#ctx = ctx
    this.el.classList.toggle('resolved', thread.resolved)
    this.el.classList.toggle('orphaned', !!thread.anchor?.orphaned)
    if (!this.#editing) this.#content.replaceChildren(...this.#render(thread))
    this.#updateReply(thread)
  }

  #render (t: Thread): Node[] {
    const { ctx } = this
    const resolve = ctx.canWrite
      ? h('button', {
        type: 'button', class: 'button ghost small resolve', 'data-testid': t.resolved ? 'reopen' : 'resolve',
        title: t.resolved ? 'Reopen this thread' : 'Mark as resolved',
        onclick: () => { void ctx.resolve(t, !t.resolved) }
      }, icon(t.resolved ? 'restore' : 'check'), t.resolved ? 'Reopen' : 'Resolve')
      : null
    return [
      h('div', { class: 'thread-top' }, anchorView(t), resolve),
      this.#message(t, t),
      ...t.replies.map((r) => this.#message(r, t))
    ]
  }

  get ctx (): ThreadContext { return this.#ctx }

  #message (c: Comment, t: Thread): HTMLElement {
    const { ctx } = this
    const own = ctx.me !== null && c.author.id === ctx.me
    const body = h('p', { class: 'comment-body' }, ...withMentions(c.body, ctx.names()))
    const article = h('article', { class: 'comment', 'data-comment-id': c.id, 'data-testid': c.id === t.id ? 'thread-first' : 'reply' })
    const actions = h('span', { class: 'comment-actions' },
      own && ctx.canWrite ? h('button', { type: 'button', class: 'icon-button small', title: 'Edit', 'aria-label': 'Edit', 'data-testid': 'edit', onclick: () => this.#edit(c, article, body) }, icon('edit')) : null,
      (own || ctx.moderator) && ctx.canWrite ? h('button', { type: 'button', class: 'icon-button small danger', title: 'Delete', 'aria-label': 'Delete', 'data-testid': 'delete', onclick: () => this.#confirmDelete(c, t, article) }, icon('trash')) : null)
    article.append(
      h('header', { class: 'comment-head' },
        avatar(c.author),
        h('span', { class: 'comment-author' }, c.author.name, own ? h('span', { class: 'visually-hidden' }, ' (you)') : null),
        timeAgo(c.created_at),
        c.edited_at != null ? h('span', { class: 'comment-edited', title: new Date(c.edited_at).toLocaleString() }, '(edited)') : null,
        actions),
      body)
    return article
  }

  #edit (c: Comment, article: HTMLElement, body: HTMLElement): void {
    const box = mentionBox((q) => this.#ctx.lookup(q), { name: 'body', 'aria-label': 'Edit comment', rows: 3 })
    box.textarea.value = c.body
    const done = (): void => this.#stopEditing()
    const form = h('form', { class: 'comment-form' }, box.field,
      h('div', { class: 'form-actions' },
        h('button', { type: 'button', class: 'button ghost small', onclick: done }, 'Cancel'),
        h('button', { type: 'submit', class: 'button primary small' }, 'Save')))
    submitOnModEnter(box.textarea, form)
    form.addEventListener('submit', (e) => {
      e.preventDefault()
      const text = box.textarea.value.trim()
      if (!text) return
      void this.#ctx.edit(c, text).then((made) => { if (made) done() })
    })
    box.textarea.addEventListener('keydown', (e) => { if (e.key === 'Escape') done() })
    this.#editing = true
    body.replaceWith(form)
    article.querySelector('.comment-actions')?.remove()
    box.textarea.focus()
    box.textarea.setSelectionRange(c.body.length, c.body.length)
  }

  #confirmDelete (c: Comment, t: Thread, article: HTMLElement): void {
    const first = c.id === t.id
    const bar = h('div', { class: 'confirm', role: 'group', 'aria-label': 'Confirm delete' },
      h('span', {}, first ? 'Delete this thread and its replies?' : 'Delete this reply?'),
      h('button', { type: 'button', class: 'button ghost small', onclick: () => this.#stopEditing() }, 'Cancel'),
      h('button', { type: 'button', class: 'button danger small', 'data-testid': 'confirm-delete', onclick: () => { void this.#ctx.remove(c, t).then(() => this.#stopEditing()) } }, 'Delete'))
    this.#editing = true
    article.appendChild(bar)
  }

  /** Back from editing or deleting: shows the thread as it is now. */
  #stopEditing (): void {
    this.#editing = false
    this.update(this.#latest, this.#ctx)
  }

  /** The reply box, kept (with what is typed in it) across updates; only where replying is allowed. */
  #updateReply (t: Thread): void {
    const wanted = this.#ctx.canWrite && !t.resolved
    if (!wanted) { this.#reply = null; this.#replyHost.replaceChildren(); return }
    if (this.#reply) return
    const box = mentionBox((q) => this.#ctx.lookup(q), { name: 'reply', 'aria-label': 'Reply', placeholder: 'Reply… (@ to mention)', rows: 1 })
    const send = h('button', { type: 'submit', class: 'button primary small', 'data-testid': 'send-reply' }, 'Reply')
    const form = h('form', { class: 'reply-form' }, box.field, h('div', { class: 'form-actions' },
      h('button', { type: 'button', class: 'button ghost small', onclick: () => { box.reset(); box.textarea.blur(); form.classList.remove('active') } }, 'Cancel'), send))
    box.textarea.addEventListener('focus', () => form.classList.add('active'))
    box.textarea.addEventListener('blur', () => { if (!box.textarea.value.trim()) form.classList.remove('active') })
    submitOnModEnter(box.textarea, form)
    form.addEventListener('submit', (e) => {
      e.preventDefault()
      const text = box.textarea.value.trim()
      if (!text) return
      send.disabled = true
      void this.#ctx.reply(this.#latest, text, box.mentions()).then((made) => {
        send.disabled = false
        if (made) { box.reset(); form.classList.remove('active') }
      })
    })
    this.#reply = { form, box }
    this.#replyHost.replaceChildren(form)
  }
}

function anchorView (t: Thread): HTMLElement {
  if (!t.anchor) return h('p', { class: 'thread-anchor' }, h('span', { class: 'badge' }, 'Whole document'))
  const quote = h('blockquote', { class: 'thread-quote', title: t.anchor.quote }, t.anchor.quote || '…')
  if (!t.anchor.orphaned) return h('div', { class: 'thread-anchor' }, quote)
  return h('div', { class: 'thread-anchor' }, h('span', { class: 'badge warn', 'data-testid': 'orphaned', title: 'The text this comment was on has been deleted' }, 'Text deleted'), quote)
}

/** Ctrl/Cmd+Enter sends, as in most comment boxes; Enter alone starts a new line. */
export function submitOnModEnter (textarea: HTMLTextAreaElement, form: HTMLFormElement): void {
  textarea.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) { e.preventDefault(); form.requestSubmit() }
  })
}
