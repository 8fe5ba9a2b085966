// Templates: documents offered as starting points for new ones. Editors mark and unmark
// a document; anyone lists those they can read, and creates a document from one (its
// title unless another is given, its content, and its tags unless others are given).

import type { Client } from 'openapi-fetch'
import type { components, paths } from './schema.js'
import { data } from './rest.js'

type Schemas = components['schemas']
/** A document as its readers see it, with the caller's `role`. */
export type DocumentView = Schemas['DocumentView']
/** One page of documents; `next_cursor` fetches the next one. */
export type DocumentPage = Schemas['DocumentPage']

export interface FromTemplate {
  /** The new document's title (the template's by default). */
  title?: string
  /** Its tags (the template's unless some are given: an empty list keeps the template's). */
  tags?: string[]
  /** Where to create it (the caller's personal workspace by default). */
  workspaceId?: string
}

export class Templates {
  constructor (private readonly api: Client<paths>) {}

  /** Offers the document as a template, or (`false`) stops offering it (editors). */
  mark (documentId: string, isTemplate = true): Promise<DocumentView> {
    return data(this.api.PATCH('/api/v1/documents/{id}', { params: { path: { id: documentId } }, body: { is_template: isTemplate } }))
  }

  /** The templates the caller can read: in one workspace, or in all of theirs. */
  list (opts: { workspaceId?: string, limit?: number, cursor?: string } = {}): Promise<DocumentPage> {
    const query: { template: true, workspace_id?: string, limit?: number, cursor?: string, sort: 'title', order: 'asc' } = { template: true, sort: 'title', order: 'asc' }
    if (opts.workspaceId) query.workspace_id = opts.workspaceId
    if (opts.limit !== undefined) query.limit = opts.limit
    if (opts.cursor) query.cursor = opts.cursor
    return data(this.api.GET('/api/v1/documents', { params: { query } }))
  }

  /** A new document made from a template (see {@link FromTemplate} for what is copied). */
  create (templateId: string, opts: FromTemplate = {}): Promise<DocumentView> {
    const body: Schemas['CreateRequest'] = { template_id: templateId }
    if (opts.title !== undefined) body.title = opts.title
    if (opts.tags !== undefined) body.tags = opts.tags
    if (opts.workspaceId) body.workspace_id = opts.workspaceId
    return data(this.api.POST('/api/v1/documents', { body }))
  }
}
