package http

import (
	"net/http"

	"github.com/shuxinqian/server/application"
)

func (s *Server) registerRoutes() {
	s.handle("GET", "/healthz", s.healthz)
	s.handle("GET", "/readyz", s.readyz)
	s.handle("GET", "/api/v1/openapi.json", s.openapiJSON)
	s.handle("GET", "/api/v1/openapi.yaml", s.openapiYAML)

	s.handle("POST", "/api/v1/sms-codes", s.requestCode)
	s.handle("POST", "/api/v1/sessions", s.login)
	s.authed("DELETE", "/api/v1/sessions/current", s.logout)
	s.authed("GET", "/api/v1/me", s.me)
	s.authed("PUT", "/api/v1/me/password", s.setPassword)
	s.authed("GET", "/api/v1/me/activity", s.activity)

	s.handle("GET", "/api/v1/channels", s.searchChannels)
	s.handle("GET", "/api/v1/channels/{code}", s.getChannel)
	s.handle("GET", "/api/v1/channels/{code}/qr.png", s.channelQR)
	s.authed("PUT", "/api/v1/me/channel", s.switchChannel)

	s.authed("POST", "/api/v1/me/real-name", s.startRealName)
	s.authed("GET", "/api/v1/me/real-name", s.getRealName)
	s.authed("PUT", "/api/v1/me/signing-password", s.setSigningPassword)
	s.authed("POST", "/api/v1/me/signing-password/verify", s.verifySigningPassword)
	s.authed("GET", "/api/v1/me/certificate", s.getCertificate)
	s.authed("POST", "/api/v1/me/certificate/reissue", s.reissueCertificate)
	s.handle("GET", "/api/v1/ca.pem", s.caPEM)
	s.handle("GET", "/api/v1/ca/crl", s.caCRL)
	s.handle("POST", "/api/v1/ca/ocsp", s.caOCSP)
	s.handle("GET", "/api/v1/tsa.pem", s.tsaPEM)
	s.handle("POST", "/api/v1/tsa", s.tsa)
	s.handle("POST", "/api/v1/signature-verifications", s.verifySignatures)
	s.authed("GET", "/api/v1/me/signatures", s.listSignatures)
	s.authed("POST", "/api/v1/me/signatures", s.createSignature)
	s.authed("PUT", "/api/v1/me/signatures/{signature_id}", s.updateSignature)
	s.authed("DELETE", "/api/v1/me/signatures/{signature_id}", s.deleteSignature)
	s.authed("GET", "/api/v1/me/signatures/{signature_id}/image", s.signatureImage)
	s.authed("POST", "/api/v1/files", s.uploadFile)

	s.authed("GET", "/api/v1/business-registry", s.registryLookup)
	s.authed("POST", "/api/v1/enterprise-verifications", s.startVerification)
	s.authed("GET", "/api/v1/enterprise-verifications/{id}", s.getVerification)
	s.authed("POST", "/api/v1/enterprise-verifications/{id}/authorization-link", s.resendLink)
	s.authed("GET", "/api/v1/enterprise-verifications/{id}/authorization-link/qr.png", s.linkQR)
	s.authed("PUT", "/api/v1/enterprise-verifications/{id}/legal-rep-phone", s.changeLegalRepPhone)
	s.authed("GET", "/api/v1/enterprise-verifications/{id}/authorization-letter.pdf", s.letterPDF)
	s.authed("GET", "/api/v1/enterprise-verifications/{id}/authorization-letter.p7s", s.letterP7S)
	s.authed("POST", "/api/v1/enterprise-verifications/{id}/sign", s.signInApp)
	s.authed("POST", "/api/v1/enterprise-verifications/{id}/bank-transfer", s.bankTransfer)
	s.authed("POST", "/api/v1/enterprise-verifications/{id}/bank-transfer/confirm", s.confirmTransfer)
	s.handle("GET", "/api/v1/authorization-letter-template.pdf", s.letterTemplate)

	s.handle("GET", "/api/v1/authorization-links/{token}", s.linkPage)
	s.handle("POST", "/api/v1/authorization-links/{token}/sms-codes", s.linkCode)
	s.handle("POST", "/api/v1/authorization-links/{token}/liveness", s.linkLiveness)
	s.handle("POST", "/api/v1/authorization-links/{token}/signature-image", s.linkSignatureImage)
	s.handle("POST", "/api/v1/authorization-links/{token}/sign", s.linkSign)
	s.handle("GET", "/api/v1/authorization-links/{token}/authorization-letter.pdf", s.linkLetter)

	s.authed("GET", "/api/v1/enterprises", s.listEnterprises)
	s.authed("GET", "/api/v1/enterprises/{enterprise_id}", s.getEnterprise)
	s.authed("GET", "/api/v1/enterprises/{enterprise_id}/certificate", s.enterpriseCertificate)
	s.authed("GET", "/api/v1/enterprises/search", s.searchEnterprises)
	s.authed("POST", "/api/v1/enterprises/{enterprise_id}/join-requests", s.joinRequest)
	s.authed("GET", "/api/v1/enterprises/{enterprise_id}/members", s.listMembers)
	s.authed("POST", "/api/v1/enterprises/{enterprise_id}/members", s.addMember)
	s.authed("POST", "/api/v1/enterprises/{enterprise_id}/members/batch", s.batchMembers)
	s.authed("GET", "/api/v1/enterprises/{enterprise_id}/members/{member_id}", s.getMember)
	s.authed("POST", "/api/v1/enterprises/{enterprise_id}/members/{member_id}/approve", s.decideMember(application.Approve))
	s.authed("POST", "/api/v1/enterprises/{enterprise_id}/members/{member_id}/reject", s.decideMember(application.Reject))
	s.authed("DELETE", "/api/v1/enterprises/{enterprise_id}/members/{member_id}", s.removeMember)

	s.registerSealRoutes()
	s.registerSignFlowRoutes()
	s.registerWebhookRoutes()
	s.authed("GET", "/api/v1/enterprises/{enterprise_id}/catalog", s.catalog)
	s.authed("POST", "/api/v1/enterprises/{enterprise_id}/orders", s.placeOrder)
	s.authed("GET", "/api/v1/orders", s.listOrders)
	s.authed("GET", "/api/v1/orders/{order_id}", s.getOrder)
	s.authed("POST", "/api/v1/orders/{order_id}/cancel", s.cancelOrder)
	s.authed("POST", "/api/v1/orders/{order_id}/wechat-pay", s.wechatPay)
	s.handle("POST", "/api/v1/callbacks/wechat-pay", s.wechatCallback)
	s.registerRefundRoutes()
	s.authed("POST", "/api/v1/orders/{order_id}/invoice", s.requestInvoice)
	s.authed("GET", "/api/v1/invoices/{invoice_id}", s.getInvoice)
	s.authed("GET", "/api/v1/invoices/{invoice_id}/pdf", s.invoicePDF)
	s.handle("GET", "/api/v1/invoice-links/{token}", s.invoiceLink)

	s.registerAdminRoutes()

	if s.opts.Sandbox {
		s.handle("GET", "/api/v1/sandbox/business-registry", s.sandboxRegistry)
		s.handle("GET", "/api/v1/sandbox/bank-transfers", s.sandboxTransfers)
		if s.opts.SandboxWeChatPay != nil {
			s.handle("POST", "/api/v1/sandbox/wechat-pay/orders/{order_id}/pay", s.sandboxPay)
		}
		if s.opts.SandboxRefund != nil {
			s.handle("POST", "/api/v1/sandbox/wechat-pay/refunds/{refund_no}/settle", s.sandboxSettleRefund)
		}
		s.handle("GET", "/api/v1/sandbox/sms", s.sandboxSMS)
		if s.opts.SandboxLiveness != nil {
			s.handle("GET", "/api/v1/sandbox/liveness/{session_id}", s.sandboxLivenessPage)
			s.handle("POST", "/api/v1/sandbox/liveness/{session_id}", s.sandboxLiveness)
		}
	}
}

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) error {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) error {
	if s.opts.Ready != nil {
		if err := s.opts.Ready(r.Context()); err != nil {
			s.log.WarnContext(r.Context(), "not ready", "err", err)
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable"})
			return nil
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}
