// @tandem/client's comments, notifications and live events against the real server:
// anchors made from the live text, replies with mentions, edits, resolving, deleting,
// who may write, and the event stream (replayed after a reconnect, role changes, access
// revoked).
import { test, after, before } from 'node:test'
import assert from 'node:assert/strict'
import WebSocket from 'ws'
import { Tandem, TandemError } from '../dist/index.js'
import { commentAnchor } from '../dist/documents.js'
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
  await tandem.session.signup({ email: `commenter${accounts}@example.com`, password: 'correct horse battery', name })
  return tandem
}

/** Ann's new document with `content`, shared with Bob as `role`. */
async function sharedDoc (content, role = 'commenter') {
  const ann = await signedIn('Ann Author')
  const bob = await signedIn('Bob Reader')
  const { data: doc } = await ann.api.POST('/api/v1/documents', { body: { title: 'Comments', content } })
  const shared = await ann.api.POST('/api/v1/documents/{id}/shares', { params: { path: { id: doc.id } }, body: { email: bob.session.user.email, role } })
  assert.equal(shared.response.status, 200)
  return { ann, bob, id: doc.id }
}

/** Reads `tandem`'s events on `id` into an array until `stop()`; resolves once the stream is open. */
async function collect (tandem, id, opts = {}) {
  const events = []
  const abort = new AbortController()
  let opened
  const open = new Promise((resolve) => { opened = resolve })
  const done = tandem.events(id, (e) => events.push(e), { signal: abort.signal, onOpen: opened, ...opts })
  await open
  return { events, done, stop: () => { abort.abort(); return done } }
}

test('a thread on live text, a reply with a mention, edits, resolving and deleting, seen live', async () => {
  const { ann, bob, id } = await sharedDoc('Hello brave new world')
  const live = await ann.openDocument(id, { WebSocketPolyfill: WebSocket })
  open.push(live)
  await live.synced
  const bobs = await collect(bob, id)
  const anns = await collect(ann, id)

  // The anchor is made from Ann's copy; text typed before it does not move it.
  const anchor = commentAnchor(live.text, 6, 5)
  live.text.insert(0, 'Oh. ')
  await until(() => !live.durability.pending, 10_000, 'the edit saved')
  const thread = await ann.comments.create(id, { body: 'Is it brave?', anchor })
  assert.equal(thread.body, 'Is it brave?')
  assert.equal(thread.author.name, 'Ann Author')
  assert.deepEqual([thread.resolved, thread.replies], [false, []])
  await until(() => bobs.events.some((e) => e.type === 'comment.created' && e.thread_id === thread.id), 10_000, 'Bob hears of the thread')
  const [listed] = await bob.comments.list(id)
  assert.equal(listed.anchor.quote, 'brave')
  assert.deepEqual([listed.anchor.index, listed.anchor.length, listed.anchor.orphaned], [10, 5, false])

  // Bob finds Ann by the start of her name, and mentions her in a reply.
  const people = await bob.comments.mentionable(id, 'an')
  assert.deepEqual(people.map((p) => p.name), ['Ann Author'])
  const reply = await bob.comments.reply(id, thread.id, { body: '@Ann Author very', mentions: [people[0].id] })
  await until(() => anns.events.some((e) => e.type === 'comment.created' && e.comment_id === reply.id), 10_000, 'Ann hears of the reply')
  const unread = await ann.comments.notifications({ unread: true })
  assert.ok(unread.some((n) => n.kind === 'mention' && n.comment_id === reply.id && n.document_id === id && !n.read), JSON.stringify(unread))
  await ann.comments.markRead('all')
  assert.deepEqual(await ann.comments.notifications({ unread: true }), [])

  // Only one's own words are edited; anyone who comments resolves.
  await assert.rejects(ann.comments.edit(id, reply.id, 'not mine'), (e) => e instanceof TandemError && e.status === 403)
  const edited = (await bob.comments.edit(id, reply.id, '@Ann Author very brave')).replies[0]
  assert.equal(edited.body, '@Ann Author very brave')
  assert.ok(edited.edited_at >= edited.created_at)
  const resolved = await bob.comments.resolve(id, thread.id)
  assert.equal(resolved.resolved, true)
  assert.deepEqual(await bob.comments.list(id, { resolved: false }), [])
  assert.equal((await bob.comments.list(id, { resolved: true }))[0].replies[0].body, '@Ann Author very brave')
  await until(() => anns.events.some((e) => e.type === 'comment.updated' && e.thread_id === thread.id), 10_000, 'Ann hears of the change')

  // Deleting the first message deletes the thread.
  await ann.comments.delete(id, thread.id)
  assert.deepEqual(await bob.comments.list(id), [])
  await until(() => bobs.events.some((e) => e.type === 'comment.deleted'), 10_000, 'Bob hears of the deletion')
  await bobs.stop()
  await anns.stop()
})

test('viewers read threads and may not write; a thread on the whole document has no anchor', async () => {
  const { ann, bob, id } = await sharedDoc('Read only', 'viewer')
  const thread = await ann.comments.create(id, { body: 'For everyone' })
  assert.equal(thread.anchor, null)
  assert.equal((await bob.comments.list(id))[0].body, 'For everyone')
  await assert.rejects(bob.comments.create(id, { body: 'me too' }), (e) => e instanceof TandemError && e.status === 403 && e.code === 'forbidden')
  await assert.rejects(bob.comments.reply(id, thread.id, { body: 'me too' }), (e) => e.status === 403)
  await assert.rejects(bob.comments.resolve(id, thread.id), (e) => e.status === 403)
})

test('a reader that reconnects gets what it missed; role changes arrive, and a revoked reader stops', async () => {
  const { ann, bob, id } = await sharedDoc('Events', 'commenter')
  const first = await collect(bob, id)
  const one = await ann.comments.create(id, { body: 'one', anchor: { index: 0, length: 6 } })
  await until(() => first.events.length === 1, 10_000, 'the first event')
  await first.stop()
  const lastSeen = String(first.events[0].id)
  await ann.comments.reply(id, one.id, { body: 'two' })
  await ann.comments.resolve(id, one.id)

  // Resumed after the last event seen: the two missed ones, in order, then live ones.
  const again = await collect(bob, id, { lastEventId: lastSeen })
  await until(() => again.events.length === 2, 10_000, 'the missed events')
  assert.deepEqual(again.events.map((e) => e.type), ['comment.created', 'comment.updated'])
  assert.ok(again.events[0].id > first.events[0].id)

  const bobId = bob.session.user.id
  await ann.api.POST('/api/v1/documents/{id}/shares', { params: { path: { id } }, body: { user_id: bobId, role: 'viewer' } })
  await until(() => again.events.some((e) => e.type === 'access.changed'), 10_000, 'the role change')
  assert.equal(again.events.find((e) => e.type === 'access.changed').role, 'viewer')

  await ann.api.DELETE('/api/v1/documents/{id}/shares/{user_id}', { params: { path: { id, user_id: bobId } } })
  await again.done
  assert.equal(again.events.at(-1).type, 'access.revoked')
  // Opened again, it is refused for good.
  await assert.rejects(bob.events(id, () => {}), (e) => e instanceof TandemError && (e.status === 404 || e.status === 403))
})
