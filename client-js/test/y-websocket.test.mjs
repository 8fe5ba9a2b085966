// Unmodified y-websocket WebsocketProviders (yjs 13) against the real server.
import { test, after, before } from 'node:test'
import assert from 'node:assert/strict'
import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'
import WebSocket from 'ws'
import * as encoding from 'lib0/encoding'
import { Server, until } from './server.mjs'

// Each provider adds a process 'exit' listener.
process.setMaxListeners(100)

let server
const providers = []
before(async () => { server = await Server.start() })
after(async () => {
  // A provider's Awareness (and its timer) lives until its doc is destroyed.
  for (const p of providers) { p.destroy(); p.doc.destroy() }
  await server.stop()
  server.cleanup()
})

function join (room, token = server.token('*=rw'), doc = new Y.Doc(), url = server.url) {
  const provider = new WebsocketProvider(url, room, doc, { WebSocketPolyfill: WebSocket, params: { token }, disableBc: true })
  providers.push(provider)
  return { doc, provider }
}

const synced = (p) => until(() => p.synced, 10_000, 'sync')

test('concurrent edits of text, map and array converge', async () => {
  const a = join('notes/converge')
  const b = join('notes/converge')
  await Promise.all([synced(a.provider), synced(b.provider)])
  for (const { doc } of [a, b]) { doc.getText('content'); doc.getMap('meta'); doc.getArray('tags') }
  a.doc.getText('content').insert(0, '# Title\n')
  b.doc.getText('content').insert(0, 'intro ')
  a.doc.getMap('meta').set('author', 'ada')
  b.doc.getArray('tags').push(['rust', 'yjs'])
  const same = () => JSON.stringify(a.doc.toJSON()) === JSON.stringify(b.doc.toJSON())
  await until(() => same() && b.doc.getMap('meta').get('author') === 'ada' && a.doc.getArray('tags').length === 2, 10_000, 'convergence')
  assert.equal(a.doc.getText('content').toString().length, '# Title\nintro '.length)
})

test('a document larger than one WebSocket frame reaches a late joiner whole (fragments reassembled)', async () => {
  // The server sends messages over 64 KiB as fragments: a first frame, continuations, a final one.
  const text = 'y'.repeat(300 * 1024)
  const a = join('notes/large')
  await synced(a.provider)
  a.doc.getText('content').insert(0, text)
  const b = join('notes/large')
  await until(() => b.doc.getText('content').length === text.length, 10_000, 'b has the whole document')
  assert.equal(b.doc.getText('content').toString(), text)
})

test('awareness appears for peers and is removed when a provider leaves', async () => {
  const a = join('notes/presence')
  const b = join('notes/presence')
  await Promise.all([synced(a.provider), synced(b.provider)])
  a.provider.awareness.setLocalStateField('user', { name: 'ada', color: '#f00' })
  const aId = a.doc.clientID
  await until(() => b.provider.awareness.getStates().get(aId)?.user?.name === 'ada', 10_000, 'presence on b')
  a.provider.destroy()
  await until(() => !b.provider.awareness.getStates().has(aId), 10_000, 'presence removed on b')
})

test('a late joiner gets the full state, also after everyone left and after a restart', async () => {
  const a = join('notes/late')
  await synced(a.provider)
  a.doc.getText('content').insert(0, 'kept across restarts')
  const b = join('notes/late')
  await until(() => b.doc.getText('content').toString() === 'kept across restarts', 10_000, 'b has the text')
  a.provider.destroy()
  b.provider.destroy()

  const c = join('notes/late')
  await until(() => c.doc.getText('content').toString() === 'kept across restarts', 10_000, 'c after all left')
  c.provider.destroy()

  const { code } = await server.stop()
  assert.equal(code, 0, 'clean exit on SIGTERM')
  server = await Server.start(server.dataDir)
  const d = join('notes/late')
  await until(() => d.doc.getText('content').toString() === 'kept across restarts', 10_000, 'd after restart')
})

test('read-only providers receive everything and their edits are refused', async () => {
  const writer = join('public/page')
  await synced(writer.provider)
  writer.doc.getText('content').insert(0, 'published')
  const reader = join('public/page', server.token('public/*=r'))
  await until(() => reader.doc.getText('content').toString() === 'published', 10_000, 'reader has the text')
  const warn = console.warn
  const warnings = []
  console.warn = (...args) => warnings.push(args.join(' '))
  try {
    reader.doc.getText('content').insert(0, 'vandal ')
    await until(() => warnings.some((w) => w.includes('Permission denied')), 10_000, 'permission denied')
  } finally {
    console.warn = warn
  }
  writer.doc.getText('content').insert(9, '!')
  await until(() => reader.doc.getText('content').toString().includes('published!'), 10_000, 'reader still follows')
  const late = join('public/page')
  await until(() => late.doc.getText('content').toString() === 'published!', 10_000, 'server state without the refused edit')
})

test('53-bit client ids (yrs clients) and 32-bit ids (browsers) share one document', async () => {
  const bigDoc = new Y.Doc()
  bigDoc.clientID = 2 ** 53 - 7
  const big = join('notes/ids', undefined, bigDoc)
  const small = join('notes/ids')
  await Promise.all([synced(big.provider), synced(small.provider)])
  big.doc.getText('content').insert(0, 'big ')
  small.doc.getText('content').insert(0, 'small ')
  await until(() => big.doc.getText('content').length === 10 && small.doc.getText('content').length === 10, 10_000, 'both edits')
  const late = join('notes/ids')
  await until(() => late.doc.getText('content').toString() === small.doc.getText('content').toString(), 10_000, 'late agrees')
})

test('a bad token is refused and the provider never syncs', async () => {
  const bad = join('notes/x', 'not-a-token')
  const closes = []
  bad.provider.on('connection-close', (e) => closes.push(e))
  await until(() => closes.length > 0, 10_000, 'refusal')
  assert.equal(bad.provider.synced, false)
  bad.provider.destroy()
})

test('a thousand single-character edits sent at once, then a disconnect: a late joiner has them all', async () => {
  // Over the server's default message rate: it slows the sender down and keeps everything.
  const a = join('notes/burst')
  await synced(a.provider)
  const text = a.doc.getText('content')
  for (let i = 0; i < 1000; i++) text.insert(text.length, String.fromCharCode(97 + (i % 26)))
  a.provider.destroy()
  const b = join('notes/burst')
  await synced(b.provider)
  await until(() => b.doc.getText('content').length === 1000, 60_000, 'all 1000 edits')
})

test('presence that is not JSON reaches no provider, and the room keeps working', async () => {
  const a = join('notes/bad-presence')
  const b = join('notes/bad-presence')
  await Promise.all([synced(a.provider), synced(b.provider)])
  const raw = new WebSocket(`${server.url}/notes/bad-presence?token=${server.token('*=rw')}`)
  await new Promise((resolve, reject) => { raw.on('open', resolve); raw.on('error', reject) })
  const closed = new Promise((resolve) => raw.on('close', (code) => resolve(code)))
  const states = encoding.createEncoder()
  encoding.writeVarUint(states, 1)
  encoding.writeVarUint(states, 4242)
  encoding.writeVarUint(states, 1)
  encoding.writeVarString(states, '{{{')
  const frame = encoding.createEncoder()
  encoding.writeVarUint(frame, 1)
  encoding.writeVarUint8Array(frame, encoding.toUint8Array(states))
  raw.send(encoding.toUint8Array(frame))
  assert.equal(await closed, 1007)
  a.provider.awareness.setLocalStateField('user', { name: 'ada' })
  await until(() => b.provider.awareness.getStates().get(a.doc.clientID)?.user?.name === 'ada', 10_000, 'presence on b')
  assert.ok(!b.provider.awareness.getStates().has(4242))
  a.doc.getText('content').insert(0, 'still editing')
  await until(() => b.doc.getText('content').toString() === 'still editing', 10_000, 'edits after the bad state')
  // The state carries the server's stamp only for users and links: a room token's is the app's own.
  assert.equal(b.provider.awareness.getStates().get(a.doc.clientID)?.tandem, undefined)
})
