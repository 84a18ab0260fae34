import { reactive } from 'vue'
import { get, opToken, setOpToken, del } from './api'

export type Operator = { id: string; username: string; role: string; permissions: string[] }

// session is the signed-in operator (GET /api/v1/admin/me), loaded once per page load.
export const session = reactive<{ me: Operator | null; loaded: boolean }>({ me: null, loaded: false })

export async function loadMe(): Promise<Operator | null> {
  if (session.loaded) return session.me
  if (!opToken()) {
    session.loaded = true
    return null
  }
  try {
    session.me = await get<Operator>('/api/v1/admin/me')
  } catch {
    session.me = null
  }
  session.loaded = true
  return session.me
}

export function signedIn(op: Operator, token: string) {
  setOpToken(token)
  session.me = op
  session.loaded = true
}

export async function signOut() {
  try {
    if (opToken()) await del('/api/v1/admin/sessions/current')
  } catch {
    // the session is gone either way
  }
  setOpToken(null)
  session.me = null
}

// can reports whether the operator's role holds the permission.
export function can(p: string): boolean {
  return !!session.me && session.me.permissions.includes(p)
}
