import { ApiError } from './errors'

const TOKEN = 'sxq.token'

export function token(): string | null {
  return localStorage.getItem(TOKEN)
}
export function setToken(t: string | null) {
  if (t) localStorage.setItem(TOKEN, t)
  else localStorage.removeItem(TOKEN)
}

type Opts = { auth?: boolean; headers?: Record<string, string> }

// call is the one way the client reaches the API: JSON in and out, bearer token, errors as ApiError.
export async function call<T = any>(method: string, path: string, body?: unknown, opts: Opts = {}): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json', ...(opts.headers || {}) }
  const t = token()
  if (t && opts.auth !== false) headers.Authorization = 'Bearer ' + t
  let payload: BodyInit | undefined
  if (body instanceof FormData) payload = body
  else if (body !== undefined) {
    headers['Content-Type'] = 'application/json'
    payload = JSON.stringify(body)
  }
  let res: Response
  try {
    res = await fetch(path, { method, headers, body: payload })
  } catch {
    throw new ApiError(0, 'network', '网络异常')
  }
  if (res.status === 204) return undefined as T
  const text = await res.text()
  let data: any = undefined
  try {
    data = text ? JSON.parse(text) : undefined
  } catch {
    data = undefined
  }
  if (!res.ok) {
    const err = data?.error || {}
    if (res.status === 401 && opts.auth !== false) setToken(null)
    throw new ApiError(res.status, err.code || 'http-' + res.status, err.message || res.statusText, err.details)
  }
  return data as T
}

export const get = <T = any>(p: string, o?: Opts) => call<T>('GET', p, undefined, o)
export const post = <T = any>(p: string, b?: unknown, o?: Opts) => call<T>('POST', p, b ?? {}, o)
export const put = <T = any>(p: string, b?: unknown, o?: Opts) => call<T>('PUT', p, b ?? {}, o)
export const del = <T = any>(p: string, o?: Opts) => call<T>('DELETE', p, undefined, o)

// upload posts a file for a purpose (business_licence, authorization_letter_scan, signature).
export function upload(file: Blob, purpose: string, name = 'upload'): Promise<{ file_id: string }> {
  const fd = new FormData()
  fd.append('purpose', purpose)
  fd.append('file', file, (file as File).name || name)
  return call('POST', '/api/v1/files', fd)
}

// blobURL fetches an authenticated resource (an image, a PDF) and gives a local URL for it.
export async function blobURL(path: string): Promise<string> {
  const headers: Record<string, string> = {}
  const t = token()
  if (t) headers.Authorization = 'Bearer ' + t
  const res = await fetch(path, { headers })
  if (!res.ok) throw new ApiError(res.status, 'http-' + res.status, res.statusText)
  return URL.createObjectURL(await res.blob())
}

export function idempotencyKey(): string {
  const b = new Uint8Array(16)
  crypto.getRandomValues(b)
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('')
}

export function yuan(fen: number): string {
  return '¥' + (fen / 100).toFixed(2)
}

// samePath turns an absolute URL on this origin into a router path, or null for another origin.
export function samePath(u: string): string | null {
  try {
    const x = new URL(u, location.href)
    return x.origin === location.origin ? x.pathname + x.search : null
  } catch {
    return null
  }
}
