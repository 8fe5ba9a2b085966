// Version history and templates in a real browser against the real server: the owner
// saves a named version, edits, sees the changed words in the diff against the document
// now, and restores the version after confirming; an editor with the document open sees
// the restored text arrive live; a viewer reads the history without save or restore. A
// document offered as a template starts a new one from the list. Screenshots of the
// panel, the diff (light, dark, phone) and the template menu.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { serverAndBrowser, context, signup, tokenOf, api, newDocument, waitSaved, SCREENSHOTS } from './browser.mjs'

let browser, base
// Automatic versions every 2 s of editing, so the history holds some of those too.
serverAndBrowser({ TANDEM_VERSION_INTERVAL: '2s' }, (up) => { ({ browser, base } = up) })

const ORIGINAL = '# Release notes\n\nWe ship the quick fix on Monday.\n\nEveryone reviews the plan before launch.\n'

/** The editor's text, without others' carets and their names. */
const text = (page) => page.evaluate(() => [...document.querySelectorAll('.cm-content .cm-line')].map((line) => {
  const copy = line.cloneNode(true)
  copy.querySelectorAll('.cm-ySelectionCaret, .cm-widgetBuffer').forEach((n) => n.remove())
  return copy.textContent
}).join('\n'))
const untilText = (page, expected) => page.waitForFunction((expected) => [...document.querySelectorAll('.cm-content .cm-line')].map((line) => {
  const copy = line.cloneNode(true)
  copy.querySelectorAll('.cm-ySelectionCaret, .cm-widgetBuffer').forEach((n) => n.remove())
  return copy.textContent
}).join('\n') === expected, expected, { timeout: 10_000 })
const versionRow = (page, name) => page.locator('[data-testid=version]', { has: page.locator('.version-name', { hasText: new RegExp(`^${name}$`) }) })

/** Double-clicks `word` in the editor (selecting it, as a person would) and types `replacement`. */
async function replaceWord (page, word, replacement) {
  const box = await page.evaluate((word) => {
    const walker = document.createTreeWalker(document.querySelector('.cm-content'), NodeFilter.SHOW_TEXT)
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const at = node.textContent.indexOf(word)
      if (at < 0) continue
      const range = document.createRange()
      range.setStart(node, at)
      range.setEnd(node, at + word.length)
      const r = range.getBoundingClientRect()
      return { x: r.x + r.width / 2, y: r.y + r.height / 2 }
    }
    return null
  }, word)
  assert.ok(box, `"${word}" is in the editor`)
  await page.mouse.dblclick(box.x, box.y)
  await page.keyboard.type(replacement)
}

/** Ada's document with ORIGINAL in it, shared with Grace as `role`; both have it open. */
async function twoPeople (role) {
  const ada = await signup(await context(browser), base, 'Ada Lovelace')
  const grace = await signup(await context(browser), base, 'Grace Hopper')
  const id = await newDocument(ada.page)
  const token = await tokenOf(ada.page)
  await ada.page.fill('.title-input', 'Release notes')
  await ada.page.press('.title-input', 'Enter')
  const put = await fetch(`${base}/api/v1/documents/${id}/content`, { method: 'PUT', headers: { authorization: `Bearer ${token}`, 'content-type': 'text/markdown' }, body: ORIGINAL })
  assert.equal(put.status, 200)
  await untilText(ada.page, ORIGINAL)
  const shared = await api(base, 'POST', `/api/v1/documents/${id}/shares`, token, { email: grace.email, role })
  assert.equal(shared.status, 200, JSON.stringify(shared.body))
  await grace.page.goto(`${base}/d/${id}`)
  await grace.page.waitForSelector('.editor[data-synced=true]')
  return { ada, grace, id, token }
}

test('the owner saves a version, edits, sees the changed words, and restores it; an editor sees it live', async () => {
  const { ada, grace } = await twoPeople('editor')
  await ada.page.click('[data-testid=toggle-history]')
  const panel = ada.page.locator('[data-testid=history]')
  await panel.locator('[data-testid=current-version]').waitFor()

  // "Save version…" asks for a name; the version is listed with it.
  await panel.locator('[data-testid=save-version]').click()
  const ask = ada.page.locator('dialog[open]')
  await ask.locator('input[name=name]').fill('Before review')
  await ask.locator('button[type=submit]').click()
  const saved = versionRow(ada.page, 'Before review')
  await saved.waitFor()
  assert.equal(await saved.getAttribute('data-kind'), 'named')
  assert.equal(await saved.locator('[data-testid=version-kind]').textContent(), 'Named')
  assert.match(await saved.locator('[data-testid=contributors]').textContent(), /Ada Lovelace/)
  assert.match(await saved.locator('time').textContent(), /just now/)
  assert.match(await ada.page.textContent('[data-testid=toast]'), /Saved version “Before review”/)

  // Ada changes two words and adds a paragraph; Grace adds a line of her own.
  await replaceWord(ada.page, 'quick', 'careful')
  await replaceWord(ada.page, 'Monday', 'Tuesday')
  await ada.page.keyboard.press('Control+End')
  await ada.page.keyboard.type('Support is ready for the launch.')
  await grace.page.click('.cm-content')
  await grace.page.keyboard.press('Control+Home')
  await grace.page.keyboard.press('End')
  await grace.page.keyboard.type(' (draft)')
  await waitSaved(ada.page)
  await waitSaved(grace.page)
  const edited = '# Release notes (draft)\n\nWe ship the careful fix on Tuesday.\n\nEveryone reviews the plan before launch.\nSupport is ready for the launch.'
  await untilText(ada.page, edited)
  // An automatic version records the edits, with both names.
  await ada.page.locator('[data-testid=version][data-kind=auto] [data-testid=contributors]', { hasText: 'Grace Hopper' }).first().waitFor({ timeout: 15_000 })
  await ada.page.waitForTimeout(300)
  await ada.page.screenshot({ path: `${SCREENSHOTS}/history-panel.png` })

  // The version in the editor's place: its changes against the document now, word by word.
  await saved.click()
  const view = ada.page.locator('[data-testid=version-view]')
  await view.locator('[data-testid=diff]').waitFor()
  assert.equal(await view.locator('[data-testid=version-title]').textContent(), 'Before review')
  assert.equal(await ada.page.isVisible('.cm-content'), false, 'the version takes the editor\'s place')
  const marked = (tag) => view.locator(`[data-testid=diff] .diff-text ${tag}:not(.whole)`).allTextContents()
  assert.deepEqual((await marked('del')).map((t) => t.trim()), ['quick', 'Monday.'])
  assert.deepEqual((await marked('ins')).map((t) => t.trim()), ['(draft)', 'careful', 'Tuesday.'])
  assert.ok((await view.locator('.diff-line.insert ins.whole').allTextContents()).includes('Support is ready for the launch.'))
  await ada.page.waitForTimeout(200)
  await ada.page.screenshot({ path: `${SCREENSHOTS}/history-diff.png` })

  // Its preview is the server's rendering of the version.
  await view.locator('[data-testid=version-tab-preview]').click()
  await view.locator('[data-testid=version-preview] h1', { hasText: 'Release notes' }).waitFor()
  assert.match(await view.locator('[data-testid=version-preview]').textContent(), /the quick fix on Monday/)

  // Restoring asks first; cancelled, nothing changes.
  await view.locator('[data-testid=restore-version]').click()
  const confirm = ada.page.locator('dialog[open]')
  assert.match(await confirm.textContent(), /“Before review”/)
  await confirm.locator('button', { hasText: 'Cancel' }).click()
  await confirm.waitFor({ state: 'detached' })
  assert.equal(await text(grace.page), edited)
  await view.locator('[data-testid=restore-version]').click()
  await ada.page.locator('dialog[open] [data-testid=confirm]').click()

  // Back in the editor, which reads as the version again, for Ada and, live, for Grace.
  await view.waitFor({ state: 'hidden' })
  await untilText(ada.page, ORIGINAL)
  await untilText(grace.page, ORIGINAL)
  const restored = panel.locator('[data-testid=version][data-kind=restore]').first()
  await restored.locator('.version-name', { hasText: 'Restored “Before review”' }).waitFor()
  // Grace's panel, opened now, lists the restore too.
  await grace.page.click('[data-testid=toggle-history]')
  await grace.page.locator('[data-testid=version][data-kind=restore]').first().waitFor()
  // Nothing differs from the version any more.
  await saved.click()
  await view.locator('[data-testid=no-changes]').waitFor()

  // The same, dark.
  await ada.page.click('button[aria-label="Toggle theme"]')
  await ada.page.waitForFunction(() => document.documentElement.dataset.theme === 'dark')
  await versionRow(ada.page, 'Automatic').first().click()
  await view.locator('[data-testid=diff]').waitFor()
  await ada.page.waitForTimeout(300)
  await ada.page.screenshot({ path: `${SCREENSHOTS}/history-dark.png` })
  await view.locator('[aria-label="Close version"]').click()
  assert.equal(await ada.page.isVisible('.cm-content'), true)
  assert.deepEqual([...ada.page.context().errors, ...grace.page.context().errors], [])
})

test('a viewer reads the history and the changes, without saving or restoring; on a phone too', async () => {
  const { ada, grace, id, token } = await twoPeople('viewer')
  const made = await api(base, 'POST', `/api/v1/documents/${id}/versions`, token, { name: 'First draft' })
  assert.equal(made.status, 201, JSON.stringify(made.body))
  await replaceWord(ada.page, 'quick', 'careful')
  await waitSaved(ada.page)

  await grace.page.click('[data-testid=toggle-history]')
  const row = versionRow(grace.page, 'First draft')
  await row.waitFor()
  assert.equal(await grace.page.isVisible('[data-testid=save-version]'), false)
  await row.click()
  const view = grace.page.locator('[data-testid=version-view]')
  await view.locator('[data-testid=diff] ins', { hasText: 'careful' }).waitFor()
  assert.equal(await view.locator('[data-testid=restore-version]').isVisible(), false)

  // The diff follows the document: Ada types, Grace's view of the changes catches up.
  await replaceWord(ada.page, 'Monday', 'Friday')
  await view.locator('[data-testid=diff] ins', { hasText: 'Friday' }).waitFor({ timeout: 10_000 })

  // On a phone: the list is a sheet, a version takes the screen, "Versions" goes back.
  const phone = await context(browser, { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true })
  await phone.addCookies(await grace.page.context().cookies())
  const page = await phone.newPage()
  await page.goto(`${base}/d/${id}`)
  await page.waitForSelector('.editor[data-synced=true]', { state: 'attached' })
  await page.click('[data-testid=toggle-history]')
  await versionRow(page, 'First draft').waitFor()
  await page.waitForTimeout(300)
  await page.screenshot({ path: `${SCREENSHOTS}/history-phone.png` })
  await versionRow(page, 'First draft').click()
  await page.locator('[data-testid=version-view] [data-testid=diff]').waitFor()
  assert.equal(await page.isVisible('[data-testid=history]'), false, 'the sheet makes way for the version')
  await page.waitForTimeout(300)
  await page.screenshot({ path: `${SCREENSHOTS}/history-phone-diff.png` })
  await page.click('.version-back')
  await versionRow(page, 'First draft').waitFor()
  assert.deepEqual([...grace.page.context().errors, ...phone.errors], [])
})

test('a document offered as a template starts new ones from the list; readers cannot offer it', async () => {
  const { ada, grace, id } = await twoPeople('viewer')
  await ada.page.fill('.title-input', 'Meeting notes')
  await ada.page.press('.title-input', 'Enter')
  await ada.page.fill('.tags-input', 'meeting')
  await ada.page.press('.tags-input', 'Tab')
  await ada.page.click('[data-testid=document-menu] summary')
  const toggle = ada.page.locator('[data-testid=use-as-template]')
  assert.equal(await toggle.getAttribute('aria-checked'), 'false')
  await toggle.click()
  await ada.page.waitForFunction(() => document.querySelector('[data-testid=use-as-template]').getAttribute('aria-checked') === 'true')
  await ada.page.waitForTimeout(200)
  await ada.page.screenshot({ path: `${SCREENSHOTS}/template-toggle.png` })
  await grace.page.click('[data-testid=document-menu] summary')
  assert.equal(await grace.page.isVisible('[data-testid=use-as-template]'), false, 'a viewer cannot offer it')

  // From the list: the template is badged, and "New from template" makes a copy.
  await ada.page.goto(`${base}/`)
  await ada.page.locator(`.doc-item[data-id="${id}"] .badge.template`).waitFor()
  await ada.page.click('[data-testid=from-template] summary')
  const choice = ada.page.locator('[data-testid=template]', { hasText: 'Meeting notes' })
  await choice.waitFor()
  await ada.page.waitForTimeout(200)
  await ada.page.screenshot({ path: `${SCREENSHOTS}/template-menu.png` })
  await choice.click()
  await ada.page.waitForURL((url) => /\/d\/[^/]+$/.test(url.pathname) && !url.pathname.endsWith(id))
  await ada.page.waitForSelector('.editor[data-synced=true]')
  await untilText(ada.page, ORIGINAL)
  await ada.page.waitForFunction(() => document.querySelector('.title-input').value === 'Meeting notes')
  assert.equal(await ada.page.inputValue('.tags-input'), 'meeting')
  // The copy is not a template itself.
  await ada.page.click('[data-testid=document-menu] summary')
  assert.equal(await ada.page.locator('[data-testid=use-as-template]').getAttribute('aria-checked'), 'false')
  assert.deepEqual([...ada.page.context().errors, ...grace.page.context().errors], [])
})
