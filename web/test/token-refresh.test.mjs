// Access tokens that expire every few seconds: the app refreshes them before they do, for
// its REST calls and for the editor's socket (which the server closes with 4401 once the
// token it joined with expires, and the provider rejoins with the fresh one).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { serverAndBrowser, context, signup, newDocument, waitSaved } from './browser.mjs'

let server, browser, base
serverAndBrowser({ TANDEM_ACCESS_TOKEN_TTL: '4s', TANDEM_ACCESS_RECHECK: '1s' }, (up) => { ({ server, browser, base } = up) })

test('editing goes on across several access token lifetimes', async () => {
  const { page } = await signup(await context(browser), base)
  await newDocument(page)
  const sockets = []
  page.on('websocket', (ws) => sockets.push(ws.url()))
  await page.click('.cm-content')
  for (let i = 0; i < 5; i++) {
    await page.keyboard.type(`line ${i} `)
    await waitSaved(page, 15_000)
    await page.waitForTimeout(3000)
  }
  // The server closes a socket whose token expired (4 s, plus its 5 s leeway): the typing
  // takes over 15 s, so the socket was rejoined, each time with a fresh token,
  // and REST calls (the title) still work.
  assert.ok(sockets.length >= 1, 'the socket was never renewed')
  assert.equal(new Set(sockets.map((u) => new URL(u).searchParams.get('token'))).size, sockets.length)
  await page.fill('.title-input', 'Still signed in')
  const saved = page.waitForResponse((r) => r.request().method() === 'PATCH' && r.ok())
  await page.press('.title-input', 'Enter')
  await saved
  await page.reload()
  await page.waitForSelector('.editor[data-synced=true]')
  assert.equal(await page.inputValue('.title-input'), 'Still signed in')
  assert.match(await page.textContent('.cm-content'), /line 0 line 1 line 2 line 3 line 4/)
  assert.equal(await page.locator('[role=alert]:not([hidden])').count(), 0)
})
