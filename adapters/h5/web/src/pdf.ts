// PDF pages in the browser with pdf.js: the library and its worker are files of the embedded
// bundle (no CDN), loaded only by the pages that show a PDF. pdf.js runs without eval (the CSP
// has no 'unsafe-eval').
import type { PDFDocumentProxy } from 'pdfjs-dist/legacy/build/pdf.mjs'
import workerUrl from 'pdfjs-dist/legacy/build/pdf.worker.min.mjs?url'

let lib: Promise<typeof import('pdfjs-dist/legacy/build/pdf.mjs')> | null = null

function pdfjs() {
  if (!lib) {
    lib = import('pdfjs-dist/legacy/build/pdf.mjs').then((m) => {
      m.GlobalWorkerOptions.workerSrc = workerUrl
      return m
    })
  }
  return lib
}

// openPDF parses a PDF (bytes) for rendering.
export async function openPDF(data: ArrayBuffer): Promise<PDFDocumentProxy> {
  const m = await pdfjs()
  // pdf.js transfers the buffer to its worker: give it a copy, the caller may keep the original.
  return m.getDocument({ data: new Uint8Array(data.slice(0)), isEvalSupported: false, disableAutoFetch: true }).promise
}

export type { PDFDocumentProxy }
