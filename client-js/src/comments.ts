// Comments on a document and the notifications they raise, over the typed REST client:
// threads anchored to a range of the text (or to the whole document), replies, edits,
// resolving, @-mentions, and the reader's mention and reply notifications. Each method
// resolves to the server's answer or throws a TandemError with its code.

import type { Client } from 'openapi-fetch'
import type { components, paths } from './schema.js'
import { data, linkHeader, type LinkOption } from './rest.js'

type Schemas = components['schemas']
/** Who wrote a comment (or may be @-mentioned). */
export type Author = Schemas['Author']
/** One message: a reply, or (as part of a {@link Thread}) a thread's first message. Times are Unix ms. */
export type Comment = Schemas['CommentView']
/**
 * Where a thread points, resolved against the live document when listed: `index` and
 * `length` in UTF-16 code units of the current text, the `quote` as it was, `orphaned`
 * once that text is gone, and the range's ends as base64 Yjs relative positions.
 */
export type Anchor = Schemas['AnchorView']
/** A thread: its first message, its state, its anchor (absent: the whole document), its replies. */
export type Thread = Schemas['ThreadView']
/**
 * A range to comment on: UTF-16 `index`/`length` into the text as the server has it, or
 * Yjs relative positions (base64), exact however the text changed since they were made
 * (see `commentAnchor` in `@tandem/client/documents`).
 */
export type NewAnchor = Schemas['AnchorInput']
/** A new thread: without `anchor`, on the whole document; `mentions` are the ids of those @-mentioned (they are notified). */
export type NewThread = Schemas['NewThread']
/** `mention` (you were mentioned) or `reply` (in a thread you wrote in). */
export type Notification = Schemas['NotificationView']

export type { LinkOption } from './rest.js'

export class Comments {
  constructor (private readonly api: Client<paths>) {}

  /** The document's threads, ordered by position then creation; `resolved` filters. */
  async list (documentId: string, opts: LinkOption & { resolved?: boolean } = {}): Promise<Thread[]> {
    const query = opts.resolved === undefined ? {} : { resolved: opts.resolved }
    const body = await data(this.api.GET('/api/v1/documents/{id}/comments', {
      params: { path: { id: documentId }, query }, headers: linkHeader(opts)
    }))
    return body.items
  }

  /** Starts a thread on a range (or, without `anchor`, on the whole document). */
  create (documentId: string, thread: NewThread): Promise<Thread> {
    return data(this.api.POST('/api/v1/documents/{id}/comments', { params: { path: { id: documentId } }, body: thread }))
  }

  reply (documentId: string, threadId: string, reply: { body: string, mentions?: string[] }): Promise<Comment> {
    return data(this.api.POST('/api/v1/documents/{id}/comments/{thread}/replies', {
      params: { path: { id: documentId, thread: threadId } }, body: reply
    }))
  }

  /** Rewrites one's own message (a thread's first one or a reply); answers with its thread. */
  edit (documentId: string, commentId: string, body: string): Promise<Thread> {
    return this.#patch(documentId, commentId, { body })
  }

  /** Resolves or reopens a thread. */
  resolve (documentId: string, threadId: string, resolved = true): Promise<Thread> {
    return this.#patch(documentId, threadId, { resolved })
  }

  /** Deletes a message; a thread's first message takes the thread with it. */
  async delete (documentId: string, commentId: string): Promise<void> {
    await data(this.api.DELETE('/api/v1/documents/{id}/comments/{comment}', { params: { path: { id: documentId, comment: commentId } } }))
  }

  /** Who may be @-mentioned (those who can read the document), by name `prefix`; at most 20. */
  async mentionable (documentId: string, prefix?: string): Promise<Author[]> {
    const query = prefix ? { q: prefix } : {}
    const body = await data(this.api.GET('/api/v1/documents/{id}/mentionable', { params: { path: { id: documentId }, query } }))
    return body.items
  }

  /** The signed-in user's notifications (only the unread ones with `unread`). */
  async notifications (opts: { unread?: boolean } = {}): Promise<Notification[]> {
    const query = opts.unread === undefined ? {} : { unread: opts.unread }
    const body = await data(this.api.GET('/api/v1/users/me/notifications', { params: { query } }))
    return body.items
  }

  /** Marks notifications read: these ids, or all of them. */
  async markRead (which: string[] | 'all'): Promise<void> {
    await data(this.api.POST('/api/v1/users/me/notifications/read', { body: which === 'all' ? { all: true } : { ids: which } }))
  }

  #patch (documentId: string, commentId: string, body: { body?: string, resolved?: boolean }): Promise<Thread> {
    return data(this.api.PATCH('/api/v1/documents/{id}/comments/{comment}', { params: { path: { id: documentId, comment: commentId } }, body }))
  }
}
