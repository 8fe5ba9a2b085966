// @tandem/client (the built package, dist/) against the real server: sessions, the typed
// REST client, and live documents over both protocols, with tokens renewed across
// reconnects.
import { test, after, before } from 'node:test'
import assert from 'node:assert/strict'
import WebSocket from 'ws'
import { Tandem, TandemError } from '../dist/index.js'
import { Server, until } from './server.mjs'

let server
const open = []
before(async () => {
  // Short-lived access tokens, rechecked often: open connections are closed when theirs
  // expires, and must come back with a fresh one.
  server = await Server.start(undefined, { TANDEM_ACCESS_TOKEN_TTL: '4s', TANDEM_ACCESS_RECHECK: '500ms' })
})
after(async () => {
  for (const d of open) d.destroy()
  await server.stop()
  server.cleanup()
})

const base = () => `http://${server.addr}`
let accounts = 0
async function signedIn () {
  const tandem = new Tandem({ baseUrl: base() })
  accounts += 1
  await tandem.session.signup({ email: `user${accounts}@example.com`, password: 'correct horse battery', name: `User ${accounts}` })
  return tandem
}

async function openDoc (tandem, id, opts = {}) {
  const d = await tandem.openDocument(id, { WebSocketPolyfill: WebSocket, ...opts })
  open.push(d)
  await d.synced
  return d
}

test('sessions: signup, the typed REST client, errors in the server\'s words, logout', async () => {
  const tandem = await signedIn()
  assert.equal(tandem.session.user.name, `User ${accounts}`)
  const created = await tandem.api.POST('/api/v1/documents', { body: { title: 'Typed', content: '# Typed\n' } })
  assert.equal(created.response.status, 201)
  const list = await tandem.api.GET('/api/v1/documents', { params: { query: { q: 'Typed' } } })
  assert.ok(list.data.documents.some((d) => d.id === created.data.id))
  const missing = await tandem.api.GET('/api/v1/documents/{id}', { params: { path: { id: 'nope' } } })
  assert.equal(missing.response.status, 404)
  assert.equal(missing.error.error.code, 'document_not_found')

  await assert.rejects(new Tandem({ baseUrl: base() }).session.login({ email: 'user1@example.com', password: 'wrong password!' }),
    (e) => e instanceof TandemError && e.status === 401 && e.code === 'invalid_credentials')
  const refresh = tandem.session.refreshToken
  assert.equal(await tandem.session.logout(), true, 'the server ended the session')
  assert.equal(tandem.session.user, null)
  await assert.rejects(new Tandem({ baseUrl: base() }).session.resume(refresh), (e) => e.code === 'invalid_refresh_token')
})

test('a logout the server never heard is reported, and signs out here all the same', async () => {
  let down = false
  const tandem = new Tandem({ baseUrl: base(), fetch: (...args) => down ? Promise.reject(new TypeError('network down')) : fetch(...args) })
  accounts += 1
  await tandem.session.signup({ email: `user${accounts}@example.com`, password: 'correct horse battery', name: 'Offline' })
  const refresh = tandem.session.refreshToken
  down = true
  assert.equal(await tandem.session.logout(), false)
  assert.equal(tandem.session.user, null)
  // The server never heard it: the refresh token still works.
  assert.equal((await new Tandem({ baseUrl: base() }).session.resume(refresh)).name, 'Offline')
})

for (const protocol of ['y-websocket', 'hocuspocus']) {
  test(`${protocol}: two users edit one document; the edits are durable and outlive token expiry`, async () => {
    const ann = await signedIn()
    const bob = await signedIn()
    const { data: doc } = await ann.api.POST('/api/v1/documents', { body: { title: protocol } })
    const { data: ws } = await ann.api.GET('/api/v1/workspaces/{id}', { params: { path: { id: doc.workspace_id } } })
    assert.ok(ws)
    const shared = await ann.api.POST('/api/v1/documents/{id}/shares', {
      params: { path: { id: doc.id } }, body: { email: bob.session.user.email, role: 'editor' }
    })
    assert.equal(shared.response.status, 200)

    const a = await openDoc(ann, doc.id, { protocol })
    const b = await openDoc(bob, doc.id, { protocol })
    a.text.insert(0, 'from ann. ')
    b.text.insert(0, 'from bob. ')
    const same = () => a.text.toString() === b.text.toString() && a.text.length === 20
    await until(same, 10_000, 'both edits on both sides')

    // Past the access token's 4 s life: the server closes each connection when its token
    // expires; the session has renewed it, and the providers come back with the new one.
    await new Promise((resolve) => setTimeout(resolve, 5_000))
    a.text.insert(a.text.length, 'after expiry.')
    await until(() => b.text.toString().endsWith('after expiry.'), 15_000, 'an edit made after the first token expired')
    const content = async () => (await bob.api.GET('/api/v1/documents/{id}/content', { params: { path: { id: doc.id } }, headers: { accept: 'application/json' } })).data
    let text = ''
    for (let i = 0; i < 100 && !text.endsWith('after expiry.'); i++) {
      text = (await content()).content ?? ''
      if (!text.endsWith('after expiry.')) await new Promise((resolve) => setTimeout(resolve, 100))
    }
    assert.equal(text, b.text.toString())
  })
}

test('y-websocket: the save state turns saved only once the server holds the edits', async () => {
  const ann = await signedIn()
  const { data: doc } = await ann.api.POST('/api/v1/documents', { body: { title: 'durable' } })
  const d = await openDoc(ann, doc.id)
  const states = []
  d.durability.onChange((s) => states.push(s))
  assert.equal(d.durability.state, 'saved')
  d.text.insert(0, 'kept. ')
  assert.equal(d.durability.state, 'saving')
  await until(() => d.durability.state === 'saved', 10_000, 'the edit to be saved')
  assert.deepEqual([states[0], states.at(-1)], ['saving', 'saved'])
  const { data } = await ann.api.GET('/api/v1/documents/{id}/content', { params: { path: { id: doc.id } }, headers: { accept: 'application/json' } })
  assert.equal(data.content, 'kept. ')
  const hp = await openDoc(ann, doc.id, { protocol: 'hocuspocus' })
  assert.equal(hp.durability, null)
})
