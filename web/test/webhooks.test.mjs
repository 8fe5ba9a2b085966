// Webhooks in a real browser: a workspace owner adds a receiver on loopback, copies the
// secret shown once, pings it, sees the delivery in the hook's log, and the receiver
// checks the signature with that secret.
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import { createHmac, timingSafeEqual } from 'node:crypto'
import { serverAndBrowser, context, signup, until, SCREENSHOTS } from './browser.mjs'

let browser, base
// The receiver is on 127.0.0.1, which the server refuses unless told it may.
serverAndBrowser({ TANDEM_WEBHOOK_ALLOW_PRIVATE: 'true' }, (up) => { ({ browser, base } = up) })

const received = []
const receiver = createServer((req, res) => {
  let body = ''
  req.on('data', (c) => { body += c })
  req.on('end', () => { received.push({ headers: req.headers, body }); res.writeHead(204).end() })
})
await new Promise((resolve) => receiver.listen(0, '127.0.0.1', resolve))
after(() => receiver.close())

test('an owner adds a webhook, pings it, and the receiver verifies the signature', async () => {
  const { page } = await signup(await context(browser), base)
  await page.click('[data-testid=webhooks]')
  await page.fill('input[name=webhook-url]', `http://127.0.0.1:${receiver.address().port}/hook`)
  await page.click('text=Add webhook')
  const secret = await page.locator('[data-testid=webhook-secret-value]').inputValue()
  assert.match(secret, /^whsec_/)
  const hook = page.locator('[data-testid=webhook-list] .hook-item')
  await hook.waitFor()
  assert.match(await hook.textContent(), /7 events/)

  await hook.locator('text=Ping').click()
  await until(() => received.length > 0, 15_000)
  const [{ headers, body }] = received
  assert.equal(headers['x-tandem-event'], 'ping')
  const [, t, v1] = headers['x-tandem-signature'].match(/^t=(\d+),v1=([0-9a-f]{64})$/)
  const want = createHmac('sha256', secret).update(`${t}.${body}`).digest()
  assert.ok(timingSafeEqual(want, Buffer.from(v1, 'hex')), 'signed with the secret shown')

  // The log shows the delivery once it is recorded.
  for (let i = 0; i < 30 && !(await page.$('.delivery.delivered')); i++) {
    await hook.locator('text=Deliveries').click()
    await page.waitForTimeout(500)
  }
  assert.match(await page.textContent('.delivery.delivered'), /ping.*delivered.*HTTP 204/)
  await page.screenshot({ path: `${SCREENSHOTS}/webhooks.png` })

  await hook.locator('text=Remove').click()
  await page.waitForSelector('[data-testid=webhook-list] li.muted')
})
