// @tandem/client's account methods against the real server: the caller's profile,
// another user's as a collaborator sees it, and the changes feed a sync client keeps a
// copy of its document list by (created, renamed, edited live, trashed, lost access).
import { test, after, before } from 'node:test'
import assert from 'node:assert/strict'
import WebSocket from 'ws'
import { Tandem, TandemError } from '../dist/index.js'
import { Server, until } from './server.mjs'

let server
const open = []
before(async () => { server = await Server.start() })
after(async () => {
  for (const d of open) d.destroy()
  await server.stop()
  server.cleanup()
})

let accounts = 0
async function signedIn (name) {
  const tandem = new Tandem({ baseUrl: `http://${server.addr}` })
  accounts += 1
  await tandem.session.signup({ email: `syncer${accounts}@example.com`, password: 'correct horse battery', name })
  return tandem
}

const rejectsWith = (status) => (e) => e instanceof TandemError && e.status === status

test('a profile is read and changed, and seen by collaborators only', async () => {
  const ann = await signedIn('Ann')
  const bob = await signedIn('Bob')
  const me = await ann.account.profile()
  assert.deepEqual([me.name, me.avatar_url, me.has_password], ['Ann', null, true])
  const changed = await ann.account.updateProfile({ name: 'Ann Lee', avatarUrl: 'https://example.com/ann.png' })
  assert.deepEqual([changed.name, changed.avatar_url], ['Ann Lee', 'https://example.com/ann.png'])
  await assert.rejects(ann.account.updateProfile({ avatarUrl: 'javascript:alert(1)' }), rejectsWith(422))

  await assert.rejects(bob.account.user(me.id), rejectsWith(404))
  const { data: doc } = await ann.api.POST('/api/v1/documents', { body: { title: 'Shared' } })
  await ann.api.POST('/api/v1/documents/{id}/shares', { params: { path: { id: doc.id } }, body: { email: bob.session.user.email, role: 'viewer' } })
  const seen = await bob.account.user(me.id)
  assert.deepEqual(seen, { id: me.id, name: 'Ann Lee', avatar_url: 'https://example.com/ann.png' })
})

test('a sync client follows the changes feed', async () => {
  const ann = await signedIn('Ann')
  const bob = await signedIn('Bob')
  // Bob's copy of his document list, kept by the feed.
  const copy = new Map()
  const apply = (changes) => {
    for (const c of changes) {
      if (c.kind === 'upserted') copy.set(c.document_id, c)
      else copy.delete(c.document_id)
    }
  }
  let { changes, next } = await bob.account.changesSince()
  apply(changes)
  assert.equal(copy.size, 0)

  const { data: doc } = await ann.api.POST('/api/v1/documents', { body: { title: 'Plan', content: 'one\n' } })
  await ann.api.POST('/api/v1/documents/{id}/shares', { params: { path: { id: doc.id } }, body: { email: bob.session.user.email, role: 'editor' } })
  ;({ changes, next } = await bob.account.changesSince(next))
  apply(changes)
  assert.equal(copy.get(doc.id)?.title, 'Plan')

  // A live edit, acknowledged (durable) before the feed is read.
  const live = await ann.openDocument(doc.id, { WebSocketPolyfill: WebSocket })
  open.push(live)
  await live.synced
  const before = copy.get(doc.id).updated_at
  // The server stamps with the same clock: the save lands at or after this instant,
  // which is strictly after the share's stamp.
  await until(() => Date.now() > before, 1_000, 'the clock moved past the share')
  const editedFrom = Date.now()
  live.text.insert(live.text.length, 'two\n')
  await until(() => !live.durability.pending, 10_000, 'the edit saved')
  ;({ changes, next } = await bob.account.changesSince(next))
  apply(changes)
  assert.ok(changes.some((c) => c.document_id === doc.id), 'the live edit is in the feed')
  const after = copy.get(doc.id).updated_at
  assert.ok(after > before, `the edit moved updated_at (${before} -> ${after})`)
  assert.ok(after >= editedFrom, `updated_at is the save's time (${after} < ${editedFrom})`)

  await ann.api.PATCH('/api/v1/documents/{id}', { params: { path: { id: doc.id } }, body: { title: 'Plan B' } })
  await ann.api.DELETE('/api/v1/documents/{id}/shares/{user_id}', { params: { path: { id: doc.id, user_id: bob.session.user.id } } })
  ;({ changes, next } = await bob.account.changesSince(next))
  apply(changes)
  assert.equal(copy.size, 0, 'a revoked share drops the document from the copy')
  assert.equal(changes.at(-1).kind, 'removed')

  await assert.rejects(bob.account.changes({ since: 'garbage' }), rejectsWith(400))
})
