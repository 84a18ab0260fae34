// Words for seals (印章管理), shared by the seal pages and the signing pages.
export const sealTypes: { value: string; label: string }[] = [
  { value: 'official', label: '公章' },
  { value: 'contract', label: '合同专用章' },
  { value: 'finance', label: '财务专用章' },
  { value: 'hr', label: '人事专用章' },
  { value: 'legal_rep', label: '法定代表人章' },
]

export const sealTemplates: { value: string; label: string }[] = [
  { value: 'round_star', label: '圆形' },
  { value: 'oval', label: '椭圆形' },
  { value: 'square', label: '方形' },
]

export function sealTypeText(t: string): string {
  return sealTypes.find((x) => x.value === t)?.label || t
}

export function sealTemplateText(t: string): string {
  return sealTemplates.find((x) => x.value === t)?.label || ''
}

export function sealStatusText(s: string): string {
  return ({ active: '启用中', disabled: '已停用', deleted: '已删除' } as Record<string, string>)[s] || s
}

export function grantStateText(s: string): string {
  return ({ active: '有效', expired: '已过期', revoked: '已撤销' } as Record<string, string>)[s] || s
}

export function dateText(s?: string | null): string {
  return s ? new Date(s).toLocaleDateString('zh-CN') : ''
}

export function timeText(s?: string | null): string {
  return s ? new Date(s).toLocaleString('zh-CN', { hour12: false }) : ''
}
