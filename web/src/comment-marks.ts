// Comments in CodeMirror: the open threads' ranges highlighted (kept on the same words
// as the text changes, by mapping them through each change until the threads are loaded
// again), the range a comment is being written on, the thread picked in the panel, and
// the "Comment" button over a selection (with Mod-Alt-m) for those who may comment.
import { Compartment, type EditorState, type Extension, Prec, type Range, StateEffect, StateField } from '@codemirror/state'
import { Decoration, type DecorationSet, EditorView, keymap, showTooltip, type Tooltip } from '@codemirror/view'
import { h, icon } from './dom'

/** A thread's range in the editor's text. */
export interface Mark { id: string, from: number, to: number }

/** Replaces the highlighted threads (positions in the current text). */
const setMarks = StateEffect.define<Mark[]>()
/** The thread picked in the panel, highlighted more strongly (null: none). */
const setActive = StateEffect.define<string | null>()
/** The range a new comment is being written on (null: none). */
const setPending = StateEffect.define<{ from: number, to: number } | null>()

interface Marks { marks: Mark[], active: string | null, pending: { from: number, to: number } | null, deco: DecorationSet }

const PENDING = Decoration.mark({ class: 'cm-comment cm-comment-pending' })

function decorate (marks: Mark[], active: string | null, pending: Marks['pending']): DecorationSet {
  const ranges: Range<Decoration>[] = marks.map((m) => Decoration.mark({
    class: m.id === active ? 'cm-comment cm-comment-active' : 'cm-comment',
    attributes: { 'data-thread': m.id }
  }).range(m.from, m.to))
  if (pending && pending.to > pending.from) ranges.push(PENDING.range(pending.from, pending.to))
  return Decoration.set(ranges, true)
}

const marksField = StateField.define<Marks>({
  create: () => ({ marks: [], active: null, pending: null, deco: Decoration.none }),
  update (value, tr) {
    let { marks, active, pending } = value
    let changed = false
    if (tr.docChanged) {
      // A range's start stays after text typed right before it, its end before text typed
      // right after it: the same rule as the anchor's relative positions.
      const map = (from: number, to: number) => ({ from: tr.changes.mapPos(from, 1), to: Math.max(tr.changes.mapPos(from, 1), tr.changes.mapPos(to, -1)) })
      marks = marks.map((m) => ({ id: m.id, ...map(m.from, m.to) })).filter((m) => m.to > m.from)
      if (pending) pending = map(pending.from, pending.to)
      changed = true
    }
    for (const e of tr.effects) {
      if (e.is(setMarks)) { marks = e.value; changed = true }
      if (e.is(setActive)) { active = e.value; changed = true }
      if (e.is(setPending)) { pending = e.value; changed = true }
    }
    return changed ? { marks, active, pending, deco: decorate(marks, active, pending) } : value
  },
  provide: (f) => EditorView.decorations.from(f, (v) => v.deco)
})

/** What the editor asks of the comments: start one on the selection, show a thread. */
export interface MarkActions {
  comment (view: EditorView): void
  open (threadId: string): void
  /** The text under a highlight was deleted (the thread is orphaned now). */
  vanished? (): void
}

/** The highlights, and clicking one; commenting is switched on by {@link setCommenting}. */
export function commentMarks (actions: MarkActions): Extension {
  return [
    marksField,
    commenting.of([]),
    EditorView.updateListener.of((u) => {
      if (u.docChanged && u.state.field(marksField).marks.length < u.startState.field(marksField).marks.length) actions.vanished?.()
    }),
    EditorView.domEventHandlers({
      click (e) {
        const id = (e.target as Element).closest?.('[data-thread]')?.getAttribute('data-thread')
        if (id) actions.open(id)
        return false
      }
    })
  ]
}

const commenting = new Compartment()

/** The "Comment" button over a non-empty selection, and Mod-Alt-m, for those who may comment. */
export function setCommenting (view: EditorView, actions: MarkActions, allowed: boolean): void {
  view.dispatch({ effects: commenting.reconfigure(allowed ? [selectionTooltip(actions), Prec.high(keymap.of([{ key: 'Mod-Alt-m', run: (v) => { actions.comment(v); return true } }]))] : []) })
}

function selectionTooltip (actions: MarkActions): Extension {
  const tooltipOf = (state: EditorState): Tooltip | null => {
    const range = state.selection.main
    // Not while a comment is being written on it.
    if (range.empty || state.field(marksField).pending) return null
    return {
      pos: range.head,
      above: range.head === range.from,
      strictSide: false,
      arrow: false,
      create: (view) => {
        const button = h('button', { type: 'button', class: 'comment-tip', 'data-testid': 'comment-selection', title: 'Comment on the selection (Ctrl+Alt+M)' }, icon('comment'), 'Comment')
        // Keep the editor's selection: the button must not take focus from it on press.
        button.addEventListener('mousedown', (e) => e.preventDefault())
        button.addEventListener('click', () => actions.comment(view))
        return { dom: button }
      }
    }
  }
  return StateField.define<Tooltip | null>({
    create: tooltipOf,
    update: (tip, tr) => (tr.docChanged || tr.selection || tr.effects.some((e) => e.is(setPending))) ? tooltipOf(tr.state) : tip,
    provide: (f) => showTooltip.from(f)
  })
}

/** Highlights these threads' ranges (replacing those shown). */
export function showMarks (view: EditorView, marks: Mark[]): void {
  const length = view.state.doc.length
  const inDoc = marks
    .map((m) => ({ id: m.id, from: Math.min(m.from, length), to: Math.min(m.to, length) }))
    .filter((m) => m.to > m.from)
  view.dispatch({ effects: setMarks.of(inDoc) })
}

/** Highlights one thread more strongly, and scrolls its range into view. */
export function activate (view: EditorView, threadId: string | null): void {
  const mark = view.state.field(marksField).marks.find((m) => m.id === threadId)
  view.dispatch({ effects: mark ? [setActive.of(threadId), EditorView.scrollIntoView(mark.from, { y: 'center' })] : [setActive.of(threadId)] })
}

/** Marks (or with null, unmarks) the range a comment is being written on. */
export function showPending (view: EditorView, range: { from: number, to: number } | null): void {
  view.dispatch({ effects: setPending.of(range) })
}

/** Where a thread's highlight is now (it moves with the text), if it has one. */
export function markOf (view: EditorView, threadId: string): Mark | undefined {
  return view.state.field(marksField).marks.find((m) => m.id === threadId)
}
