// A document's title follows its first heading, as in HackMD and HedgeDoc, until someone
// gives it a title of their own: "# Meeting notes" typed into an untitled document names
// it "Meeting notes", and renaming the heading renames the document while the title is
// still the heading's. Every writer's page does this for itself from the same shared
// text, so they agree without talking to each other.
import type { EditorView } from '@codemirror/view'
import type * as Y from 'yjs'
import { api, ok } from './api'

/** How far down a document the heading is looked for. */
const LINES = 200
/** A title is saved once typing pauses this long. */
const PAUSE_MS = 800
/** What an untitled document is called. */
export const UNTITLED = 'Untitled'

/**
 * The title a document's Markdown gives itself: `title:` in YAML front matter, else the
 * first level-one heading (`# …`) outside code blocks within its first lines; '' if none.
 */
export function headingTitle (line: (n: number) => string | undefined): string {
  let n = 0
  if (line(0)?.trim() === '---') {
    for (n = 1; n < LINES; n++) {
      const l = line(n)
      if (l === undefined) return ''
      if (l.trim() === '---' || l.trim() === '...') { n++; break }
      const m = /^title:\s*(.*?)\s*$/.exec(l)
      if (m?.[1]) return clean(m[1].replace(/^(["'])(.*)\1$/, '$2'))
    }
  }
  let fence: string | null = null
  for (; n < LINES; n++) {
    const l = line(n)
    if (l === undefined) break
    const f = /^ {0,3}(`{3,}|~{3,})/.exec(l)
    if (f) {
      if (fence === null) fence = f[1]
      else if (f[1][0] === fence[0] && f[1].length >= fence.length) fence = null
      continue
    }
    if (fence !== null) continue
    const m = /^ {0,3}#[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$/.exec(l)
    if (m?.[1]) return clean(m[1])
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
  const check = (): void => {
    const heading = current()
    if (heading === last) return
    const previous = last
    last = heading
    const title = input.value.trim()
    if (heading === '' || !canWrite() || document.activeElement === input || !following(title, previous)) return
    renaming = renaming.then(async () => {
      if (heading !== last) return
      try {
        if (await rename(id, heading, previous) && heading === last && document.activeElement !== input) {
          input.value = heading
          document.title = `${heading} · Tandem`
        }
      } catch (e) { failed(e) }
    })
  }
  const changed = (): void => { clearTimeout(timer); timer = setTimeout(check, PAUSE_MS) }
  text.observe(changed)
  return () => { clearTimeout(timer); text.unobserve(changed) }
}

/** Whether a title is still the heading's to set. */
function following (title: string, previousHeading: string): boolean {
  return title === '' || title === UNTITLED || title === previousHeading
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
