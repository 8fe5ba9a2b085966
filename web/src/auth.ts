// The login and signup pages: real forms (inputs `email`, `password`, `name`), errors in
// a `role=alert` element.
import { explain, reach, session } from './api'
import { h } from './dom'
import { navigate } from './router'

export function authPage (kind: 'login' | 'signup', next: string | null, signoutIncomplete = false): HTMLElement {
  const alert = h('p', { role: 'alert', class: 'alert', hidden: true })
  const submit = h('button', { type: 'submit', class: 'button primary wide' }, kind === 'login' ? 'Log in' : 'Create account')
  const field = (label: string, input: HTMLInputElement) => h('label', { class: 'field' }, h('span', {}, label), input)
  const form = h('form', { class: 'auth-form', method: 'post', action: kind === 'login' ? '/login' : '/signup', novalidate: false },
    kind === 'signup' ? field('Name', h('input', { name: 'name', autocomplete: 'name', required: true, maxlength: 100 })) : null,
    field('Email', h('input', { name: 'email', type: 'email', autocomplete: 'email', required: true })),
    field('Password', h('input', {
      name: 'password', type: 'password', required: true, minlength: kind === 'signup' ? 8 : undefined,
      autocomplete: kind === 'login' ? 'current-password' : 'new-password'
    })),
    alert, submit)
  form.addEventListener('submit', async (e) => {
    e.preventDefault()
    const data = new FormData(form)
    const value = (k: string) => String(data.get(k) ?? '')
    alert.hidden = true
    submit.disabled = true
    try {
      if (kind === 'login') await reach(session.login({ email: value('email'), password: value('password') }))
      else await reach(session.signup({ email: value('email'), password: value('password'), name: value('name') }))
      navigate(safeNext(next), true)
    } catch (err) {
      alert.textContent = explain(err)
      alert.hidden = false
      submit.disabled = false
    }
  })
  const other = kind === 'login'
    ? h('p', { class: 'muted' }, 'New here? ', h('a', { href: '/signup', 'data-link': true }, 'Create an account'))
    : h('p', { class: 'muted' }, 'Have an account? ', h('a', { href: '/login', 'data-link': true }, 'Log in'))
  return h('main', { class: 'auth-page' },
    h('div', { class: 'auth-card' },
      h('div', { class: 'brand' }, h('img', { src: '/favicon.svg', alt: '', width: 32, height: 32 }), h('span', {}, 'Tandem')),
      h('h1', {}, kind === 'login' ? 'Welcome back' : 'Create your account'),
      h('p', { class: 'muted' }, 'Markdown notes your team writes together, live.'),
      signoutIncomplete
        ? h('p', { role: 'status', class: 'alert' },
          'You are signed out on this device, but the server could not be reached to end the session. ' +
          'If this is a shared computer, sign in and out again once the connection is back.')
        : null,
      form, other))
}

/** Where to go after signing in: a path of this app (`next`), never another site. */
export function safeNext (next: string | null): string {
  return next && next.startsWith('/') && !next.startsWith('//') && !next.startsWith('/\\') ? next : '/'
}
