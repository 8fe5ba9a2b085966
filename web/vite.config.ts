// The build is deterministic (content-hashed names, no timestamps), so CI can rebuild and
// compare it with the committed web/dist.
import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vite'

const clientJs = (file: string) => fileURLToPath(new URL(`../client-js/src/${file}`, import.meta.url))

export default defineConfig({
  plugins: [{
    // KaTeX's stylesheet offers each font as woff2, woff and ttf; every browser the app
    // supports takes woff2, so the other two (0.9 MB) are not shipped.
    name: 'katex-woff2-only',
    enforce: 'pre',
    transform (code, id) {
      if (!/[\\/]katex[\\/]dist[\\/].*\.css$/.test(id)) return null
      return code.replace(/,\s*url\([^)]*\.(?:woff|ttf)\)\s*format\("(?:woff|truetype)"\)/g, '')
    }
  }],
  resolve: {
    // @tandem/client from its TypeScript sources, not a `file:` dependency on its tsc
    // build: the app is built from exactly what is checked in, with no client-js build to
    // run first or to go stale, and Vite tree-shakes it like the app's own code. Its
    // packages come from client-js/node_modules (`prebuild` installs them if missing).
    alias: [
      { find: /^@tandem\/client$/, replacement: clientJs('index.ts') },
      { find: /^@tandem\/client\/documents$/, replacement: clientJs('documents.ts') }
    ],
    // client-js's own node_modules hold these too: one copy of Yjs in the bundle (two
    // would break its instanceof checks and double the download).
    dedupe: ['yjs', 'lib0', 'y-protocols']
  },
  // `npm run dev` serves the app with hot reload in front of a server on :4000.
  server: {
    fs: { allow: ['.', '../client-js/src'] },
    proxy: {
      '/api': 'http://127.0.0.1:4000',
      '/ws': { target: 'ws://127.0.0.1:4000', ws: true }
    }
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    // No data: URIs and no inline script: everything is a file the CSP allows as 'self'.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    reportCompressedSize: false,
    sourcemap: false
  }
})
