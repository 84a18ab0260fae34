import { defineConfig } from 'vite'
import vue from '@vitejs/plugin-vue'

// The bundle is committed (adapters/h5/dist) and embedded into the Go binary; `make check-web`
// rebuilds it and fails on any difference, so the output must be deterministic.
export default defineConfig({
  plugins: [vue()],
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
  },
  server: { proxy: { '/api': 'http://localhost:8080' } },
})
