// "Saved" means durable: once the save state says saved, killing the server with
// SIGKILL loses nothing of what was typed.
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { Server, launch, context, signup, newDocument, waitSaved, login, api } from './browser.mjs'

let browser
const servers = []
after(async () => {
  await browser?.close()
  for (const s of servers) {
    s.proc.kill('SIGCONT')
    await s.stop('SIGKILL')
    s.cleanup()
  }
})

test('what the save state calls saved survives kill -9 of the server', async () => {
  const first = await Server.start()
  servers.push(first)
  browser = await launch()
  const { page, email, password } = await signup(await context(browser), `http://${first.addr}`)
  const id = await newDocument(page)
  await page.click('.cm-content')
  await page.keyboard.type('Acknowledged before the pause. ')
  await waitSaved(page)
  // A frozen server acknowledges nothing: what is typed meanwhile must not show as saved.
  first.proc.kill('SIGSTOP')
  try {
    await page.keyboard.type('Typed while the server was frozen.')
    await page.waitForTimeout(1500)
    const state = await page.getAttribute('[data-testid=save-state]', 'data-state')
    assert.equal(state, 'saving')
    assert.doesNotMatch(await page.textContent('[data-testid=save-state]'), /saved/)
  } finally {
    first.proc.kill('SIGCONT')
  }
  await waitSaved(page)
  const typed = 'Acknowledged before the pause. Typed while the server was frozen.'
  await first.stop('SIGKILL')
  const second = await Server.start(first.dataDir)
  servers.push(second)
  second.cleanup = () => {} // the same directory as the first's
  const base = `http://${second.addr}`
  const content = await api(base, 'GET', `/api/v1/documents/${id}/content`, await login(base, email, password))
  assert.equal(content.status, 200)
  assert.equal(content.body, typed)
})
