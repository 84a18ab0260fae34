import { ApiError } from '../errors'

// The operator's token is kept apart from the app user's (localStorage 'sxq.token'): per tab,
// gone when the tab closes.
const TOKEN = 'sxq.op'

export function opToken(): string | null {
  return sessionStorage.getItem(TOKEN)
}
export function setOpToken(t: string | null) {
  if (t) sessionStorage.setItem(TOKEN, t)
  else sessionStorage.removeItem(TOKEN)
}

let onUnauthenticated: () => void = () => {}
export function whenUnauthenticated(fn: () => void) {
  onUnauthenticated = fn
}

// call reaches the console API: JSON in and out, the operator's bearer token, errors as ApiError
// carrying the API's code and message.
export async function call<T = any>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' }
  const t = opToken()
  if (t) headers.Authorization = 'Bearer ' + t
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
    throw new ApiError(0, 'network', '网络异常，请稍后再试')
  }
  if (res.status === 204) return undefined as T
  const text = await res.text()
  let data: any
  try {
    data = text ? JSON.parse(text) : undefined
  } catch {
    data = undefined
  }
  if (!res.ok) {
    const err = data?.error || {}
    if (res.status === 401 && t) {
      setOpToken(null)
      onUnauthenticated()
    }
    throw new ApiError(res.status, err.code || 'http-' + res.status, err.message || res.statusText, err.details)
  }
  return data as T
}

export const get = <T = any>(p: string) => call<T>('GET', p)
export const post = <T = any>(p: string, b?: unknown) => call<T>('POST', p, b ?? {})
export const put = <T = any>(p: string, b?: unknown) => call<T>('PUT', p, b ?? {})
export const del = <T = any>(p: string) => call<T>('DELETE', p)

// query builds a query string from the non-empty values.
export function query(params: Record<string, string | number | undefined | null>): string {
  const q = new URLSearchParams()
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v))
  const s = q.toString()
  return s ? '?' + s : ''
}

// Chinese texts for the console's own failures; any other error shows the API's message.
const texts: Record<string, string> = {
  'operator-credentials-invalid': '用户名、密码或动态验证码错误',
  'operator-totp-reused': '该动态验证码已使用，请等待下一个',
  network: '网络异常，请稍后再试',
}

// message is what the console shows for an error: the API's message (with a Chinese text for
// the login failure), never a bare status.
export function message(e: unknown): string {
  if (e instanceof ApiError) return texts[e.code] ? texts[e.code] + '（' + e.message + '）' : e.message
  return String(e)
}

// yuan shows fen as yuan with two decimals.
export function yuan(fen: number | undefined | null): string {
  return '¥' + ((fen || 0) / 100).toFixed(2)
}

// toFen parses a yuan amount ("12", "12.5", "12.50") into fen without floating point; null when
// malformed.
export function toFen(s: string): number | null {
  const m = /^\s*(\d{1,9})(?:\.(\d{1,2}))?\s*$/.exec(s)
  if (!m) return null
  return Number(m[1]) * 100 + Number((m[2] || '').padEnd(2, '0'))
}

// fenText shows fen as a yuan amount for an input ("12.50").
export function fenText(fen: number): string {
  return (Math.trunc(fen / 100)) + '.' + String(fen % 100).padStart(2, '0')
}

export function time(s: string | undefined | null): string {
  if (!s) return ''
  const d = new Date(s)
  if (isNaN(d.getTime())) return s
  const p = (n: number) => String(n).padStart(2, '0')
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`
}

export const orderStatus: Record<string, string> = {
  pending_payment: '待支付',
  paid: '已支付',
  closed: '已关闭',
  refunding: '退款中',
  partially_refunded: '部分退款',
  refunded: '已退款',
}

export const refundStatus: Record<string, string> = {
  submitting: '提交中',
  processing: '处理中',
  success: '退款成功',
  closed: '退款关闭',
  abnormal: '退款异常',
}

export const roles: Record<string, string> = { admin: '管理员', finance: '财务', support: '客服' }

export const methods: Record<string, string> = { id2: '二要素（姓名+身份证）', id3: '三要素（+手机号）', face: '人脸识别' }
