// The product path an app takes: sign up over REST, create a document, then edit it live
// with an unmodified y-websocket WebsocketProvider using the same access token; the REST
// API and the room see each other's changes, and a view link opens the room read-only.
import { test, after, before } from 'node:test'
import assert from 'node:assert/strict'
import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'
import WebSocket from 'ws'
import { Server, until } from './server.mjs'

process.setMaxListeners(100)

let server
const providers = []
before(async () => { server = await Server.start() })
after(async () => {
  for (const p of providers) { p.destroy(); p.doc.destroy() }
  await server.stop()
  server.cleanup()
})

async function api (method, path, { token, body, link } = {}) {
  const headers = { 'content-type': 'application/json' }
  if (token) headers.authorization = `Bearer ${token}`
  if (link) headers['tandem-link'] = link
  const res = await fetch(`http://${server.addr}/api/v1${path}`, { method, headers, body: body && JSON.stringify(body) })
  const text = await res.text()
  return { status: res.status, body: text && res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : text }
}

function open (room, params) {
  const doc = new Y.Doc()
  const provider = new WebsocketProvider(server.url, room, doc, { WebSocketPolyfill: WebSocket, params, disableBc: true })
  providers.push(provider)
  return { doc, provider }
}

test('a user token from signup edits its document live, in step with the REST API', async () => {
  const signup = await api('POST', '/auth/signup', { body: { email: 'js@example.com', password: 'correct horse', name: 'JS' } })
  assert.equal(signup.status, 201)
  const token = signup.body.access_token
  const created = await api('POST', '/documents', { token, body: { title: 'Live', content: '# From REST\n' } })
  assert.equal(created.status, 201)
  const id = created.body.id

  const { doc, provider } = open(id, { token })
  const text = doc.getText('content')
  await until(() => provider.synced && text.toString() === '# From REST\n', 10_000, 'initial content')
  text.insert(text.length, 'typed in the editor\n')
  const read = async () => (await api('GET', `/documents/${id}/content`, { token })).body
  const deadline = Date.now() + 10_000
  while ((await read()) !== '# From REST\ntyped in the editor\n') {
    assert.ok(Date.now() < deadline, 'the editor\'s text reached the REST API')
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  const put = await fetch(`http://${server.addr}/api/v1/documents/${id}/content`, {
    method: 'PUT', headers: { authorization: `Bearer ${token}`, 'content-type': 'text/markdown' }, body: '# From REST, edited\ntyped in the editor\n'
  })
  assert.equal(put.status, 200)
  await until(() => text.toString() === '# From REST, edited\ntyped in the editor\n', 10_000, 'the REST edit in the editor')

  // A view link opens the same room read-only: it reads, and its edits are refused.
  const link = await api('POST', `/documents/${id}/links`, { token, body: { role: 'viewer' } })
  assert.equal(link.status, 201)
  const viewer = open(id, { link: link.body.token })
  await until(() => viewer.provider.synced && viewer.doc.getText('content').toString() === text.toString(), 10_000, 'viewer sync')
  viewer.doc.getText('content').insert(0, 'not allowed ')
  await new Promise((resolve) => setTimeout(resolve, 500))
  assert.equal(text.toString(), '# From REST, edited\ntyped in the editor\n')
  assert.equal((await api('GET', `/documents/${id}/content`, { link: link.body.token })).body, text.toString())
})
