// "Saved" means the server committed it: on /ws the server answers a SyncStep1 only after
// every update it read before it is durable (DESIGN.md, durability contract), so a
// SyncStep1 sent after local edits is a barrier. Each local edit bumps `local`; each
// barrier carries the value of `local` when it was sent; its SyncStep2 answer (answers
// come back in order) makes that value `durable`.
import * as Y from 'yjs'
import * as encoding from 'lib0/encoding'
import * as decoding from 'lib0/decoding'
import * as syncProtocol from 'y-protocols/sync'
import type { WebsocketProvider } from 'y-websocket'

export type SaveState = 'saved' | 'saving' | 'offline' | 'error'

const MESSAGE_SYNC = 0
const MESSAGE_AUTH = 2
/** How long typing may go on before a barrier is sent anyway. */
const BARRIER_DELAY_MS = 150

export class Durability {
  private local = 0
  private durable = 0
  /** Barriers in flight, oldest first: the `local` value each covers (-1: covers nothing new). */
  private barriers: number[] = []
  private timer: ReturnType<typeof setTimeout> | undefined
  private denied = false
  /** Whether this connection has had the server's SyncStep1 (and so sent what it lacks). */
  private greeted = false
  onChange: (state: SaveState) => void = () => {}
  onDenied: (reason: string) => void = () => {}

  constructor (private readonly doc: Y.Doc, private readonly provider: WebsocketProvider) {
    doc.on('update', this.onUpdate)
    provider.on('status', this.onStatus)
    const handlers = provider.messageHandlers
    const sync = handlers[MESSAGE_SYNC]
    handlers[MESSAGE_SYNC] = (encoder, decoder, p, emitSynced, type) => {
      const peek = decoding.createDecoder(decoder.arr.subarray(decoder.pos))
      const kind = decoding.readVarUint(peek)
      sync(encoder, decoder, p, emitSynced, type)
      if (kind === syncProtocol.messageYjsSyncStep2) this.answered()
      // The provider answers the server's SyncStep1 with what the server lacks (edits made
      // offline) right after this handler: the barrier must follow that answer.
      if (kind === syncProtocol.messageYjsSyncStep1) {
        this.greeted = true
        setTimeout(() => this.barrier(), 0)
      }
    }
    const auth = handlers[MESSAGE_AUTH]
    handlers[MESSAGE_AUTH] = (encoder, decoder, p, emitSynced, type) => {
      const peek = decoding.createDecoder(decoder.arr.subarray(decoder.pos))
      if (decoding.readVarUint(peek) === 0) {
        this.denied = true
        this.onDenied(decoding.readVarString(peek))
        this.emit()
        return
      }
      auth(encoder, decoder, p, emitSynced, type)
    }
  }

  get state (): SaveState {
    if (this.denied && this.local > this.durable) return 'error'
    if (!this.provider.wsconnected) return 'offline'
    return this.local > this.durable ? 'saving' : 'saved'
  }

  get pending (): boolean { return this.local > this.durable }

  destroy (): void {
    clearTimeout(this.timer)
    this.doc.off('update', this.onUpdate)
    this.provider.off('status', this.onStatus)
  }

  private readonly onUpdate = (_update: Uint8Array, origin: unknown): void => {
    if (origin === this.provider) return
    this.local++
    this.emit()
    if (this.timer === undefined) this.timer = setTimeout(() => this.barrier(), BARRIER_DELAY_MS)
  }

  private readonly onStatus = ({ status }: { status: string }): void => {
    this.barriers = []
    this.greeted = false
    clearTimeout(this.timer)
    this.timer = undefined
    // The provider sends its own SyncStep1 right after announcing the connection; its
    // answer covers nothing typed offline (that is sent after the server's SyncStep1).
    if (status === 'connected') this.barriers.push(-1)
    this.emit()
  }

  private barrier (): void {
    clearTimeout(this.timer)
    this.timer = undefined
    const ws = this.provider.ws
    // Before the server's SyncStep1, edits made offline have not been sent: no barrier yet.
    if (!this.greeted || !this.provider.wsconnected || !ws || ws.readyState !== WebSocket.OPEN) return
    if (this.barriers.length > 0 && this.barriers[this.barriers.length - 1] === this.local) return
    const encoder = encoding.createEncoder()
    encoding.writeVarUint(encoder, MESSAGE_SYNC)
    syncProtocol.writeSyncStep1(encoder, this.doc)
    ws.send(encoding.toUint8Array(encoder))
    this.barriers.push(this.local)
  }

  private answered (): void {
    const covered = this.barriers.shift()
    if (covered !== undefined && covered > this.durable) this.durable = covered
    if (this.local > this.durable && this.barriers.length === 0 && this.timer === undefined) {
      this.timer = setTimeout(() => this.barrier(), BARRIER_DELAY_MS)
    }
    this.emit()
  }

  private emit (): void { this.onChange(this.state) }
}
