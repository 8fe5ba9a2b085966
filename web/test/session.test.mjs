// Sessions and the list in a real browser: a signed-out visit, a reload, search, and the
// list and login screenshots.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { serverAndBrowser, context, signup, newDocument, waitSaved, SCREENSHOTS } from './browser.mjs'

let server, browser, base
serverAndBrowser({}, (up) => { ({ server, browser, base } = up) })

test('a signed-out visit shows the login page and logs no console errors', async () => {
  const ctx = await context(browser)
  const page = await ctx.newPage()
  const failed = []
  page.on('requestfailed', (r) => failed.push(r.url()))
  page.on('response', (r) => { if (r.status() >= 400) failed.push(`${r.status()} ${r.url()}`) })
  await page.goto(`${base}/`)
  await page.waitForSelector('form input[name=email]')
  assert.equal(new URL(page.url()).pathname, '/login')
  await page.waitForTimeout(500)
  await page.screenshot({ path: `${SCREENSHOTS}/login.png` })
  assert.deepEqual(ctx.errors, [])
  assert.deepEqual(failed, [])
})

test('a wrong password is explained in an alert', async () => {
  const { email } = await signup(await context(browser), base)
  const page = await (await context(browser)).newPage()
  await page.goto(`${base}/login`)
  await page.fill('input[name=email]', email)
  await page.fill('input[name=password]', 'not the password')
  await page.click('form button[type=submit]')
  await page.waitForSelector('[role=alert]:not([hidden])')
  assert.match(await page.textContent('[role=alert]'), /Wrong email or password/)
})

test('a reload keeps the session, and logging out ends it', async () => {
  const { page } = await signup(await context(browser), base)
  const cookies = await page.context().cookies()
  const refresh = cookies.find((c) => c.name === 'tandem_refresh')
  assert.ok(refresh.httpOnly && refresh.sameSite === 'Strict' && refresh.path === '/api/v1/auth')
  assert.equal(await page.evaluate(() => document.cookie.includes('tandem_refresh')), false)
  await page.reload()
  await page.waitForSelector('[data-testid=document-list]')
  await page.click('text=Log out')
  await page.waitForSelector('form input[name=email]')
  await page.goto(`${base}/`)
  await page.waitForSelector('form input[name=email]')
})

test('a logout the server never hears says so on the login page', async () => {
  const { page } = await signup(await context(browser), base)
  await page.waitForSelector('[data-testid=document-list]')
  await page.route('**/api/v1/auth/logout', (route) => route.abort('connectionfailed'))
  await page.click('text=Log out')
  await page.waitForSelector('form input[name=email]')
  assert.equal(new URL(page.url()).search, '?signout=incomplete')
  assert.match(await page.textContent('[role=status]'), /could not be reached to end the session/)
})

test('search finds a phrase typed a moment ago', async () => {
  const { page } = await signup(await context(browser), base)
  for (const title of ['Roadmap', 'Meeting notes']) {
    await page.goto(`${base}/`)
    await newDocument(page)
    await page.fill('.title-input', title)
    await page.press('.title-input', 'Enter')
    await page.click('.cm-content')
    await page.keyboard.type(title === 'Roadmap' ? 'Ship the quartz zeppelin by spring.' : 'Nothing to see.')
    await waitSaved(page)
  }
  await page.click('a.brand')
  await page.waitForSelector('[data-testid=document-list] .doc-item')
  await page.locator('[data-testid=document-list][aria-busy=false]').waitFor()
  await page.screenshot({ path: `${SCREENSHOTS}/list.png` })
  // The search text is indexed within seconds of the edit: retry the search until then.
  const deadline = Date.now() + 15_000
  for (;;) {
    await page.fill('[data-testid=search]', '')
    await page.fill('[data-testid=search]', 'quartz zeppelin')
    await page.locator('[data-testid=document-list][aria-busy=false]').waitFor()
    await page.waitForTimeout(300)
    if (await page.locator('[data-testid=document-list] mark').count() > 0) break
    assert.ok(Date.now() < deadline, 'the phrase was never found')
  }
  const items = page.locator('[data-testid=document-list] .doc-item')
  assert.equal(await items.count(), 1)
  assert.match(await items.first().textContent(), /Roadmap/)
  assert.match(new URL(page.url()).search, /q=quartz/)
})

test('an admin creates a workspace, invites someone by email, and the invitee joins it', async () => {
  const admin = await signup(await context(browser), base, 'Ada Lovelace')
  const invitee = await signup(await context(browser), base, 'Grace Hopper')
  await admin.page.selectOption('select[aria-label=Workspace]', '__new')
  await admin.page.fill('dialog[open] input[name=name]', 'Research')
  await admin.page.click('dialog[open] button:has-text("Create")')
  await admin.page.waitForFunction(() => document.querySelector('h1')?.textContent === 'Research')
  await admin.page.click('button:has-text("Members")')
  const dialog = admin.page.locator('dialog[open]')
  await dialog.locator('li', { hasText: 'Ada Lovelace (you)' }).waitFor()
  await dialog.locator('input[name=email]').fill(invitee.email)
  await dialog.locator('button', { hasText: 'Invite' }).click()
  const url = await dialog.locator('input[aria-label="Invitation link"]').inputValue()
  await dialog.locator('li', { hasText: invitee.email }).waitFor()
  await admin.page.screenshot({ path: `${SCREENSHOTS}/members-dialog.png` })
  await invitee.page.goto(url)
  await invitee.page.click('button:has-text("Join the workspace")')
  await invitee.page.waitForFunction(() => document.querySelector('h1')?.textContent === 'Research')
  await invitee.page.click('[data-testid=new-document]')
  await invitee.page.waitForSelector('.editor[data-synced=true]')
  // The admin sees the new member, with the role the invitation gave.
  await dialog.locator('button[aria-label=Close]').click()
  await admin.page.click('button:has-text("Members")')
  await admin.page.locator('dialog[open] li', { hasText: 'Grace Hopper' }).locator('select').evaluate((s) => s.value === 'editor' || Promise.reject(new Error(s.value)))
})

test('a deleted document goes to the trash and comes back from it', async () => {
  const { page } = await signup(await context(browser), base)
  await newDocument(page)
  await page.fill('.title-input', 'Keep me')
  const saved = page.waitForResponse((r) => r.request().method() === 'PATCH' && r.ok())
  await page.press('.title-input', 'Enter')
  await saved
  await page.click('a.brand')
  const item = page.locator('[data-testid=document-list] .doc-item', { hasText: 'Keep me' })
  await item.waitFor()
  await item.locator('button[title="Move to trash"]').click()
  await page.locator('[data-testid=document-list] .empty', { hasText: 'No documents yet' }).waitFor()
  await page.click('button:has-text("Trash")')
  await item.locator('button[title=Restore]').click()
  await page.locator('[data-testid=document-list] .empty', { hasText: 'The trash is empty' }).waitFor()
  await page.click('button:has-text("Back to documents")')
  await item.waitFor()
})
