// Words and helpers of the sign flows (签署流程), shared by their pages.
import { ApiError } from './errors'
import { token } from './api'

export const flowStatusText = (s: string) =>
  (({ draft: '草稿', signing: '签署中', completed: '已完成', rejected: '已拒签', revoked: '已撤销', expired: '已过期' }) as Record<string, string>)[s] || s

export const signerStateText = (s: string, invited?: boolean) =>
  invited && s !== 'signed' && s !== 'rejected'
    ? '待注册'
    : (({ waiting: '等待中', current: '待签署', signed: '已签署', rejected: '已拒签' }) as Record<string, string>)[s] || s

export const signerKindText = (k: string) => (k === 'organization' ? '企业' : '个人')

// Field sizes in PDF points (the server's: a 42 mm seal, a 120×60 signature).
export const fieldSize = (kind: string) => (kind === 'organization' ? { w: 119, h: 119 } : { w: 120, h: 60 })

// fetchBytes gets an authenticated file (a flow's PDF, its evidence report).
export async function fetchBytes(path: string): Promise<Blob> {
  const headers: Record<string, string> = {}
  const t = token()
  if (t) headers.Authorization = 'Bearer ' + t
  const res = await fetch(path, { headers })
  if (!res.ok) {
    let code = 'http-' + res.status
    try {
      code = (await res.json())?.error?.code || code
    } catch {
      /* not JSON */
    }
    throw new ApiError(res.status, code, res.statusText)
  }
  return res.blob()
}

// download saves a blob under a file name through a temporary link.
export function download(blob: Blob, name: string) {
  const url = URL.createObjectURL(blob)
  const a = document.createElement('a')
  a.href = url
  a.download = name
  document.body.appendChild(a)
  a.click()
  a.remove()
  setTimeout(() => URL.revokeObjectURL(url), 60000)
}
