// @-mentions in a comment box: typing `@` and the start of a name lists who can read the
// document (the server's `mentionable`); picking one writes `@Name ` into the text and
// remembers the person, whose id goes with the comment while `@Name` is still in it.
import type { Author } from '@tandem/client'
import { h } from './dom'
import { avatar } from './presence'

/** How long typing pauses before the names are looked up. */
const LOOKUP_DELAY_MS = 120
/** `@` at the start or after a space, then what is typed of a name, up to the caret. */
const TRIGGER = /(?:^|\s)@([^\s@]{0,40})$/

export interface MentionBox {
  /** The textarea, inside its wrapper (`field`) which also holds the list. */
  textarea: HTMLTextAreaElement
  field: HTMLElement
  /** The ids of those picked whose `@Name` is still in the text. */
  mentions (): string[]
  /** Empties the box and forgets who was picked. */
  reset (): void
}

let seq = 0

/** A textarea with @-mention autocomplete from `lookup`. */
export function mentionBox (lookup: (prefix: string) => Promise<Author[]>, attrs: Record<string, string | number>): MentionBox {
  const listId = `mentions-${++seq}`
  const textarea = h('textarea', { rows: 3, ...attrs, 'aria-autocomplete': 'list', 'aria-controls': listId, 'aria-expanded': 'false' })
  const list = h('ul', { class: 'mention-list', id: listId, role: 'listbox', 'aria-label': 'People', hidden: true })
  const field = h('div', { class: 'mention-field' }, textarea, list)
  const picked = new Map<string, Author>()
  let options: Author[] = []
  let selected = 0
  let timer: ReturnType<typeof setTimeout> | undefined
  let asked = 0

  const close = (): void => {
    list.hidden = true
    textarea.setAttribute('aria-expanded', 'false')
    textarea.removeAttribute('aria-activedescendant')
    options = []
  }
  const query = (): string | null => {
    const before = textarea.value.slice(0, textarea.selectionStart)
    return textarea.selectionStart === textarea.selectionEnd ? TRIGGER.exec(before)?.[1] ?? null : null
  }
  const render = (): void => {
    list.replaceChildren(...options.map((a, i) => {
      const item = h('li', { role: 'option', id: `${listId}-${i}`, 'aria-selected': String(i === selected), 'data-testid': 'mention-option' },
        avatar(a), a.name)
      // Pressed, not clicked: the textarea keeps its focus and caret.
      item.addEventListener('mousedown', (e) => { e.preventDefault(); pick(a) })
      return item
    }))
    list.hidden = options.length === 0
    textarea.setAttribute('aria-expanded', String(!list.hidden))
    if (!list.hidden) textarea.setAttribute('aria-activedescendant', `${listId}-${selected}`)
  }
  const pick = (a: Author): void => {
    const caret = textarea.selectionStart
    const before = textarea.value.slice(0, caret)
    const at = before.lastIndexOf('@')
    const insert = `@${a.name} `
    textarea.setRangeText(insert, at, caret, 'end')
    picked.set(a.id, a)
    close()
    textarea.dispatchEvent(new Event('input', { bubbles: true }))
  }
  const update = (): void => {
    clearTimeout(timer)
    const q = query()
    if (q === null) { close(); return }
    timer = setTimeout(() => {
      const mine = ++asked
      lookup(q).then((people) => {
        if (mine !== asked || query() !== q) return
        options = people
        selected = 0
        render()
      }, () => close())
    }, LOOKUP_DELAY_MS)
  }

  textarea.addEventListener('input', (e) => { if (e.isTrusted) update() })
  textarea.addEventListener('click', update)
  textarea.addEventListener('blur', () => { clearTimeout(timer); close() })
  textarea.addEventListener('keydown', (e) => {
    if (list.hidden || options.length === 0) return
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      e.preventDefault()
      selected = (selected + (e.key === 'ArrowDown' ? 1 : options.length - 1)) % options.length
      render()
    } else if (e.key === 'Enter' || e.key === 'Tab') {
      e.preventDefault()
      e.stopPropagation()
      pick(options[selected])
    } else if (e.key === 'Escape') {
      e.preventDefault()
      e.stopPropagation()
      close()
    }
  })
  return {
    textarea,
    field,
    mentions: () => [...picked.values()].filter((a) => textarea.value.includes(`@${a.name}`)).map((a) => a.id),
    reset: () => { textarea.value = ''; picked.clear(); close() }
  }
}

/** A comment's text as nodes, with `@Name` of the people in `names` set apart. */
export function withMentions (body: string, names: Iterable<string>): Node[] {
  const known = [...new Set(names)].filter(Boolean).sort((a, b) => b.length - a.length)
  if (known.length === 0) return [document.createTextNode(body)]
  const escaped = known.map((n) => n.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
  const parts = body.split(new RegExp(`(@(?:${escaped.join('|')}))(?![\\p{L}\\p{N}])`, 'u'))
  const nodes: Node[] = []
  parts.forEach((p, i) => {
    if (i % 2 === 1) nodes.push(h('span', { class: 'mention' }, p))
    else if (p) nodes.push(document.createTextNode(p))
  })
  return nodes
}
