import { reactive } from 'vue'
import { get, token } from './api'

export type Me = {
  id: string
  phone: string
  real_name_status: string
  name: string | null
  id_number: string | null
  channel: { code: string; name: string } | null
  certificate: { serial: string; subject: string; not_before: string; not_after: string; status: string } | null
  enterprises: any[]
  has_password: boolean
}

export const session = reactive<{ me: Me | null; enterpriseId: string }>({
  me: null,
  enterpriseId: localStorage.getItem('sxq.enterprise') || '',
})

export async function loadMe(): Promise<Me | null> {
  if (!token()) {
    session.me = null
    return null
  }
  session.me = await get<Me>('/api/v1/me')
  return session.me
}

export function chooseEnterprise(id: string) {
  session.enterpriseId = id
  localStorage.setItem('sxq.enterprise', id)
}
