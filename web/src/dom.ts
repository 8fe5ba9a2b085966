// A few DOM helpers: elements built from tags, attributes and children, never from HTML
// strings (the only HTML the app inserts is the server's sanitised preview).

type Child = Node | string | null | undefined | false
type Attrs = Record<string, string | boolean | number | undefined | EventListener>

export function h<K extends keyof HTMLElementTagNameMap> (tag: K, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag)
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) continue
    if (typeof value === 'function') el.addEventListener(key.replace(/^on/, ''), value)
    else if (value === true) el.setAttribute(key, '')
    else el.setAttribute(key, String(value))
  }
  append(el, children)
  return el
}

export function append (el: Node, children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue
    el.appendChild(typeof c === 'string' ? document.createTextNode(c) : c)
  }
}

export function clear (el: Node): void {
  while (el.firstChild) el.removeChild(el.firstChild)
}

/** An inline icon from a fixed set of paths (no HTML strings). */
export function icon (name: keyof typeof ICONS): SVGSVGElement {
  const ns = 'http://www.w3.org/2000/svg'
  const svg = document.createElementNS(ns, 'svg')
  svg.setAttribute('viewBox', '0 0 24 24')
  svg.setAttribute('aria-hidden', 'true')
  svg.setAttribute('class', 'icon')
  const path = document.createElementNS(ns, 'path')
  path.setAttribute('d', ICONS[name])
  svg.appendChild(path)
  return svg
}

const ICONS = {
  plus: 'M12 5v14M5 12h14',
  bell: 'M6 8a6 6 0 1 1 12 0c0 7 3 9 3 9H3s3-2 3-9M10.3 21a1.94 1.94 0 0 0 3.4 0',
  search: 'M11 4a7 7 0 1 0 0 14 7 7 0 0 0 0-14zM21 21l-4.3-4.3',
  trash: 'M4 7h16M9 7V4h6v3M6 7l1 13h10l1-13',
  share: 'M16 6l-4-4-4 4M12 2v13M5 12v8h14v-8',
  download: 'M12 3v12M7 10l5 5 5-5M5 21h14',
  moon: 'M20 14.5A8 8 0 0 1 9.5 4 8 8 0 1 0 20 14.5z',
  back: 'M15 18l-6-6 6-6',
  restore: 'M3 12a9 9 0 1 0 3-6.7L3 8M3 3v5h5',
  copy: 'M9 9h11v11H9zM5 15H4V4h11v1',
  comment: 'M21 11.5a8.4 8.4 0 0 1-12.2 7.5L3 21l2-5.6A8.5 8.5 0 1 1 21 11.5z',
  check: 'M5 12.5l4.5 4.5L19 7',
  edit: 'M4 20h4L19 9l-4-4L4 16v4zM13.5 6.5l4 4',
  close: 'M6 6l12 12M18 6L6 18',
  history: 'M3 12a9 9 0 1 0 3-6.7L3 8M3 3v5h5M12 7v5l3 2',
  bookmark: 'M6 3h12v18l-6-4-6 4z',
  template: 'M4 4h16v5H4zM4 13h7v7H4zM15 13h5v7h-5z',
  more: 'M4.5 12a1.5 1.5 0 1 0 3 0a1.5 1.5 0 1 0-3 0M10.5 12a1.5 1.5 0 1 0 3 0a1.5 1.5 0 1 0-3 0M16.5 12a1.5 1.5 0 1 0 3 0a1.5 1.5 0 1 0-3 0'
}

/** Decodes the five entities the server's escaper writes. */
export function decodeEntities (s: string): string {
  return s.replace(/&(amp|lt|gt|quot|#39|#x27);/g, (_m, e: string) =>
    ({ amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'", '#x27': "'" } as Record<string, string>)[e])
}

/** A search snippet (escaped text with `<mark>` around matches) as nodes: only `mark` survives. */
export function snippetNodes (html: string): Node[] {
  const parts = html.split(/<(\/?)mark>/)
  const out: Node[] = []
  let marked = false
  for (let i = 0; i < parts.length; i++) {
    if (i % 2 === 1) { marked = parts[i] === ''; continue }
    const text = decodeEntities(parts[i])
    if (!text) continue
    out.push(marked ? h('mark', {}, text) : document.createTextNode(text))
  }
  return out
}

/** A size in bytes as people read it: 812 B, 4.3 kB, 1.2 MB. */
export function byteSize (n: number): string {
  if (n < 1000) return `${n} B`
  if (n < 1_000_000) return `${(n / 1000).toFixed(n < 10_000 ? 1 : 0)} kB`
  return `${(n / 1_000_000).toFixed(1)} MB`
}

/** A time element that says how long ago `ms` was (kept current by `tickTimes`), the date on hover. */
export function timeAgo (ms: number): HTMLTimeElement {
  return h('time', { datetime: new Date(ms).toISOString(), title: new Date(ms).toLocaleString(), 'data-ms': ms }, relativeTime(ms))
}

/** Brings every `timeAgo` under `root` up to date. */
export function tickTimes (root: ParentNode): void {
  root.querySelectorAll<HTMLTimeElement>('time[data-ms]').forEach((t) => { t.textContent = relativeTime(Number(t.dataset.ms)) })
}

export function relativeTime (ms: number): string {
  const s = Math.round((Date.now() - ms) / 1000)
  if (s < 45) return 'just now'
  if (s < 3600) return `${Math.round(s / 60)} min ago`
  if (s < 86400) return `${Math.round(s / 3600)} h ago`
  if (s < 86400 * 7) return `${Math.round(s / 86400)} d ago`
  return new Date(ms).toLocaleDateString()
}
