// A diff from the server's hunks as elements: each line with its numbers in the older and
// newer text, deleted lines red with the changed words struck, inserted lines green with
// the changed words marked; a line with no counterpart (deleted or inserted, not
// replaced) is changed as a whole. Text only, never HTML.
import type { Diff, DiffLine } from '@tandem/client'
import { h } from './dom'

const SIGN: Record<string, string> = { delete: '−', insert: '+', equal: '' }

/** The hunks as a list of lines, with a separator naming where each hunk starts. */
export function diffView (diff: Diff): HTMLElement {
  const rows: HTMLElement[] = []
  for (const hunk of diff.hunks) {
    rows.push(h('div', { class: 'diff-hunk' }, hunkTitle(hunk.old_start, hunk.old_lines, hunk.new_start, hunk.new_lines)))
    let oldNo = hunk.old_start
    let newNo = hunk.new_start
    const ops = hunk.lines.map((l) => l.op === 'delete' || l.op === 'insert' ? l.op : 'equal')
    for (const [i, line] of hunk.lines.entries()) {
      const op = ops[i]
      const oldCell = op === 'insert' ? '' : String(oldNo++)
      const newCell = op === 'delete' ? '' : String(newNo++)
      rows.push(h('div', { class: `diff-line ${op}`, 'data-op': op },
        h('span', { class: 'diff-no', 'aria-hidden': 'true' }, oldCell),
        h('span', { class: 'diff-no', 'aria-hidden': 'true' }, newCell),
        h('span', { class: 'diff-sign', 'aria-hidden': 'true' }, SIGN[op]),
        h('span', { class: 'diff-text' }, ...lineNodes(line, op, replaced(ops, i)))))
    }
  }
  return h('div', { class: 'diff', 'data-testid': 'diff' }, ...rows)
}

/** "Lines 3–7" of the newer text (of the older one where the newer has none). */
function hunkTitle (oldStart: number, oldLines: number, newStart: number, newLines: number): string {
  const [start, count] = newLines > 0 ? [newStart, newLines] : [oldStart, oldLines]
  return count > 1 ? `Lines ${start}–${start + count - 1}` : `Line ${start}`
}

type Op = 'equal' | 'delete' | 'insert'

/**
 * Whether the changed line at `i` is part of a replacement: deleted lines followed at once
 * by inserted ones, whose words the server compared (a line with nothing of its own
 * changed, such as one only added to, then has no word marked). Other changed lines
 * come as one unchanged piece although all of them changed.
 */
function replaced (ops: Op[], i: number): boolean {
  const op = ops[i]
  if (op === 'equal') return false
  const step = op === 'delete' ? 1 : -1
  let j = i
  while (ops[j] === op) j += step
  return ops[j] === (op === 'delete' ? 'insert' : 'delete')
}

function lineNodes (line: DiffLine, op: Op, paired: boolean): Node[] {
  if (op === 'equal') return [document.createTextNode(line.text || '\u00a0')]
  const tag = op === 'delete' ? 'del' : 'ins'
  if (!paired) return [line.text ? h(tag, { class: 'whole' }, line.text) : document.createTextNode('\u00a0')]
  if (!line.words.length) return [document.createTextNode('\u00a0')]
  return line.words.map((w) => w.changed ? h(tag, {}, w.text) : document.createTextNode(w.text))
}
