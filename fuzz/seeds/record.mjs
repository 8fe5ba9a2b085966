// Writes the fuzz targets' seed corpora (fuzz/seeds/<target>/): the frames of
// protocol/vectors.json, and the frames an unmodified y-websocket provider and an
// unmodified @hocuspocus/provider send (and receive) in a short editing session against
// the real server. Run from the repository root after `cargo build` and `npm ci` in
// client-js:   node fuzz/seeds/record.mjs
import { createRequire } from 'node:module'
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Server, until } from '../../client-js/test/server.mjs'

const here = dirname(fileURLToPath(import.meta.url))
const require = createRequire(join(here, '..', '..', 'client-js', 'package.json'))
const Y = require('yjs')
const { WebsocketProvider } = require('y-websocket')
const { HocuspocusProvider, HocuspocusProviderWebsocket } = require('@hocuspocus/provider')
const WebSocket = require('ws')

const targets = ['decode', 'hocuspocus', 'awareness', 'room_apply']
for (const t of targets) {
  rmSync(join(here, t), { recursive: true, force: true })
  mkdirSync(join(here, t))
}
const seen = new Set()
function seed (target, name, bytes) {
  const key = target + Buffer.from(bytes).toString('hex')
  if (seen.has(key)) return
  seen.add(key)
  writeFileSync(join(here, target, name), Buffer.from(bytes))
}

// lib0 varuint and varBuf, for unwrapping awareness payloads and framing room_apply inputs.
function readVarUint (buf, pos) {
  let n = 0; let mult = 1
  for (;;) {
    const b = buf[pos++]
    n += (b & 0x7f) * mult
    mult *= 128
    if (b < 0x80) return [n, pos]
  }
}
function awarenessPayload (frame) {
  if (frame[0] !== 1) return null
  const [len, pos] = readVarUint(frame, 1)
  return frame.subarray(pos, pos + len)
}
function roomInput (frames) {
  const parts = []
  for (const f of frames) {
    if (f.length < 255) parts.push(Buffer.from([f.length]), f)
    else if (f.length <= 0xffff) parts.push(Buffer.from([255, f.length & 0xff, f.length >> 8]), f)
  }
  return Buffer.concat(parts)
}

// 1. The shared test vectors.
const vectors = JSON.parse(readFileSync(join(here, '..', '..', 'protocol', 'vectors.json'))).vectors
for (const v of vectors) {
  const bytes = Buffer.from(v.hex, 'hex')
  seed('decode', `vector-${v.name}`, bytes)
  const payload = awarenessPayload(bytes)
  if (payload && v.kind === 'awareness') seed('awareness', `vector-${v.name}`, payload)
  const name = Buffer.from('vectors')
  seed('hocuspocus', `vector-${v.name}`, Buffer.concat([Buffer.from([name.length]), name, bytes]))
}
seed('room_apply', 'vectors', roomInput(vectors.filter((v) => v.kind !== 'error').map((v) => Buffer.from(v.hex, 'hex'))))

/** A WebSocket that records every binary frame it sends and receives. */
function recordingSocket (log) {
  return class extends WebSocket {
    constructor (...args) {
      super(...args)
      this.binaryType = 'arraybuffer'
      this.on('message', (data) => log.push({ dir: 'in', bytes: Buffer.from(data) }))
    }

    send (data, ...rest) {
      log.push({ dir: 'out', bytes: Buffer.from(data) })
      return super.send(data, ...rest)
    }
  }
}

/** What an editor does: type (with characters outside the BMP), delete, format, set presence. */
async function edit (doc, provider, awareness, who) {
  const text = doc.getText('content')
  text.insert(0, `# Notes from ${who}\n\n`)
  text.insert(text.length, 'Hello 👋 wörld — 漢字 ')
  text.delete(2, 5)
  text.format(0, 4, { bold: true })
  doc.getMap('meta').set('title', `by ${who}`)
  awareness.setLocalStateField('user', { name: who, color: '#30bced' })
  const anchor = Y.createRelativePositionFromTypeIndex(text, 3)
  awareness.setLocalStateField('cursor', { anchor: Y.relativePositionToJSON(anchor), head: Y.relativePositionToJSON(anchor) })
  await new Promise((resolve) => setTimeout(resolve, 200))
}

const server = await Server.start()
try {
  const token = server.token('fuzz/*=rw')

  // 2. y-websocket: a provider with offline edits joins, edits, a second one joins, both leave.
  const wsLog = []
  const a = new Y.Doc()
  a.getText('content').insert(0, 'written offline ')
  const pa = new WebsocketProvider(server.url, 'fuzz/ws', a, { WebSocketPolyfill: recordingSocket(wsLog), params: { token }, disableBc: true })
  await until(() => pa.synced, 10_000, 'y-websocket sync')
  await edit(a, pa, pa.awareness, 'ada')
  const b = new Y.Doc()
  const pb = new WebsocketProvider(server.url, 'fuzz/ws', b, { WebSocketPolyfill: recordingSocket(wsLog), params: { token }, disableBc: true })
  await until(() => pb.synced && b.getText('content').toString() === a.getText('content').toString(), 10_000, 'second sync')
  b.getText('content').insert(0, '> ')
  await until(() => a.getText('content').toString().startsWith('> '), 10_000, 'convergence')
  pb.destroy()
  pa.destroy()
  await new Promise((resolve) => setTimeout(resolve, 200))

  // 3. Hocuspocus (v4): token, sync, edits, presence, a stateless message, close.
  const hpLog = []
  const socket = new HocuspocusProviderWebsocket({ url: `ws://${server.addr}/hocuspocus`, WebSocketPolyfill: recordingSocket(hpLog) })
  const c = new Y.Doc()
  const pc = new HocuspocusProvider({ websocketProvider: socket, name: 'fuzz/hp', document: c, token })
  pc.attach()
  await until(() => pc.synced, 10_000, 'hocuspocus sync')
  await edit(c, pc, pc.awareness, 'grace')
  pc.sendStateless('hello')
  await until(() => !pc.hasUnsyncedChanges, 10_000, 'acknowledgements')
  pc.destroy()
  socket.destroy()
  await new Promise((resolve) => setTimeout(resolve, 200))

  const wsOut = wsLog.filter((f) => f.dir === 'out').map((f) => f.bytes)
  wsLog.forEach((f, i) => {
    const name = `ws-${String(i).padStart(2, '0')}-${f.dir}`
    seed('decode', name, f.bytes)
    const payload = awarenessPayload(f.bytes)
    if (payload) seed('awareness', name, payload)
  })
  seed('room_apply', 'ws-session-client-frames', roomInput(wsOut))
  seed('room_apply', 'ws-session-all-frames', roomInput(wsLog.map((f) => f.bytes)))

  const hpMessages = []
  hpLog.forEach((f, i) => {
    const name = `hp-${String(i).padStart(2, '0')}-${f.dir}`
    seed('hocuspocus', name, f.bytes)
    if (f.bytes.length < 2) return
    const [len, pos] = readVarUint(f.bytes, 0)
    const message = f.bytes.subarray(pos + len)
    if (message[0] <= 1 || message[0] === 3) {
      hpMessages.push(message)
      seed('decode', name, message)
      const payload = awarenessPayload(message)
      if (payload) seed('awareness', name, payload)
    }
  })
  seed('room_apply', 'hp-session-messages', roomInput(hpMessages))
  console.log(`recorded ${wsLog.length} y-websocket and ${hpLog.length} Hocuspocus frames`)
} finally {
  await server.stop()
  server.cleanup()
}
