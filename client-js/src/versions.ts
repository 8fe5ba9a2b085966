// A document's version history over the typed REST client: the versions the server saved
// (automatic ones while the document is edited, named ones, restores), each read as
// Markdown or as the server's sanitised HTML, diffed against another version or the
// document as it is now, and restored. Readers (public links too) list, read and diff;
// signed-in editors save and restore. Each method resolves to the server's answer or
// throws a TandemError with its code.

import type { Client } from 'openapi-fetch'
import type { components, paths } from './schema.js'
import { data, linkHeader, type LinkOption } from './rest.js'

type Schemas = components['schemas']
/**
 * A saved version: `kind` is `auto`, `named` or `restore`; `bytes` the size of its
 * Markdown; `contributors` those whose edits landed since the version before it. Times
 * are Unix ms.
 */
export type Version = Schemas['VersionView']
/** A version with its Markdown (`content`). */
export type VersionContent = Schemas['VersionContent']
/** One page of versions, newest first; `next_cursor` fetches the next one. */
export type VersionPage = Schemas['VersionPage']
/** The lines that changed, in hunks with some unchanged lines around them. */
export type Diff = Schemas['DiffView']
export type Hunk = Schemas['Hunk']
/**
 * One line of a hunk: `equal`, `delete` (only in the older text) or `insert` (only in
 * the newer); `words` splits it, `changed` marking what differs from the line it replaces.
 */
export type DiffLine = Schemas['Line']
export type DiffWord = Schemas['Word']
/** The document's new ETag after a restore, and the `restore` version that records it. */
export type Restored = Schemas['Restored']

/** What a diff is taken against: another version's id, or `current` (the document now). */
export type Against = string

export class Versions {
  constructor (private readonly api: Client<paths>) {}

  /** One page of the document's versions, newest first (`limit` per page, from `cursor`). */
  list (documentId: string, opts: LinkOption & { limit?: number, cursor?: string } = {}): Promise<VersionPage> {
    const query: { limit?: number, cursor?: string } = {}
    if (opts.limit !== undefined) query.limit = opts.limit
    if (opts.cursor) query.cursor = opts.cursor
    return data(this.api.GET('/api/v1/documents/{id}/versions', {
      params: { path: { id: documentId }, query }, headers: linkHeader(opts)
    }))
  }

  /** Saves the document as the server has it now under `name` (editors; 403 otherwise). */
  save (documentId: string, name: string): Promise<Version> {
    return data(this.api.POST('/api/v1/documents/{id}/versions', { params: { path: { id: documentId } }, body: { name } }))
  }

  /** One version with its Markdown. */
  get (documentId: string, versionId: string, opts: LinkOption = {}): Promise<VersionContent> {
    return data(this.api.GET('/api/v1/documents/{id}/versions/{version}', {
      params: { path: { id: documentId, version: versionId } }, headers: linkHeader(opts)
    }))
  }

  /** One version as the server's sanitised HTML (a fragment, safe to insert as is). */
  render (documentId: string, versionId: string, opts: LinkOption & { signal?: AbortSignal } = {}): Promise<string> {
    return data(this.api.GET('/api/v1/documents/{id}/versions/{version}/render', {
      params: { path: { id: documentId, version: versionId } }, headers: linkHeader(opts), parseAs: 'text', signal: opts.signal
    })) as Promise<string>
  }

  /**
   * The changes from this version to `against` (`current` by default), as hunks of lines
   * with the changed words marked: a `delete` line is only in this version, an `insert`
   * line only in `against`.
   */
  diff (documentId: string, versionId: string, against: Against = 'current', opts: LinkOption & { signal?: AbortSignal } = {}): Promise<Diff> {
    return data(this.api.GET('/api/v1/documents/{id}/versions/{version}/diff', {
      params: { path: { id: documentId, version: versionId }, query: { against } },
      headers: { ...linkHeader(opts), accept: 'application/json' },
      signal: opts.signal
    })) as Promise<Diff>
  }

  /** The same changes as a unified diff (`-` lines only in this version, `+` only in `against`). */
  diffText (documentId: string, versionId: string, against: Against = 'current', opts: LinkOption = {}): Promise<string> {
    return data(this.api.GET('/api/v1/documents/{id}/versions/{version}/diff', {
      params: { path: { id: documentId, version: versionId }, query: { against } },
      headers: { ...linkHeader(opts), accept: 'text/x-diff' },
      parseAs: 'text'
    })) as Promise<string>
  }

  /**
   * Makes the document read as this version again (editors): a forward edit through its
   * room, so everyone connected sees it at once and nothing typed elsewhere meanwhile is
   * lost; the server records it as a version of kind `restore`.
   */
  restore (documentId: string, versionId: string): Promise<Restored> {
    return data(this.api.POST('/api/v1/documents/{id}/versions/{version}/restore', {
      params: { path: { id: documentId, version: versionId } }
    }))
  }
}
