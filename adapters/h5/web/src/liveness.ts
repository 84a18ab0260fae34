import { router } from './router'
import { samePath } from './api'

// goLiveness opens a face-check page and remembers where to come back to. The sandbox page is a
// route of this client; a provider's page (another origin) redirects back by itself.
export function goLiveness(url: string, backTo: string) {
  sessionStorage.setItem('sxq.livenessBack', backTo)
  const p = samePath(url)
  if (p) router.push(p)
  else window.location.href = url
}

export function livenessBack(): string {
  return sessionStorage.getItem('sxq.livenessBack') || '/'
}
