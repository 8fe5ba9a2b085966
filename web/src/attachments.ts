// Images in the editor: pasted or dropped image files are uploaded as the document's
// attachments and a Markdown image link is put where they landed (a placeholder line
// shows the upload; an error removes it and says why). The preview shows attachment
// images by fetching them with the session's token or the view link (an <img> cannot
// send either) and pointing the <img> at the bytes as an object URL.
import type { EditorView } from '@codemirror/view'
import { EditorView as View } from '@codemirror/view'
import { api, explain, ok } from './api'

/** Image files the editor uploads; anything else dropped or pasted is left to CodeMirror. */
const IMAGE = /^image\/(png|jpeg|gif|webp)$/
/** Attachment images kept as object URLs for the preview, the oldest forgotten first. */
const KEPT_IMAGES = 64
const ATTACHMENT_SRC = /^\/api\/v1\/documents\/([^/?#]+)\/attachments\/([^/?#]+)$/

interface Target {
  id: string
  link: string | undefined
  showError (message: string): void
}

function linkHeader (link: string | undefined): Record<string, string> {
  return link ? { 'tandem-link': link } : {}
}

/** What an image's Markdown says: its name without brackets that would end the alt text. */
function altText (name: string): string {
  return name.replace(/[[\]\\\n\r]/g, '').trim() || 'image'
}

/** Uploads one file; the answered attachment's URL. */
async function upload (target: Target, file: File): Promise<string> {
  const form = new FormData()
  form.append('file', file, file.name || 'image')
  const made = await ok(api.POST('/api/v1/documents/{id}/attachments', {
    params: { path: { id: target.id } },
    headers: linkHeader(target.link),
    // The browser writes the multipart body and its boundary itself.
    body: form as never,
    bodySerializer: (body: unknown) => body as FormData
  }))
  return made.url
}

/** Replaces the first occurrence of `from` in the editor's text (if still there). */
function replaceText (view: EditorView, from: string, to: string): void {
  const at = view.state.doc.toString().indexOf(from)
  if (at >= 0) view.dispatch({ changes: { from: at, to: at + from.length, insert: to } })
}

/** Puts a placeholder at `pos`, uploads, then swaps in the image's Markdown. */
async function insertImages (target: Target, view: EditorView, files: File[], pos: number): Promise<void> {
  const pending = files.map((file) => {
    const mark = `![Uploading ${altText(file.name)}…](#uploading-${Math.random().toString(36).slice(2, 10)})`
    return { file, mark }
  })
  const text = pending.map((p) => p.mark).join('\n')
  view.dispatch({ changes: { from: pos, insert: text }, selection: { anchor: pos + text.length } })
  await Promise.all(pending.map(async ({ file, mark }) => {
    try {
      const url = await upload(target, file)
      replaceText(view, mark, `![${altText(file.name)}](${url})`)
    } catch (e) {
      replaceText(view, mark, '')
      target.showError(`${file.name || 'The image'} was not uploaded: ${explain(e)}`)
    }
  }))
}

function imageFiles (list: FileList | null | undefined): File[] {
  return Array.from(list ?? []).filter((f) => IMAGE.test(f.type))
}

/** The CodeMirror extension: images pasted or dropped into a writable editor are uploaded. */
export function imageUploads (target: Target) {
  return View.domEventHandlers({
    paste (event, view) {
      const files = imageFiles(event.clipboardData?.files)
      if (files.length === 0 || view.state.readOnly) return false
      event.preventDefault()
      void insertImages(target, view, files, view.state.selection.main.head)
      return true
    },
    drop (event, view) {
      const files = imageFiles(event.dataTransfer?.files)
      if (files.length === 0 || view.state.readOnly) return false
      event.preventDefault()
      const pos = view.posAtCoords({ x: event.clientX, y: event.clientY }) ?? view.state.selection.main.head
      void insertImages(target, view, files, pos)
      return true
    }
  })
}

/** Shows the preview's attachment images; returns a cleanup that frees their bytes. */
export function attachmentImages (link: string | undefined): { show (preview: HTMLElement): void, destroy (): void } {
  const urls = new Map<string, Promise<string>>()
  const fetchImage = async (doc: string, attachment: string): Promise<string> => {
    const blob = await ok(api.GET('/api/v1/documents/{id}/attachments/{attachment_id}', {
      params: { path: { id: doc, attachment_id: attachment } }, headers: linkHeader(link), parseAs: 'blob'
    })) as Blob
    return URL.createObjectURL(blob)
  }
  const forget = (src: string): void => {
    void urls.get(src)?.then((u) => URL.revokeObjectURL(u), () => {})
    urls.delete(src)
  }
  return {
    show (preview) {
      preview.querySelectorAll('img').forEach((img) => {
        const src = img.getAttribute('src') ?? ''
        const m = ATTACHMENT_SRC.exec(src)
        if (!m) return
        // Not loaded by the browser itself: without credentials it would be refused.
        img.removeAttribute('src')
        img.dataset.attachment = src
        let url = urls.get(src)
        // Used again: the last to be forgotten.
        if (url) { urls.delete(src); urls.set(src, url) }
        if (!url) {
          let ids: [string, string]
          // A malformed escape (a stray `%`) is no attachment: that image is skipped,
          // the others still load.
          try { ids = [decodeURIComponent(m[1]), decodeURIComponent(m[2])] } catch { img.alt = `${img.alt} (image unavailable)`; return }
          url = fetchImage(ids[0], ids[1])
          urls.set(src, url)
          url.catch(() => urls.delete(src))
          if (urls.size > KEPT_IMAGES) forget(urls.keys().next().value as string)
        }
        url.then((u) => { img.src = u }, () => { img.alt = `${img.alt} (image unavailable)` })
      })
    },
    destroy () {
      for (const src of [...urls.keys()]) forget(src)
    }
  }
}
