import { saveSettings, settings } from './settings'
// Light and dark: the system's choice until the person picks one (kept in localStorage).
type Theme = 'light' | 'dark'

export function currentTheme (): Theme {
  const saved = localStorage.getItem('tandem-theme')
  if (saved === 'light' || saved === 'dark') return saved
  return matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light'
}

export function applyTheme (): void {
  document.documentElement.dataset.theme = currentTheme()
}

export function toggleTheme (): void {
  const next = currentTheme() === 'dark' ? 'light' : 'dark'
  localStorage.setItem('tandem-theme', next)
  applyTheme()
  void saveSettings({ theme: next }).catch(() => {})
}

/** The account's saved theme wins over this device's, once settings are known. */
export async function adoptSavedTheme (): Promise<void> {
  const { theme } = await settings()
  if (theme === 'system') localStorage.removeItem('tandem-theme')
  else localStorage.setItem('tandem-theme', theme)
  applyTheme()
}
