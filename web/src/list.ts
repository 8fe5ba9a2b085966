// The document list at `/`: workspace switcher, search (`?q=`), create (blank, or from one
// of the workspace's templates), delete, trash.
import { TandemError, type components, type paths } from '@tandem/client'
import { api, Doc, explain, ok, tandem, Workspace } from './api'
import { clear, h, icon, relativeTime, snippetNodes } from './dom'
import { askText } from './dialogs'
import { header } from './header'
import { navigate } from './router'
import { membersDialog } from './members'
import { webhooksDialog } from './webhooks'
import { UNTITLED } from './title'

type Query = NonNullable<paths['/api/v1/documents']['get']['parameters']['query']>
type SortKey = components['schemas']['SortKey']

export function listPage (root: HTMLElement): () => void {
  const params = new URLSearchParams(location.search)
  let workspaceId = params.get('workspace') ?? localStorage.getItem('tandem-workspace') ?? ''
  let trash = params.get('trash') === '1'
  let tag = params.get('tag') ?? ''
  let sort = (params.get('sort') ?? 'updated') as SortKey
  let workspaces: Workspace[] = []
  let cursor: string | null = null
  let generation = 0

  const alert = h('p', { role: 'alert', class: 'alert', hidden: true })
  const list = h('ul', { class: 'doc-list', 'data-testid': 'document-list', 'aria-busy': 'true' })
  const more = h('button', { type: 'button', class: 'button ghost', hidden: true, onclick: () => { void load(true) } }, 'Load more')
  const switcher = h('select', { class: 'select', 'aria-label': 'Workspace' })
  const search = h('input', { type: 'search', name: 'q', placeholder: 'Search documents', 'data-testid': 'search', value: params.get('q') ?? '', 'aria-label': 'Search documents' })
  const searchForm = h('form', { class: 'search', role: 'search' }, icon('search'), search, h('button', { type: 'submit', class: 'visually-hidden' }, 'Search'))
  const newButton = h('button', { type: 'button', class: 'button primary', 'data-testid': 'new-document' }, icon('plus'), 'New document')
  const templateItems = h('div', { class: 'menu-items templates', 'data-testid': 'template-list' })
  const templateMenu = h('details', { class: 'menu', 'data-testid': 'from-template' },
    h('summary', { class: 'button', title: 'Start from a document offered as a template' }, icon('template'), 'New from template'),
    templateItems)
  const trashButton = h('button', { type: 'button', class: 'button ghost' })
  const membersButton = h('button', { type: 'button', class: 'button ghost', hidden: true }, 'Members')
  const hooksButton = h('button', { type: 'button', class: 'button ghost', hidden: true, 'data-testid': 'webhooks' }, 'Webhooks')
  hooksButton.addEventListener('click', () => {
    const w = workspaces.find((x) => x.id === workspaceId)
    if (w) webhooksDialog(w, root)
  })
  membersButton.addEventListener('click', () => {
    const w = workspaces.find((x) => x.id === workspaceId)
    if (w) membersDialog(w, root)
  })
  const heading = h('h1', {})
  const sortSelect = h('select', { class: 'select', 'aria-label': 'Sort by' },
    ...[['updated', 'Last edited'], ['created', 'Newest'], ['title', 'Title']].map(([v, label]) => h('option', { value: v, selected: v === sort }, label)))
  const tagChip = h('button', { type: 'button', class: 'tag filter', title: 'Show all tags' })

  const showError = (e: unknown) => { alert.textContent = explain(e); alert.hidden = false }

  function syncUrl (): void {
    const p = new URLSearchParams()
    if (search.value) p.set('q', search.value)
    if (workspaceId) p.set('workspace', workspaceId)
    if (trash) p.set('trash', '1')
    if (tag) p.set('tag', tag)
    if (sort !== 'updated') p.set('sort', sort)
    const qs = p.toString()
    history.replaceState(null, '', qs ? `/?${qs}` : '/')
  }

  async function load (append = false): Promise<void> {
    const mine = ++generation
    alert.hidden = true
    const q = search.value.trim()
    const query: Query = { limit: 50 }
    if (workspaceId) query.workspace_id = workspaceId
    if (q) query.q = q
    if (trash) query.deleted = true
    if (tag) query.tag = tag
    // Searches are ranked by relevance; listings follow the chosen order.
    if (!q) { query.sort = sort; query.order = sort === 'title' ? 'asc' : 'desc' }
    if (append && cursor) query.cursor = cursor
    list.setAttribute('aria-busy', 'true')
    if (!append && !list.querySelector('.doc-item')) list.replaceChildren(h('li', { class: 'empty' }, h('span', { class: 'spinner small' }), 'Loading documents…'))
    try {
      const page = await ok(api.GET('/api/v1/documents', { params: { query } }))
      if (mine !== generation) return
      if (!append) clear(list)
      cursor = page.next_cursor ?? null
      more.hidden = !cursor
      for (const d of page.documents) list.appendChild(item(d))
      if (!list.firstChild) list.appendChild(empty())
    } catch (e) {
      if (mine === generation) {
        showError(e)
        list.querySelector('.empty')?.remove()
      }
    } finally {
      if (mine === generation) list.setAttribute('aria-busy', 'false')
    }
  }

  function empty (): HTMLElement {
    const text = search.value.trim() ? 'No documents match your search.' : trash ? 'The trash is empty.' : 'No documents yet. Create your first one.'
    return h('li', { class: 'empty' }, text)
  }

  function item (d: Doc): HTMLElement {
    const actions = trash
      ? h('button', { type: 'button', class: 'icon-button', title: 'Restore', 'aria-label': `Restore ${d.title}`, onclick: () => act(api.POST('/api/v1/documents/{id}/restore', { params: { path: { id: d.id } } })) }, icon('restore'))
      : h('button', { type: 'button', class: 'icon-button danger', title: 'Move to trash', 'aria-label': `Delete ${d.title}`, onclick: () => act(api.DELETE('/api/v1/documents/{id}', { params: { path: { id: d.id } } })) }, icon('trash'))
    const title = trash ? h('span', { class: 'doc-title' }, d.title || UNTITLED) : h('a', { href: `/d/${d.id}`, 'data-link': true, class: 'doc-title' }, d.title || UNTITLED)
    return h('li', { class: 'doc-item', 'data-id': d.id },
      h('div', { class: 'doc-main' }, title,
        d.snippet ? h('p', { class: 'snippet' }, ...snippetNodes(d.snippet)) : null,
        h('div', { class: 'doc-meta' }, h('span', {}, `Edited ${relativeTime(d.updated_at)}`),
          d.is_template ? h('span', { class: 'badge template', title: 'Offered in New from template' }, 'Template') : null,
          ...d.tags.map((t) => h('button', { type: 'button', class: 'tag', title: `Only documents tagged ${t}`, onclick: () => setTag(t) }, t)))),
      trash ? null : h('button', { type: 'button', class: 'icon-button', title: 'Duplicate', 'aria-label': `Duplicate ${d.title}`, onclick: () => act(api.POST('/api/v1/documents/{id}/duplicate', { params: { path: { id: d.id } }, body: {} })) }, icon('copy')),
      actions)
  }

  async function act (call: Promise<{ error?: unknown, response: Response }>): Promise<void> {
    try { await ok(call); await load() } catch (e) { showError(e) }
  }

  function setTag (t: string): void {
    tag = t
    tagChip.hidden = !tag
    tagChip.textContent = `#${tag}  ×`
    syncUrl(); void load()
  }
  tagChip.hidden = !tag
  tagChip.textContent = `#${tag}  ×`
  tagChip.addEventListener('click', () => setTag(''))
  sortSelect.addEventListener('change', () => { sort = sortSelect.value as SortKey; syncUrl(); void load() })

  function renderSwitcher (): void {
    clear(switcher)
    for (const w of workspaces) switcher.appendChild(h('option', { value: w.id, selected: w.id === workspaceId }, w.name))
    switcher.appendChild(h('option', { value: '__new' }, 'New workspace…'))
    const current = workspaces.find((w) => w.id === workspaceId)
    membersButton.hidden = !current || current.personal || !(current.role === 'owner' || current.role === 'admin')
    hooksButton.hidden = !current || !(current.role === 'owner' || current.role === 'admin')
    heading.textContent = trash ? 'Trash' : (workspaces.find((w) => w.id === workspaceId)?.name ?? 'Documents')
    templateMenu.hidden = trash
    trashButton.textContent = ''
    trashButton.append(icon(trash ? 'back' : 'trash'), trash ? 'Back to documents' : 'Trash')
  }

  switcher.addEventListener('change', async () => {
    if (switcher.value === '__new') {
      const name = await askText(root, {
        title: 'New workspace', description: 'Documents in a workspace are shared with its members.',
        label: 'Workspace name', placeholder: 'Team notes', maxlength: 100, submit: 'Create'
      })
      if (!name) { renderSwitcher(); return }
      try {
        const w = await ok(api.POST('/api/v1/workspaces', { body: { name } }))
        workspaces.push(w)
        workspaceId = w.id
      } catch (e) { showError(e); renderSwitcher(); return }
    } else workspaceId = switcher.value
    localStorage.setItem('tandem-workspace', workspaceId)
    renderSwitcher(); syncUrl(); void load()
  })
  let debounce: ReturnType<typeof setTimeout> | undefined
  search.addEventListener('input', () => { clearTimeout(debounce); debounce = setTimeout(() => { syncUrl(); void load() }, 200) })
  searchForm.addEventListener('submit', (e) => { e.preventDefault(); clearTimeout(debounce); syncUrl(); void load() })
  trashButton.addEventListener('click', () => { trash = !trash; renderSwitcher(); syncUrl(); void load() })
  newButton.addEventListener('click', async () => {
    newButton.disabled = true
    try {
      const doc = await ok(api.POST('/api/v1/documents', { body: { title: UNTITLED, workspace_id: workspaceId || undefined } }))
      navigate(`/d/${doc.id}`)
    } catch (e) { showError(e); newButton.disabled = false }
  })

  // The workspace's templates, looked up each time the menu opens (others mark them).
  templateMenu.addEventListener('toggle', async () => {
    if (!templateMenu.open) return
    templateItems.replaceChildren(h('p', { class: 'menu-note' }, h('span', { class: 'spinner small' }), 'Loading templates…'))
    try {
      const { documents } = await tandem.templates.list({ workspaceId: workspaceId || undefined, limit: 50 })
      templateItems.replaceChildren(...documents.map((d) => h('button', {
        type: 'button', role: 'menuitem', 'data-testid': 'template', title: d.title, onclick: () => { void fromTemplate(d) }
      }, h('span', { class: 'template-title' }, d.title || UNTITLED), d.tags.length ? h('span', { class: 'muted template-tags' }, d.tags.join(', ')) : null)))
      if (!documents.length) templateItems.replaceChildren(h('p', { class: 'menu-note' }, 'No templates here yet. Open a document and choose Use as template in its menu.'))
    } catch (e) {
      templateItems.replaceChildren(h('p', { class: 'menu-note alert' }, explain(e)))
    }
  })
  async function fromTemplate (d: Doc): Promise<void> {
    templateMenu.open = false
    try {
      const doc = await tandem.templates.create(d.id, { workspaceId: workspaceId || undefined })
      navigate(`/d/${doc.id}`)
    } catch (e) { showError(e) }
  }

  root.append(
    header(switcher, searchForm),
    h('main', { class: 'list-page' },
      h('div', { class: 'list-head' }, h('div', { class: 'list-title' }, heading, tagChip), h('div', { class: 'list-actions' }, sortSelect, membersButton, hooksButton, trashButton, templateMenu, newButton)),
      alert, list, more))

  void (async () => {
    try {
      workspaces = await ok(api.GET('/api/v1/workspaces'))
      if (!workspaces.some((w) => w.id === workspaceId)) workspaceId = (workspaces.find((w) => w.personal) ?? workspaces[0])?.id ?? ''
      renderSwitcher()
      syncUrl()
      await load()
    } catch (e) {
      if (e instanceof TandemError && e.status === 401) navigate('/login', true)
      else showError(e)
    }
  })()
  return () => { generation++; clearTimeout(debounce) }
}
