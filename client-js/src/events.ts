// A document's live events (`GET /api/v1/documents/{id}/events`, text/event-stream) read
// over fetch, since EventSource cannot send the bearer header: frames parsed as they
// arrive, reconnects with backoff that resume after the last event seen (`Last-Event-ID`,
// the server replays what was missed), and the access token renewed as REST calls do.

import type { Session } from './session.js'
import { TandemError } from './session.js'
import type { components } from './schema.js'

type Role = components['schemas']['Role']

/** A comment was written, edited, resolved or deleted: refetch the threads to see how. */
export interface CommentEvent {
  type: 'comment.created' | 'comment.updated' | 'comment.deleted'
  /** The event's place in the document's stream (what `Last-Event-ID` resumes after). */
  id: number
  document_id: string
  thread_id: string
  comment_id: string
  /** When the change was made (Unix ms). */
  at: number
}

/** A version was saved (named, restored, or automatic): list the versions again to see it. */
export interface VersionEvent {
  type: 'version.created'
  /** The event's place in the document's stream (what `Last-Event-ID` resumes after). */
  id: number
  document_id: string
  version_id: string
  /** When it was saved (Unix ms). */
  at: number
}

/** The caller's role on the document changed (not stored: never replayed). */
export interface AccessChangedEvent { type: 'access.changed', role: Role }

/** The caller lost access; the stream ends after it and is not reopened. */
export interface AccessRevokedEvent { type: 'access.revoked' }

/** Events were missed that the server no longer keeps: whatever they were about, load it again. */
export interface ResetEvent { type: 'reset' }

export type DocumentEvent = CommentEvent | VersionEvent | AccessChangedEvent | AccessRevokedEvent | ResetEvent

const KNOWN = new Set(['comment.created', 'comment.updated', 'comment.deleted', 'version.created', 'access.changed', 'access.revoked', 'reset'])

export interface EventsOptions {
  /** Stops reading (and reconnecting); the returned promise then resolves. */
  signal?: AbortSignal
  /** Read through a public link's token (the `Tandem-Link` header) instead of the signed-in user. */
  link?: string
  /** Resume after this event id (as if it had been the last one seen). */
  lastEventId?: string
  /**
   * Called each time the stream is (re)opened. Events that are not stored (a role change)
   * may have been missed while it was closed: a caller that cares looks again here.
   */
  onOpen?: () => void
  /** The first delay before reconnecting, doubled after each failure up to `maxDelayMs`. */
  minDelayMs?: number
  maxDelayMs?: number
  /**
   * A stream silent for this long (no event, no keep-alive) is taken for dead and reopened:
   * a connection can vanish without either end being told.
   */
  idleTimeoutMs?: number
}

const MIN_DELAY_MS = 500
const MAX_DELAY_MS = 30_000
/** Three of the server's 15 s keep-alives. */
const IDLE_TIMEOUT_MS = 45_000
/** Statuses after which reconnecting cannot help: the document or the access to it is gone. */
const FINAL = new Set([400, 403, 404, 410])

/** Where the stream is read from, and as whom: a `Tandem`. */
export interface EventsOrigin {
  baseUrl: string
  session: Session
  fetchFn: typeof fetch
}

/**
 * Reads the document's events until `signal` aborts or access is revoked (then resolves),
 * reconnecting after network errors and server restarts. Rejects with a
 * {@link TandemError} when the server refuses the stream for good: the document is gone,
 * access was refused (403/404), or the session ended (401 even after a refresh).
 */
export async function readEvents (origin: EventsOrigin, documentId: string, onEvent: (event: DocumentEvent) => void, opts: EventsOptions = {}): Promise<void> {
  const { signal } = opts
  const minDelay = opts.minDelayMs ?? MIN_DELAY_MS
  let delay = minDelay
  let lastEventId = opts.lastEventId
  let retryMs: number | undefined
  while (!signal?.aborted) {
    let outcome: Outcome
    try {
      outcome = await readOnce(origin, documentId, { ...opts, lastEventId }, (frame) => {
        if (frame.id !== undefined) lastEventId = frame.id
        if (frame.retry !== undefined) retryMs = frame.retry
        const event = parseEvent(frame.data)
        // A failing handler is the app's bug to see, not a reason to drop the stream.
        if (event) { try { onEvent(event) } catch (e) { queueMicrotask(() => { throw e }) } }
        return event?.type === 'access.revoked'
      })
    } catch (e) {
      if (signal?.aborted) return
      throw e
    }
    if (outcome === 'revoked' || signal?.aborted) return
    // A stream that delivered something was healthy: start the backoff afresh.
    if (outcome === 'read') delay = retryMs ?? minDelay
    await sleep(jitter(delay), signal)
    delay = Math.min(delay * 2, opts.maxDelayMs ?? MAX_DELAY_MS)
  }
}

/**
 * How one connection ended: access revoked, after the server had sent something (even a
 * keep-alive: the connection was healthy), or having received nothing.
 */
type Outcome = 'revoked' | 'read' | 'failed'

async function readOnce (origin: EventsOrigin, documentId: string, opts: EventsOptions, onFrame: (frame: SseFrame) => boolean): Promise<Outcome> {
  const idle = new AbortController()
  const onAbort = (): void => idle.abort()
  opts.signal?.addEventListener('abort', onAbort)
  let timer: ReturnType<typeof setTimeout> | undefined
  const stillAlive = (): void => {
    clearTimeout(timer)
    timer = setTimeout(() => idle.abort(), opts.idleTimeoutMs ?? IDLE_TIMEOUT_MS)
  }
  let outcome: Outcome = 'failed'
  try {
    stillAlive()
    const res = await connect(origin, documentId, opts, idle.signal)
    if (!res.body) return outcome
    opts.onOpen?.()
    const parser = new SseParser()
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader()
    for (;;) {
      const { value, done } = await reader.read()
      if (done) return outcome
      stillAlive()
      outcome = 'read'
      for (const frame of parser.push(value)) {
        if (onFrame(frame)) { void reader.cancel().catch(() => undefined); return 'revoked' }
      }
    }
  } catch (e) {
    // A refusal is final; a network error, a dropped or a silent stream is retried.
    if (e instanceof TandemError) throw e
    return outcome
  } finally {
    clearTimeout(timer)
    opts.signal?.removeEventListener('abort', onAbort)
    idle.abort()
  }
}

/** Opens the stream; a 401 is retried once with a refreshed token, a final refusal thrown. */
async function connect ({ baseUrl, session, fetchFn }: EventsOrigin, documentId: string, opts: EventsOptions, signal: AbortSignal): Promise<Response> {
  const url = `${baseUrl}/api/v1/documents/${encodeURIComponent(documentId)}/events`
  const headers: Record<string, string> = { accept: 'text/event-stream' }
  if (opts.lastEventId !== undefined) headers['last-event-id'] = opts.lastEventId
  const bearer = !opts.link && session.user !== null
  if (opts.link) headers['tandem-link'] = opts.link
  else if (bearer) headers.authorization = 'Bearer ' + await session.accessToken()
  let res = await fetchFn(url, { headers, signal, cache: 'no-store' })
  if (res.status === 401 && bearer) {
    await res.body?.cancel()
    headers.authorization = 'Bearer ' + await session.refresh()
    res = await fetchFn(url, { headers, signal, cache: 'no-store' })
  }
  if (res.ok) return res
  const error = await TandemError.from(res)
  if (res.status === 401 || FINAL.has(res.status)) throw error
  // 429 and 5xx: worth another try later.
  throw new TypeError(`events: ${res.status}`)
}

function parseEvent (data: string): DocumentEvent | null {
  try {
    const event = JSON.parse(data) as { type?: unknown }
    return typeof event?.type === 'string' && KNOWN.has(event.type) ? event as DocumentEvent : null
  } catch {
    return null
  }
}

/** One dispatched frame of an event stream. */
export interface SseFrame {
  /** The `id:` field, when the frame had one. */
  id?: string
  /** The `event:` field (`message` when absent). */
  event: string
  data: string
  /** The latest `retry:` field so far: the reconnection delay the server asks for, in ms. */
  retry?: number
}

/**
 * Splits a text/event-stream into frames as chunks arrive, after the WHATWG rules: lines
 * end in CR, LF or CRLF (even split across chunks), `:` starts a comment (keep-alives),
 * `data:` lines join with newlines, a blank line dispatches, a frame without data is
 * dropped, and what is left unfinished when the stream ends is never dispatched.
 */
export class SseParser {
  #buffer = ''
  #data: string[] = []
  #event = ''
  #id: string | undefined
  #retry: number | undefined

  push (chunk: string): SseFrame[] {
    this.#buffer += chunk
    const frames: SseFrame[] = []
    let start = 0
    for (let i = 0; i < this.#buffer.length; i++) {
      const c = this.#buffer[i]
      if (c !== '\n' && c !== '\r') continue
      // A CR at the very end may be the first half of a CRLF: wait for the next chunk.
      if (c === '\r' && i === this.#buffer.length - 1) break
      const line = this.#buffer.slice(start, i)
      if (c === '\r' && this.#buffer[i + 1] === '\n') i++
      start = i + 1
      const frame = this.#line(line)
      if (frame) frames.push(frame)
    }
    this.#buffer = this.#buffer.slice(start)
    return frames
  }

  #line (line: string): SseFrame | null {
    if (line === '') return this.#dispatch()
    if (line.startsWith(':')) return null
    const colon = line.indexOf(':')
    const field = colon < 0 ? line : line.slice(0, colon)
    let value = colon < 0 ? '' : line.slice(colon + 1)
    if (value.startsWith(' ')) value = value.slice(1)
    if (field === 'data') this.#data.push(value)
    else if (field === 'event') this.#event = value
    else if (field === 'id' && !value.includes('\0')) this.#id = value
    else if (field === 'retry' && /^\d+$/.test(value)) this.#retry = Number(value)
    return null
  }

  #dispatch (): SseFrame | null {
    const frame: SseFrame = { event: this.#event || 'message', data: this.#data.join('\n') }
    if (this.#id !== undefined) frame.id = this.#id
    if (this.#retry !== undefined) frame.retry = this.#retry
    const had = this.#data.length > 0
    this.#data = []
    this.#event = ''
    this.#id = undefined
    return had ? frame : null
  }
}

function jitter (ms: number): number {
  return ms * (0.8 + Math.random() * 0.4)
}

function sleep (ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => { clearTimeout(timer); signal?.removeEventListener('abort', done); resolve() }
    const timer = setTimeout(done, ms)
    signal?.addEventListener('abort', done)
  })
}
