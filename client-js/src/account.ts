// The signed-in user's own account: their profile (name, avatar), the profiles of the
// people they work with, and the changes feed a sync client keeps its document list by.

import type { Client } from 'openapi-fetch'
import type { components, paths } from './schema.js'
import { data } from './rest.js'

type Schemas = components['schemas']
/** The caller's own profile. */
export type Profile = Schemas['Profile']
/** Another user as the people they work with see them (never their email). */
export type PublicProfile = Schemas['PublicProfile']
/** One document's change: `upserted` (its state now), `deleted` or `removed`. */
export type Change = Schemas['ChangeView']
/** One page of the feed: its changes, the cursor to ask from next, and whether more wait. */
export type ChangesPage = Schemas['ChangesView']

export interface ProfileChange {
  /** 1 to 100 characters. */
  name?: string
  /** An `http(s)` URL; `null` removes the avatar. */
  avatarUrl?: string | null
}

export class Account {
  constructor (private readonly api: Client<paths>) {}

  /** The caller's profile. */
  profile (): Promise<Profile> {
    return data(this.api.GET('/api/v1/users/me'))
  }

  /** Changes the caller's name and/or avatar; answers the whole profile. */
  updateProfile (change: ProfileChange): Promise<Profile> {
    const body: Schemas['ProfilePatch'] = {}
    if (change.name !== undefined) body.name = change.name
    if (change.avatarUrl !== undefined) body.avatar_url = change.avatarUrl
    return data(this.api.PATCH('/api/v1/users/me', { body }))
  }

  /** Someone the caller shares a workspace or document with (anyone else: 404). */
  user (id: string): Promise<PublicProfile> {
    return data(this.api.GET('/api/v1/users/{id}', { params: { path: { id } } }))
  }

  /**
   * One page of changes since `since` (every visible document without it). Keep `next`
   * and ask again from it, at once while `more` is true. A cursor too old for the server
   * rejects with a `TandemError` of status 410: list everything again without `since`.
   */
  changes (opts: { since?: string, limit?: number } = {}): Promise<ChangesPage> {
    const query: { since?: string, limit?: number } = {}
    if (opts.since) query.since = opts.since
    if (opts.limit !== undefined) query.limit = opts.limit
    return data(this.api.GET('/api/v1/changes', { params: { query } }))
  }

  /**
   * Every change since `since`, page after page (at most `maxPages`), and the cursor to
   * keep: what a sync client applies to its copy of the document list.
   */
  async changesSince (since?: string, maxPages = 100): Promise<{ changes: Change[], next: string }> {
    const changes: Change[] = []
    let cursor = since
    for (let i = 0; i < maxPages; i++) {
      const page = await this.changes({ since: cursor, limit: 500 })
      changes.push(...page.changes)
      cursor = page.next
      if (!page.more) return { changes, next: cursor }
    }
    throw new Error(`the changes feed did not end within ${maxPages} pages`)
  }
}
