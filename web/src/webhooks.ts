// A workspace's webhooks, for its admins and owners: add a URL with the events it wants
// (its signing secret shown once), see each hook's recent deliveries, send a test ping,
// remove it. The server refuses private targets unless its operator allowed them.
import { type components } from '@tandem/client'
import { api, explain, ok, Workspace } from './api'
import { h, timeAgo } from './dom'
import { notify } from './dialogs'

type Webhook = components['schemas']['Webhook']
type Delivery = components['schemas']['Delivery']

const EVENTS = ['document.created', 'document.updated', 'document.deleted', 'comment.created', 'version.created', 'member.added', 'member.removed']

export function webhooksDialog (workspace: Workspace, root: HTMLElement): void {
  const id = workspace.id
  const alert = h('p', { role: 'alert', class: 'alert', hidden: true })
  const hooks = h('ul', { class: 'share-list hook-list', 'data-testid': 'webhook-list' })
  const secret = h('div', { class: 'token-secret', hidden: true, 'data-testid': 'webhook-secret' })
  const fail = (e: unknown) => { alert.textContent = explain(e); alert.hidden = false }

  const url = h('input', { type: 'url', name: 'webhook-url', required: true, maxlength: 2048, placeholder: 'https://example.com/hooks/tandem', 'aria-label': 'Target URL' })
  const boxes = EVENTS.map((e) => h('label', { class: 'event-choice' }, h('input', { type: 'checkbox', name: 'event', value: e, checked: true }), e))
  const form = h('form', { class: 'hook-form' }, h('div', { class: 'inline-form' }, url, h('button', { type: 'submit', class: 'button primary small' }, 'Add webhook')),
    h('fieldset', { class: 'event-choices' }, h('legend', {}, 'Events'), ...boxes))
  form.addEventListener('submit', async (e) => {
    e.preventDefault()
    alert.hidden = true
    const events = boxes.map((b) => b.querySelector('input') as HTMLInputElement).filter((i) => i.checked).map((i) => i.value)
    try {
      const made = await ok(api.POST('/api/v1/workspaces/{id}/webhooks', { params: { path: { id } }, body: { url: url.value.trim(), events } }))
      const value = h('input', { readonly: true, value: made.secret, 'aria-label': 'Signing secret', 'data-testid': 'webhook-secret-value' })
      secret.replaceChildren(h('p', {}, 'The signing secret, shown only this once: check X-Tandem-Signature with it.'), value)
      secret.hidden = false
      url.value = ''
      await load()
    } catch (err) { fail(err) }
  })

  async function load (): Promise<void> {
    try {
      const list = await ok(api.GET('/api/v1/workspaces/{id}/webhooks', { params: { path: { id } } }))
      hooks.replaceChildren(...(list.length ? list.map(item) : [h('li', { class: 'muted' }, 'No webhooks yet.')]))
    } catch (e) { fail(e) }
  }

  function item (hook: Webhook): HTMLElement {
    const log = h('ul', { class: 'delivery-list', hidden: true })
    const path = { id, hook: hook.id }
    const showLog = async () => {
      try {
        const page = await ok(api.GET('/api/v1/workspaces/{id}/webhooks/{hook}/deliveries', { params: { path, query: { limit: 20 } } }))
        log.replaceChildren(...(page.length ? page.map(delivery) : [h('li', { class: 'muted' }, 'Nothing sent yet.')]))
        log.hidden = false
      } catch (e) { fail(e) }
    }
    const ping = h('button', { type: 'button', class: 'button ghost small' }, 'Ping')
    ping.addEventListener('click', async () => {
      try { await ok(api.POST('/api/v1/workspaces/{id}/webhooks/{hook}/ping', { params: { path } })); notify('Ping queued'); await showLog() } catch (e) { fail(e) }
    })
    const remove = h('button', { type: 'button', class: 'button ghost small danger-text' }, 'Remove')
    remove.addEventListener('click', async () => {
      try { await ok(api.DELETE('/api/v1/workspaces/{id}/webhooks/{hook}', { params: { path } })); await load() } catch (e) { fail(e) }
    })
    const state = hook.disabled_at ? h('span', { class: 'badge warn' }, 'disabled') : h('span', { class: 'badge' }, `${hook.events.length} events`)
    return h('li', { class: 'hook-item', 'data-hook': hook.id },
      h('div', { class: 'hook-row' }, h('span', { class: 'grow hook-url', title: hook.url }, hook.url), state,
        h('button', { type: 'button', class: 'button ghost small', onclick: () => { void showLog() } }, 'Deliveries'), ping, remove),
      log)
  }

  function delivery (d: Delivery): HTMLElement {
    const outcome = d.last_status ? `HTTP ${d.last_status}` : (d.last_error ?? '')
    return h('li', { class: `delivery ${d.state}` },
      h('code', {}, d.event), h('span', { class: 'badge' }, d.state), h('span', { class: 'grow muted' }, outcome),
      d.latency_ms != null ? h('span', { class: 'muted' }, `${d.latency_ms} ms`) : null,
      h('span', { class: 'muted' }, `${d.attempts}×`), timeAgo(d.created_at))
  }

  const dialog = h('dialog', { class: 'dialog wide', 'aria-label': 'Webhooks' },
    h('div', { class: 'dialog-head' }, h('h2', {}, `Webhooks of ${workspace.name}`), h('button', { type: 'button', class: 'icon-button', 'aria-label': 'Close', onclick: () => dialog.close() }, '×')),
    h('p', { class: 'muted' }, 'Tandem POSTs signed JSON to these URLs when documents, comments, versions or members change here.'),
    alert, form, secret, h('h3', {}, 'Webhooks'), hooks)
  dialog.addEventListener('close', () => dialog.remove())
  root.appendChild(dialog)
  dialog.showModal()
  void load()
}
