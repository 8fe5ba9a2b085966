// Entry: restores the session, then routes `/`, `/login`, `/signup`, `/settings`, `/admin` and `/d/{id}`. The
// editor (CodeMirror, Yjs) is loaded only on `/d/...`, so the list and login stay light.
import './style.css'
import { session } from './api'
import { h, clear } from './dom'
import { authPage, safeNext } from './auth'
import { listPage } from './list'
import { settingsPage } from './account'
import { adminPage } from './admin'
import { invitePage } from './members'
import { adoptSavedTheme, applyTheme } from './theme'
import { navigate, onRoute } from './router'

const root = document.getElementById('app') as HTMLElement
let teardown: (() => void) | undefined


async function route (): Promise<void> {
  teardown?.()
  teardown = undefined
  const { pathname, search } = location
  const params = new URLSearchParams(search)
  const doc = pathname.match(/^\/d\/([^/]+)\/?$/)
  clear(root)
  if (doc) {
    const link = params.get('link') ?? undefined
    if (!session.user && !link) return navigate(`/login?next=${encodeURIComponent(pathname + search)}`, true)
    root.appendChild(h('div', { class: 'loading-page' }, h('div', { class: 'spinner' }), 'Opening document…'))
    const { editorPage } = await import('./editor')
    clear(root)
    teardown = editorPage(root, decodeURIComponent(doc[1]), link)
    return
  }
  const invite = pathname.match(/^\/invite\/([0-9a-f]+)$/)
  if (invite) {
    if (!session.user) return navigate(`/login?next=${encodeURIComponent(pathname)}`, true)
    invitePage(root, invite[1], (path) => navigate(path))
    return
  }
  if (pathname === '/login' || pathname === '/signup') {
    if (session.user) return navigate(safeNext(params.get('next')), true)
    root.appendChild(authPage(pathname === '/signup' ? 'signup' : 'login', params.get('next'), params.get('signout') === 'incomplete'))
    return
  }
  if (pathname === '/admin') {
    if (!session.user) return navigate('/login?next=%2Fadmin', true)
    teardown = adminPage(root)
    return
  }
  if (pathname === '/settings') {
    if (!session.user) return navigate('/login?next=%2Fsettings', true)
    teardown = settingsPage(root)
    return
  }
  if (pathname === '/') {
    if (!session.user) return navigate('/login', true)
    teardown = listPage(root)
    return
  }
  root.appendChild(h('main', { class: 'centered' },
    h('div', { class: 'card' }, h('h1', {}, 'Page not found'),
      h('p', {}, 'There is nothing at this address.'),
      h('a', { href: '/', 'data-link': true, class: 'button primary' }, 'Go to your documents'))))
}

// Links inside the app change the route without a reload.
document.addEventListener('click', (e) => {
  const a = (e.target as Element).closest?.('a[data-link]') as HTMLAnchorElement | null
  if (!a || e.ctrlKey || e.metaKey || e.shiftKey || e.button !== 0) return
  e.preventDefault()
  navigate(a.getAttribute('href') ?? '/')
})
window.addEventListener('popstate', () => { void route() })

onRoute(() => { void route() })
applyTheme()
// Fetch the editor while the session is restored, not after.
if (location.pathname.startsWith('/d/')) void import('./editor')
// Resumed from the session cookie; when the server cannot be reached, signed out.
void session.resume().catch(() => null).then(() => {
  void route()
  if (session.user) void adoptSavedTheme()
})
session.onChange(() => {
  if (session.user) { void adoptSavedTheme(); return }
  // The session ended (logged out elsewhere, or revoked): back to the login page, unless
  // this page works without one.
  const { pathname, search } = location
  const public_ = pathname === '/login' || pathname === '/signup' || new URLSearchParams(search).has('link')
  if (!public_) navigate(`/login?next=${encodeURIComponent(pathname + search)}`, true)
})
