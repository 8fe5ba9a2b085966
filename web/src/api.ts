// The app's client of the API is @tandem/client in cookie mode: the access token only in
// memory, the refresh token only in the HttpOnly cookie the server sets (scripts never
// see it), and a signed-out visit makes no failing call. Here: the one instance, typed
// REST results as exceptions, and the words a person reads for an error.
import { Tandem, TandemError, type components } from '@tandem/client'

type Schemas = components['schemas']
export type Role = Schemas['Role']
export type Workspace = Schemas['WorkspaceView']
export type Doc = Schemas['DocumentItem']

export const tandem = new Tandem({ baseUrl: location.origin, cookie: true })
export const session = tandem.session
/** The REST API, typed from the server's OpenAPI document. */
export const api = tandem.api

const FRIENDLY: Record<string, string> = {
  invalid_credentials: 'Wrong email or password.',
  email_taken: 'An account with this email already exists. Try logging in.',
  too_many_attempts: 'Too many attempts. Wait a minute and try again.',
  rate_limited: 'Too many requests. Wait a moment and try again.',
  store_unavailable: 'The server cannot reach its database right now. Try again shortly.',
  document_not_found: 'This document does not exist, or you have no access to it.',
  network: 'Cannot reach the server. Check your connection.',
  wrong_password: 'That is not your password.',
  last_owner: 'You are the only owner of a workspace others use: make someone else an owner first.',
  reauthentication_required: 'Sign in again, then delete the account within five minutes.',
  export_running: 'An export is already being prepared. Wait for it to finish.',
  attachment_too_large: 'That file is too large to attach.',
  attachment_quota_exceeded: 'This workspace has no room left for attachments.'
}

/** Words a person understands for an error from the API. */
export function explain (e: unknown): string {
  if (e instanceof TandemError) {
    if (FRIENDLY[e.code]) return FRIENDLY[e.code]
    if (e.code === 'invalid_field') return e.message.replace(/`/g, '')
    if (e.status === 404) return 'Not found, or you have no access to it.'
    if (e.status === 403) return 'You do not have permission to do that.'
    if (e.status >= 500) return 'Something went wrong on the server. Try again.'
    return e.message
  }
  return 'Something went wrong. Try again.'
}

/** A request that never reached the server (fetch's TypeError) as a `network` error. */
export async function reach<T> (call: Promise<T>): Promise<T> {
  try {
    return await call
  } catch (e) {
    if (e instanceof TypeError) throw new TandemError(0, 'network', 'network error')
    throw e
  }
}

type Answer<T> = { data?: T, error?: unknown, response: Response }

/** A typed REST call's answer; an error answer is thrown as a {@link TandemError}. */
export async function answer<T> (call: Promise<Answer<T>>): Promise<{ data: T, response: Response }> {
  const { data, error, response } = await reach(call)
  if (error !== undefined || !response.ok) throw TandemError.fromBody(response.status, error, response.statusText)
  return { data: data as T, response }
}

/** The data of a typed REST call; an error answer is thrown as a {@link TandemError}. */
export async function ok<T> (call: Promise<Answer<T>>): Promise<T> {
  return (await answer(call)).data
}
