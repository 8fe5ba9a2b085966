// The settings page in a real browser: a personal token made there works against the API
// from outside the browser, its secret is shown once, and revoking it stops it at once;
// the profile is saved, the account's data downloads, and the account can be deleted.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { serverAndBrowser, context, signup, login, SCREENSHOTS } from './browser.mjs'

let browser, base
serverAndBrowser({}, (up) => { ({ browser, base } = up) })

async function listWith (token) {
  const r = await fetch(`${base}/api/v1/documents`, { headers: { authorization: `Bearer ${token}` } })
  return r.status
}

test('a token made on the settings page works until it is revoked there', async () => {
  const ctx = await context(browser)
  const { page } = await signup(ctx, base)
  await page.click('[aria-label=Settings]')
  await page.waitForURL(`${base}/settings`)
  await page.waitForSelector('[data-testid=token-list] li')
  assert.match(await page.textContent('[data-testid=token-list]'), /No tokens yet/)

  await page.fill('input[name=token-name]', 'nightly backup')
  await page.selectOption('select[name=token-scope]', 'read')
  await page.click('text=Create token')
  await page.waitForSelector('[data-testid=token-value]')
  const token = await page.inputValue('[data-testid=token-value]')
  assert.match(token, /^tandem_/)
  await page.waitForSelector('[data-testid=token-list] .token-item')
  const row = await page.textContent('[data-testid=token-list]')
  assert.match(row, /nightly backup/)
  assert.match(row, /never used/)
  assert.ok(row.includes(token.slice(0, 12)), 'the row shows the secret\'s prefix')
  await page.screenshot({ path: `${SCREENSHOTS}/settings-tokens.png`, fullPage: true })

  assert.equal(await listWith(token), 200)
  // The secret is not shown again after a reload; the row now says it was used.
  await page.reload()
  await page.waitForSelector('[data-testid=token-list] .token-item')
  assert.equal(await page.$('[data-testid=token-value]'), null)
  assert.match(await page.textContent('[data-testid=token-list]'), /used just now/)

  await page.click('.token-item >> text=Revoke')
  await page.click('[data-testid=confirm]')
  await page.waitForSelector('[data-testid=token-list] li:not(.token-item)')
  assert.equal(await listWith(token), 401)
  assert.deepEqual(ctx.errors, [])
})

test('a token without a name is explained, not sent', async () => {
  const ctx = await context(browser)
  const { page } = await signup(ctx, base)
  await page.goto(`${base}/settings`)
  await page.waitForSelector('[data-testid=token-list] li')
  await page.fill('input[name=token-name]', '   ')
  await page.click('text=Create token')
  await page.waitForSelector('[role=alert]:not([hidden])')
  assert.match(await page.textContent('[role=alert]:not([hidden])'), /name/)
  assert.equal(await page.$('[data-testid=token-value]'), null)
})

test('the settings page of a signed-out visit asks to log in first', async () => {
  const page = await (await context(browser)).newPage()
  await page.goto(`${base}/settings`)
  await page.waitForSelector('form input[name=email]')
  assert.equal(new URL(page.url()).searchParams.get('next'), '/settings')
})

test('the profile is saved, the data downloads as a zip, and the account can be deleted', async () => {
  const ctx = await context(browser, { acceptDownloads: true })
  const { page, email, password } = await signup(ctx, base, 'Ada Lovelace')
  await page.goto(`${base}/settings`)
  await page.waitForFunction(() => document.querySelector('input[name=profile-name]')?.value === 'Ada Lovelace')
  await page.fill('input[name=profile-name]', 'Ada King')
  await page.click('text=Save profile')
  await page.waitForSelector('[data-testid=toast]')
  await page.reload()
  await page.waitForFunction(() => document.querySelector('input[name=profile-name]')?.value === 'Ada King')
  await page.screenshot({ path: `${SCREENSHOTS}/settings.png`, fullPage: true })

  const [download] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid=export-account]')])
  assert.equal(download.suggestedFilename(), 'tandem-export.zip')
  const bytes = readFileSync(await download.path())
  assert.equal(bytes.subarray(0, 2).toString(), 'PK', 'a zip archive')
  assert.ok(bytes.includes(Buffer.from('manifest.json')))

  await page.fill('input[name=delete-password]', 'not my password')
  await page.click('text=Delete my account')
  await page.click('[data-testid=confirm]')
  await page.waitForSelector('.settings-card [role=alert]:not([hidden])')
  assert.match(await page.textContent('.settings-card [role=alert]:not([hidden])'), /not your password/)
  await page.fill('input[name=delete-password]', password)
  await page.click('text=Delete my account')
  await page.click('[data-testid=confirm]')
  await page.waitForURL(/\/login/)
  assert.equal(await login(base, email, password), undefined, 'the account is gone')
})
