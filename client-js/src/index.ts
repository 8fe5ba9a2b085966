// @tandem/client: what an application needs to work with a Tandem server. A typed REST
// client (its types generated from the server's own OpenAPI document), a session that
// keeps its access token fresh, live documents over y-websocket or Hocuspocus, comments,
// version history, templates, a document's live events, and the account (profile and
// the changes feed).

import createFetchClient, { type Client, type Middleware } from 'openapi-fetch'
import type { paths } from './schema.js'
import { Session, TandemError } from './session.js'
import type { OpenDocument, OpenOptions, WebsocketDocument } from './documents.js'
import { Comments } from './comments.js'
import { Versions } from './versions.js'
import { Templates } from './templates.js'
import { Account } from './account.js'
import { readEvents, type DocumentEvent, type EventsOptions } from './events.js'

export { Session, TandemError, type SessionOptions, type Tokens, type User } from './session.js'
export { CONTENT } from './content.js'
export type { OpenDocument, OpenOptions, WebsocketDocument } from './documents.js'
export type { Durability, SaveState } from './durability.js'
export type { paths, components } from './schema.js'
export { Comments, type Anchor, type Author, type Comment, type NewAnchor, type NewThread, type Notification, type Thread } from './comments.js'
export { Versions, type Against, type Diff, type DiffLine, type DiffWord, type Hunk, type Restored, type Version, type VersionContent, type VersionPage } from './versions.js'
export { Templates, type DocumentPage, type DocumentView, type FromTemplate } from './templates.js'
export { Account, type Change, type ChangesPage, type Profile, type ProfileChange, type PublicProfile } from './account.js'
export { SseParser, type AccessChangedEvent, type AccessRevokedEvent, type CommentEvent, type DocumentEvent, type EventsOptions, type ResetEvent, type SseFrame, type VersionEvent } from './events.js'

export interface TandemOptions {
  /** The server's address, e.g. `http://127.0.0.1:4000`. */
  baseUrl: string
  /** A fetch implementation (the global one by default). */
  fetch?: typeof fetch
  /**
   * Keep the refresh token in the server's HttpOnly session cookie: for a web app served
   * by the Tandem server (see {@link SessionOptions.cookie}).
   */
  cookie?: boolean
}

export class Tandem {
  readonly session: Session
  /** The REST API, typed from the server's OpenAPI document: `api.GET('/api/v1/documents')`. */
  readonly api: Client<paths>
  /** The server's address, without a trailing slash. */
  readonly baseUrl: string
  /** Comments on documents, and the notifications they raise. */
  readonly comments: Comments
  /** Documents' version history: list, save, read, render, diff, restore. */
  readonly versions: Versions
  /** Documents offered as starting points: mark, list, create from one. */
  readonly templates: Templates
  /** The caller's profile, the people they work with, and the changes feed. */
  readonly account: Account
  readonly #fetch: typeof fetch

  constructor (opts: TandemOptions) {
    this.baseUrl = opts.baseUrl.replace(/\/+$/, '')
    const fetchFn = opts.fetch ?? globalThis.fetch.bind(globalThis)
    this.session = new Session(this.baseUrl, fetchFn, { cookie: opts.cookie ?? false })
    this.api = createFetchClient<paths>({ baseUrl: this.baseUrl, fetch: fetchFn })
    this.api.use(bearer(this.session, fetchFn))
    this.comments = new Comments(this.api)
    this.versions = new Versions(this.api)
    this.templates = new Templates(this.api)
    this.account = new Account(this.api)
    this.#fetch = fetchFn
  }

  /**
   * Reads a document's live events (comments written, edited, deleted; versions saved;
   * the caller's role changing) until `opts.signal` aborts or access is revoked, reconnecting as needed;
   * see {@link EventsOptions}. Rejects with a `TandemError` when the server refuses the
   * stream for good.
   */
  events (documentId: string, onEvent: (event: DocumentEvent) => void, opts?: EventsOptions): Promise<void> {
    return readEvents({ baseUrl: this.baseUrl, session: this.session, fetchFn: this.#fetch }, documentId, onEvent, opts)
  }

  /**
   * Opens a document's live room; see {@link OpenOptions}. The Yjs code loads on first
   * use, so an app's pages without a live document do not carry it.
   */
  openDocument (id: string, opts?: OpenOptions & { protocol?: 'y-websocket' }): Promise<WebsocketDocument>
  openDocument (id: string, opts?: OpenOptions): Promise<OpenDocument>
  async openDocument (id: string, opts?: OpenOptions): Promise<OpenDocument> {
    const { openDocument } = await import('./documents.js')
    return openDocument(this, id, opts)
  }
}

/**
 * Adds the session's access token to every request made while signed in, and retries
 * once with a refreshed token when the server answers 401 (a token that lapsed in
 * between). Requests made signed out, or through a public link (`Tandem-Link`), go as
 * they are.
 */
function bearer (session: Session, fetchFn: typeof fetch): Middleware {
  // Sending a request uses up its body: keep an unsent copy of each for the retry.
  const unsent = new Map<string, Request>()
  return {
    async onRequest ({ request, id }) {
      if (!session.user || request.headers.has('tandem-link')) return request
      request.headers.set('authorization', 'Bearer ' + await session.accessToken())
      unsent.set(id, request.clone())
      return request
    },
    async onResponse ({ response, id }) {
      const again = unsent.get(id)
      unsent.delete(id)
      if (response.status !== 401 || !again) return response
      const token = await session.refresh().catch((e: unknown) => {
        if (e instanceof TandemError) return null
        throw e
      })
      if (!token) return response
      again.headers.set('authorization', 'Bearer ' + token)
      return fetchFn(again)
    },
    onError ({ id }) {
      unsent.delete(id)
    }
  }
}
