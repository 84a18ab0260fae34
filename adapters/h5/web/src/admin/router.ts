import { createRouter, createWebHistory } from 'vue-router'
import { loadMe, session, can } from './session'
import { whenUnauthenticated } from './api'

// Each menu entry with the permission it needs (GET /api/v1/admin/me lists the operator's).
export const menu = [
  { path: '/channels', title: '渠道管理', perm: 'read' },
  { path: '/settings', title: '平台设置', perm: 'read' },
  { path: '/banners', title: '广告图', perm: 'read' },
  { path: '/enterprises', title: '企业管理', perm: 'enterprises.read' },
  { path: '/orders', title: '订单与退款', perm: 'orders.read' },
  { path: '/anomalies', title: '支付异常', perm: 'orders.read' },
  { path: '/dead-letters', title: '死信队列', perm: 'dead-letters.read' },
  { path: '/audit', title: '操作日志', perm: 'audit.read' },
  { path: '/operators', title: '操作员管理', perm: 'operators' },
]

export const router = createRouter({
  history: createWebHistory('/admin/'),
  routes: [
    { path: '/login', component: () => import('./pages/Login.vue'), meta: { public: true } },
    {
      path: '/',
      component: () => import('./pages/Layout.vue'),
      children: [
        { path: '', redirect: '/channels' },
        { path: 'channels', component: () => import('./pages/Channels.vue'), meta: { perm: 'read' } },
        { path: 'channels/:code', component: () => import('./pages/ChannelDetail.vue'), meta: { perm: 'read' } },
        { path: 'settings', component: () => import('./pages/Settings.vue'), meta: { perm: 'read' } },
        { path: 'banners', component: () => import('./pages/Banners.vue'), meta: { perm: 'read' } },
        { path: 'enterprises', component: () => import('./pages/Enterprises.vue'), meta: { perm: 'enterprises.read' } },
        { path: 'enterprises/:id', component: () => import('./pages/EnterpriseDetail.vue'), meta: { perm: 'enterprises.read' } },
        { path: 'verifications/:id', component: () => import('./pages/VerificationDetail.vue'), meta: { perm: 'enterprises.read' } },
        { path: 'orders', component: () => import('./pages/Orders.vue'), meta: { perm: 'orders.read' } },
        { path: 'orders/:id', component: () => import('./pages/OrderDetail.vue'), meta: { perm: 'orders.read' } },
        { path: 'orders/:id/refund', component: () => import('./pages/OrderDetail.vue'), meta: { perm: 'orders.read', refund: true } },
        { path: 'anomalies', component: () => import('./pages/Anomalies.vue'), meta: { perm: 'orders.read' } },
        { path: 'dead-letters', component: () => import('./pages/DeadLetters.vue'), meta: { perm: 'dead-letters.read' } },
        { path: 'audit', component: () => import('./pages/Audit.vue'), meta: { perm: 'audit.read' } },
        { path: 'operators', component: () => import('./pages/Operators.vue'), meta: { perm: 'operators' } },
        { path: ':rest(.*)*', component: () => import('./pages/NotFound.vue') },
      ],
    },
  ],
})

router.beforeEach(async (to) => {
  if (to.meta.public) return true
  const me = await loadMe()
  if (!me) return { path: '/login', query: to.fullPath !== '/' ? { next: to.fullPath } : {} }
  const perm = to.meta.perm as string | undefined
  if (perm && !can(perm)) {
    const first = menu.find((m) => can(m.perm))
    return first && first.path !== to.path ? first.path : true
  }
  return true
})

whenUnauthenticated(() => {
  session.me = null
  router.push('/login')
})
