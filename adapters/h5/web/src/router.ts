import { createRouter, createWebHistory, RouteRecordRaw } from 'vue-router'
import { token } from './api'

// Every page is its own chunk, loaded when first needed.
const routes: RouteRecordRaw[] = [
  { path: '/login', component: () => import('./pages/Login.vue'), meta: { public: true } },
  { path: '/', component: () => import('./pages/Home.vue') },
  { path: '/realname', component: () => import('./pages/RealName.vue') },
  { path: '/signing-password', component: () => import('./pages/SigningPassword.vue') },
  { path: '/certificate', component: () => import('./pages/Certificate.vue') },
  { path: '/signatures', component: () => import('./pages/Signatures.vue') },
  { path: '/signatures/new', component: () => import('./pages/SignatureNew.vue') },
  { path: '/channels', component: () => import('./pages/Channels.vue') },
  { path: '/join', component: () => import('./pages/Join.vue') },
  { path: '/enterprises', component: () => import('./pages/Enterprises.vue') },
  { path: '/enterprises/new', component: () => import('./pages/EnterpriseNew.vue') },
  { path: '/enterprises/:id', component: () => import('./pages/EnterpriseDetail.vue') },
  { path: '/enterprises/:id/members', component: () => import('./pages/Members.vue') },
  { path: '/enterprises/:id/members/new', component: () => import('./pages/MemberAdd.vue') },
  { path: '/enterprises/:id/members/:mid', component: () => import('./pages/MemberDetail.vue') },
  { path: '/enterprises/:id/seals', component: () => import('./pages/Seals.vue') },
  { path: '/enterprises/:id/seals/new', component: () => import('./pages/SealNew.vue') },
  { path: '/enterprises/:id/seals/:sid', component: () => import('./pages/SealDetail.vue') },
  { path: '/flows', component: () => import('./pages/Flows.vue') },
  { path: '/flows/new', component: () => import('./pages/FlowNew.vue') },
  { path: '/flows/:id', component: () => import('./pages/FlowDetail.vue') },
  { path: '/flows/:id/sign', component: () => import('./pages/FlowSign.vue') },
  { path: '/verify', component: () => import('./pages/VerifyPdf.vue'), meta: { public: true } },
  { path: '/verifications/:id', component: () => import('./pages/Verification.vue') },
  { path: '/verifications/:id/sign', component: () => import('./pages/VerificationSign.vue') },
  { path: '/verifications/:id/bank-transfer', component: () => import('./pages/BankTransfer.vue') },
  { path: '/purchase', component: () => import('./pages/Purchase.vue') },
  { path: '/orders', component: () => import('./pages/Orders.vue') },
  { path: '/orders/:id/pay', component: () => import('./pages/Pay.vue') },
  { path: '/orders/:id/invoice', component: () => import('./pages/InvoiceNew.vue') },
  { path: '/invoices/:id', component: () => import('./pages/Invoice.vue') },
  { path: '/me', component: () => import('./pages/Me.vue') },
  { path: '/me/password', component: () => import('./pages/LoginPassword.vue') },
  { path: '/a/:token', component: () => import('./pages/LinkSign.vue'), meta: { public: true } },
  { path: '/sandbox/liveness/:session', component: () => import('./pages/SandboxLiveness.vue'), meta: { public: true } },
  { path: '/:rest(.*)*', component: () => import('./pages/NotFound.vue'), meta: { public: true } },
]

// Links in texts may be written as /#/flows/…: they open the same page.
if (location.hash.startsWith('#/')) history.replaceState(null, '', location.hash.slice(1))

export const router = createRouter({ history: createWebHistory(), routes })

router.beforeEach((to) => {
  if (!to.meta.public && !token()) {
    return { path: '/login', query: { redirect: to.fullPath } }
  }
})

// back goes to the previous page, or to fallback when the page was opened directly.
export function back(fallback = '/') {
  if (window.history.state && window.history.state.back) router.back()
  else router.replace(fallback)
}
