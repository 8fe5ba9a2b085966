// Opening a document's live room: a Y.Doc kept in step with the server over an
// unmodified y-websocket WebsocketProvider (the default) or an @hocuspocus/provider,
// with the session's access token renewed across reconnects (the server closes a
// connection whose token expired with 4401; the provider then reconnects with a fresh
// one), save state from the server's durability barrier over y-websocket, and, in
// browsers, optional offline persistence with y-indexeddb. Loaded on first use by
// `Tandem.openDocument`; the Hocuspocus provider only when asked for.

import * as Y from 'yjs'
import { fromBase64, toBase64 } from 'lib0/buffer'
import { WebsocketProvider } from 'y-websocket'
import type { HocuspocusProvider } from '@hocuspocus/provider'
import type { Session } from './session.js'
import { CONTENT } from './content.js'
import { Durability } from './durability.js'

/** Close codes after which reconnecting cannot help: access is gone (the server's 4403). */
const FORBIDDEN = 4403
const NOT_FOUND = 4404
/** The access token expired: rejoin with a fresh one. */
const UNAUTHORIZED = 4401

export interface OpenOptions {
  /** Which protocol to speak: `y-websocket` (default) or `hocuspocus`. */
  protocol?: 'y-websocket' | 'hocuspocus'
  /** Open through a public link's token instead of the signed-in user (y-websocket only). */
  link?: string
  /** The document to keep in step (a new one by default). */
  doc?: Y.Doc
  /** A WebSocket implementation where there is no global one (Node: the `ws` package). */
  WebSocketPolyfill?: unknown
  /** Keep a copy in the browser's IndexedDB (y-indexeddb), to open offline and sync later. */
  offline?: boolean
}

export interface OpenDocument {
  doc: Y.Doc
  /** The Markdown text. */
  text: Y.Text
  provider: WebsocketProvider | HocuspocusProvider
  /** Resolves once the first sync with the server is done. */
  synced: Promise<void>
  /** Whether local edits are durable on the server (y-websocket; null over Hocuspocus). */
  durability: Durability | null
  /** Disconnects and stops keeping the document in step (the Y.Doc stays usable). */
  destroy (): void
}

/** Where documents are opened from, and as whom: a `Tandem`. */
export interface Origin {
  baseUrl: string
  session: Session
}

/**
 * `tandem.openDocument(id, opts)`, for apps that import it where they would rather load
 * its code together with their own page (`@tandem/client/documents`) than on first use.
 */
export function openDocument (tandem: Origin, id: string, opts?: OpenOptions & { protocol?: 'y-websocket' }): Promise<WebsocketDocument>
export function openDocument (tandem: Origin, id: string, opts?: OpenOptions): Promise<OpenDocument>
export async function openDocument ({ baseUrl, session }: Origin, id: string, opts: OpenOptions = {}): Promise<OpenDocument> {
  const doc = opts.doc ?? new Y.Doc()
  const wsBase = baseUrl.replace(/^http/, 'ws')
  const hocuspocus = (opts.protocol ?? 'y-websocket') === 'hocuspocus'
  if (hocuspocus && opts.link) throw new Error('public links open over y-websocket only')
  const cleanups: Array<() => void> = []
  if (opts.offline) cleanups.push(await persistOffline(id, doc))
  const credential = async (): Promise<Record<string, string>> =>
    opts.link ? { link: opts.link } : { token: await session.accessToken() }

  let provider: WebsocketProvider | HocuspocusProvider
  let synced: Promise<void>
  let durability: Durability | null = null
  if (!hocuspocus) {
    const yws = new WebsocketProvider(wsBase + '/ws', id, doc, {
      params: await credential(),
      WebSocketPolyfill: opts.WebSocketPolyfill as typeof WebSocket | undefined,
      disableBc: true,
      // Installed before the socket opens, so that no answer to a barrier is missed.
      connect: false,
      // y-websocket stops at every 44xx code; an expired token (4401) only needs a new one.
      shouldReconnect: (event) => event.code !== FORBIDDEN && event.code !== NOT_FOUND
    })
    // Each (re)connect reads `params`: keep the token in it current. The session renews
    // it ahead of expiry; after a close, fetch one now in case it lapsed meanwhile, and
    // a new one when the server said it had.
    const renew = (event: CloseEvent | null): void => {
      if (opts.link) return
      const current = session.currentToken()
      if (current) yws.params = { token: current }
      const next = event?.code === UNAUTHORIZED ? session.refresh() : session.accessToken()
      next.then((token) => { yws.params = { token } }, () => undefined)
    }
    yws.on('connection-close', renew)
    durability = new Durability(doc, yws)
    const tracker = durability
    // The provider leaves its Awareness (and the Awareness' timer) to the Y.Doc's end.
    cleanups.push(() => yws.off('connection-close', renew), () => tracker.destroy(), () => yws.awareness.destroy())
    yws.connect()
    provider = yws
    synced = new Promise((resolve) => {
      if (yws.synced) return resolve()
      const done = (isSynced: boolean): void => { if (isSynced) { yws.off('sync', done); resolve() } }
      yws.on('sync', done)
    })
  } else {
    const { HocuspocusProvider, HocuspocusProviderWebsocket } = await import('@hocuspocus/provider')
    const websocketProvider = new HocuspocusProviderWebsocket({
      url: wsBase + '/hocuspocus',
      ...(opts.WebSocketPolyfill ? { WebSocketPolyfill: opts.WebSocketPolyfill } : {})
    } as ConstructorParameters<typeof HocuspocusProviderWebsocket>[0])
    let resolveSynced: () => void = () => undefined
    synced = new Promise((resolve) => { resolveSynced = resolve })
    // Asked at each (re)authentication: always a current token.
    provider = new HocuspocusProvider({
      websocketProvider, name: id, document: doc, token: () => session.accessToken(), onSynced: () => resolveSynced()
    })
    provider.attach()
    cleanups.push(() => websocketProvider.destroy())
  }
  const destroyProvider = provider
  return {
    doc,
    text: doc.getText(CONTENT),
    provider,
    synced,
    durability,
    destroy () {
      destroyProvider.destroy()
      for (const cleanup of cleanups) cleanup()
    }
  }
}

/** A document open over y-websocket (the default protocol): its provider, and its save state. */
export interface WebsocketDocument extends OpenDocument {
  provider: WebsocketProvider
  durability: Durability
}

/** Keeps `doc` in the browser's IndexedDB; resolves once what was stored is loaded. */
async function persistOffline (id: string, doc: Y.Doc): Promise<() => void> {
  if (typeof indexedDB === 'undefined') throw new Error('offline persistence needs IndexedDB (a browser)')
  const { IndexeddbPersistence } = await import('y-indexeddb')
  const persistence = new IndexeddbPersistence('tandem:' + id, doc)
  await persistence.whenSynced
  return () => { void persistence.destroy() }
}

/**
 * A comment's anchor for `text[index, index + length)`, as Yjs relative positions
 * (base64): they name the characters themselves, so the range stays on the same words
 * whatever is typed around it before and after the server sees it. The start sticks to
 * the first character, the end to the last.
 */
export function commentAnchor (text: Y.Text, index: number, length: number): { start: string, end: string } {
  const start = Y.createRelativePositionFromTypeIndex(text, index, 0)
  const end = Y.createRelativePositionFromTypeIndex(text, index + length, -1)
  return { start: toBase64(Y.encodeRelativePosition(start)), end: toBase64(Y.encodeRelativePosition(end)) }
}

/**
 * Where an anchor's relative positions are in `text` now, or null when this copy of the
 * document cannot tell (positions it has not received yet, or not positions at all).
 */
export function anchorRange (text: Y.Text, anchor: { start: string | null, end: string | null }): { from: number, to: number } | null {
  if (!anchor.start || !anchor.end || !text.doc) return null
  try {
    const from = Y.createAbsolutePositionFromRelativePosition(Y.decodeRelativePosition(fromBase64(anchor.start)), text.doc)
    const to = Y.createAbsolutePositionFromRelativePosition(Y.decodeRelativePosition(fromBase64(anchor.end)), text.doc)
    if (!from || !to || from.type !== text || to.type !== text) return null
    return { from: from.index, to: Math.max(from.index, to.index) }
  } catch {
    return null
  }
}
