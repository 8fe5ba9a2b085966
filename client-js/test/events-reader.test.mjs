// The event-stream reader on its own: frames split anywhere, and a reader that resumes
// after the last event, renews its token on 401 and stops for good when refused, against
// a small stand-in HTTP server whose every answer the test decides.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import { SseParser, Tandem, TandemError } from '../dist/index.js'

test('frames are parsed however the stream is cut, keep-alives skipped', () => {
  const stream = ': ping\r\nid: 7\nevent: comment.created\ndata: {"type":"comment.created",\ndata: "id":7}\r\n\r\n' +
    ': ping\n\nretry: 2500\ndata:{"type":"access.changed","role":"viewer"}\r\rdata: unfinished'
  const whole = new SseParser().push(stream)
  for (let cut = 0; cut <= stream.length; cut++) {
    const parser = new SseParser()
    const frames = [...parser.push(stream.slice(0, cut)), ...parser.push(stream.slice(cut))]
    assert.deepEqual(frames, whole, `cut at ${cut}`)
  }
  assert.deepEqual(whole, [
    { id: '7', event: 'comment.created', data: '{"type":"comment.created",\n"id":7}' },
    { event: 'message', data: '{"type":"access.changed","role":"viewer"}', retry: 2500 }
  ])
})

/** A stand-in server: `answer(req, res, n)` handles the n-th request to the events route. */
async function standIn (answer) {
  const requests = []
  const server = createServer((req, res) => {
    if (req.url === '/api/v1/auth/login' || req.url === '/api/v1/auth/refresh') {
      res.writeHead(200, { 'content-type': 'application/json' })
      const n = requests.filter((r) => r.url.startsWith('/api/v1/auth')).length
      requests.push({ url: req.url, headers: req.headers })
      res.end(JSON.stringify({ access_token: `token-${n}`, refresh_token: `refresh-${n}`, expires_in: 600, user: { id: 'u1', name: 'Ada', email: 'a@example.com' } }))
      return
    }
    requests.push({ url: req.url, headers: req.headers })
    answer(req, res, requests.filter((r) => r.url.endsWith('/events')).length)
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  const tandem = new Tandem({ baseUrl: `http://127.0.0.1:${server.address().port}` })
  await tandem.session.login({ email: 'a@example.com', password: 'x' })
  return { tandem, requests, close: () => { server.closeAllConnections(); server.close() } }
}

const frame = (id, type) => `id: ${id}\nevent: ${type}\ndata: ${JSON.stringify({ type, id, document_id: 'd1', thread_id: 't', comment_id: 'c' })}\n\n`
const sse = (res) => res.writeHead(200, { 'content-type': 'text/event-stream' })

test('a dropped stream is reopened after the last event seen, with a fresh token after a 401', async () => {
  const { tandem, requests, close } = await standIn((req, res, n) => {
    if (n === 1) { sse(res); res.write(': ping\n\n'); res.write(frame(1, 'comment.created')); res.end(frame(2, 'comment.updated')); return }
    if (n === 2) { res.writeHead(401, { 'content-type': 'application/json' }); res.end('{"error":{"code":"invalid_token","message":"expired"}}'); return }
    sse(res)
    res.write(frame(3, 'comment.deleted'))
    res.write(`data: ${JSON.stringify({ type: 'something.new' })}\n\n`)
    res.end(`data: ${JSON.stringify({ type: 'access.revoked' })}\n\n`)
  })
  const seen = []
  let opened = 0
  await tandem.events('d1', (e) => seen.push(e.type), { minDelayMs: 10, onOpen: () => { opened++ } })
  close()
  assert.deepEqual(seen, ['comment.created', 'comment.updated', 'comment.deleted', 'access.revoked'], 'unknown types are skipped')
  const events = requests.filter((r) => r.url.endsWith('/events'))
  assert.equal(events.length, 3)
  assert.equal(events[0].url, '/api/v1/documents/d1/events')
  assert.equal(events[0].headers['last-event-id'], undefined)
  assert.equal(events[0].headers.authorization, 'Bearer token-0')
  assert.equal(events[1].headers['last-event-id'], '2')
  assert.equal(events[2].headers['last-event-id'], '2')
  assert.equal(events[2].headers.authorization, 'Bearer token-1', 'the 401 was answered with a refresh')
  assert.equal(opened, 2)
})

test('a refusal ends the reader with the server\'s error; aborting ends it quietly', async () => {
  const { tandem, close } = await standIn((req, res, n) => {
    if (n === 1) { res.writeHead(404, { 'content-type': 'application/json' }); res.end('{"error":{"code":"document_not_found","message":"no"}}'); return }
    sse(res)
    res.write(': ping\n\n')
  })
  await assert.rejects(tandem.events('d1', () => {}), (e) => e instanceof TandemError && e.code === 'document_not_found')
  const abort = new AbortController()
  const reading = tandem.events('d1', () => {}, { signal: abort.signal, onOpen: () => abort.abort() })
  await reading
  close()
})

test('a silent stream is taken for dead and reopened; server errors are retried', async () => {
  const { tandem, requests, close } = await standIn((req, res, n) => {
    if (n === 1) { res.writeHead(503); res.end(); return }
    sse(res)
    if (n === 2) { res.write(frame(5, 'comment.created')); return } // then silence
    res.end(`data: ${JSON.stringify({ type: 'access.revoked' })}\n\n`)
  })
  const seen = []
  await tandem.events('d1', (e) => seen.push(e.type), { minDelayMs: 10, idleTimeoutMs: 300 })
  close()
  assert.deepEqual(seen, ['comment.created', 'access.revoked'])
  assert.equal(requests.filter((r) => r.url.endsWith('/events'))[2].headers['last-event-id'], '5')
})
