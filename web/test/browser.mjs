// Shared by the browser tests: the real server (client-js's helper), Debian's Chromium
// driven by playwright-core, and the few steps every test takes.
import { chromium } from 'playwright-core'
import { mkdirSync } from 'node:fs'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'

import { before, after } from 'node:test'
import { Server } from '../../client-js/test/server.mjs'

export { Server, until } from '../../client-js/test/server.mjs'

const here = dirname(fileURLToPath(import.meta.url))
export const SCREENSHOTS = join(here, '..', '..', 'target', 'screenshots')
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

export async function launch () {
  mkdirSync(SCREENSHOTS, { recursive: true })
  return chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-dev-shm-usage'] })
}

/** A fresh browser context that records console errors and page errors. */
export async function context (browser, opts = {}) {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 }, ...opts })
  ctx.errors = []
  ctx.on('page', (page) => {
    page.on('console', (m) => { if (m.type() === 'error') ctx.errors.push(m.text()) })
    page.on('pageerror', (e) => ctx.errors.push(String(e)))
  })
  return ctx
}

let counter = 0
/** Signs a new account up through the signup form; returns the page and the account. */
export async function signup (ctx, base, name = 'Ada Lovelace') {
  const page = await ctx.newPage()
  const email = `u${Date.now()}-${counter++}@example.com`
  const password = 'correct horse battery'
  await page.goto(`${base}/signup`)
  await page.fill('input[name=name]', name)
  await page.fill('input[name=email]', email)
  await page.fill('input[name=password]', password)
  await page.click('form button[type=submit]')
  await page.waitForSelector('[data-testid=document-list]')
  return { page, email, password, name }
}

/** The access token of a signed-in page, through the cookie session (as the app does). */
export async function tokenOf (page) {
  return page.evaluate(async () => {
    const r = await fetch('/api/v1/auth/refresh', { method: 'POST', headers: { 'content-type': 'application/json', 'x-tandem-session': '1' }, body: '{}' })
    return (await r.json()).access_token
  })
}

/** Calls the REST API from Node with a bearer token. */
export async function api (base, method, path, token, body) {
  const headers = { authorization: `Bearer ${token}` }
  if (body !== undefined) headers['content-type'] = 'application/json'
  const r = await fetch(base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) })
  const text = await r.text()
  let json = null
  try { json = JSON.parse(text) } catch {}
  return { status: r.status, body: json ?? text }
}

/** Logs in through the REST API (no cookie): for tests that only need a token. */
export async function login (base, email, password) {
  const r = await fetch(`${base}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, password }) })
  return (await r.json()).access_token
}

/** Opens the editor on a new document from the list page's button. */
export async function newDocument (page) {
  await page.click('[data-testid=new-document]')
  await page.waitForURL(/\/d\/[^/?]+$/)
  await page.waitForSelector('.editor[data-synced=true]')
  return new URL(page.url()).pathname.split('/').pop()
}

export async function waitSaved (page, ms = 10_000) {
  await page.waitForFunction(() => document.querySelector('[data-testid=save-state]')?.dataset.state === 'saved', null, { timeout: ms })
}

/**
 * For a test file: the real server (with `env` added to its environment) and a browser,
 * started before the file's tests (then handed to `up` as `{ server, browser, base }`,
 * `base` being the server's http address) and stopped after them.
 */
export function serverAndBrowser (env, up) {
  const running = { server: null, browser: null, base: '' }
  before(async () => {
    running.server = await Server.start(undefined, env)
    running.base = `http://${running.server.addr}`
    running.browser = await launch()
    up(running)
  })
  after(async () => {
    await running.browser?.close()
    await running.server?.stop()
    running.server?.cleanup()
  })
  return running
}
