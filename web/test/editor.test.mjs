// The editor in a real browser against the real server: two people editing together,
// the preview, read-only viewers, a live role change, view links, and screenshots.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { serverAndBrowser, launch, context, signup, tokenOf, api, newDocument, waitSaved, SCREENSHOTS } from './browser.mjs'

let server, browser, base
serverAndBrowser({}, (up) => { ({ server, browser, base } = up) })

const editable = (page) => page.getAttribute('.cm-content', 'contenteditable')
/** The editor's text, without remote carets and their name labels. */
const text = (page) => page.evaluate(() => [...document.querySelectorAll('.cm-content .cm-line')].map((line) => {
  const copy = line.cloneNode(true)
  copy.querySelectorAll('.cm-ySelectionCaret, .cm-widgetBuffer').forEach((n) => n.remove())
  return copy.textContent
}).join('\n'))

/** An owner with a new document open, and a second person it is shared with as `role`. */
async function sharedDocument (role) {
  const owner = await signup(await context(browser), base, 'Ada Lovelace')
  const other = await signup(await context(browser), base, 'Grace Hopper')
  const id = await newDocument(owner.page)
  const ownerToken = await tokenOf(owner.page)
  const shared = await api(base, 'POST', `/api/v1/documents/${id}/shares`, ownerToken, { email: other.email, role })
  assert.equal(shared.status, 200, JSON.stringify(shared.body))
  return { owner, other, id, ownerToken }
}

test('two people edit one document and see each other\'s text, caret and name', async () => {
  const { owner, other, id } = await sharedDocument('editor')
  await other.page.goto(`${base}/d/${id}`)
  await other.page.waitForSelector('.editor[data-synced=true]')
  await owner.page.click('.cm-content')
  await owner.page.keyboard.type('Ada was here. ')
  await other.page.waitForFunction(() => document.querySelector('.cm-content').textContent.includes('Ada was here.'))
  await other.page.click('.cm-content')
  await other.page.keyboard.press('End')
  await other.page.keyboard.type('Grace too.')
  await owner.page.waitForFunction(() => document.querySelector('.cm-content').textContent.includes('Grace too.'))
  // Each sees the other's caret, labelled by the name the server stamped.
  await owner.page.waitForSelector('.cm-ySelectionCaret')
  await other.page.waitForSelector('.cm-ySelectionCaret')
  await owner.page.waitForFunction(() => document.querySelector('[data-testid=presence]').textContent.includes('Grace Hopper'))
  await other.page.waitForFunction(() => document.querySelector('[data-testid=presence]').textContent.includes('Ada Lovelace'))
  await waitSaved(owner.page)
  await waitSaved(other.page)
  assert.match(await owner.page.textContent('[data-testid=save-state]'), /saved/)
  await owner.page.screenshot({ path: `${SCREENSHOTS}/editor-collab.png` })
  assert.equal(await text(owner.page), 'Ada was here. Grace too.')
  assert.equal(await text(other.page), 'Ada was here. Grace too.')
  assert.deepEqual([...owner.page.context().errors, ...other.page.context().errors], [])
})

test('the preview renders a heading and a task list, and split view is captured', async () => {
  const owner = await signup(await context(browser), base, 'Ada Lovelace')
  await newDocument(owner.page)
  await owner.page.click('[data-testid=mode-split]')
  await owner.page.fill('.title-input', 'Launch checklist')
  await owner.page.press('.title-input', 'Enter')
  await owner.page.click('.cm-content')
  // Typed line by line: Enter continues a list, as in any Markdown editor.
  await owner.page.keyboard.type('# Launch plan\n\nWhat is left before we ship:\n\n- [x] write the server\n')
  // The list continues with "- [ ] "; Enter on that empty item ends the list.
  await owner.page.keyboard.type('ship the editor\n')
  await owner.page.keyboard.press('Enter')
  await owner.page.keyboard.type('> Notes are **saved** as you type, and *everyone* sees them live.')
  const preview = owner.page.locator('[data-testid=preview]')
  await preview.locator('h1', { hasText: 'Launch plan' }).waitFor()
  await preview.locator('input[type=checkbox]').nth(1).waitFor()
  assert.equal(await preview.locator('input[type=checkbox]').count(), 2)
  assert.equal(await preview.locator('input[type=checkbox]').first().isChecked(), true)
  await waitSaved(owner.page)
  await owner.page.waitForTimeout(400)
  await owner.page.screenshot({ path: `${SCREENSHOTS}/editor-split.png` })
  // Export downloads what the server renders (Markdown here), named after the title.
  await owner.page.click('[data-testid=document-menu] summary')
  const [download] = await Promise.all([owner.page.waitForEvent('download'), owner.page.click('text=Markdown (.md)')])
  assert.equal(download.suggestedFilename(), 'launch-checklist.md')
  const { readFile } = await import('node:fs/promises')
  assert.match(await readFile(await download.path(), 'utf8'), /^# Launch plan\n/)
  // The dark theme, chosen in the header, is kept in the account's settings.
  await owner.page.click('button[aria-label="Toggle theme"]')
  await owner.page.waitForFunction(() => document.documentElement.dataset.theme === 'dark')
  await owner.page.waitForTimeout(200)
  await owner.page.screenshot({ path: `${SCREENSHOTS}/editor-split-dark.png` })
  // Editor-only and preview-only, by button and by keyboard.
  await owner.page.click('[data-testid=mode-preview]')
  assert.equal(await owner.page.isVisible('.cm-content'), false)
  await owner.page.keyboard.press('Control+Alt+e')
  assert.equal(await owner.page.isVisible('[data-testid=preview]'), false)
  assert.equal(await owner.page.isVisible('.cm-content'), true)
})

test('a viewer gets the same editor read-only, and typing changes nothing', async () => {
  const { owner, other, id, ownerToken } = await sharedDocument('viewer')
  await owner.page.click('.cm-content')
  await owner.page.keyboard.type('Only the owner writes here.')
  await waitSaved(owner.page)
  await other.page.goto(`${base}/d/${id}`)
  await other.page.waitForSelector('.editor[data-synced=true]')
  await other.page.waitForFunction(() => document.querySelector('.cm-content').getAttribute('contenteditable') === 'false')
  await other.page.click('.cm-content')
  await other.page.keyboard.type('viewer typing')
  await other.page.waitForTimeout(1000)
  const content = await api(base, 'GET', `/api/v1/documents/${id}/content`, ownerToken)
  assert.equal(content.body, 'Only the owner writes here.')
  assert.equal(await text(other.page), 'Only the owner writes here.')
})

test('a role downgrade turns an open editor read-only live', async () => {
  const { other, id, ownerToken } = await sharedDocument('editor')
  await other.page.goto(`${base}/d/${id}`)
  await other.page.waitForSelector('.editor[data-synced=true]')
  await other.page.waitForFunction(() => document.querySelector('.cm-content').getAttribute('contenteditable') === 'true')
  const me = await api(base, 'GET', '/api/v1/auth/me', await tokenOf(other.page))
  const changed = await api(base, 'POST', `/api/v1/documents/${id}/shares`, ownerToken, { user_id: me.body.id, role: 'viewer' })
  assert.equal(changed.status, 200, JSON.stringify(changed.body))
  await other.page.waitForFunction(() => document.querySelector('.cm-content').getAttribute('contenteditable') === 'false', null, { timeout: 10_000 })
  assert.match(await other.page.textContent('[role=alert]'), /read-only/)
})

test('a view link opens the document read-only without an account', async () => {
  const owner = await signup(await context(browser), base, 'Ada Lovelace')
  const id = await newDocument(owner.page)
  await owner.page.click('.cm-content')
  await owner.page.keyboard.type('# Public notes\n\nAnyone with the link can read this.')
  await waitSaved(owner.page)
  const link = await api(base, 'POST', `/api/v1/documents/${id}/links`, await tokenOf(owner.page), { role: 'viewer' })
  assert.equal(link.status, 201)
  const guest = await context(browser)
  const page = await guest.newPage()
  await page.goto(`${base}/d/${id}?link=${link.body.token}`)
  await page.waitForSelector('.editor[data-synced=true]')
  assert.match(await text(page), /Anyone with the link can read this\./)
  assert.equal(await editable(page), 'false')
  await page.locator('[data-testid=preview] h1', { hasText: 'Public notes' }).waitFor()
  assert.deepEqual(guest.errors, [])
})

test('on a phone-sized screen a document opens in preview only', async () => {
  const owner = await signup(await context(browser), base, 'Ada Lovelace')
  const id = await newDocument(owner.page)
  await owner.page.click('.cm-content')
  await owner.page.keyboard.type('# On the go\n\nRead on a phone.')
  await waitSaved(owner.page)
  const cookies = await owner.page.context().cookies()
  const phone = await context(browser, { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true })
  await phone.addCookies(cookies)
  const page = await phone.newPage()
  await page.goto(`${base}/d/${id}`)
  await page.locator('[data-testid=preview] h1', { hasText: 'On the go' }).waitFor()
  assert.equal(await page.isVisible('.cm-content'), false)
  await page.screenshot({ path: `${SCREENSHOTS}/phone-preview.png` })
  await page.click('[data-testid=mode-editor]')
  assert.equal(await page.isVisible('.cm-content'), true)
  // A new (empty) document has nothing to preview: it opens in the editor.
  await page.goto(`${base}/`)
  await page.click('[data-testid=new-document]')
  await page.locator('.cm-content[contenteditable=true]').waitFor({ state: 'visible' })
})

test('the share dialog shares by email, makes a view link that works, and revokes it', async () => {
  const owner = await signup(await context(browser), base, 'Ada Lovelace')
  const other = await signup(await context(browser), base, 'Grace Hopper')
  const id = await newDocument(owner.page)
  await owner.page.click('.cm-content')
  await owner.page.keyboard.type('Shared notes.')
  await waitSaved(owner.page)
  await owner.page.click('[data-testid=share]')
  const dialog = owner.page.locator('dialog[open]')
  await dialog.locator('input[name=email]').fill(other.email)
  await dialog.locator('form').first().locator('select[name=role]').selectOption('editor')
  await dialog.locator('button', { hasText: 'Share' }).click()
  await dialog.locator('li', { hasText: 'Grace Hopper' }).waitFor()
  await dialog.locator('button', { hasText: 'Create link' }).click()
  const linkInput = dialog.locator('input[aria-label=Link]')
  await linkInput.waitFor()
  const url = await linkInput.inputValue()
  assert.match(url, new RegExp(`/d/${id}\\?link=`))
  await owner.page.screenshot({ path: `${SCREENSHOTS}/share-dialog.png` })
  // The person shared with can now open and edit it.
  await other.page.goto(`${base}/d/${id}`)
  await other.page.waitForFunction(() => document.querySelector('.cm-content')?.getAttribute('contenteditable') === 'true')
  // The link opens it for a guest until it is revoked.
  const guest = await (await context(browser)).newPage()
  await guest.goto(url)
  await guest.waitForSelector('.editor[data-synced=true]')
  await dialog.locator('button', { hasText: 'Revoke' }).click()
  await dialog.locator('li', { hasText: 'No public links.' }).waitFor()
  const again = await (await context(browser)).newPage()
  await again.goto(url)
  await again.waitForSelector('[role=alert]:not([hidden])')
  assert.match(await again.textContent('[role=alert]'), /revoked/)
})

test('an edit link lets a guest write, saved like anyone else\'s edits', async () => {
  const owner = await signup(await context(browser), base, 'Ada Lovelace')
  const id = await newDocument(owner.page)
  const ownerToken = await tokenOf(owner.page)
  const link = await api(base, 'POST', `/api/v1/documents/${id}/links`, ownerToken, { role: 'editor' })
  assert.equal(link.status, 201)
  const guest = await context(browser)
  const page = await guest.newPage()
  await page.goto(`${base}/d/${id}?link=${link.body.token}`)
  await page.locator('.cm-content[contenteditable=true]').waitFor()
  assert.equal(await page.isDisabled('.title-input'), true, 'an edit link changes content only')
  await page.click('.cm-content')
  await page.keyboard.type('A guest was here.')
  await waitSaved(page)
  assert.equal((await api(base, 'GET', `/api/v1/documents/${id}/content`, ownerToken)).body, 'A guest was here.')
  // The owner sees the guest among those present, named as a guest.
  await owner.page.waitForFunction(() => document.querySelector('[data-testid=presence]').textContent.includes('Guest'))
  assert.deepEqual(guest.errors, [])
})
