// Images in the editor, in a real browser against the real server: a pasted and a dropped
// image are uploaded as attachments, their Markdown links land in the text, and the
// preview shows them (fetched with the session, as an <img> alone cannot be); an image
// over the size limit is refused politely and leaves no placeholder behind.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { serverAndBrowser, context, signup, newDocument, waitSaved, SCREENSHOTS } from './browser.mjs'

let browser, base
// Small enough that a test image can pass it.
serverAndBrowser({ TANDEM_ATTACHMENT_MAX_BYTES: '200000' }, (up) => { ({ browser, base } = up) })

const text = (page) => page.evaluate(() => [...document.querySelectorAll('.cm-content .cm-line')].map((l) => l.textContent).join('\n'))

/**
 * Makes a PNG of `size` pixels square in the page (noise when `noisy`, so it does not
 * compress) and sends it to the editor as a paste or a drop; returns its byte size.
 */
function sendImage (page, how, name, color, size = 48, noisy = false) {
  return page.evaluate(async ({ how, name, color, size, noisy }) => {
    const canvas = document.createElement('canvas')
    canvas.width = canvas.height = size
    const g = canvas.getContext('2d')
    g.fillStyle = color
    g.fillRect(0, 0, size, size)
    if (noisy) {
      const pixels = g.getImageData(0, 0, size, size)
      for (let i = 0; i < pixels.data.length; i++) pixels.data[i] = (Math.random() * 256) | 0
      g.putImageData(pixels, 0, 0)
    }
    const blob = await new Promise((resolve) => canvas.toBlob(resolve, 'image/png'))
    const data = new DataTransfer()
    data.items.add(new File([blob], name, { type: 'image/png' }))
    const target = document.querySelector('.cm-content')
    if (how === 'paste') {
      target.dispatchEvent(new ClipboardEvent('paste', { clipboardData: data, bubbles: true, cancelable: true }))
    } else {
      const box = target.getBoundingClientRect()
      target.dispatchEvent(new DragEvent('drop', { dataTransfer: data, clientX: box.left + 5, clientY: box.bottom - 5, bubbles: true, cancelable: true }))
    }
    return blob.size
  }, { how, name, color, size, noisy })
}

test('pasted and dropped images are uploaded, linked in the text and shown in the preview', async () => {
  const owner = await signup(await context(browser), base, 'Ada Lovelace')
  const { page } = owner
  const id = await newDocument(page)
  await page.click('[data-testid=mode-split]')
  await page.click('.cm-content')
  await page.keyboard.type('# Pictures')
  await page.keyboard.press('Enter')
  await sendImage(page, 'paste', 'red square.png', '#d33')
  const link = new RegExp(`!\\[red square\\.png\\]\\(/api/v1/documents/${id}/attachments/[0-9a-f]+\\)`)
  await page.waitForFunction((re) => new RegExp(re).test(document.querySelector('.cm-content').textContent), link.source)
  await page.keyboard.press('End')
  await page.keyboard.press('Enter')
  await sendImage(page, 'drop', 'blue.png', '#36c')
  await page.waitForFunction(() => /!\[blue\.png\]\(\/api\/v1\/documents\/[^/]+\/attachments\/[0-9a-f]+\)/.test(document.querySelector('.cm-content').textContent))
  const written = await text(page)
  assert.match(written, link)
  assert.doesNotMatch(written, /Uploading/)

  // The preview shows both, from the bytes the app fetched with its session.
  await page.waitForFunction(() => {
    const imgs = [...document.querySelectorAll('[data-testid=preview] img')]
    return imgs.length === 2 && imgs.every((i) => i.src.startsWith('blob:') && i.complete && i.naturalWidth === 48)
  }, null, { timeout: 10_000 })
  const alts = await page.$$eval('[data-testid=preview] img', (imgs) => imgs.map((i) => i.alt))
  assert.deepEqual(alts, ['red square.png', 'blue.png'])
  await waitSaved(page)
  await page.screenshot({ path: `${SCREENSHOTS}/editor-images.png` })
  assert.deepEqual(page.context().errors, [])
})

test('an image over the size limit is refused with a message and leaves no placeholder', async () => {
  const owner = await signup(await context(browser), base, 'Ada Lovelace')
  const { page } = owner
  await newDocument(page)
  await page.click('.cm-content')
  await page.keyboard.type('before ')
  const bytes = await sendImage(page, 'paste', 'huge.png', '#000', 400, true)
  assert.ok(bytes > 200000, `the test image is ${bytes} bytes`)
  await page.waitForSelector('[role=alert]:not([hidden])')
  assert.match(await page.textContent('[role=alert]'), /huge\.png was not uploaded/)
  await page.waitForFunction(() => !document.querySelector('.cm-content').textContent.includes('Uploading'))
  assert.equal(await text(page), 'before ')
  // The refused upload is the only error the page logged (the browser reports the 413).
  assert.ok(page.context().errors.every((e) => /413|Payload Too Large/.test(e)), page.context().errors.join('\n'))
})
