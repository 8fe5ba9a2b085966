// History routing: `navigate` changes the URL and asks main.ts to render the route.
let render: () => void = () => {}

export function onRoute (f: () => void): void { render = f }

export function navigate (path: string, replace = false): void {
  if (replace) history.replaceState(null, '', path)
  else history.pushState(null, '', path)
  render()
}
