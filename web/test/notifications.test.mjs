// Notifications in a real browser: a mention counted on the bell, listed with who wrote
// what where, and opened on its thread in the editor; reading it clears the count.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { serverAndBrowser, context, signup, tokenOf, api, newDocument, SCREENSHOTS } from './browser.mjs'

let browser, base
serverAndBrowser({}, (up) => { ({ browser, base } = up) })

test('a mention shows on the bell and opens its thread in the document', async () => {
  const ada = await signup(await context(browser), base, 'Ada Lovelace')
  const grace = await signup(await context(browser), base, 'Grace Hopper')
  const id = await newDocument(ada.page)
  const adaToken = await tokenOf(ada.page)
  assert.equal((await api(base, 'PATCH', `/api/v1/documents/${id}`, adaToken, { title: 'Launch plan' })).status, 200)
  const shared = await api(base, 'POST', `/api/v1/documents/${id}/shares`, adaToken, { email: grace.email, role: 'commenter' })
  assert.equal(shared.status, 200, JSON.stringify(shared.body))
  const grace_ = (await api(base, 'GET', '/api/v1/auth/me', await tokenOf(grace.page))).body
  const graceId = grace_.id ?? grace_.user?.id
  assert.ok(graceId, JSON.stringify(grace_))
  const made = await api(base, 'POST', `/api/v1/documents/${id}/comments`, adaToken,
    { body: '@Grace Hopper can you check the dates?', mentions: [graceId] })
  assert.equal(made.status, 201, JSON.stringify(made.body))

  // The count arrives with the next page Grace opens.
  await grace.page.reload()
  await grace.page.waitForSelector('[data-testid=unread-count]:not([hidden])')
  assert.equal(await grace.page.textContent('[data-testid=unread-count]'), '1')
  await grace.page.click('[aria-label=Notifications]')
  const note = grace.page.locator('[data-testid=notifications] .note.unread')
  await note.waitFor()
  assert.match(await note.textContent(), /Ada Lovelace mentioned you in Launch plan/)
  assert.match(await note.textContent(), /can you check the dates\?/)
  await grace.page.screenshot({ path: `${SCREENSHOTS}/notifications.png` })

  await note.click()
  await grace.page.waitForURL(new RegExp(`/d/${id}\\?thread=${made.body.id}$`))
  const active = grace.page.locator('[data-testid=comments] [data-testid=thread].active')
  await active.waitFor()
  assert.match(await active.textContent(), /can you check the dates/)
  await grace.page.waitForSelector('[data-testid=unread-count][hidden]', { state: 'attached' })
  const left = await api(base, 'GET', '/api/v1/users/me/notifications?unread=true', await tokenOf(grace.page))
  assert.deepEqual(left.body.items, [])
})

test('with nothing to tell, the bell says so', async () => {
  const { page } = await signup(await context(browser), base)
  await page.click('[aria-label=Notifications]')
  await page.waitForSelector('[data-testid=notifications] .notes-empty')
  assert.equal(await page.isHidden('[data-testid=unread-count]'), true)
})
