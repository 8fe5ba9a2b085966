// Showing the server's rendered HTML (the live preview, a version's): sanitised by the
// server (ammonia), under a CSP that allows no inline script. Task list checkboxes are
// shown, not toggled; math the server marked as TeX is typeset with KaTeX, loaded the
// first time a page shows any.

/** What one rendering typesets at most: expressions, TeX characters, HTML characters
 * out and milliseconds; past any of them the rest stay TeX text. KaTeX is quick for what
 * people write (well under a millisecond a formula) and unbounded for what an attacker
 * can (a 10 KB formula may nest thousands deep or draw megabytes). */
const MAX_EXPRESSIONS = 2000
const MAX_TEX = 10_000
const BUDGET = { tex: 200_000, html: 4_000_000, ms: 400 }

type Typeset = (tex: string, display: boolean) => string
let typesetter: Promise<Typeset> | undefined

/**
 * Puts `html` into `el`, runs `prepare` on it at once (before the browser fetches
 * anything the HTML names, such as images it must not load itself), then typesets its
 * math (once KaTeX is loaded, if it was not).
 */
export async function showRendered (el: HTMLElement, html: string, prepare?: (el: HTMLElement) => void): Promise<void> {
  el.innerHTML = html
  el.querySelectorAll('input[type=checkbox]').forEach((c) => c.setAttribute('disabled', ''))
  prepare?.(el)
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
  const started = performance.now()
  let [texChars, htmlChars] = [0, 0]
  for (const math of marked.slice(0, MAX_EXPRESSIONS)) {
    const source = math.textContent ?? ''
    if (!math.isConnected || source.length > MAX_TEX) continue
    texChars += source.length
    if (texChars > BUDGET.tex || htmlChars > BUDGET.html || performance.now() - started > BUDGET.ms) break
    const display = math.dataset.mathStyle === 'display'
    let out: string
    try {
      out = typeset(source, display)
    } catch {
      // KaTeX reports TeX errors itself (throwOnError off); this is what it could not
      // survive (a nesting past the call stack): that formula stays TeX.
      continue
    }
    htmlChars += out.length
    // A ```math block is <pre><code>: the typeset block takes the <pre>'s place.
    const block = math.tagName === 'CODE' && math.parentElement?.tagName === 'PRE' ? math.parentElement : null
    const box = document.createElement(display ? 'div' : 'span')
    box.className = display ? 'math math-display' : 'math'
    // KaTeX's own HTML for untrusted TeX (`trust: false`: no links, no raw HTML, no
    // styles of the author's).
    box.innerHTML = out
    ;(block ?? math).replaceWith(box)
  }
}
