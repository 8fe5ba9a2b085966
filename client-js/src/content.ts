// Names the server and every client agree on, kept apart from the live-document code so
// that importing them loads no Yjs.

/** The name of the `Y.Text` that holds a document's Markdown. */
export const CONTENT = 'content'
