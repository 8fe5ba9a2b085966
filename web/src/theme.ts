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
  localStorage.setItem('tandem-theme', currentTheme() === 'dark' ? 'light' : 'dark')
  applyTheme()
}
