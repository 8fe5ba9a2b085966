// The latest @hocuspocus/provider of each major version still in use (v2, v3, v4) keeps a
// session working past a minute against /hocuspocus: edits flow both ways and every one
// is acknowledged, and the socket is never dropped. Providers before v4 read every frame
// as starting with a document name, so anything v4-only the server sends them (its bare
// one-byte Ping) breaks them. The three run side by side so the file costs ~70 s.
import { test, after, before } from 'node:test'
import assert from 'node:assert/strict'
import * as Y from 'yjs'
import WebSocket from 'ws'
import * as v2 from 'hocuspocus-provider-v2'
import * as v3 from 'hocuspocus-provider-v3'
import * as v4 from '@hocuspocus/provider'
import { Server, until } from './server.mjs'

/** How long each session is kept busy: past the 10 s, 30 s and 60 s marks. */
const SESSION_MS = 65_000
/** Pause between two rounds of edits. */
const ROUND_EVERY_MS = 5_000

let server
const cleanup = []
before(async () => { server = await Server.start() })
after(async () => {
  for (const c of cleanup.reverse()) c()
  await server.stop()
  server.cleanup()
})

const VERSIONS = [
  {
    name: 'v2',
    module: v2,
    // v2 attaches in its constructor, and would share edits between providers of one
    // process over a BroadcastChannel, bypassing the server, unless told not to.
    open: (m, options) => new m.HocuspocusProvider({ ...options, broadcast: false })
  },
  { name: 'v3', module: v3, open: attached },
  { name: 'v4', module: v4, open: attached }
]

function attached (m, options) {
  const provider = new m.HocuspocusProvider(options)
  provider.attach()
  return provider
}

/** A WebSocket that counts the bare Pings (`09`) it receives into `s.pings`. */
function countingPings (s) {
  return class extends WebSocket {
    constructor (...args) {
      super(...args)
      this.on('message', (data) => {
        const bytes = new Uint8Array(data)
        if (bytes.length === 1 && bytes[0] === 9) s.pings += 1
      })
    }
  }
}

/** One provider of version `v` on a socket of its own; counts the socket's closes. */
function session (v, name, token) {
  const document = new Y.Doc()
  const s = { document, closes: 0, pings: 0, text: () => document.getText('content').toString() }
  const websocketProvider = new v.module.HocuspocusProviderWebsocket({ url: `ws://${server.addr}/hocuspocus`, WebSocketPolyfill: countingPings(s) })
  const provider = v.open(v.module, { websocketProvider, name, document, token })
  s.provider = provider
  websocketProvider.on('close', () => { s.closes += 1 })
  cleanup.push(() => { provider.destroy(); websocketProvider.destroy(); document.destroy() })
  return s
}

/** Each side appends a line; both see both lines, and both are acknowledged. */
async function round (v, a, b, n) {
  a.document.getText('content').insert(a.document.getText('content').length, `${v.name} a${n}\n`)
  b.document.getText('content').insert(b.document.getText('content').length, `${v.name} b${n}\n`)
  const both = (s) => s.text().includes(`a${n}\n`) && s.text().includes(`b${n}\n`)
  await until(() => both(a) && both(b) && a.text() === b.text(), 10_000, `${v.name}: round ${n} edits on both sides`)
  await until(() => !a.provider.hasUnsyncedChanges && !b.provider.hasUnsyncedChanges, 10_000, `${v.name}: round ${n} acknowledged`)
}

async function keepsWorking (v) {
  const token = server.token('hp-versions/*=rw')
  const name = `hp-versions/${v.name}`
  const a = session(v, name, token)
  const b = session(v, name, token)
  await until(() => a.provider.synced && b.provider.synced, 10_000, `${v.name}: sync`)
  const start = Date.now()
  let n = 0
  while (Date.now() - start < SESSION_MS) {
    await round(v, a, b, n++)
    await new Promise((resolve) => setTimeout(resolve, ROUND_EVERY_MS))
  }
  await round(v, a, b, n++)
  assert.ok(Date.now() - start > 60_000, 'the session lasted past a minute')
  assert.equal(a.text().split('\n').length, 2 * n + 1, `${v.name}: every line once`)
  assert.deepEqual([a.closes, b.closes], [0, 0], `${v.name}: no socket was dropped`)
  // The bare Ping goes only to providers that announced v4 (every 10 s); the others
  // stay connected on the awareness renewals they hear every 15 s.
  if (v.name === 'v4') assert.ok(a.pings >= 5 && b.pings >= 5, `v4 pinged: ${a.pings}, ${b.pings}`)
  else assert.deepEqual([a.pings, b.pings], [0, 0], `${v.name}: never pinged`)
}

test('hocuspocus providers v2, v3 and v4 keep a session working past a minute', { concurrency: VERSIONS.length }, async (t) => {
  await Promise.all(VERSIONS.map((v) => t.test(`@hocuspocus/provider ${v.name}`, () => keepsWorking(v))))
})
