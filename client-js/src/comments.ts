// Comments on a document and the notifications they raise, over the typed REST client:
// threads anchored to a range of the text (or to the whole document), replies, edits,
// resolving, @-mentions, and the reader's mention and reply notifications. Each method
// resolves to the server's answer or throws a TandemError with its code.

import type { Client } from 'openapi-fetch'
import type { paths } from './schema.js'
import { TandemError } from './session.js'

/** Who wrote a comment. */
export interface Author { id: string, name: string }

/** One message: a reply, or (as part of a {@link Thread}) a thread's first message. */
export interface Comment {
  id: string
  body: string
  author: Author
  /** Unix milliseconds. */
  created_at: number
  edited_at: number | null
}

/** Where a thread points in the text, resolved against the live document when listed. */
export interface Anchor {
  /** UTF-16 code units into the current text. */
  index: number
  length: number
  /** The text as it was when the thread was started. */
  quote: string
  /** The anchored text is gone. */
  orphaned: boolean
  /** Base64 `Y.encodeRelativePosition` of the range's ends in the `content` Y.Text. */
  start: string | null
  end: string | null
}

/** A thread: its first message, its state, its anchor (null: the whole document), its replies. */
export interface Thread extends Comment {
  resolved: boolean
  resolved_at: number | null
  anchor: Anchor | null
  replies: Comment[]
}

/**
 * A range to comment on: UTF-16 `index`/`length` into the text as the server has it, or
 * Yjs relative positions (base64), exact however the text changed since they were made
 * (see `commentAnchor` in `@tandem/client/documents`).
 */
export type NewAnchor = { index: number, length: number } | { start: string, end: string }

export interface NewThread {
  body: string
  /** Absent: a comment on the whole document. */
  anchor?: NewAnchor
  /** The ids of the users @-mentioned in `body`: they are notified. */
  mentions?: string[]
}

export interface Notification {
  id: string
  kind: 'mention' | 'reply'
  document_id: string
  comment_id: string
  read: boolean
  created_at: number
}

/** The REST client as these calls use it (typed by the server's OpenAPI document). */
type Api = Client<paths>
type Answer = { data?: unknown, error?: unknown, response: Response }
/** Where the calls go: a `Tandem`'s typed client. */
type Loose = { GET: Call, POST: Call, PATCH: Call, DELETE: Call }
type Call = (path: string, init: Record<string, unknown>) => Promise<Answer>

/** A public link's token, sent as the `Tandem-Link` header (reading only). */
export interface LinkOption { link?: string }

export class Comments {
  readonly #api: Loose

  constructor (api: Api) {
    this.#api = api as unknown as Loose
  }

  /** The document's threads, ordered by position then creation; `resolved` filters. */
  async list (documentId: string, opts: LinkOption & { resolved?: boolean } = {}): Promise<Thread[]> {
    const query = opts.resolved === undefined ? {} : { resolved: opts.resolved }
    const body = await data<{ items: Thread[] }>(this.#api.GET('/api/v1/documents/{id}/comments', {
      params: { path: { id: documentId }, query }, headers: linkHeader(opts)
    }))
    return body.items
  }

  /** Starts a thread on a range (or, without `anchor`, on the whole document). */
  create (documentId: string, thread: NewThread): Promise<Thread> {
    return data(this.#api.POST('/api/v1/documents/{id}/comments', { params: { path: { id: documentId } }, body: thread }))
  }

  reply (documentId: string, threadId: string, reply: { body: string, mentions?: string[] }): Promise<Comment> {
    return data(this.#api.POST('/api/v1/documents/{id}/comments/{thread}/replies', {
      params: { path: { id: documentId, thread: threadId } }, body: reply
    }))
  }

  /** Rewrites one's own message: a thread's first one (answers the thread) or a reply (the reply). */
  edit (documentId: string, commentId: string, body: string): Promise<Thread | Comment> {
    return this.#patch(documentId, commentId, { body })
  }

  /** Resolves or reopens a thread. */
  resolve (documentId: string, threadId: string, resolved = true): Promise<Thread> {
    return this.#patch(documentId, threadId, { resolved }) as Promise<Thread>
  }

  /** Deletes a message; a thread's first message takes the thread with it. */
  async delete (documentId: string, commentId: string): Promise<void> {
    await data(this.#api.DELETE('/api/v1/documents/{id}/comments/{comment}', { params: { path: { id: documentId, comment: commentId } } }))
  }

  /** Who may be @-mentioned (those who can read the document), by name `prefix`; at most 20. */
  async mentionable (documentId: string, prefix?: string): Promise<Author[]> {
    const query = prefix ? { q: prefix } : {}
    const body = await data<{ items: Author[] }>(this.#api.GET('/api/v1/documents/{id}/mentionable', { params: { path: { id: documentId }, query } }))
    return body.items
  }

  /** The signed-in user's notifications (only the unread ones with `unread`). */
  async notifications (opts: { unread?: boolean } = {}): Promise<Notification[]> {
    const query = opts.unread === undefined ? {} : { unread: opts.unread }
    const body = await data<{ items: Notification[] }>(this.#api.GET('/api/v1/users/me/notifications', { params: { query } }))
    return body.items
  }

  /** Marks notifications read: these ids, or all of them. */
  async markRead (which: string[] | 'all'): Promise<void> {
    await data(this.#api.POST('/api/v1/users/me/notifications/read', { body: which === 'all' ? { all: true } : { ids: which } }))
  }

  #patch (documentId: string, commentId: string, body: { body?: string, resolved?: boolean }): Promise<Thread | Comment> {
    return data(this.#api.PATCH('/api/v1/documents/{id}/comments/{comment}', { params: { path: { id: documentId, comment: commentId } }, body }))
  }
}

function linkHeader (opts: LinkOption): Record<string, string> {
  return opts.link ? { 'tandem-link': opts.link } : {}
}

async function data<T> (call: Promise<Answer>): Promise<T> {
  const { data, error, response } = await call
  if (error !== undefined || !response.ok) throw TandemError.fromBody(response.status, error, response.statusText)
  return data as T
}
