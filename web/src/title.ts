// A document's title follows its first heading, as in HackMD and HedgeDoc, until someone
// gives it a title of their own: "# Meeting notes" typed into an untitled document names
// it "Meeting notes", and renaming the heading renames the document while the title is
// still the heading's. The page of the writer who changed the heading renames it; the
// others show the new title once it is stored.
import type { EditorView } from '@codemirror/view'
import type * as Y from 'yjs'
import { api, ok } from './api'

/** How far down a document the heading is looked for, and how much of each line. */
const LINES = 200
const LINE_CHARS = 300
/** A title is saved once typing pauses this long. */
const PAUSE_MS = 800
/** How long another page is given to rename before this one looks. */
const SETTLE_MS = 1500
/** What an untitled document is called. */
export const UNTITLED = 'Untitled'

/**
 * The title a document's Markdown gives itself: `title:` in YAML front matter, else the
 * first level-one heading (`# …`) outside code blocks within its first lines; '' if none.
 */
export function headingTitle (line: (n: number) => string | undefined): string {
  // Only a line's start is read: every pattern below is then linear in what it reads,
  // however long a line someone wrote.
  const at = (n: number): string | undefined => line(n)?.slice(0, LINE_CHARS)
  let n = 0
  if (at(0)?.trim() === '---') {
    for (n = 1; n < LINES; n++) {
      const l = at(n)
      if (l === undefined) return ''
      if (l.trim() === '---' || l.trim() === '...') { n++; break }
      if (l.startsWith('title:')) return clean(l.slice(6).trim().replace(/^(["'])(.*)\1$/, '$2'))
    }
  }
  let fence: string | null = null
  for (; n < LINES; n++) {
    const l = at(n)
    if (l === undefined) break
    const f = /^ {0,3}(`{3,}|~{3,})/.exec(l)
    if (f) {
      if (fence === null) fence = f[1]
      else if (f[1][0] === fence[0] && f[1].length >= fence.length) fence = null
      continue
    }
    if (fence !== null) continue
    const m = /^ {0,3}#[ \t]/.exec(l)
    if (m) {
      // The text, without a closing run of #s set off by a space (`# Title ##`).
      const text = l.slice(m[0].length).trim()
      const closed = /^(.*?[ \t])?#+$/.exec(text)
      const title = clean(closed ? (closed[1] ?? '') : text)
      if (title) return title
    }
  }
  return ''
}

/** Inline Markdown a title does not need: emphasis and code marks, link targets. */
function clean (text: string): string {
  return text
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/(\*\*|__|\*|_|`)(.+?)\1/g, '$2')
    .trim()
    .slice(0, 256)
}

/** What `followHeading` works on. */
export interface Following {
  id: string
  text: Y.Text
  view: EditorView
  input: HTMLInputElement
  /** Whether this person may rename the document: false until its title and role are
   * known, and for link visitors, who may edit content only. */
  canWrite: () => boolean
  failed: (e: unknown) => void
}

/**
 * Keeps the title input (and the document's saved title) on the heading while the title
 * is untitled or still the heading it was. Renames go one at a time, and one whose
 * heading changed again meanwhile is not applied. Answers the function that stops
 * following.
 */
export function followHeading ({ id, text, view, input, canWrite, failed }: Following): () => void {
  const current = (): string => {
    const doc = view.state.doc
    return headingTitle((n) => n < doc.lines ? doc.line(n + 1).text : undefined)
  }
  let last = current()
  let timer: ReturnType<typeof setTimeout> | undefined
  let renaming: Promise<void> = Promise.resolve()
  // Whether this page typed since the last check: a heading changed by someone else is
  // theirs to follow (an edit link holder, who may not rename, must not rename through
  // an editor's page).
  let typed = false
  const check = (): void => {
    const local = typed
    typed = false
    const heading = current()
    if (heading === last) return
    const previous = last
    last = heading
    const title = input.value.trim()
    if (heading === '' || !canWrite() || document.activeElement === input || !following(title, previous)) return
    if (!local) {
      // Someone else's heading: their page renames; this one shows the title once it has.
      setTimeout(() => { void shown(id, heading).then((now) => { if (now && heading === last && document.activeElement !== input) show(heading) }, () => {}) }, SETTLE_MS)
      return
    }
    renaming = renaming.then(async () => {
      if (heading !== last) return
      try {
        if (await rename(id, heading, previous) && heading === last && document.activeElement !== input) show(heading)
      } catch (e) { failed(e) }
    })
  }
  const show = (title: string): void => {
    input.value = title
    document.title = `${title} · Tandem`
  }
  const changed = (event: Y.YTextEvent): void => {
    typed ||= event.transaction.local
    clearTimeout(timer)
    timer = setTimeout(check, PAUSE_MS)
  }
  text.observe(changed)
  return () => { clearTimeout(timer); text.unobserve(changed) }
}

/** Whether a title is still the heading's to set. */
function following (title: string, previousHeading: string): boolean {
  return title === '' || title === UNTITLED || title === previousHeading
}

/** Whether the document's stored title is `heading`. */
async function shown (id: string, heading: string): Promise<boolean> {
  const doc = await ok(api.GET('/api/v1/documents/{id}', { params: { path: { id } } }))
  return doc.title === heading
}

/**
 * Renames the document after its heading, unless its stored title has become one of
 * someone's own meanwhile (another page's input may be behind): answers whether the
 * title is the heading now.
 */
async function rename (id: string, heading: string, previous: string): Promise<boolean> {
  const path = { params: { path: { id } } }
  const doc = await ok(api.GET('/api/v1/documents/{id}', path))
  if (doc.title === heading) return true
  if (!following(doc.title, previous)) return false
  await ok(api.PATCH('/api/v1/documents/{id}', { ...path, body: { title: heading } }))
  return true
}
