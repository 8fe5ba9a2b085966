// Signing in, and keeping the access token fresh: refreshed a while before it expires
// (the refresh token is single-use: each refresh rotates it), and once more on demand
// when the server says 401. One refresh at a time, whoever asks.

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
    const body = await res.json().catch(() => null) as { error?: { code?: string, message?: string } } | null
    return new TandemError(res.status, body?.error?.code ?? 'http_' + res.status, body?.error?.message ?? res.statusText)
  }
}

/** How long before expiry the access token is refreshed, at most (a third of its life if shorter). */
const REFRESH_AHEAD_MS = 60_000

export class Session {
  #tokens: Tokens | null = null
  #expiresAt = 0
  #refreshing: Promise<string> | null = null
  #timer: ReturnType<typeof setTimeout> | null = null
  readonly #listeners = new Set<(user: User | null) => void>()

  constructor (private readonly baseUrl: string, private readonly fetchFn: typeof fetch) {}

  get user (): User | null { return this.#tokens?.user ?? null }

  /** The refresh token, to keep a session across restarts of a script (store it safely). */
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
  async resume (refreshToken: string): Promise<User> {
    return this.#start(await this.#post('/api/v1/auth/refresh', { refresh_token: refreshToken }))
  }

  async logout (): Promise<void> {
    const refresh = this.refreshToken
    this.#stop()
    if (refresh) {
      await this.fetchFn(this.baseUrl + '/api/v1/auth/logout', {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ refresh_token: refresh })
      }).catch(() => undefined)
    }
  }

  /** A valid access token: the current one, or a new one if it is (about to be) expired. */
  async accessToken (): Promise<string> {
    if (!this.#tokens) throw new TandemError(401, 'not_signed_in', 'not signed in')
    if (Date.now() < this.#expiresAt - 5_000) return this.#tokens.access_token
    return this.refresh()
  }

  /** The current access token without waiting (it may have expired): for synchronous callers. */
  currentToken (): string | null { return this.#tokens?.access_token ?? null }

  /** Refreshes now (one refresh at a time, whoever asks). */
  refresh (): Promise<string> {
    if (!this.#refreshing) {
      const token = this.refreshToken
      if (!token) return Promise.reject(new TandemError(401, 'not_signed_in', 'not signed in'))
      this.#refreshing = this.#post('/api/v1/auth/refresh', { refresh_token: token })
        .then((tokens) => { this.#start(tokens); return tokens.access_token })
        .catch((e: unknown) => {
          if (e instanceof TandemError && e.status === 401) this.#stop()
          throw e
        })
        .finally(() => { this.#refreshing = null })
    }
    return this.#refreshing
  }

  async #post (path: string, body: unknown): Promise<Tokens> {
    const res = await this.fetchFn(this.baseUrl + path, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body)
    })
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

  #stop (): void {
    if (this.#timer) clearTimeout(this.#timer)
    this.#timer = null
    this.#tokens = null
    this.#expiresAt = 0
    for (const listener of this.#listeners) listener(null)
  }
}
