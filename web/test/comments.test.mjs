// Comments in a real browser against the real server: one person comments on selected
// text, another (a commenter) sees it arrive live and replies with an @-mention, the
// thread is resolved, the highlight keeps to its words while text is typed before it,
// and viewers read without writing. Screenshots of the panel, light, dark and on a phone.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { serverAndBrowser, context, signup, tokenOf, api, newDocument, waitSaved, SCREENSHOTS } from './browser.mjs'

let browser, base
serverAndBrowser({}, (up) => { ({ browser, base } = up) })

const panel = (page) => page.locator('[data-testid=comments]')
const threads = (page) => panel(page).locator('[data-testid=thread]')
/** The text under the comment highlights, as one string (without others' carets and their names). */
const highlighted = (page) => page.evaluate(() => [...document.querySelectorAll('.cm-comment:not(.cm-comment-pending)')].map((e) => {
  const copy = e.cloneNode(true)
  copy.querySelectorAll('.cm-ySelectionCaret, .cm-widgetBuffer').forEach((n) => n.remove())
  return copy.textContent
}).join(''))
/** Whether the editor's text (without others' carets) starts with `start`. */
const startsWith = (page, start) => page.waitForFunction((start) => {
  const copy = document.querySelector('.cm-content').cloneNode(true)
  copy.querySelectorAll('.cm-ySelectionCaret, .cm-widgetBuffer').forEach((n) => n.remove())
  return copy.textContent.startsWith(start)
}, start)

/** Selects `length` characters from `index` in the editor, with the keyboard as a person would. */
async function select (page, index, length) {
  await page.click('.cm-content')
  await page.keyboard.press('Control+Home')
  for (let i = 0; i < index; i++) await page.keyboard.press('ArrowRight')
  for (let i = 0; i < length; i++) await page.keyboard.press('Shift+ArrowRight')
}

/** Ada owns a document with a sentence in it, shared with Grace as `role`; both have it open. */
async function twoPeople (role) {
  const ada = await signup(await context(browser), base, 'Ada Lovelace')
  const grace = await signup(await context(browser), base, 'Grace Hopper')
  const id = await newDocument(ada.page)
  const shared = await api(base, 'POST', `/api/v1/documents/${id}/shares`, await tokenOf(ada.page), { email: grace.email, role })
  assert.equal(shared.status, 200, JSON.stringify(shared.body))
  await ada.page.click('.cm-content')
  await ada.page.keyboard.type('The quick brown fox jumps over the lazy dog.')
  await waitSaved(ada.page)
  await grace.page.goto(`${base}/d/${id}`)
  await grace.page.waitForSelector('.editor[data-synced=true]')
  return { ada, grace, id }
}

test('a comment on selected text reaches a commenter live, who replies with a mention; resolving moves it', async () => {
  const { ada, grace, id } = await twoPeople('commenter')
  // Ada selects "brown fox" and comments from the button over the selection.
  await select(ada.page, 10, 9)
  await ada.page.click('[data-testid=comment-selection]')
  const composer = panel(ada.page).locator('[data-testid=composer]')
  assert.equal(await composer.locator('.thread-quote').textContent(), 'brown fox')
  await composer.locator('textarea').fill('Is the fox really brown?')
  await composer.locator('[data-testid=send-comment]').click()
  await threads(ada.page).first().waitFor()
  assert.equal(await composer.count(), 0, 'the composer closes once sent')
  await ada.page.waitForFunction(() => document.querySelector('.cm-comment')?.textContent === 'brown fox')

  // Grace sees it without reloading: in her panel, and highlighted in her editor.
  const graceThread = threads(grace.page).first()
  await graceThread.locator('.comment-body', { hasText: 'Is the fox really brown?' }).waitFor()
  assert.equal(await graceThread.locator('.comment-author').first().textContent(), 'Ada Lovelace')
  assert.equal(await graceThread.locator('.thread-quote').textContent(), 'brown fox')
  await grace.page.waitForFunction(() => document.querySelector('.cm-comment')?.textContent === 'brown fox')
  // A commenter cannot edit the text, but comments, replies and resolves.
  assert.equal(await grace.page.getAttribute('.cm-content', 'contenteditable'), 'false')

  // Grace replies, mentioning Ada through the autocomplete.
  const reply = graceThread.locator('textarea[name=reply]')
  await reply.click()
  await reply.pressSequentially('Checked with @Ad')
  await grace.page.locator('[data-testid=mention-option]', { hasText: 'Ada Lovelace' }).waitFor()
  await grace.page.keyboard.press('Enter')
  await reply.pressSequentially('it is.')
  assert.equal(await reply.inputValue(), 'Checked with @Ada Lovelace it is.')
  await graceThread.locator('[data-testid=send-reply]').click()
  await graceThread.locator('[data-testid=reply]').waitFor()

  // Ada sees the reply arrive, her name set apart as a mention, and is notified.
  const adaThread = threads(ada.page).first()
  await adaThread.locator('[data-testid=reply] .mention', { hasText: '@Ada Lovelace' }).waitFor()
  const notes = await api(base, 'GET', '/api/v1/users/me/notifications', await tokenOf(ada.page))
  assert.ok(notes.body.items.some((n) => n.kind === 'mention' && n.document_id === id), JSON.stringify(notes.body))

  // Text typed before the range: the highlight stays on the same words, for both.
  await ada.page.click('.cm-content')
  await ada.page.keyboard.press('Control+Home')
  await ada.page.keyboard.type('Look: ')
  await startsWith(grace.page, 'Look: The quick')
  assert.equal(await highlighted(ada.page), 'brown fox')
  assert.equal(await highlighted(grace.page), 'brown fox')
  await adaThread.click()
  await ada.page.waitForSelector('.cm-comment-active')
  await ada.page.waitForTimeout(300)
  await ada.page.screenshot({ path: `${SCREENSHOTS}/comments-live.png` })

  // Grace resolves it: out of Open, into Resolved, and no longer highlighted, for both.
  await graceThread.locator('[data-testid=resolve]').click()
  await ada.page.waitForFunction(() => document.querySelectorAll('[data-testid=thread]').length === 0)
  assert.equal(await highlighted(ada.page), '')
  await ada.page.click('[data-testid=tab-resolved]')
  await threads(ada.page).first().locator('[data-testid=reopen]').waitFor()
  assert.equal(await threads(ada.page).count(), 1)
  await grace.page.waitForFunction(() => document.querySelectorAll('.cm-comment').length === 0)

  // Grace, who cannot edit, still selects with the keyboard and comments; a click on the
  // highlight picks the thread out in Ada's panel.
  await select(grace.page, 41, 8)
  await grace.page.click('[data-testid=comment-selection]')
  await panel(grace.page).locator('[data-testid=composer] textarea').fill('Which dog?')
  await panel(grace.page).locator('[data-testid=send-comment]').click()
  await ada.page.click('[data-testid=tab-open]')
  await threads(ada.page).filter({ hasText: 'Which dog?' }).waitFor()
  await ada.page.waitForFunction(() => document.querySelector('.cm-comment')?.textContent === 'lazy dog')
  await ada.page.click('.cm-comment')
  await ada.page.waitForSelector('[data-testid=thread].active:has-text("Which dog?")')
  assert.deepEqual([...ada.page.context().errors, ...grace.page.context().errors], [])
})

test('own messages are edited and deleted; a viewer reads threads without write controls', async () => {
  const { ada, grace, id } = await twoPeople('viewer')
  const token = await tokenOf(ada.page)
  const made = await api(base, 'POST', `/api/v1/documents/${id}/comments`, token, { body: 'Whole-document note', mentions: [] })
  assert.equal(made.status, 201, JSON.stringify(made.body))
  await select(ada.page, 4, 5)
  await ada.page.keyboard.press('Control+Alt+m')
  await panel(ada.page).locator('[data-testid=composer] textarea').fill('Too quick?')
  await ada.page.keyboard.press('Control+Enter')
  await ada.page.waitForFunction(() => document.querySelectorAll('[data-testid=thread]').length === 2)

  // Edit the whole-document note.
  const note = panel(ada.page).locator(`[data-thread-id="${made.body.id}"]`)
  await note.hover()
  await note.locator('[data-testid=edit]').click()
  await note.locator('textarea[name=body]').fill('Whole-document note, revised')
  await note.locator('button[type=submit]', { hasText: 'Save' }).click()
  await note.locator('.comment-edited').waitFor()

  // The viewer sees both, live, and nothing to write with.
  await grace.page.waitForFunction(() => document.querySelectorAll('[data-testid=thread]').length === 2)
  await threads(grace.page).filter({ hasText: 'revised' }).waitFor()
  for (const control of ['textarea', '[data-testid=resolve]', '[data-testid=edit]', '[data-testid=delete]', '[data-testid=new-comment]:visible']) {
    assert.equal(await panel(grace.page).locator(control).count(), 0, control)
  }
  await select(grace.page, 4, 5)
  assert.equal(await grace.page.locator('[data-testid=comment-selection]').count(), 0)

  // Delete the note: gone for both.
  await note.hover()
  await note.locator('[data-testid=delete]').click()
  await note.locator('[data-testid=confirm-delete]').click()
  await grace.page.waitForFunction(() => document.querySelectorAll('[data-testid=thread]').length === 1)
  assert.equal(await threads(ada.page).count(), 1)

  // A reply, sent with Ctrl+Enter, then deleted: the thread stays, without it.
  const left = threads(ada.page).first()
  await left.locator('textarea[name=reply]').fill('Never mind.')
  await left.locator('textarea[name=reply]').press('Control+Enter')
  await threads(grace.page).first().locator('[data-testid=reply]').waitFor()
  await left.locator('[data-testid=reply]').hover()
  await left.locator('[data-testid=reply] [data-testid=delete]').click()
  await left.locator('[data-testid=confirm-delete]').click()
  await left.locator('[data-testid=reply]').waitFor({ state: 'detached' })
  await threads(grace.page).first().locator('[data-testid=reply]').waitFor({ state: 'detached' })

  // Deleting the text under a comment marks it as such.
  await ada.page.click('.cm-content')
  await ada.page.keyboard.press('Control+Home')
  for (let i = 0; i < 4; i++) await ada.page.keyboard.press('ArrowRight')
  for (let i = 0; i < 6; i++) await ada.page.keyboard.press('Shift+ArrowRight')
  await ada.page.keyboard.press('Delete')
  await threads(ada.page).first().locator('[data-testid=orphaned]').waitFor()
  await grace.page.reload()
  await threads(grace.page).first().locator('[data-testid=orphaned]').waitFor()
  assert.deepEqual([...ada.page.context().errors, ...grace.page.context().errors], [])
})

test('the panel in light and dark themes, and as a sheet on a phone', async () => {
  const { ada, grace, id } = await twoPeople('commenter')
  const token = await tokenOf(grace.page)
  const start = await api(base, 'POST', `/api/v1/documents/${id}/comments`, await tokenOf(ada.page), { body: 'Should this be "fast" instead? It reads better in the title too.', anchor: { index: 4, length: 5 } })
  assert.equal(start.status, 201, JSON.stringify(start.body))
  const me = await api(base, 'GET', '/api/v1/auth/me', await tokenOf(ada.page))
  await api(base, 'POST', `/api/v1/documents/${id}/comments/${start.body.id}/replies`, token, { body: `@Ada Lovelace I like quick: it is the classic pangram.`, mentions: [me.body.id] })
  await api(base, 'POST', `/api/v1/documents/${id}/comments`, token, { body: 'The dog deserves a name.', anchor: { index: 40, length: 3 } })
  await api(base, 'POST', `/api/v1/documents/${id}/comments`, token, { body: 'Add a second paragraph on why pangrams matter.' })
  await ada.page.waitForFunction(() => document.querySelectorAll('[data-testid=thread]').length === 3)
  await ada.page.waitForFunction(() => document.querySelectorAll('.cm-comment').length >= 2)
  await select(ada.page, 35, 4)
  await ada.page.click('[data-testid=comment-selection]')
  await panel(ada.page).locator('[data-testid=composer] textarea').pressSequentially('Lazy, or just resting? @Gr')
  await ada.page.locator('[data-testid=mention-option]').first().waitFor()
  await ada.page.waitForTimeout(300)
  await ada.page.screenshot({ path: `${SCREENSHOTS}/comments-panel.png` })
  await ada.page.keyboard.press('Escape')
  await ada.page.click('button[aria-label="Toggle theme"]')
  await ada.page.waitForFunction(() => document.documentElement.dataset.theme === 'dark')
  await threads(ada.page).first().click()
  await ada.page.waitForTimeout(300)
  await ada.page.screenshot({ path: `${SCREENSHOTS}/comments-panel-dark.png` })

  const phone = await context(browser, { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true })
  await phone.addCookies(await grace.page.context().cookies())
  const page = await phone.newPage()
  await page.goto(`${base}/d/${id}`)
  await page.waitForSelector('.editor[data-synced=true]', { state: 'attached' })
  assert.equal(await panel(page).isVisible(), false, 'closed on a phone until asked for')
  await page.click('[data-testid=toggle-comments]')
  await threads(page).nth(2).waitFor()
  await page.waitForTimeout(300)
  await page.screenshot({ path: `${SCREENSHOTS}/comments-phone.png` })
  await page.click('[aria-label="Close comments"]')
  assert.equal(await panel(page).isVisible(), false)
  assert.deepEqual([...ada.page.context().errors, ...phone.errors], [])
})
