// The editor at `/d/{id}` (and `/d/{id}?link=TOKEN`): CodeMirror 6 bound to the `content`
// Y.Text by y-codemirror.next over an unmodified y-websocket provider; the server's
// renderer for the preview; presence; save state from the server's durability barrier;
// read-only for viewers, commenters and view links, switched live when the role changes.
import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'
import { yCollab, yUndoManagerKeymap } from 'y-codemirror.next'
import { Compartment, EditorState } from '@codemirror/state'
import { EditorView, drawSelection, highlightActiveLine, highlightActiveLineGutter, keymap, lineNumbers, placeholder } from '@codemirror/view'
import { defaultKeymap, indentWithTab } from '@codemirror/commands'
import { markdownKeymap, markdownLanguage } from '@codemirror/lang-markdown'
import { HighlightStyle, LanguageSupport, syntaxHighlighting } from '@codemirror/language'
import { searchKeymap, highlightSelectionMatches } from '@codemirror/search'
import { tags } from '@lezer/highlight'
import { ApiError, Doc, explain, refresh, request, Role, session } from './api'
import { h, icon } from './dom'
import { header, initials } from './header'
import { Durability, SaveState } from './durability'
import { shareDialog } from './share'
import { navigate } from './router'
import { EditorPrefs, saveSettings, settings } from './settings'

type Mode = 'split' | 'editor' | 'preview'
const WRITERS: Role[] = ['owner', 'admin', 'editor']
/** How often the role is looked up again while a document is open. */
const ROLE_CHECK_MS = 3000
const PREVIEW_DELAY_MS = 250
const PHONE_WIDTH = 720
const COLORS = ['#e5484d', '#f76b15', '#d6a000', '#30a46c', '#12a594', '#0090ff', '#6e56cf', '#d6409f']

const highlight = HighlightStyle.define([
  { tag: tags.heading, class: 'tok-heading' },
  { tag: tags.emphasis, class: 'tok-em' },
  { tag: tags.strong, class: 'tok-strong' },
  { tag: tags.link, class: 'tok-link' },
  { tag: tags.url, class: 'tok-url' },
  { tag: tags.monospace, class: 'tok-code' },
  { tag: tags.quote, class: 'tok-quote' },
  { tag: [tags.processingInstruction, tags.meta, tags.contentSeparator], class: 'tok-meta' },
  { tag: tags.strikethrough, class: 'tok-strike' }
])

function colorOf (id: string): string {
  let n = 0
  for (const c of id) n = (n * 31 + c.charCodeAt(0)) >>> 0
  return COLORS[n % COLORS.length]
}

function nonce (): string {
  return document.querySelector('meta[name=csp-nonce]')?.getAttribute('content') ?? ''
}

export function editorPage (root: HTMLElement, id: string, link?: string): () => void {
  let destroyed = false
  let role: Role | null = null
  let mode: Mode = innerWidth < PHONE_WIDTH ? 'preview' : ((localStorage.getItem('tandem-mode') as Mode | null) ?? 'split')
  const opts = { link }

  // --- the page -------------------------------------------------------------------
  const alert = h('p', { role: 'alert', class: 'alert banner', hidden: true })
  const title = h('input', { class: 'title-input', name: 'title', 'aria-label': 'Title', placeholder: 'Untitled', maxlength: 256, disabled: true })
  const tagsInput = h('input', { class: 'tags-input', name: 'tags', 'aria-label': 'Tags', placeholder: 'Add tags, comma separated', disabled: true })
  const saveState = h('span', { class: 'save-state', 'data-testid': 'save-state', 'data-state': 'offline', role: 'status' }, 'Connecting…')
  const presence = h('ul', { class: 'presence', 'data-testid': 'presence', 'aria-label': 'Who is here' })
  const roleBadge = h('span', { class: 'badge', hidden: true })
  const modeButton = (m: Mode, label: string, key: string) =>
    h('button', { type: 'button', 'data-testid': `mode-${m}`, title: `${label} (Ctrl+Alt+${key})`, 'aria-pressed': 'false', onclick: () => setMode(m) }, label)
  const modes = h('div', { class: 'segmented', role: 'group', 'aria-label': 'View' },
    modeButton('editor', 'Editor', 'E'), modeButton('split', 'Split', 'B'), modeButton('preview', 'Preview', 'V'))
  const shareButton = h('button', { type: 'button', class: 'button ghost small', 'data-testid': 'share', hidden: true, onclick: () => shareDialog(id, root) }, icon('share'), 'Share')
  const exportMenu = h('details', { class: 'menu' },
    h('summary', { class: 'button ghost small' }, icon('download'), 'Export'),
    h('div', { class: 'menu-items' },
      h('button', { type: 'button', onclick: () => exportAs('md') }, 'Markdown (.md)'),
      h('button', { type: 'button', onclick: () => exportAs('html') }, 'HTML page (.html)')))
  const fontSize = h('select', { class: 'select', name: 'font_size', 'aria-label': 'Font size' }, ...[13, 14, 15, 16, 18, 20].map((n) => h('option', { value: n }, `${n} px`)))
  const lineNumbersBox = h('input', { type: 'checkbox', name: 'line_numbers' })
  const wrapBox = h('input', { type: 'checkbox', name: 'line_wrapping' })
  const prefsMenu = h('details', { class: 'menu', hidden: !session.user },
    h('summary', { class: 'button ghost small' }, 'Aa'),
    h('form', { class: 'menu-items prefs' },
      h('label', {}, 'Font size', fontSize),
      h('label', {}, lineNumbersBox, 'Line numbers'),
      h('label', {}, wrapBox, 'Wrap long lines')))
  const editorHost = h('div', { class: 'editor', 'data-synced': 'false' })
  const preview = h('article', { class: 'preview markdown-body', 'data-testid': 'preview', 'aria-label': 'Preview' })
  const panes = h('div', { class: 'panes' }, editorHost, h('div', { class: 'preview-pane' }, preview))
  root.append(
    header(h('div', { class: 'doc-head' }, title, roleBadge), presence, saveState),
    h('div', { class: 'toolbar' }, tagsInput, h('div', { class: 'toolbar-right' }, modes, prefsMenu, exportMenu, shareButton)),
    alert,
    h('main', { class: 'editor-page' }, panes))

  const showError = (msg: string) => { alert.textContent = msg; alert.hidden = false }
  const notice = sessionStorage.getItem('tandem-notice')
  if (notice) { sessionStorage.removeItem('tandem-notice'); showError(notice) }

  // --- the shared document ------------------------------------------------------------
  const doc = new Y.Doc()
  const ytext = doc.getText('content')
  const wsUrl = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`
  const params: Record<string, string> = link ? { link } : { token: session.token ?? '' }
  const provider = new WebsocketProvider(wsUrl, id, doc, {
    params,
    disableBc: true,
    connect: false,
    // 4401: the token expired (it is refreshed before the next attempt); 4403: access is gone.
    shouldReconnect: (e) => e.code !== 4403 && e.code !== 4404
  })
  const awareness = provider.awareness
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
    renderPresence()
  })
  provider.on('connection-close', (event) => {
    if (!link && session.token) provider.params.token = session.token
    if (event?.code === 4401 && !link) void refresh().then(() => { if (session.token) provider.params.token = session.token })
  })
  provider.on('closed', ({ code }) => {
    if (code === 4403 || code === 4404) {
      setReadOnly(true)
      showError('You no longer have access to this document.')
    }
  })
  provider.on('sync', (synced: boolean) => {
    editorHost.dataset.synced = String(synced)
    if (synced) { schedulePreview(); startWriting() }
  })
  let autoMode = innerWidth < PHONE_WIDTH
  /** On a phone an empty document a writer opens has nothing to preview: show the editor. */
  function startWriting (): void {
    if (!autoMode || !provider.synced || role === null || !WRITERS.includes(role)) return
    autoMode = false
    if (ytext.length === 0) setMode('editor')
  }

  const durability = new Durability(doc, provider)
  durability.onChange = (s) => renderSaveState(s)
  durability.onDenied = () => {
    // The server refused an edit: this connection is read-only now. What was typed since
    // is only on this device: open the document afresh from the server's copy.
    setReadOnly(true)
    if (durability.pending) {
      sessionStorage.setItem('tandem-notice', 'Your access changed to read-only: the last edits you made were not saved.')
      navigate(location.pathname + location.search, true)
      return
    }
    void checkRole()
  }

  // --- CodeMirror -----------------------------------------------------------------------
  const editable = new Compartment()
  const prefs = new Compartment()
  const prefsExtension = (p: EditorPrefs) => [
    p.line_numbers ? [lineNumbers(), highlightActiveLineGutter()] : [],
    p.line_wrapping ? EditorView.lineWrapping : [],
    EditorView.theme({ '&': { fontSize: `${p.font_size}px` } })
  ]
  const undoManager = new Y.UndoManager(ytext)
  const view = new EditorView({
    parent: editorHost,
    state: EditorState.create({
      doc: ytext.toString(),
      extensions: [
        EditorView.cspNonce.of(nonce()),
        prefs.of(prefsExtension({ font_size: 14, line_wrapping: true, line_numbers: false })),
        highlightActiveLine(), drawSelection(), highlightSelectionMatches(),
        // The Markdown language without lang-markdown's embedded HTML/CSS/JS support,
        // which would triple the editor's download.
        new LanguageSupport(markdownLanguage),
        syntaxHighlighting(highlight),
        placeholder('Start writing Markdown…'),
        keymap.of([...markdownKeymap, ...yUndoManagerKeymap, ...defaultKeymap, ...searchKeymap, indentWithTab]),
        yCollab(ytext, awareness, { undoManager }),
        editable.of([EditorState.readOnly.of(true), EditorView.editable.of(false)]),
        EditorView.contentAttributes.of({ 'aria-label': 'Document text' })
      ]
    })
  })

  function applyPrefs (p: EditorPrefs): void {
    fontSize.value = String(p.font_size)
    lineNumbersBox.checked = p.line_numbers
    wrapBox.checked = p.line_wrapping
    view.dispatch({ effects: prefs.reconfigure(prefsExtension(p)) })
  }
  void settings().then((s) => { if (!destroyed) applyPrefs(s.editor) })
  prefsMenu.addEventListener('change', () => {
    const p = { font_size: Number(fontSize.value), line_numbers: lineNumbersBox.checked, line_wrapping: wrapBox.checked }
    applyPrefs(p)
    void saveSettings({ editor: p }).catch((e) => showError(explain(e)))
  })

  function setReadOnly (readOnly: boolean): void {
    view.dispatch({ effects: editable.reconfigure(readOnly ? [EditorState.readOnly.of(true), EditorView.editable.of(false)] : []) })
    editorHost.dataset.readonly = String(readOnly)
    title.disabled = readOnly || !!link
    tagsInput.disabled = readOnly || !!link
  }

  function renderSaveState (s: SaveState): void {
    const text: Record<SaveState, string> = {
      saved: 'All changes saved',
      saving: 'Saving…',
      offline: durability.pending ? 'Offline: edits kept on this device' : 'Offline: reconnecting…',
      error: 'Edits refused: read-only'
    }
    saveState.dataset.state = s
    saveState.textContent = text[s]
  }

  function renderPresence (): void {
    presence.replaceChildren()
    const seen = new Set<string>()
    const entries: { name: string, color: string, self: boolean }[] = []
    awareness.getStates().forEach((state, client) => {
      const self = client === doc.clientID
      const stamp = state.tandem as { user?: string, name?: string } | undefined
      const key = self ? 'self' : stamp?.user ?? `guest-${client}`
      if (seen.has(key) || (!self && !state.user)) return
      seen.add(key)
      const name = self ? (me?.name ?? 'Guest') : state.user.name
      entries.push({ name, color: self ? myColor : state.user.color, self })
    })
    entries.sort((a, b) => Number(b.self) - Number(a.self))
    for (const e of entries) {
      const avatar = h('span', { class: 'avatar' }, initials(e.name))
      avatar.style.backgroundColor = e.color
      presence.appendChild(h('li', { class: 'presence-entry', title: e.self ? `${e.name} (you)` : e.name }, avatar, h('span', { class: 'presence-name' }, e.self ? `${e.name} (you)` : e.name)))
    }
  }

  // --- preview (off the typing path: debounced, only when visible) -------------------------
  let previewTimer: ReturnType<typeof setTimeout> | undefined
  let previewAbort: AbortController | undefined
  let previewDirty = true
  ytext.observe(() => { previewDirty = true; schedulePreview() })
  function schedulePreview (): void {
    if (mode === 'editor' || !previewDirty) return
    clearTimeout(previewTimer)
    previewTimer = setTimeout(() => { void renderPreview() }, PREVIEW_DELAY_MS)
  }
  async function renderPreview (): Promise<void> {
    previewDirty = false
    previewAbort?.abort()
    const abort = previewAbort = new AbortController()
    try {
      const html = link
        ? await request<string>('GET', `/api/v1/documents/${encodeURIComponent(id)}/render`, undefined, { ...opts, signal: abort.signal })
        : await request<string>('POST', '/api/v1/render', ytext.toString(), { signal: abort.signal })
      if (abort.signal.aborted || destroyed) return
      // Sanitised by the server (ammonia), and the CSP allows no inline script.
      preview.innerHTML = html
      preview.querySelectorAll('input[type=checkbox]').forEach((c) => c.setAttribute('disabled', ''))
    } catch (e) {
      if ((e as Error).name !== 'AbortError' && !destroyed) preview.replaceChildren(h('p', { class: 'muted' }, `Preview unavailable: ${explain(e)}`))
    }
  }

  function setMode (m: Mode): void {
    mode = m
    if (innerWidth >= PHONE_WIDTH) localStorage.setItem('tandem-mode', m)
    panes.dataset.mode = m
    modes.querySelectorAll('button').forEach((b) => b.setAttribute('aria-pressed', String(b.dataset.testid === `mode-${m}`)))
    if (m !== 'preview') view.requestMeasure()
    schedulePreview()
  }
  const onKey = (e: KeyboardEvent) => {
    if (!e.ctrlKey || !e.altKey) return
    const m = ({ e: 'editor', b: 'split', v: 'preview' } as Record<string, Mode>)[e.key.toLowerCase()]
    if (m) { e.preventDefault(); setMode(m) }
  }
  document.addEventListener('keydown', onKey)
  setMode(mode)

  // --- title, tags, export ------------------------------------------------------------------
  async function patch (body: Partial<Doc>): Promise<void> {
    try { await request('PATCH', `/api/v1/documents/${encodeURIComponent(id)}`, body) } catch (e) { showError(explain(e)) }
  }
  title.addEventListener('change', () => { void patch({ title: title.value.trim() || 'Untitled' }); document.title = `${title.value || 'Untitled'} · Tandem` })
  title.addEventListener('keydown', (e) => { if (e.key === 'Enter') { e.preventDefault(); view.focus() } })
  tagsInput.addEventListener('change', () => {
    const tags = tagsInput.value.split(',').map((t) => t.trim()).filter(Boolean)
    void patch({ tags })
  })

  async function exportAs (format: 'md' | 'html'): Promise<void> {
    exportMenu.open = false
    try {
      const resp = await request<Response>('GET', `/api/v1/documents/${encodeURIComponent(id)}/export?format=${format}`, undefined, { ...opts, raw: true })
      const url = URL.createObjectURL(await resp.blob())
      const name = /filename="([^"]+)"/.exec(resp.headers.get('content-disposition') ?? '')?.[1] ?? `document.${format}`
      const a = h('a', { href: url, download: name })
      document.body.appendChild(a)
      a.click()
      a.remove()
      setTimeout(() => URL.revokeObjectURL(url), 10_000)
    } catch (e) { showError(explain(e)) }
  }

  // --- role: at open, then kept current ------------------------------------------------------
  async function checkRole (): Promise<void> {
    try {
      const d = await request<Doc>('GET', `/api/v1/documents/${encodeURIComponent(id)}`, undefined, opts)
      if (destroyed) return
      if (document.activeElement !== title) title.value = d.title
      if (document.activeElement !== tagsInput) tagsInput.value = d.tags.join(', ')
      document.title = `${d.title || 'Untitled'} · Tandem`
      shareButton.hidden = !!link || !(d.role === 'owner' || d.role === 'admin' || d.owner_id === me?.id)
      const next = d.role ?? 'viewer'
      if (next !== role) {
        const wasWriter = role !== null && WRITERS.includes(role)
        role = next
        const writer = WRITERS.includes(role)
        roleBadge.hidden = writer
        roleBadge.textContent = link ? 'View only (link)' : `Read only (${role})`
        if (writer && durability.state === 'error') location.reload()
        setReadOnly(!writer)
        startWriting()
        if (wasWriter && !writer) showError(`Your role changed to ${role}: this document is now read-only.`)
        else if (writer) alert.hidden = true
      }
    } catch (e) {
      if (destroyed) return
      if (e instanceof ApiError && (e.status === 404 || e.status === 403 || e.status === 401)) {
        setReadOnly(true)
        showError(e.code === 'invalid_link'
          ? 'This link does not exist or was revoked.'
          : e.status === 401 ? 'Your session ended. Log in again to keep editing.'
            : role === null ? explain(e) : 'You no longer have access to this document.')
        provider.disconnect()
        clearInterval(roleTimer)
        editorHost.dataset.synced = 'false'
        renderSaveState('offline')
      }
    }
  }
  const roleTimer = setInterval(() => { void checkRole() }, ROLE_CHECK_MS)
  void checkRole()
  provider.connect()

  const onBeforeUnload = (e: BeforeUnloadEvent) => { if (durability.pending) e.preventDefault() }
  addEventListener('beforeunload', onBeforeUnload)
  renderPresence()

  return () => {
    destroyed = true
    clearInterval(roleTimer)
    clearTimeout(previewTimer)
    previewAbort?.abort()
    document.removeEventListener('keydown', onKey)
    removeEventListener('beforeunload', onBeforeUnload)
    durability.destroy()
    provider.destroy()
    view.destroy()
    doc.destroy()
    document.title = 'Tandem'
  }
}
