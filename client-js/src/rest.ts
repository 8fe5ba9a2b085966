// What the REST wrappers (comments, versions, templates) share: an answer of the typed
// client turned into its data or a thrown TandemError, and a public link's header.

import { TandemError } from './session.js'

/** What an openapi-fetch call resolves to. */
export type Answer<T> = { data?: T, error?: unknown, response: Response }

/** A public link's token, sent as the `Tandem-Link` header (reading only). */
export interface LinkOption { link?: string }

export function linkHeader (opts: LinkOption): Record<string, string> {
  return opts.link ? { 'tandem-link': opts.link } : {}
}

/** The answer's data; an error answer thrown as a {@link TandemError}. */
export async function data<T> (call: Promise<Answer<T>>): Promise<T> {
  const { data, error, response } = await call
  if (error !== undefined || !response.ok) throw TandemError.fromBody(response.status, error, response.statusText)
  return data as T
}
