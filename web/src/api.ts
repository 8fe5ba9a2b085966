// The REST client and the session: the access token only in memory, the refresh token
// only in the HttpOnly cookie the server sets (scripts never see it). A readable marker
// cookie says whether a session may exist, so a signed-out visit makes no failing call.

export interface User { id: string, email: string | null, name: string }
export interface Workspace { id: string, name: string, personal: boolean, role: Role }
export type Role = 'owner' | 'admin' | 'editor' | 'commenter' | 'viewer'
export interface Doc {
  id: string, workspace_id: string, title: string, owner_id: string, tags: string[],
  created_at: number, updated_at: number, deleted_at: number | null, role?: Role, snippet?: string
}

export class ApiError extends Error {
  constructor (readonly status: number, readonly code: string, message: string) { super(message) }
}

const FRIENDLY: Record<string, string> = {
  invalid_credentials: 'Wrong email or password.',
  email_taken: 'An account with this email already exists. Try logging in.',
  too_many_attempts: 'Too many attempts. Wait a minute and try again.',
  rate_limited: 'Too many requests. Wait a moment and try again.',
  store_unavailable: 'The server cannot reach its database right now. Try again shortly.',
  document_not_found: 'This document does not exist, or you have no access to it.',
  network: 'Cannot reach the server. Check your connection.'
}

/** Words a person understands for an error from the API. */
export function explain (e: unknown): string {
  if (e instanceof ApiError) {
    if (FRIENDLY[e.code]) return FRIENDLY[e.code]
    if (e.code === 'invalid_field') return e.message.replace(/`/g, '')
    if (e.status === 404) return 'Not found, or you have no access to it.'
    if (e.status === 403) return 'You do not have permission to do that.'
    if (e.status >= 500) return 'Something went wrong on the server. Try again.'
    return e.message
  }
  return 'Something went wrong. Try again.'
}

let accessToken: string | null = null
let me: User | null = null
let refreshTimer: ReturnType<typeof setTimeout> | undefined
const listeners = new Set<() => void>()

export const session = {
  get user (): User | null { return me },
  get token (): string | null { return accessToken },
  onChange (f: () => void) { listeners.add(f); return () => listeners.delete(f) }
}

function hasSessionCookie (): boolean {
  return document.cookie.split(';').some((c) => c.trim() === 'tandem_session=1')
}

interface Tokens { access_token: string, expires_in: number, user: User }

function signedIn (t: Tokens): void {
  accessToken = t.access_token
  me = t.user
  clearTimeout(refreshTimer)
  // Refresh at 80 % of the token's life, so requests and socket reconnects never carry an
  // expired one.
  const ms = Math.max(5, t.expires_in * 0.8) * 1000
  refreshTimer = setTimeout(() => { void refresh() }, ms)
  listeners.forEach((f) => f())
}

function signedOut (): void {
  accessToken = null
  me = null
  clearTimeout(refreshTimer)
  listeners.forEach((f) => f())
}

let inflight: Promise<boolean> | null = null

/** Rotates the cookie's refresh token for a new access token. One at a time across tabs:
 *  two tabs presenting the same token would look like token theft to the server. */
export function refresh (): Promise<boolean> {
  if (!hasSessionCookie()) {
    if (accessToken) signedOut()
    return Promise.resolve(false)
  }
  inflight ??= (async () => {
    const run = async (): Promise<boolean> => {
      try {
        const resp = await fetch('/api/v1/auth/refresh', {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-tandem-session': '1' },
          body: '{}'
        })
        if (resp.ok) { signedIn(await resp.json()); return true }
        if ((resp.status === 401 || resp.status === 403) && accessToken) signedOut()
        return false
      } catch { return accessToken !== null }
    }
    try {
      return navigator.locks ? await navigator.locks.request('tandem-refresh', run) : await run()
    } finally { inflight = null }
  })()
  return inflight
}

/** Restores the session on load (the page was reloaded, or opened in a new tab). */
export async function restore (): Promise<void> {
  if (hasSessionCookie()) await refresh()
}

async function authCall (path: string, body: unknown): Promise<void> {
  const t = await request<Tokens>('POST', path, body, { anonymous: true, session: true })
  signedIn(t)
}

export const login = (email: string, password: string) => authCall('/api/v1/auth/login', { email, password })
export const signup = (email: string, password: string, name: string) => authCall('/api/v1/auth/signup', { email, password, name })

export async function logout (): Promise<void> {
  try {
    await fetch('/api/v1/auth/logout', { method: 'POST', headers: { 'content-type': 'application/json', 'x-tandem-session': '1' }, body: '{}' })
  } finally { signedOut() }
}

interface Options { link?: string, anonymous?: boolean, session?: boolean, raw?: boolean, contentType?: string, signal?: AbortSignal }

/** Calls the API; a 401 with a live session refreshes once and retries. */
export async function request<T> (method: string, path: string, body?: unknown, opts: Options = {}): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    const headers: Record<string, string> = {}
    if (opts.link) headers['tandem-link'] = opts.link
    else if (!opts.anonymous && accessToken) headers.authorization = `Bearer ${accessToken}`
    if (opts.session) headers['x-tandem-session'] = '1'
    let payload: BodyInit | undefined
    if (typeof body === 'string') { payload = body; headers['content-type'] = opts.contentType ?? 'text/markdown' } else if (body !== undefined) { payload = JSON.stringify(body); headers['content-type'] = 'application/json' }
    let resp: Response
    try {
      resp = await fetch(path, { method, headers, body: payload, signal: opts.signal })
    } catch (e) {
      if ((e as Error).name === 'AbortError') throw e
      throw new ApiError(0, 'network', 'network error')
    }
    if (resp.status === 401 && attempt === 0 && !opts.anonymous && !opts.link && accessToken && await refresh()) continue
    if (!resp.ok) {
      const err = await resp.json().catch(() => null) as { error?: { code: string, message: string } } | null
      throw new ApiError(resp.status, err?.error?.code ?? 'http_' + resp.status, err?.error?.message ?? resp.statusText)
    }
    if (opts.raw) return resp as unknown as T
    if (resp.status === 204) return undefined as T
    const type = resp.headers.get('content-type') ?? ''
    return (type.includes('json') ? await resp.json() : await resp.text()) as T
  }
}
