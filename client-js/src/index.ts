// @tandem/client: what an application needs to work with a Tandem server. A typed REST
// client (its types generated from the server's own OpenAPI document), a session that
// keeps its access token fresh, and live documents over y-websocket or Hocuspocus.

import createFetchClient, { type Client, type Middleware } from 'openapi-fetch'
import type { paths } from './schema.js'
import { Session, TandemError } from './session.js'
import type { OpenDocument, OpenOptions, WebsocketDocument } from './documents.js'

export { Session, TandemError, type SessionOptions, type Tokens, type User } from './session.js'
export { CONTENT } from './content.js'
export type { OpenDocument, OpenOptions, WebsocketDocument } from './documents.js'
export type { Durability, SaveState } from './durability.js'
export type { paths, components } from './schema.js'

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

  constructor (opts: TandemOptions) {
    this.baseUrl = opts.baseUrl.replace(/\/+$/, '')
    const fetchFn = opts.fetch ?? globalThis.fetch.bind(globalThis)
    this.session = new Session(this.baseUrl, fetchFn, { cookie: opts.cookie ?? false })
    this.api = createFetchClient<paths>({ baseUrl: this.baseUrl, fetch: fetchFn })
    this.api.use(bearer(this.session, fetchFn))
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
