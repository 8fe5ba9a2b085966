// Cookie mode, as the web app uses it, against the real server: the refresh token lives
// only in the HttpOnly cookie the server sets (a cookie jar stands in for the browser's),
// refreshes rotate it, a new session resumes from it, and logging out clears it.
import { test, after, before } from 'node:test'
import assert from 'node:assert/strict'
import { Tandem } from '../dist/index.js'
import { Server } from './server.mjs'

let server
before(async () => {
  server = await Server.start(undefined, { TANDEM_ACCESS_TOKEN_TTL: '4s' })
})
after(async () => {
  await server.stop()
  server.cleanup()
})

const base = () => `http://${server.addr}`

/** A fetch with a browser's cookie handling (paths, Max-Age=0), recording what it sent and got. */
function browserFetch () {
  const jar = new Map()
  const seen = []
  async function fetchWithCookies (input, init) {
    const request = new Request(input, init)
    const path = new URL(request.url).pathname
    const cookies = [...jar].filter(([, c]) => path.startsWith(c.path)).map(([name, c]) => `${name}=${c.value}`)
    if (cookies.length > 0 && request.credentials !== 'omit') request.headers.set('cookie', cookies.join('; '))
    const sentBody = request.method === 'POST' ? await request.clone().text() : ''
    const response = await fetch(request)
    for (const line of response.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';').map((s) => s.trim())
      const [name, value] = pair.split('=')
      const attr = (key) => attrs.find((a) => a.toLowerCase().startsWith(key))
      if (attr('max-age=0')) jar.delete(name)
      else jar.set(name, { value, path: attr('path=')?.slice(5) ?? '/', httpOnly: !!attr('httponly'), sameSite: attr('samesite=')?.slice(9) })
    }
    seen.push({ path, headers: request.headers, body: sentBody, received: path.startsWith('/api/v1/auth/') ? await response.clone().text() : '' })
    return response
  }
  return { fetch: fetchWithCookies, jar, seen }
}

let accounts = 0
async function signedIn (browser = browserFetch()) {
  const tandem = new Tandem({ baseUrl: base(), fetch: browser.fetch, cookie: true })
  accounts += 1
  await tandem.session.signup({ email: `cookie${accounts}@example.com`, password: 'correct horse battery', name: `Cookie ${accounts}` })
  return { tandem, browser }
}

test('the refresh token is only in an HttpOnly, SameSite=Strict cookie scoped to the auth API', async () => {
  const { tandem, browser } = await signedIn()
  assert.equal(tandem.session.refreshToken, null)
  const cookie = browser.jar.get('tandem_refresh')
  assert.ok(cookie.httpOnly && cookie.sameSite === 'Strict' && cookie.path === '/api/v1/auth')
  assert.equal(browser.jar.get('tandem_session').value, '1')
  const signup = browser.seen.find((r) => r.path === '/api/v1/auth/signup')
  assert.equal(signup.headers.get('x-tandem-session'), '1')
  assert.doesNotMatch(signup.received, /refresh_token"\s*:\s*"/)
  const { data, response } = await tandem.api.GET('/api/v1/auth/me')
  assert.equal(response.status, 200)
  assert.equal(data.name, tandem.session.user.name)
})

test('a refresh posts the cookie, never a token in the body, and rotates the cookie', async () => {
  const { tandem, browser } = await signedIn()
  const before = browser.jar.get('tandem_refresh').value
  const token = await tandem.session.refresh()
  assert.notEqual(browser.jar.get('tandem_refresh').value, before)
  const refresh = browser.seen.findLast((r) => r.path === '/api/v1/auth/refresh')
  assert.equal(refresh.headers.get('x-tandem-session'), '1')
  assert.match(refresh.headers.get('cookie'), /tandem_refresh=/)
  assert.doesNotMatch(refresh.body, /refresh_token/)
  assert.equal(tandem.session.currentToken(), token)
  // The rotated-out token is spent.
  const reused = await fetch(`${base()}/api/v1/auth/refresh`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ refresh_token: before })
  })
  assert.equal(reused.status, 401)
})

test('a new session resumes from the cookie (a reload), and without one resumes nothing', async () => {
  const { tandem, browser } = await signedIn()
  const reloaded = new Tandem({ baseUrl: base(), fetch: browser.fetch, cookie: true })
  const user = await reloaded.session.resume()
  assert.equal(user.id, tandem.session.user.id)
  assert.equal((await reloaded.api.GET('/api/v1/workspaces')).response.status, 200)

  const stranger = new Tandem({ baseUrl: base(), fetch: browserFetch().fetch, cookie: true })
  const changes = []
  stranger.session.onChange((u) => changes.push(u))
  assert.equal(await stranger.session.resume(), null)
  assert.deepEqual(changes, [], 'no session, so no change to announce')
})

test('the access token is renewed through the cookie before it expires', async () => {
  const { tandem, browser } = await signedIn()
  const first = tandem.session.currentToken()
  const cookie = browser.jar.get('tandem_refresh').value
  await new Promise((resolve) => setTimeout(resolve, 5_000))
  assert.notEqual(tandem.session.currentToken(), first)
  assert.notEqual(browser.jar.get('tandem_refresh').value, cookie)
  assert.equal((await tandem.api.GET('/api/v1/auth/me')).response.status, 200)
})

test('logging out ends the session on the server and clears the cookie', async () => {
  const { tandem, browser } = await signedIn()
  const cookie = browser.jar.get('tandem_refresh').value
  const changes = []
  tandem.session.onChange((u) => changes.push(u))
  await tandem.session.logout()
  assert.equal(tandem.session.user, null)
  assert.deepEqual(changes, [null])
  assert.equal(browser.jar.has('tandem_refresh'), false)
  assert.equal(browser.jar.has('tandem_session'), false)
  const logout = browser.seen.findLast((r) => r.path === '/api/v1/auth/logout')
  assert.equal(logout.headers.get('x-tandem-session'), '1')
  assert.equal(await new Tandem({ baseUrl: base(), fetch: browser.fetch, cookie: true }).session.resume(), null)
  const revoked = await fetch(`${base()}/api/v1/auth/refresh`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ refresh_token: cookie })
  })
  assert.equal(revoked.status, 401)
})
