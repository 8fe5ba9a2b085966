// The build is deterministic (content-hashed names, no timestamps), so CI can rebuild and
// compare it with the committed web/dist.
import { defineConfig } from 'vite'

export default defineConfig({
  // `npm run dev` serves the app with hot reload in front of a server on :4000.
  server: {
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
