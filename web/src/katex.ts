// KaTeX and its stylesheet: a chunk of its own, loaded by rendered.ts the first time a
// page shows math. Expressions typeset before are remembered (by TeX and style), so a
// preview rendered again as someone types does not typeset every formula again.
import katex from 'katex'
import 'katex/dist/katex.min.css'

/** Expressions remembered, and their typeset HTML's total size. */
const MAX_CACHED = 1000
const MAX_CACHED_CHARS = 4_000_000
const cache = new Map<string, string>()
let cachedChars = 0

export function typeset (tex: string, display: boolean): string {
  const key = `${display ? 'D' : 'I'}${tex}`
  const hit = cache.get(key)
  if (hit !== undefined) {
    cache.delete(key)
    cache.set(key, hit)
    return hit
  }
  const html = katex.renderToString(tex, {
    displayMode: display,
    throwOnError: false,
    trust: false,
    strict: 'ignore',
    maxSize: 20,
    maxExpand: 300,
    output: 'htmlAndMathml'
  })
  cache.set(key, html)
  cachedChars += key.length + html.length
  for (const [k, v] of cache) {
    if (cache.size <= MAX_CACHED && cachedChars <= MAX_CACHED_CHARS) break
    cache.delete(k)
    cachedChars -= k.length + v.length
  }
  return html
}
