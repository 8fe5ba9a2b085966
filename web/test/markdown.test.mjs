// Math, [TOC], boxes and marks in the preview, as HackMD shows them: `$…$`, `$$…$$` and ```math blocks typeset by
// KaTeX in a real browser; TeX that does not parse shows as itself, a price stays text,
// and nothing the TeX says runs or links.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { serverAndBrowser, context, signup, tokenOf, newDocument, SCREENSHOTS } from './browser.mjs'

let browser, base
serverAndBrowser({}, (up) => { ({ browser, base } = up) })

const NOTE = [
  '---',
  'tags: proofs',
  '---',
  '# Notes on a proof',
  '',
  '[TOC]',
  '',
  '## The identity',
  '',
  'Euler\'s identity, $e^{i\\pi} + 1 = 0$, costs $5 or $10 to print.',
  '',
  '$$\\sum_{k=1}^{n} k = \\frac{n(n+1)}{2}$$',
  '',
  '## Two sums',
  '',
  '```math',
  '\\int_0^1 x^2 \\, dx = \\frac{1}{3}',
  '```',
  '',
  ':::info',
  'H~2~O and x^2^ are ==marked== and ++added++.',
  ':::',
  '',
  ':::spoiler The answer',
  'It is **42**.',
  ':::',
  '',
  '> [!WARNING]',
  '> Check the bounds.',
  '',
  // Nested past KaTeX's call stack: it stays TeX, and the rest is typeset.
  `Deep: $${'{'.repeat(4900)}x${'}'.repeat(4900)}$`,
  '',
  'Broken: $\\frac{1}{$ and a link that must not be one: $\\href{javascript:alert(1)}{x}$.',
  ''
].join('\n')

test('math is typeset, [TOC] lists the headings and HackMD\'s extras show in the preview, and hostile or broken TeX stays inert', async () => {
  const ada = await signup(await context(browser), base, 'Ada Lovelace')
  const id = await newDocument(ada.page)
  const token = await tokenOf(ada.page)
  const res = await fetch(`${base}/api/v1/documents/${id}/content`, { method: 'PUT', headers: { authorization: `Bearer ${token}`, 'content-type': 'text/markdown' }, body: NOTE })
  assert.equal(res.status, 200)
  await ada.page.click('[data-testid=mode-split]')
  const preview = ada.page.locator('[data-testid=preview]')
  await preview.locator('.katex').first().waitFor()
  // Two display formulas ($$ and ```math), and the inline ones.
  assert.equal(await preview.locator('.math-display .katex-display').count(), 2)
  assert.equal(await preview.locator('pre').count(), 0, 'the math block is typeset, not code')
  assert.ok(await preview.locator('span.math .katex').count() >= 2)
  assert.match(await preview.textContent(), /costs \$5 or \$10 to print/)
  // MathML for screen readers, alongside the drawing.
  assert.equal(await preview.locator('math annotation').first().textContent(), 'e^{i\\pi} + 1 = 0')
  // \href is not trusted: no link comes out of TeX.
  assert.equal(await preview.locator('a[href^="javascript"]').count(), 0)
  assert.equal(await preview.locator('.katex a').count(), 0)
  assert.equal(await preview.locator('span[data-math-style]').count(), 1, 'only the formula KaTeX could not survive is left as TeX')
  assert.match(await preview.locator('span[data-math-style]').textContent(), /^\{{4900}x/)
  // HackMD's boxes and marks, GitHub's alerts; the front matter is not shown.
  assert.match(await preview.locator('div.info').textContent(), /H2O and x2 are marked and added/)
  assert.equal(await preview.locator('div.info sub, div.info sup, div.info mark, div.info ins').count(), 4)
  assert.match(await preview.locator('div.markdown-alert-warning').textContent(), /Warning\s*Check the bounds/)
  assert.doesNotMatch(await preview.textContent(), /tags: proofs/)
  // A spoiler is closed until opened.
  const spoiler = preview.locator('details', { hasText: 'The answer' })
  assert.equal(await spoiler.locator('strong').isVisible(), false)
  await spoiler.locator('summary').click()
  assert.equal(await spoiler.locator('strong').isVisible(), true)
  // [TOC] lists the headings and its links land on them.
  assert.deepEqual(await preview.locator('ul.toc a').allTextContents(), ['Notes on a proof', 'The identity', 'Two sums'])
  const target = await preview.locator('ul.toc a').nth(2).getAttribute('href')
  assert.equal(await preview.locator(`[id="${target.slice(1)}"]`).textContent(), 'Two sums')
  await ada.page.waitForTimeout(300)
  await ada.page.click("[data-testid=mode-preview]")
  await ada.page.screenshot({ path: `${SCREENSHOTS}/markdown-extras.png`, fullPage: true })
  assert.deepEqual(ada.page.context().errors, [])
})
