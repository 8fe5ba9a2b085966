// The editor at `/d/{id}` (and `/d/{id}?link=TOKEN`): CodeMirror 6 bound to the `content`
// Y.Text by y-codemirror.next over @tandem/client's y-websocket connection; the server's
// renderer for the preview; presence; save state from the server's durability barrier;
// comments (comments.ts); version history (history.ts); pasted and dropped images
// (attachments.ts); read-only for viewers, commenters and view links, switched live when
// the document's event stream says the role changed.
// `editorPage` builds the page, then each part below takes one concern.
import * as Y from 'yjs'
import type { components, SaveState, WebsocketDocument } from '@tandem/client'
import { TandemError } from '@tandem/client'
// Imported here, not through `tandem.openDocument`, so that the live document's code
// (provider, save state) loads together with the editor's rather than after it.
import { openDocument } from '@tandem/client/documents'
import { yCollab, yUndoManagerKeymap } from 'y-codemirror.next'
import { Compartment, EditorState } from '@codemirror/state'
import { EditorView, drawSelection, highlightActiveLine, highlightActiveLineGutter, keymap, lineNumbers, placeholder } from '@codemirror/view'
import { defaultKeymap, indentWithTab } from '@codemirror/commands'
import { markdownKeymap, markdownLanguage } from '@codemirror/lang-markdown'
import { HighlightStyle, LanguageSupport, syntaxHighlighting } from '@codemirror/language'
import { searchKeymap, highlightSelectionMatches } from '@codemirror/search'
import { tags } from '@lezer/highlight'
import { api, explain, ok, Role, session, tandem } from './api'
import { attachmentImages, imageUploads } from './attachments'
import { h, icon } from './dom'
import { header } from './header'
import { showPresence } from './presence'
import { CommentsPanel } from './comments'
import { HistoryPanel } from './history'
import { DocumentMenu } from './doc-menu'
import { shareDialog } from './share'
import { navigate } from './router'
import { EditorPrefs, saveSettings, settings } from './settings'
import { followHeading, UNTITLED } from './title'
import { showRendered } from './rendered'

type Mode = 'split' | 'editor' | 'preview'
const WRITERS: Role[] = ['owner', 'admin', 'editor']
const PREVIEW_DELAY_MS = 250
const PHONE_WIDTH = 720

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

function nonce (): string {
  return document.querySelector('meta[name=csp-nonce]')?.getAttribute('content') ?? ''
}

/** What the parts share: the document's address, the page's elements, and its state. */
interface Editor {
  id: string
  link: string | undefined
  page: Page
  destroyed: boolean
  role: Role | null
  /** The document's owner, who may share it whatever their role in the workspace. */
  ownerId?: string
  comments: CommentsPanel
  history: HistoryPanel
  docMenu: DocumentMenu
  mode: Mode
  /** On a phone, until a writer's first sync picks the view for an empty document. */
  autoMode: boolean
  /** Set once the live document is open. */
  live?: Live
  /** Access is gone (or never was): the document stays disconnected. */
  refused: boolean
  /** What a change of mode does besides the page's layout (once the document is open). */
  onMode?: (m: Mode) => void
  showError (message: string): void
  /** Stops following the document's events (access is gone). */
  stopFollowing?: () => void
  /** Everything to undo when the page goes. */
  cleanups: Array<() => void>
}

interface Live {
  open: WebsocketDocument
  view: EditorView
  setReadOnly (readOnly: boolean): void
}

export function editorPage (root: HTMLElement, id: string, link?: string): () => void {
  const comments = new CommentsPanel(id, link)
  const history = new HistoryPanel(id, link, root)
  const docMenu = new DocumentMenu(id, link, (message) => editor.showError(message))
  const page = buildPage(root, id, { comments, history, docMenu }, { setMode: (m) => setMode(editor, m) })
  const editor: Editor = {
    id,
    link,
    page,
    destroyed: false,
    role: null,
    comments,
    history,
    docMenu,
    mode: innerWidth < PHONE_WIDTH ? 'preview' : ((localStorage.getItem('tandem-mode') as Mode | null) ?? 'split'),
    autoMode: innerWidth < PHONE_WIDTH,
    refused: false,
    showError: (message) => { page.alert.textContent = message; page.alert.hidden = false },
    cleanups: [() => comments.destroy(), () => history.destroy()]
  }
  sharePanels(editor)
  const notice = sessionStorage.getItem('tandem-notice')
  if (notice) { sessionStorage.removeItem('tandem-notice'); editor.showError(notice) }
  switchModes(editor)
  editTitleAndTags(editor)
  void openLive(editor)
  followEvents(editor)
  return () => {
    editor.destroyed = true
    for (const cleanup of editor.cleanups.reverse()) cleanup()
    document.title = 'Tandem'
  }
}

/** The page's elements, appended to `root`; buttons call `actions`. */
function buildPage (root: HTMLElement, id: string, parts: { comments: CommentsPanel, history: HistoryPanel, docMenu: DocumentMenu }, actions: { setMode (m: Mode): void }) {
  const { comments, history, docMenu } = parts
  const alert = h('p', { role: 'alert', class: 'alert banner', hidden: true })
  const title = h('input', { class: 'title-input', name: 'title', 'aria-label': 'Title', placeholder: UNTITLED, maxlength: 256, disabled: true })
  const tagsInput = h('input', { class: 'tags-input', name: 'tags', 'aria-label': 'Tags', placeholder: 'Add tags, comma separated', disabled: true })
  const saveState = h('span', { class: 'save-state', 'data-testid': 'save-state', 'data-state': 'offline', role: 'status' }, 'Connecting…')
  const presence = h('ul', { class: 'presence', 'data-testid': 'presence', 'aria-label': 'Who is here' })
  const roleBadge = h('span', { class: 'badge', hidden: true })
  const modeButton = (m: Mode, label: string, key: string) =>
    h('button', { type: 'button', 'data-testid': `mode-${m}`, title: `${label} (Ctrl+Alt+${key})`, 'aria-pressed': 'false', onclick: () => actions.setMode(m) }, label)
  const modes = h('div', { class: 'segmented', role: 'group', 'aria-label': 'View' },
    modeButton('editor', 'Editor', 'E'), modeButton('split', 'Split', 'B'), modeButton('preview', 'Preview', 'V'))
  const shareButton = h('button', { type: 'button', class: 'button ghost small', 'data-testid': 'share', hidden: true, 'aria-label': 'Share', onclick: () => shareDialog(id, root) }, icon('share'), h('span', { class: 'toggle-label' }, 'Share'))
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
    h('div', { class: 'toolbar' }, tagsInput, h('div', { class: 'toolbar-right' }, comments.toggle, history.toggle, modes, prefsMenu, docMenu.element, shareButton)),
    alert,
    h('main', { class: 'editor-page' }, panes, history.view.element, comments.element, history.element))
  return { alert, title, tagsInput, saveState, presence, roleBadge, modes, shareButton, fontSize, lineNumbersBox, wrapBox, prefsMenu, editorHost, preview, panes }
}
type Page = ReturnType<typeof buildPage>

/** Connects to the document's room, then sets up everything that needs it. */
async function openLive (editor: Editor): Promise<void> {
  let open: WebsocketDocument
  try {
    open = await openDocument(tandem, editor.id, { link: editor.link })
  } catch (e) {
    if (!editor.destroyed) editor.showError(explain(e))
    return
  }
  if (editor.destroyed) { open.destroy(); open.doc.destroy(); return }
  const { page } = editor
  editor.cleanups.push(() => open.doc.destroy(), () => open.destroy())
  if (editor.refused) open.provider.disconnect()
  showPresence(open, page.presence)
  const { view, setReadOnly } = codeMirror(editor, open)
  editor.live = { open, view, setReadOnly }
  editor.comments.attach(open.text, view, () => saved(open))
  editor.history.attach(open.text, () => saved(open))
  showSaveState(editor, open)
  const { provider } = open
  provider.on('closed', ({ code }) => {
    if (code === 4403 || code === 4404) {
      setReadOnly(true)
      editor.showError('You no longer have access to this document.')
    }
  })
  provider.on('sync', (synced: boolean) => {
    page.editorHost.dataset.synced = String(synced)
    if (synced) { schedulePreview(); startWriting(editor); editor.comments.synced() }
  })
  const schedulePreview = livePreview(editor, open.text)
  const mayRename = (): boolean => editor.link === undefined && editor.role !== null && WRITERS.includes(editor.role)
  editor.cleanups.push(followHeading({ id: editor.id, text: open.text, view, input: page.title, canWrite: mayRename, failed: (e) => editor.destroyed || editor.showError(explain(e)) }))
  editor.onMode = (m) => {
    if (m !== 'preview') view.requestMeasure()
    schedulePreview()
  }
  schedulePreview()
  followPrefs(editor, view)
  // A role already known was applied to nothing: apply it to the editor now.
  if (editor.role !== null) applyRole(editor, editor.role)
}

const prefsCompartment = new Compartment()
const editableCompartment = new Compartment()
// Still focusable: a reader selects text with the keyboard too (to copy it, or comment on it).
const READ_ONLY = [EditorState.readOnly.of(true), EditorView.editable.of(false), EditorView.contentAttributes.of({ tabindex: '0' })]

function prefsExtension (p: EditorPrefs) {
  return [
    p.line_numbers ? [lineNumbers(), highlightActiveLineGutter()] : [],
    p.line_wrapping ? EditorView.lineWrapping : [],
    EditorView.theme({ '&': { fontSize: `${p.font_size}px` } })
  ]
}

/** CodeMirror bound to the shared text, read-only until the role says otherwise. */
function codeMirror (editor: Editor, open: WebsocketDocument): { view: EditorView, setReadOnly (readOnly: boolean): void } {
  const { page } = editor
  const undoManager = new Y.UndoManager(open.text)
  const view = new EditorView({
    parent: page.editorHost,
    state: EditorState.create({
      doc: open.text.toString(),
      extensions: [
        EditorView.cspNonce.of(nonce()),
        prefsCompartment.of(prefsExtension({ font_size: 14, line_wrapping: true, line_numbers: false })),
        highlightActiveLine(), drawSelection(), highlightSelectionMatches(),
        // The Markdown language without lang-markdown's embedded HTML/CSS/JS support,
        // which would triple the editor's download.
        new LanguageSupport(markdownLanguage),
        syntaxHighlighting(highlight),
        placeholder('Start writing Markdown…'),
        keymap.of([...markdownKeymap, ...yUndoManagerKeymap, ...defaultKeymap, ...searchKeymap, indentWithTab]),
        yCollab(open.text, open.provider.awareness, { undoManager }),
        editableCompartment.of(READ_ONLY),
        editor.comments.extension,
        imageUploads({ id: editor.id, link: editor.link, showError: (message) => editor.showError(message) }),
        EditorView.contentAttributes.of({ 'aria-label': 'Document text' })
      ]
    })
  })
  editor.cleanups.push(() => view.destroy())
  const setReadOnly = (readOnly: boolean): void => {
    view.dispatch({ effects: editableCompartment.reconfigure(readOnly ? READ_ONLY : []) })
    page.editorHost.dataset.readonly = String(readOnly)
    page.title.disabled = readOnly || !!editor.link
    page.tagsInput.disabled = readOnly || !!editor.link
  }
  return { view, setReadOnly }
}

/** The account's editor preferences: applied when loaded, saved when changed. */
function followPrefs (editor: Editor, view: EditorView): void {
  const { fontSize, lineNumbersBox, wrapBox, prefsMenu } = editor.page
  const apply = (p: EditorPrefs): void => {
    fontSize.value = String(p.font_size)
    lineNumbersBox.checked = p.line_numbers
    wrapBox.checked = p.line_wrapping
    view.dispatch({ effects: prefsCompartment.reconfigure(prefsExtension(p)) })
  }
  void settings().then((s) => { if (!editor.destroyed) apply(s.editor) })
  prefsMenu.addEventListener('change', () => {
    const p = { font_size: Number(fontSize.value), line_numbers: lineNumbersBox.checked, line_wrapping: wrapBox.checked }
    apply(p)
    void saveSettings({ editor: p }).catch((e) => editor.showError(explain(e)))
  })
}

/**
 * "Saved" only once the server has made every edit durable; a refused edit makes the
 * connection read-only, and what was typed since is reopened from the server's copy.
 */
function showSaveState (editor: Editor, open: WebsocketDocument): void {
  const { durability } = open
  durability.onChange((s) => renderSaveState(editor, s))
  durability.onDenied(() => {
    // What was typed since is only on this device: open the document afresh.
    editor.live?.setReadOnly(true)
    if (durability.pending) {
      sessionStorage.setItem('tandem-notice', 'Your access changed to read-only: the last edits you made were not saved.')
      navigate(location.pathname + location.search, true)
      return
    }
    void checkRole(editor)
  })
  const onBeforeUnload = (e: BeforeUnloadEvent) => { if (durability.pending) e.preventDefault() }
  addEventListener('beforeunload', onBeforeUnload)
  editor.cleanups.push(() => removeEventListener('beforeunload', onBeforeUnload))
}

/** Resolves once the server has made every local edit durable. */
function saved (open: WebsocketDocument): Promise<void> {
  return new Promise((resolve) => {
    if (!open.durability.pending) return resolve()
    const off = open.durability.onChange(() => { if (!open.durability.pending) { off(); resolve() } })
  })
}

function renderSaveState (editor: Editor, s: SaveState): void {
  const text: Record<SaveState, string> = {
    saved: 'All changes saved',
    saving: 'Saving…',
    offline: editor.live?.open.durability.pending ? 'Offline: edits kept on this device' : 'Offline: reconnecting…',
    error: 'Edits refused: read-only'
  }
  editor.page.saveState.dataset.state = s
  editor.page.saveState.textContent = text[s]
}

/** The rendered preview, off the typing path: debounced, and only when visible. Returns its scheduler. */
function livePreview (editor: Editor, text: Y.Text): () => void {
  let timer: ReturnType<typeof setTimeout> | undefined
  let abort: AbortController | undefined
  let dirty = true
  const images = attachmentImages(editor.link)
  const schedule = (): void => {
    if (editor.mode === 'editor' || !dirty) return
    clearTimeout(timer)
    timer = setTimeout(() => { void render() }, PREVIEW_DELAY_MS)
  }
  const render = async (): Promise<void> => {
    dirty = false
    abort?.abort()
    const mine = abort = new AbortController()
    try {
      const html = await renderMarkdown(editor, text, mine.signal)
      if (mine.signal.aborted || editor.destroyed) return
      await showRendered(editor.page.preview, html ?? '', (el) => images.show(el))
    } catch (e) {
      if ((e as Error).name !== 'AbortError' && !editor.destroyed) editor.page.preview.replaceChildren(h('p', { class: 'muted' }, `Preview unavailable: ${explain(e)}`))
    }
  }
  text.observe(() => { dirty = true; schedule() })
  editor.cleanups.push(() => { clearTimeout(timer); abort?.abort(); images.destroy() })
  return schedule
}

/** The server's HTML for the text: rendered from the live text, or (view links) the stored document. */
function renderMarkdown (editor: Editor, text: Y.Text, signal: AbortSignal): Promise<string> {
  if (editor.link) {
    return ok(api.GET('/api/v1/documents/{id}/render', {
      params: { path: { id: editor.id } }, headers: { 'tandem-link': editor.link }, parseAs: 'text', signal
    })) as Promise<string>
  }
  return ok(api.POST('/api/v1/render', {
    body: text.toString(), bodySerializer: (body) => body as string, headers: { 'content-type': 'text/markdown' }, parseAs: 'text', signal
  })) as Promise<string>
}

/** Editor, split and preview: buttons, Ctrl+Alt+E/B/V, remembered on wide screens. */
function switchModes (editor: Editor): void {
  const onKey = (e: KeyboardEvent) => {
    if (!e.ctrlKey || !e.altKey) return
    const m = ({ e: 'editor', b: 'split', v: 'preview' } as Record<string, Mode>)[e.key.toLowerCase()]
    if (m) { e.preventDefault(); setMode(editor, m) }
  }
  document.addEventListener('keydown', onKey)
  editor.cleanups.push(() => document.removeEventListener('keydown', onKey))
  setMode(editor, editor.mode)
}

function setMode (editor: Editor, m: Mode): void {
  editor.mode = m
  // A version shown in the editor's place makes way for the view asked for.
  editor.history.select(null)
  if (innerWidth >= PHONE_WIDTH) localStorage.setItem('tandem-mode', m)
  editor.page.panes.dataset.mode = m
  editor.page.modes.querySelectorAll('button').forEach((b) => b.setAttribute('aria-pressed', String(b.dataset.testid === `mode-${m}`)))
  editor.onMode?.(m)
}

/** On a phone an empty document a writer opens has nothing to preview: show the editor. */
function startWriting (editor: Editor): void {
  const open = editor.live?.open
  if (!editor.autoMode || !open?.provider.synced || editor.role === null || !WRITERS.includes(editor.role)) return
  editor.autoMode = false
  if (open.text.length === 0) setMode(editor, 'editor')
}

/** The title and tags inputs, saved as they change. */
function editTitleAndTags (editor: Editor): void {
  const { title, tagsInput } = editor.page
  const patch = async (body: { title?: string, tags?: string[] }): Promise<void> => {
    try {
      await ok(api.PATCH('/api/v1/documents/{id}', { params: { path: { id: editor.id } }, body }))
    } catch (e) { editor.showError(explain(e)) }
  }
  title.addEventListener('change', () => { void patch({ title: title.value.trim() || UNTITLED }); document.title = `${title.value || UNTITLED} · Tandem` })
  title.addEventListener('keydown', (e) => { if (e.key === 'Enter') { e.preventDefault(); editor.live?.view.focus() } })
  tagsInput.addEventListener('change', () => {
    const tags = tagsInput.value.split(',').map((t) => t.trim()).filter(Boolean)
    void patch({ tags })
  })
}

function linkHeader (editor: Editor): Record<string, string> {
  return editor.link ? { 'tandem-link': editor.link } : {}
}

/**
 * The comments and history panels take turns beside the editor; a version shown takes
 * the editor's place until it is closed.
 */
function sharePanels (editor: Editor): void {
  const { comments, history, page } = editor
  history.onOpen = () => comments.setOpen(false, false)
  comments.onOpen = () => history.setOpen(false)
  history.onView = (shown) => {
    page.panes.hidden = shown
    if (!shown) editor.live?.view.requestMeasure()
  }
}

/**
 * The document's live events: a comment changed or a version was saved (the panel
 * concerned loads them again) or the role did (applied at once). Role changes are not replayed after a reconnect, so the role is
 * looked up at each reopening; a stream that ends for good (access gone) is explained by
 * looking the document up once more.
 */
function followEvents (editor: Editor): void {
  const abort = new AbortController()
  editor.cleanups.push(() => abort.abort())
  editor.stopFollowing = () => abort.abort()
  let opened = 0
  void checkRole(editor)
  editor.comments.refresh()
  const reading = tandem.events(editor.id, (e) => {
    if (e.type === 'access.changed') setRole(editor, e.role)
    else if (e.type === 'version.created') editor.history.refresh()
    else if (e.type === 'reset') { editor.comments.refresh(); editor.history.refresh() }
    else if (e.type !== 'access.revoked') editor.comments.refresh()
  }, {
    signal: abort.signal,
    link: editor.link,
    onOpen: () => {
      editor.comments.refresh()
      if (opened++ > 0) { editor.history.refresh(); void checkRole(editor) }
    }
  })
  const ended = (): void => { if (!editor.destroyed && !abort.signal.aborted) void checkRole(editor) }
  reading.then(ended, ended)
}

async function checkRole (editor: Editor): Promise<void> {
  const { page } = editor
  try {
    const d: components['schemas']['DocumentView'] = await ok(api.GET('/api/v1/documents/{id}', { params: { path: { id: editor.id } }, headers: linkHeader(editor) }))
    if (editor.destroyed) return
    if (document.activeElement !== page.title) page.title.value = d.title
    if (document.activeElement !== page.tagsInput) page.tagsInput.value = d.tags.join(', ')
    document.title = `${d.title || UNTITLED} · Tandem`
    editor.ownerId = d.owner_id
    editor.docMenu.setTemplate(d.is_template)
    setRole(editor, d.role ?? 'viewer')
  } catch (e) {
    if (editor.destroyed || !(e instanceof TandemError) || !(e.status === 404 || e.status === 403 || e.status === 401)) return
    editor.live?.setReadOnly(true)
    editor.showError(e.code === 'invalid_link'
      ? 'This link does not exist or was revoked.'
      : e.status === 401 ? 'Your session ended. Log in again to keep editing.'
        : editor.role === null ? explain(e) : 'You no longer have access to this document.')
    editor.refused = true
    editor.comments.setRole(null)
    editor.history.setRole(null)
    editor.live?.open.provider.disconnect()
    editor.stopFollowing?.()
    page.editorHost.dataset.synced = 'false'
    renderSaveState(editor, 'offline')
  }
}

/** Applies a role learnt from the server, saying so when it takes writing away. */
function setRole (editor: Editor, next: Role): void {
  const { page, link } = editor
  page.shareButton.hidden = !!link || !(next === 'owner' || next === 'admin' || editor.ownerId === session.user?.id)
  if (next === editor.role) return
  const wasWriter = editor.role !== null && WRITERS.includes(editor.role)
  editor.role = next
  const writer = applyRole(editor, next)
  if (wasWriter && !writer) editor.showError(`Your role changed to ${next}: this document is now read-only.`)
  else if (writer) page.alert.hidden = true
}

/** Makes the page read-only or writable for `role`; whether it writes. */
function applyRole (editor: Editor, role: Role): boolean {
  const writer = WRITERS.includes(role)
  editor.page.roleBadge.hidden = writer
  editor.page.roleBadge.textContent = editor.link ? 'View only (link)' : `Read only (${role})`
  editor.comments.setRole(role)
  editor.history.setRole(role)
  editor.docMenu.setCanEdit(writer && session.user !== null)
  const live = editor.live
  if (!live) return writer
  if (writer && live.open.durability.state === 'error') location.reload()
  live.setReadOnly(!writer)
  startWriting(editor)
  return writer
}
