// Showing the server's rendered HTML (the live preview, a version's): sanitised by the
// server (ammonia), under a CSP that allows no inline script. Task list checkboxes are
// shown, not toggled; math the server marked as TeX is typeset with KaTeX, loaded the
// first time a page shows any.

/** Most expressions typeset in one rendering; past it the rest stay TeX text. */
const MAX_EXPRESSIONS = 2000
/** Longer TeX than this stays text. */
const MAX_TEX = 10_000

type Typeset = (tex: string, display: boolean) => string
let typesetter: Promise<Typeset> | undefined

/** Puts `html` into `el` and typesets its math (once KaTeX is loaded, if it was not). */
export async function showRendered (el: HTMLElement, html: string): Promise<void> {
  el.innerHTML = html
  el.querySelectorAll('input[type=checkbox]').forEach((c) => c.setAttribute('disabled', ''))
  const marked = [...el.querySelectorAll<HTMLElement>('span[data-math-style], code[data-math-style]')]
  if (marked.length === 0) return
  let typeset: Typeset
  try {
    typeset = await (typesetter ??= import('./katex').then((m) => m.typeset))
  } catch (e) {
    // A tab left open across an upgrade asks for a chunk the server no longer has: the
    // math stays TeX, and the next rendering tries again.
    typesetter = undefined
    console.warn('math not typeset:', e)
    return
  }
  for (const math of marked.slice(0, MAX_EXPRESSIONS)) {
    const tex = math.textContent ?? ''
    if (tex.length > MAX_TEX || !math.isConnected) continue
    const display = math.dataset.mathStyle === 'display'
    // A ```math block is <pre><code>: the typeset block takes the <pre>'s place.
    const block = math.tagName === 'CODE' && math.parentElement?.tagName === 'PRE' ? math.parentElement : null
    const box = document.createElement(display ? 'div' : 'span')
    box.className = display ? 'math math-display' : 'math'
    // KaTeX's own HTML for untrusted TeX (`trust: false`: no links, no raw HTML, no
    // styles of the author's).
    box.innerHTML = typeset(tex, display)
    ;(block ?? math).replaceWith(box)
  }
}
