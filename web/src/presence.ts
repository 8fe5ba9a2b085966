// Presence in the editor: the caret labels and the "who is here" list, with each name as
// the server authenticated it (its stamp in the awareness state), never as a client claims.
import type { WebsocketDocument } from '@tandem/client'
import { session } from './api'
import { h } from './dom'
import { initials } from './header'

type Awareness = WebsocketDocument['provider']['awareness']
const COLORS = ['#e5484d', '#f76b15', '#d6a000', '#30a46c', '#12a594', '#0090ff', '#6e56cf', '#d6409f']

/** A person's colour (carets, avatars), the same on every screen. */
export function colorOf (id: string): string {
  let n = 0
  for (const c of id) n = (n * 31 + c.charCodeAt(0)) >>> 0
  return COLORS[n % COLORS.length]
}

/** A small avatar in the person's colour (in the comment panel). */
export function avatar (person: { id: string, name: string }): HTMLElement {
  const el = h('span', { class: 'avatar small', 'aria-hidden': 'true' }, initials(person.name))
  el.style.backgroundColor = colorOf(person.id)
  return el
}

/** The caret and names of everyone here, as the server authenticated them. */
export function showPresence (open: WebsocketDocument, list: HTMLElement): void {
  const { doc, provider: { awareness } } = open
  const me = session.user
  const myColor = colorOf(me?.id ?? String(doc.clientID))
  awareness.setLocalStateField('user', { name: me?.name ?? 'Guest', color: myColor, colorLight: myColor + '33' })
  // Names come from the server's stamp (the identity it authenticated), never from what
  // a client claims; runs before the caret plugin reads the states.
  awareness.on('change', () => {
    awareness.getStates().forEach((state, client) => {
      if (client === doc.clientID) return
      const stamp = state.tandem as { name?: string, guest?: boolean } | undefined
      const color = typeof state.user?.color === 'string' && /^#[0-9a-f]{6}$/i.test(state.user.color) ? state.user.color : '#888888'
      state.user = { name: stamp?.name ?? 'Guest', color, colorLight: color + '33' }
    })
    renderPresence(awareness, doc.clientID, myColor, list)
  })
  renderPresence(awareness, doc.clientID, myColor, list)
}

function renderPresence (awareness: Awareness, self: number, myColor: string, list: HTMLElement): void {
  list.replaceChildren()
  const seen = new Set<string>()
  const entries: { name: string, color: string, self: boolean }[] = []
  awareness.getStates().forEach((state, client) => {
    const isSelf = client === self
    const stamp = state.tandem as { user?: string, name?: string } | undefined
    const key = isSelf ? 'self' : stamp?.user ?? `guest-${client}`
    if (seen.has(key) || (!isSelf && !state.user)) return
    seen.add(key)
    const name = isSelf ? (session.user?.name ?? 'Guest') : state.user.name
    entries.push({ name, color: isSelf ? myColor : state.user.color, self: isSelf })
  })
  entries.sort((a, b) => Number(b.self) - Number(a.self))
  for (const e of entries) {
    const avatar = h('span', { class: 'avatar' }, initials(e.name))
    avatar.style.backgroundColor = e.color
    list.appendChild(h('li', { class: 'presence-entry', title: e.self ? `${e.name} (you)` : e.name }, avatar, h('span', { class: 'presence-name' }, e.self ? `${e.name} (you)` : e.name)))
  }
}
