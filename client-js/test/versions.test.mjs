// @tandem/client's version history and templates against the real server: a named
// version, its Markdown, HTML and diffs (text and words), paging, a restore that reaches
// a connected editor live and is announced on the event stream, what viewers may not do,
// and documents made from templates.
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
  await tandem.session.signup({ email: `historian${accounts}@example.com`, password: 'correct horse battery', name })
  return tandem
}

/** Ann's new document with `content`, shared with Bob as `role`. */
async function sharedDoc (content, role) {
  const ann = await signedIn('Ann Author')
  const bob = await signedIn('Bob Second')
  const { data: doc } = await ann.api.POST('/api/v1/documents', { body: { title: 'History', content } })
  const shared = await ann.api.POST('/api/v1/documents/{id}/shares', { params: { path: { id: doc.id } }, body: { email: bob.session.user.email, role } })
  assert.equal(shared.response.status, 200)
  return { ann, bob, id: doc.id }
}

async function live (tandem, id) {
  const doc = await tandem.openDocument(id, { WebSocketPolyfill: WebSocket })
  open.push(doc)
  await doc.synced
  return doc
}

const rejectsWith = (status) => (e) => e instanceof TandemError && e.status === status

test('a named version reads back as Markdown, HTML and diffs, and restoring it reaches a live editor', async () => {
  const { ann, bob, id } = await sharedDoc('# Plan\n\nShip the quick fix on Monday.\n', 'editor')
  const bobs = await live(bob, id)
  const events = []
  const abort = new AbortController()
  const reading = bob.events(id, (e) => events.push(e), { signal: abort.signal })

  const saved = await ann.versions.save(id, 'Before review')
  assert.deepEqual([saved.kind, saved.name, saved.created_by.name], ['named', 'Before review', 'Ann Author'])
  assert.equal(saved.bytes, Buffer.byteLength('# Plan\n\nShip the quick fix on Monday.\n'))
  await until(() => events.some((e) => e.type === 'version.created' && e.version_id === saved.id), 10_000, 'the version event')

  // Bob edits live; the diff against the document now marks the words he changed.
  bobs.text.delete(bobs.text.toString().indexOf('quick'), 'quick'.length)
  bobs.text.insert(bobs.text.toString().indexOf(' fix'), 'careful')
  await until(() => !bobs.durability.pending, 10_000, 'Bob\'s edit saved')
  const diff = await ann.versions.diff(id, saved.id)
  const lines = diff.hunks.flatMap((hunk) => hunk.lines)
  const removed = lines.find((l) => l.op === 'delete')
  const added = lines.find((l) => l.op === 'insert')
  assert.equal(removed.text, 'Ship the quick fix on Monday.')
  assert.equal(added.text, 'Ship the careful fix on Monday.')
  assert.deepEqual(removed.words.filter((w) => w.changed).map((w) => w.text.trim()), ['quick'])
  assert.deepEqual(added.words.filter((w) => w.changed).map((w) => w.text.trim()), ['careful'])
  const unified = await ann.versions.diffText(id, saved.id)
  assert.match(unified, /^-Ship the quick fix on Monday\.$/m)
  assert.match(unified, /^\+Ship the careful fix on Monday\.$/m)

  const read = await bob.versions.get(id, saved.id)
  assert.equal(read.content, '# Plan\n\nShip the quick fix on Monday.\n')
  assert.match(await bob.versions.render(id, saved.id), /<h1[^>]*>.*Plan.*<\/h1>/s)

  // Ann restores: Bob's connected copy reads as the version again, and a `restore`
  // version records it.
  const restored = await ann.versions.restore(id, saved.id)
  assert.equal(typeof restored.etag, 'string')
  assert.equal(restored.version.kind, 'restore')
  assert.match(restored.version.name, /Before review/)
  await until(() => bobs.text.toString() === '# Plan\n\nShip the quick fix on Monday.\n', 10_000, 'the restore reaches Bob')
  await until(() => events.some((e) => e.type === 'version.created' && e.version_id === restored.version.id), 10_000, 'the restore event')
  const { items } = await bob.versions.list(id)
  // The text the restore replaced was saved first, as an automatic version.
  assert.deepEqual(items.slice(0, 3).map((v) => v.kind), ['restore', 'auto', 'named'])
  assert.deepEqual([items[0].id, items[2].id], [restored.version.id, saved.id])
  assert.deepEqual((await ann.versions.diff(id, saved.id)).hunks, [], 'nothing differs from the version any more')
  abort.abort()
  await reading
})

test('versions page newest first, and diff against each other', async () => {
  const { ann, id } = await sharedDoc('one\n', 'viewer')
  const names = ['first', 'second', 'third']
  const made = []
  for (const [i, name] of names.entries()) {
    await ann.api.PUT('/api/v1/documents/{id}/content', {
      params: { path: { id } }, body: `one\n${'more\n'.repeat(i)}`, bodySerializer: (b) => b, headers: { 'content-type': 'text/markdown' }
    })
    made.push(await ann.versions.save(id, name))
  }
  const first = await ann.versions.list(id, { limit: 2 })
  assert.deepEqual(first.items.map((v) => v.name), ['third', 'second'])
  assert.ok(first.next_cursor)
  const rest = await ann.versions.list(id, { limit: 2, cursor: first.next_cursor })
  assert.equal(rest.items[0].name, 'first')
  const between = await ann.versions.diff(id, made[0].id, made[2].id)
  assert.deepEqual(between.hunks.flatMap((h) => h.lines).filter((l) => l.op === 'insert').map((l) => l.text), ['more', 'more'])
})

test('viewers list, read and diff, but neither save nor restore', async () => {
  const { ann, bob, id } = await sharedDoc('Read me\n', 'viewer')
  const saved = await ann.versions.save(id, 'Mine')
  assert.equal((await bob.versions.list(id)).items[0].id, saved.id)
  assert.equal((await bob.versions.get(id, saved.id)).content, 'Read me\n')
  assert.deepEqual((await bob.versions.diff(id, saved.id)).hunks, [])
  await assert.rejects(bob.versions.save(id, 'Theirs'), rejectsWith(403))
  await assert.rejects(bob.versions.restore(id, saved.id), rejectsWith(403))
  await assert.rejects(bob.versions.get(id, 'no-such-version'), rejectsWith(404))
})

test('a document made from a template copies its title, content and tags', async () => {
  const ann = await signedIn('Ann Author')
  const { data: template } = await ann.api.POST('/api/v1/documents', { body: { title: 'Meeting notes', content: '# Meeting\n\n## Decisions\n', tags: ['meeting'] } })
  assert.equal(template.is_template, false)
  await assert.rejects(ann.templates.create(template.id), rejectsWith(422), 'not a template yet')
  assert.equal((await ann.templates.mark(template.id)).is_template, true)
  const listed = await ann.templates.list()
  assert.deepEqual(listed.documents.map((d) => d.id), [template.id])

  const copy = await ann.templates.create(template.id)
  assert.deepEqual([copy.title, copy.tags, copy.is_template], ['Meeting notes', ['meeting'], false])
  const { data: content } = await ann.api.GET('/api/v1/documents/{id}/content', { params: { path: { id: copy.id } }, parseAs: 'text' })
  assert.equal(content, '# Meeting\n\n## Decisions\n')
  const named = await ann.templates.create(template.id, { title: 'Monday sync', tags: ['weekly'] })
  assert.deepEqual([named.title, named.tags], ['Monday sync', ['weekly']])

  await ann.templates.mark(template.id, false)
  assert.deepEqual((await ann.templates.list()).documents, [])
})
