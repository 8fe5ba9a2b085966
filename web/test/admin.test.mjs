// The administration page in a real browser: the first account (the instance admin)
// reaches it from the settings page, sees the server's numbers, finds a user, disables
// them (their open page is signed out), enables them again, and reads the audit log.
// Someone else gets no link, and the page refuses them.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { serverAndBrowser, context, signup, login, SCREENSHOTS } from './browser.mjs'

let browser, base
serverAndBrowser({}, (up) => { ({ browser, base } = up) })

test('the instance admin disables and enables a user, and the audit log says so', async () => {
  const root = await signup(await context(browser), base, 'Root Admin')
  const bob = await signup(await context(browser), base, 'Bob Builder')

  await root.page.goto(`${base}/settings`)
  await root.page.click('[data-testid=admin-link]')
  await root.page.waitForURL(`${base}/admin`)
  await root.page.waitForSelector('[data-testid=system-info] dd')
  assert.match(await root.page.textContent('[data-testid=system-info]'), /Users\s*2 \(0 disabled\)/)

  await root.page.fill('input[name=user-search]', 'bob')
  const row = root.page.locator(`[data-testid=user-list] [data-user="${bob.email}"]`)
  await root.page.waitForFunction(() => document.querySelectorAll('[data-testid=user-list] .token-item').length === 1)
  await row.waitFor()
  await root.page.screenshot({ path: `${SCREENSHOTS}/admin.png`, fullPage: true })

  await row.locator('text=Disable').click()
  await root.page.click('[data-testid=confirm]')
  await row.locator('.badge.warn').waitFor()
  // Bob's open page loses its session; he cannot log in while disabled.
  await bob.page.reload()
  await bob.page.waitForSelector('form input[name=email]')
  assert.equal(await login(base, bob.email, bob.password), undefined)

  await row.locator('text=Enable').click()
  await row.locator('.badge.warn').waitFor({ state: 'detached' })
  assert.ok(await login(base, bob.email, bob.password))

  await root.page.selectOption('select[name=audit-action]', 'admin.user_disabled')
  // The list says it is busy until the filtered page replaces the unfiltered one.
  const entry = root.page.locator('[data-testid=audit-list]:not([aria-busy]) .audit-item')
  await entry.first().waitFor()
  assert.equal(await entry.count(), 1)
  assert.match(await entry.first().textContent(), /admin\.user_disabled.*by Root Admin/)
  assert.deepEqual(root.page.context().errors, [])
})

test('someone who is not an admin has no link, and the page says they may not', async () => {
  await signup(await context(browser), base, 'First Person')
  const other = await signup(await context(browser), base, 'Second Person')
  await other.page.goto(`${base}/settings`)
  await other.page.waitForSelector('[data-testid=token-list] li')
  assert.equal(await other.page.isHidden('[data-testid=admin-link]'), true)
  await other.page.goto(`${base}/admin`)
  await other.page.waitForSelector('[role=alert]:not([hidden])')
  assert.match(await other.page.textContent('[role=alert]:not([hidden])'), /permission/)
})
