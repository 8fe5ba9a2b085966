// Signing in, and keeping the access token fresh: refreshed a while before it expires
// (the refresh token is single-use: each refresh rotates it), and once more on demand
// when the server says 401. One refresh at a time, whoever asks.
//
// Two places for the refresh token. By default the session holds it (a script stores it
// to resume later). In cookie mode, for a browser app served by the Tandem server, the
// server keeps it in an HttpOnly cookie the app's scripts never read (src/product/api/session.rs):
// auth requests carry `X-Tandem-Session: 1` and the cookie, and a readable marker cookie
// tells whether a session may exist, so a signed-out visit asks the server nothing.

import type { components } from './schema.js'

export type Tokens = components['schemas']['Tokens']
export type User = components['schemas']['User']

/** An error answer from the server: `{"error": {"code", "message"}}`, with its status. */
export class TandemError extends Error {
  constructor (readonly status: number, readonly code: string, message: string) {
    super(message)
    this.name = 'TandemError'
  }

  static async from (res: Response): Promise<TandemError> {
    return TandemError.fromBody(res.status, await res.json().catch(() => null), res.statusText)
  }

  /** From an error body already read (e.g. the `error` of a typed REST call). */
  static fromBody (status: number, body: unknown, statusText = ''): TandemError {
    const error = (body as { error?: { code?: string, message?: string } } | null)?.error
    return new TandemError(status, error?.code ?? 'http_' + status, error?.message ?? statusText)
  }
}

export interface SessionOptions {
  /**
   * Keep the refresh token in the server's HttpOnly session cookie instead of in this
   * object: for a web app served by the Tandem server. {@link Session.refreshToken} is
   * then always null, and {@link Session.resume} takes no token.
   */
  cookie?: boolean
}

/** How long before expiry the access token is refreshed, at most (a third of its life if shorter). */
const REFRESH_AHEAD_MS = 60_000
/** The header that marks an auth request as the web app's (its refresh token is in the cookie). */
const SESSION_HEADER = 'x-tandem-session'
/** The script-readable cookie that says a session may exist (it carries nothing secret). */
const MARKER_COOKIE = 'tandem_session=1'
/** Tabs of one browser share the cookie: their refreshes take turns under this lock. */
const REFRESH_LOCK = 'tandem-refresh'

export class Session {
  #tokens: Tokens | null = null
  #expiresAt = 0
  #refreshing: Promise<string> | null = null
  #timer: ReturnType<typeof setTimeout> | null = null
  readonly #listeners = new Set<(user: User | null) => void>()
  readonly #cookie: boolean

  constructor (private readonly baseUrl: string, private readonly fetchFn: typeof fetch, opts: SessionOptions = {}) {
    this.#cookie = opts.cookie ?? false
  }

  get user (): User | null { return this.#tokens?.user ?? null }

  /** The refresh token, to keep a session across restarts of a script (store it safely). Null in cookie mode. */
  get refreshToken (): string | null { return this.#tokens?.refresh_token ?? null }

  /** Called with the user on sign-in and refresh, and with null once signed out. */
  onChange (listener: (user: User | null) => void): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  async signup (body: { email: string, password: string, name: string }): Promise<User> {
    return this.#start(await this.#post('/api/v1/auth/signup', body))
  }

  async login (body: { email: string, password: string }): Promise<User> {
    return this.#start(await this.#post('/api/v1/auth/login', body))
  }

  /** Resumes a session from a refresh token kept from an earlier one. */
  resume (refreshToken: string): Promise<User>
  /**
   * Cookie mode: resumes the session the browser's cookie holds (after a reload, or in a
   * new tab); null when there is none, without asking the server when the marker cookie
   * says so.
   */
  resume (): Promise<User | null>
  async resume (refreshToken?: string): Promise<User | null> {
    if (refreshToken !== undefined) return this.#start(await this.#post('/api/v1/auth/refresh', { refresh_token: refreshToken }))
    if (!this.#cookie) throw new TypeError('resume() without a refresh token needs cookie mode')
    if (!this.#maybeSession()) return null
    try {
      await this.refresh()
    } catch (e) {
      if (e instanceof TandemError && e.status === 401) return null
      throw e
    }
    return this.user
  }

  /**
   * Ends the session on the server (in cookie mode, clearing the cookie too), then here.
   * Signed out here whatever happens; resolves to whether the server ended the session
   * (false: it could not be reached or failed, and the refresh token stays valid until it
   * expires: worth telling a person on a shared computer).
   */
  async logout (): Promise<boolean> {
    const refresh = this.refreshToken
    try {
      if (!this.#cookie && !refresh) return true
      const res = await this.fetchFn(this.baseUrl + '/api/v1/auth/logout', this.#init(this.#cookie ? {} : { refresh_token: refresh }))
      return res.ok
    } catch {
      return false
    } finally {
      this.#stop()
    }
  }

  /** A valid access token: the current one, or a new one if it is (about to be) expired. */
  async accessToken (): Promise<string> {
    if (!this.#tokens) throw notSignedIn()
    if (Date.now() < this.#expiresAt - 5_000) return this.#tokens.access_token
    return this.refresh()
  }

  /** The current access token without waiting (it may have expired): for synchronous callers. */
  currentToken (): string | null { return this.#tokens?.access_token ?? null }

  /** Refreshes now (one refresh at a time, whoever asks). */
  refresh (): Promise<string> {
    if (!this.#refreshing) {
      const token = this.refreshToken
      if (this.#cookie ? !this.#maybeSession() : !token) {
        // In cookie mode: another tab logged out, or the cookie expired.
        this.#stop()
        return Promise.reject(notSignedIn())
      }
      const body = this.#cookie ? {} : { refresh_token: token }
      const post = (): Promise<Tokens> => this.#post('/api/v1/auth/refresh', body)
      this.#refreshing = (this.#cookie ? inTurn(post) : post())
        .then((tokens) => { this.#start(tokens); return tokens.access_token })
        .catch((e: unknown) => {
          if (e instanceof TandemError && e.status === 401) this.#stop()
          throw e
        })
        .finally(() => { this.#refreshing = null })
    }
    return this.#refreshing
  }

  /** Whether a session may exist: cookie mode reads the marker when this page shares the server's origin. */
  #maybeSession (): boolean {
    if (typeof document === 'undefined' || typeof location === 'undefined') return true
    if (new URL(this.baseUrl, location.href).origin !== location.origin) return true
    return document.cookie.split(';').some((c) => c.trim() === MARKER_COOKIE)
  }

  #init (body: unknown): RequestInit {
    const headers: Record<string, string> = { 'content-type': 'application/json' }
    if (this.#cookie) headers[SESSION_HEADER] = '1'
    return { method: 'POST', headers, body: JSON.stringify(body), ...(this.#cookie ? { credentials: 'include' } : {}) }
  }

  async #post (path: string, body: unknown): Promise<Tokens> {
    const res = await this.fetchFn(this.baseUrl + path, this.#init(body))
    if (!res.ok) throw await TandemError.from(res)
    return await res.json() as Tokens
  }

  #start (tokens: Tokens): User {
    this.#tokens = tokens
    const lifeMs = tokens.expires_in * 1000
    this.#expiresAt = Date.now() + lifeMs
    if (this.#timer) clearTimeout(this.#timer)
    const ahead = Math.min(REFRESH_AHEAD_MS, lifeMs / 3)
    this.#timer = setTimeout(() => { this.refresh().catch(() => undefined) }, Math.max(lifeMs - ahead, 1_000))
    // A script's session must not keep Node running on its own.
    ;(this.#timer as { unref?: () => void }).unref?.()
    for (const listener of this.#listeners) listener(tokens.user)
    return tokens.user
  }

  /** Forgets the session; listeners hear of it only if there was one. */
  #stop (): void {
    if (this.#timer) clearTimeout(this.#timer)
    this.#timer = null
    const had = this.#tokens !== null
    this.#tokens = null
    this.#expiresAt = 0
    if (had) for (const listener of this.#listeners) listener(null)
  }
}

function notSignedIn (): TandemError {
  return new TandemError(401, 'not_signed_in', 'not signed in')
}

/**
 * Runs `f` under the browser's cross-tab lock where there is one: two tabs presenting the
 * same cookie at once would look like a stolen refresh token to the server, which then
 * ends the session.
 */
async function inTurn<T> (f: () => Promise<T>): Promise<T> {
  const locks = (globalThis as { navigator?: { locks?: LockManager } }).navigator?.locks
  return locks ? await locks.request(REFRESH_LOCK, f) : await f()
}
