// A document's title follows its first heading, as in HackMD and HedgeDoc, until someone
// names it: in a real browser, with a second editor's page open on the same document.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { serverAndBrowser, context, signup, tokenOf, api, newDocument, waitSaved, SCREENSHOTS } from './browser.mjs'

let browser, base
serverAndBrowser({}, (up) => { ({ browser, base } = up) })

const titleOf = async (token, id) => (await api(base, 'GET', `/api/v1/documents/${id}`, token)).body.title
/** Polls `cond` (async) every 50 ms for up to 10 s. */
async function until (cond) {
  for (let i = 0; i < 200; i++) {
    if (await cond()) return
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  throw new Error('timed out')
}
const inputIs = (page, want) => page.waitForFunction((t) => document.querySelector('.title-input').value === t, want)

/** Replaces the editor's first line with `line`. */
async function firstLine (page, line) {
  await page.click('.cm-content')
  await page.keyboard.press('Control+Home')
  await page.keyboard.press('Shift+End')
  await page.keyboard.type(line)
}

test('an untitled document takes its heading as its title, and keeps a title someone gives it', async () => {
  const ada = await signup(await context(browser), base, 'Ada Lovelace')
  const grace = await signup(await context(browser), base, 'Grace Hopper')
  const id = await newDocument(ada.page)
  const token = await tokenOf(ada.page)
  const shared = await api(base, 'POST', `/api/v1/documents/${id}/shares`, token, { email: grace.email, role: 'editor' })
  assert.equal(shared.status, 200, JSON.stringify(shared.body))
  await grace.page.goto(`${base}/d/${id}`)
  await grace.page.waitForSelector('.editor[data-synced=true]')
  assert.equal(await titleOf(token, id), 'Untitled')

  await ada.page.click('.cm-content')
  await ada.page.keyboard.type('# Meeting *notes*\n\nAgenda: the launch.')
  await inputIs(ada.page, 'Meeting notes')
  assert.equal(await titleOf(token, id), 'Meeting notes')
  await ada.page.screenshot({ path: `${SCREENSHOTS}/title-from-heading.png` })
  // The other editor's page shows it too, from the same text.
  await inputIs(grace.page, 'Meeting notes')
  assert.equal(await grace.page.title(), 'Meeting notes · Tandem')

  // A heading renamed renames the document while its title is the heading's.
  await firstLine(grace.page, '# Weekly sync')
  await inputIs(ada.page, 'Weekly sync')
  assert.equal(await titleOf(token, id), 'Weekly sync')

  // Named by hand, it keeps its name whatever the heading says.
  await ada.page.fill('.title-input', 'Team notes')
  await ada.page.press('.title-input', 'Enter')
  await until(async () => await titleOf(token, id) === 'Team notes')
  await firstLine(grace.page, '# Monday')
  await waitSaved(grace.page)
  await grace.page.waitForTimeout(2000)
  assert.equal(await titleOf(token, id), 'Team notes')
  assert.equal(await ada.page.inputValue('.title-input'), 'Team notes')

  await ada.page.goto(`${base}/`)
  await ada.page.locator('.doc-title', { hasText: 'Team notes' }).waitFor()
  await ada.page.screenshot({ path: `${SCREENSHOTS}/title-list.png` })
  assert.deepEqual([...ada.page.context().errors, ...grace.page.context().errors], [])
})

test('a heading someone else wrote renames nothing from an editor\'s or a viewer\'s page', async () => {
  const ada = await signup(await context(browser), base, 'Ada Lovelace')
  const vic = await signup(await context(browser), base, 'Vic Viewer')
  const id = await newDocument(ada.page)
  const token = await tokenOf(ada.page)
  await api(base, 'POST', `/api/v1/documents/${id}/shares`, token, { email: vic.email, role: 'viewer' })
  await vic.page.goto(`${base}/d/${id}`)
  await vic.page.waitForSelector('.editor[data-synced=true]')
  // The owner's page is open too; the heading comes from elsewhere (as an edit link
  // holder's would, who may not rename the document).
  const link = await api(base, 'POST', `/api/v1/documents/${id}/links`, token, { role: 'editor' })
  assert.equal(link.status, 201, JSON.stringify(link.body))
  const put = await fetch(`${base}/api/v1/documents/${id}/content?link=${link.body.token}`, { method: 'PUT', headers: { 'content-type': 'text/markdown' }, body: '# Renamed by a link\n' })
  assert.equal(put.status, 200)
  await vic.page.waitForFunction(() => document.querySelector('.cm-content').textContent.includes('Renamed by a link'))
  await ada.page.waitForFunction(() => document.querySelector('.cm-content').textContent.includes('Renamed by a link'))
  await ada.page.waitForTimeout(2500)
  assert.equal(await titleOf(token, id), 'Untitled')
  assert.equal(await ada.page.inputValue('.title-input'), 'Untitled')
  assert.equal(await vic.page.isHidden('[role=alert]:not([hidden])'), true)
  assert.deepEqual([...ada.page.context().errors, ...vic.page.context().errors], [])
})

test('front matter\'s title comes first, and a heading in a code block is not one', async () => {
  const ada = await signup(await context(browser), base, 'Ada Lovelace')
  const id = await newDocument(ada.page)
  const token = await tokenOf(ada.page)
  await ada.page.click('.cm-content')
  await ada.page.keyboard.type('---\ntags: x\ntitle: "From front matter"\n---\n# A heading\n')
  await inputIs(ada.page, 'From front matter')
  await ada.page.keyboard.press('Control+a')
  await ada.page.keyboard.type('```\n# in a code block\n```\n\nSome text.\n\n# After the code ##\n')
  await inputIs(ada.page, 'After the code')
  assert.equal(await titleOf(token, id), 'After the code')
  assert.deepEqual(ada.page.context().errors, [])
})
