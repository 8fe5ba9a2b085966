// Unmodified @hocuspocus/provider (v4) against the real server's /hocuspocus endpoint:
// several documents on one socket, acknowledged updates, awareness, read-only scope,
// refused tokens, and a room shared with a y-websocket provider.
import { test, after, before } from 'node:test'
import assert from 'node:assert/strict'
import * as Y from 'yjs'
import { HocuspocusProvider, HocuspocusProviderWebsocket } from '@hocuspocus/provider'
import { WebsocketProvider } from 'y-websocket'
import WebSocket from 'ws'
import { Server, until } from './server.mjs'

process.setMaxListeners(100)

let server
const cleanup = []
before(async () => { server = await Server.start() })
after(async () => {
  for (const c of cleanup.reverse()) c()
  await server.stop()
  server.cleanup()
})

function socket () {
  const websocketProvider = new HocuspocusProviderWebsocket({ url: `ws://${server.addr}/hocuspocus`, WebSocketPolyfill: WebSocket })
  cleanup.push(() => websocketProvider.destroy())
  return websocketProvider
}

function open (name, token, websocketProvider = socket(), extra = {}) {
  const document = new Y.Doc()
  const provider = new HocuspocusProvider({ websocketProvider, name, document, token, ...extra })
  provider.attach()
  cleanup.push(() => { provider.destroy(); document.destroy() })
  return { document, provider }
}

test('two providers converge, and every update is acknowledged', async () => {
  const token = server.token('hp/*=rw')
  const a = open('hp/converge', token)
  const b = open('hp/converge', token)
  await until(() => a.provider.synced && b.provider.synced, 10_000, 'sync')
  assert.equal(a.provider.authorizedScope, 'read-write')
  a.document.getText('content').insert(0, 'from a ')
  b.document.getText('content').insert(0, 'from b ')
  const same = () => a.document.getText('content').toString() === b.document.getText('content').toString()
  await until(() => same() && a.document.getText('content').length === 14, 10_000, 'convergence')
  await until(() => !a.provider.hasUnsyncedChanges && !b.provider.hasUnsyncedChanges, 10_000, 'acknowledgements')
})

test('a document larger than one WebSocket frame reaches a late joiner whole (fragments reassembled)', async () => {
  // The server sends messages over 64 KiB as fragments: a first frame, continuations, a final one.
  const token = server.token('hp/*=rw')
  const text = 'h'.repeat(300 * 1024)
  const a = open('hp/large', token)
  await until(() => a.provider.synced, 10_000, 'a synced')
  a.document.getText('content').insert(0, text)
  await until(() => !a.provider.hasUnsyncedChanges, 10_000, 'a acknowledged')
  const b = open('hp/large', token)
  await until(() => b.document.getText('content').length === text.length, 10_000, 'b has the whole document')
  assert.equal(b.document.getText('content').toString(), text)
})

test('one socket carries several documents, and a y-websocket provider shares the room', async () => {
  const token = server.token('hp/*=rw')
  const shared = socket()
  const one = open('hp/one', token, shared)
  const two = open('hp/two', token, shared)
  await until(() => one.provider.synced && two.provider.synced, 10_000, 'both synced')
  one.document.getText('content').insert(0, 'first document')
  two.document.getText('content').insert(0, 'second document')

  const doc = new Y.Doc()
  const yws = new WebsocketProvider(server.url, 'hp/one', doc, { WebSocketPolyfill: WebSocket, params: { token }, disableBc: true })
  cleanup.push(() => { yws.destroy(); doc.destroy() })
  await until(() => doc.getText('content').toString() === 'first document', 10_000, 'y-websocket sees the hocuspocus edit')
  doc.getText('content').insert(0, '> ')
  await until(() => one.document.getText('content').toString() === '> first document', 10_000, 'hocuspocus sees the y-websocket edit')
  assert.equal(two.document.getText('content').toString(), 'second document')

  // Awareness crosses protocols too.
  one.provider.setAwarenessField('user', { name: 'hp' })
  await until(() => yws.awareness.getStates().get(one.document.clientID)?.user?.name === 'hp', 10_000, 'awareness')
})

test('a read-only token gets the readonly scope and its edits are not applied', async () => {
  const writer = open('hp/readonly', server.token('hp/*=rw'))
  await until(() => writer.provider.synced, 10_000, 'writer synced')
  writer.document.getText('content').insert(0, 'published')
  const reader = open('hp/readonly', server.token('hp/*=r'))
  await until(() => reader.provider.synced && reader.document.getText('content').toString() === 'published', 10_000, 'reader')
  assert.equal(reader.provider.authorizedScope, 'readonly')
  await until(() => !reader.provider.hasUnsyncedChanges, 10_000, 'the read-only sync acknowledged')
  reader.document.getText('content').insert(0, 'not allowed ')
  const check = open('hp/readonly', server.token('hp/*=r'))
  await until(() => check.provider.synced, 10_000, 'check synced')
  await new Promise((resolve) => setTimeout(resolve, 300))
  assert.equal(check.document.getText('content').toString(), 'published')
  assert.equal(writer.document.getText('content').toString(), 'published')
})

test('a bad token is refused with permission denied', async () => {
  let reason
  open('hp/denied', 'not-a-token', socket(), { onAuthenticationFailed: (data) => { reason = data.reason } })
  await until(() => reason !== undefined, 10_000, 'authentication failure')
  assert.match(reason, /invalid access token/)
  let other
  open('hp/denied', server.token('elsewhere/*=rw'), socket(), { onAuthenticationFailed: (data) => { other = data.reason } })
  await until(() => other !== undefined, 10_000, 'authentication failure for a room not granted')
  assert.match(other, /no access/)
})
