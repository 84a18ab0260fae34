import { defineConfig } from 'vite'
import vue from '@vitejs/plugin-vue'

// The bundle is committed (adapters/h5/dist) and embedded into the Go binary; `make check-web`
// rebuilds it and fails on any difference, so the output must be deterministic.
// Vant's icon font is embedded as a data: URL, with a fallback on a CDN: drop the fallback, so
// the client never loads anything from another origin (the CSP allows fonts from self and data:).
const noRemoteFonts = {
  name: 'no-remote-fonts',
  transform(code: string, id: string) {
    if (!id.endsWith('.css') || !code.includes('at.alicdn.com')) return null
    return { code: code.replace(/,\s*url\(["']?(https?:)?\/\/at\.alicdn\.com[^)]*\)\s*format\(["']?woff["']?\)/g, ''), map: null }
  },
}

export default defineConfig({
  plugins: [vue(), noRemoteFonts],
  base: '/',
  build: {
    outDir: '../dist',
    emptyOutDir: true,
    target: 'es2019',
    // Never inline assets as data: URLs into scripts, and no inline module-preload polyfill.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    cssCodeSplit: true,
    reportCompressedSize: false,
    chunkSizeWarningLimit: 600,
    // Two pages: the H5 client (index.html) and the operator console (admin.html, /admin/).
    rollupOptions: {
      input: { index: 'index.html', admin: 'admin.html' },
      output: {
        // Vue is shared by both pages: its own chunk. The console's pages are named admin-…,
        // apart from the H5's pages of the same name.
        manualChunks(id: string) {
          if (/node_modules\/(@vue\/[^/]+|vue|vue-router)\//.test(id)) return 'vue'
        },
        chunkFileNames(chunk: { moduleIds: string[] }) {
          const console = chunk.moduleIds.some((id) => /\/src\/admin\/|\/node_modules\/(element-plus|@element-plus)\//.test(id))
          return console ? 'assets/admin-[name]-[hash].js' : 'assets/[name]-[hash].js'
        },
      },
    },
  },
  server: { proxy: { '/api': 'http://localhost:8080' } },
})
