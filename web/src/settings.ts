// The signed-in user's preferences (`/users/me/settings`): theme and editor options,
// loaded once per session and saved as they change.
import { api, ok, session } from './api'

export interface EditorPrefs { font_size: number, line_wrapping: boolean, line_numbers: boolean }
export interface Settings { theme: 'light' | 'dark' | 'system', editor: EditorPrefs }

const DEFAULTS: Settings = { theme: 'system', editor: { font_size: 14, line_wrapping: true, line_numbers: false } }
let loaded: Promise<Settings> | null = null
let forUser: string | undefined

export function settings (): Promise<Settings> {
  const user = session.user?.id
  if (!user) return Promise.resolve(DEFAULTS)
  if (!loaded || forUser !== user) {
    forUser = user
    loaded = ok(api.GET('/api/v1/users/me/settings')).catch(() => DEFAULTS)
  }
  return loaded
}

/** Saves a change; the returned settings are what the server kept. */
export async function saveSettings (patch: Partial<Omit<Settings, 'editor'>> & { editor?: Partial<EditorPrefs> }): Promise<void> {
  if (!session.user) return
  const next: Promise<Settings> = ok(api.PATCH('/api/v1/users/me/settings', { body: patch }))
  // A failed save keeps what was there before (not `settings()`: that is `loaded` itself).
  const before = loaded ?? Promise.resolve(DEFAULTS)
  loaded = next.catch(() => before)
  await next
}
