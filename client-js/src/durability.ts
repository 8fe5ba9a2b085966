// "Saved" means the server committed it: on /ws the server answers a SyncStep1 only after
// every update it read before it is durable (DESIGN.md, durability contract), so a
// SyncStep1 sent after local edits is a barrier. Each local edit bumps `local`; each
// barrier carries the value of `local` when it was sent; its SyncStep2 answer (answers
// come back in order) makes that value `durable`. Tracked for y-websocket connections.

import type * as Y from 'yjs'
import * as encoding from 'lib0/encoding'
import * as decoding from 'lib0/decoding'
import * as syncProtocol from 'y-protocols/sync'
import type { WebsocketProvider } from 'y-websocket'

/**
 * `saved`: every local edit is durable on the server; `saving`: some are not yet;
 * `offline`: not connected (local edits are kept and sent on reconnect); `error`: the
 * server refused an edit (the connection is read-only) and some are not saved.
 */
export type SaveState = 'saved' | 'saving' | 'offline' | 'error'

const MESSAGE_SYNC = 0
const MESSAGE_AUTH = 2
/** How long typing may go on before a barrier is sent anyway. */
const BARRIER_DELAY_MS = 150
const OPEN = 1

export class Durability {
  #local = 0
  #durable = 0
  /** Barriers in flight, oldest first: the `local` value each covers (-1: covers nothing new). */
  #barriers: number[] = []
  #timer: ReturnType<typeof setTimeout> | undefined
  #denied = false
  /** Whether this connection has had the server's SyncStep1 (and so sent what it lacks). */
  #greeted = false
  readonly #changed = new Set<(state: SaveState) => void>()
  readonly #refused = new Set<(reason: string) => void>()

  /** Installs itself in `provider`'s message handlers: call before it connects. */
  constructor (private readonly doc: Y.Doc, private readonly provider: WebsocketProvider) {
    doc.on('update', this.#onUpdate)
    provider.on('status', this.#onStatus)
    const handlers = provider.messageHandlers
    const sync = handlers[MESSAGE_SYNC]
    handlers[MESSAGE_SYNC] = (encoder, decoder, p, emitSynced, type) => {
      const kind = peek(decoder).readKind()
      sync(encoder, decoder, p, emitSynced, type)
      if (kind === syncProtocol.messageYjsSyncStep2) this.#answered()
      // The provider answers the server's SyncStep1 with what the server lacks (edits made
      // offline) right after this handler: the barrier must follow that answer.
      if (kind === syncProtocol.messageYjsSyncStep1) {
        this.#greeted = true
        setTimeout(() => this.#barrier(), 0)
      }
    }
    const auth = handlers[MESSAGE_AUTH]
    handlers[MESSAGE_AUTH] = (encoder, decoder, p, emitSynced, type) => {
      const message = peek(decoder)
      if (message.readKind() === 0) {
        this.#denied = true
        const reason = message.readReason()
        for (const listener of this.#refused) listener(reason)
        this.#emit()
        return
      }
      auth(encoder, decoder, p, emitSynced, type)
    }
  }

  get state (): SaveState {
    if (this.#denied && this.pending) return 'error'
    if (!this.provider.wsconnected) return 'offline'
    return this.pending ? 'saving' : 'saved'
  }

  /** Whether some local edit is not durable yet. */
  get pending (): boolean { return this.#local > this.#durable }

  /** Called with the state whenever an edit is made, saved, or the connection changes. */
  onChange (listener: (state: SaveState) => void): () => void {
    this.#changed.add(listener)
    return () => this.#changed.delete(listener)
  }

  /** Called when the server refuses an edit: this connection is read-only from then on. */
  onDenied (listener: (reason: string) => void): () => void {
    this.#refused.add(listener)
    return () => this.#refused.delete(listener)
  }

  destroy (): void {
    clearTimeout(this.#timer)
    this.doc.off('update', this.#onUpdate)
    this.provider.off('status', this.#onStatus)
  }

  readonly #onUpdate = (_update: Uint8Array, origin: unknown): void => {
    if (origin === this.provider) return
    this.#local++
    this.#emit()
    if (this.#timer === undefined) this.#timer = setTimeout(() => this.#barrier(), BARRIER_DELAY_MS)
  }

  readonly #onStatus = ({ status }: { status: string }): void => {
    this.#barriers = []
    this.#greeted = false
    clearTimeout(this.#timer)
    this.#timer = undefined
    // The provider sends its own SyncStep1 right after announcing the connection; its
    // answer covers nothing typed offline (that is sent after the server's SyncStep1).
    if (status === 'connected') this.#barriers.push(-1)
    this.#emit()
  }

  #barrier (): void {
    clearTimeout(this.#timer)
    this.#timer = undefined
    const ws = this.provider.ws
    // Before the server's SyncStep1, edits made offline have not been sent: no barrier yet.
    if (!this.#greeted || !this.provider.wsconnected || !ws || ws.readyState !== OPEN) return
    if (this.#barriers.length > 0 && this.#barriers[this.#barriers.length - 1] === this.#local) return
    const encoder = encoding.createEncoder()
    encoding.writeVarUint(encoder, MESSAGE_SYNC)
    syncProtocol.writeSyncStep1(encoder, this.doc)
    ws.send(encoding.toUint8Array(encoder))
    this.#barriers.push(this.#local)
  }

  #answered (): void {
    const covered = this.#barriers.shift()
    if (covered !== undefined && covered > this.#durable) this.#durable = covered
    if (this.pending && this.#barriers.length === 0 && this.#timer === undefined) {
      this.#timer = setTimeout(() => this.#barrier(), BARRIER_DELAY_MS)
    }
    this.#emit()
  }

  #emit (): void {
    const state = this.state
    for (const listener of this.#changed) listener(state)
  }
}

/** Reads the start of a message without consuming it (the provider's handler reads it next). */
function peek (decoder: decoding.Decoder): { readKind: () => number, readReason: () => string } {
  const copy = decoding.createDecoder(decoder.arr.subarray(decoder.pos))
  return { readKind: () => decoding.readVarUint(copy), readReason: () => decoding.readVarString(copy) }
}
