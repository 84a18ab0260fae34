import { showToast } from 'vant'

// copyText copies to the clipboard, with a fallback for browsers without the async clipboard API.
export async function copyText(text: string, done = '已复制') {
  try {
    await navigator.clipboard.writeText(text)
  } catch {
    const t = document.createElement('textarea')
    t.value = text
    t.setAttribute('aria-label', '复制内容')
    document.body.appendChild(t)
    t.select()
    document.execCommand('copy')
    t.remove()
  }
  showToast(done)
}
