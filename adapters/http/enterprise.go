package http

import (
	"encoding/pem"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/shuxinqian/server/application"
	"github.com/shuxinqian/server/domain/enterprise"
	"github.com/shuxinqian/server/domain/file"
	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/ports"
)

func (s *Server) registryLookup(w http.ResponseWriter, r *http.Request, _ application.Actor) error {
	e, err := s.app.RegistryLookup(r.Context(), r.URL.Query().Get("name"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]string{"name": e.Name, "credit_code": string(e.CreditCode),
		"legal_rep_name": kernel.MaskName(e.LegalRepName)})
	return nil
}

type startVerificationRequest struct {
	EnterpriseName        string `json:"enterprise_name"`
	LegalRepIDNumber      string `json:"legal_rep_id_number"`
	LegalRepPhone         string `json:"legal_rep_phone"`
	BusinessLicenceFileID string `json:"business_licence_file_id"`
	AgreementAccepted     bool   `json:"agreement_accepted"`
}

type linkJSON struct {
	URL       string    `json:"url"`
	QRPNGURL  string    `json:"qr_png_url"`
	ExpiresAt time.Time `json:"expires_at"`
}

type transferJSON struct {
	Status        string     `json:"status"`
	AccountNumber string     `json:"account_number"`
	BankName      string     `json:"bank_name"`
	BankProvince  string     `json:"bank_province"`
	BankBranch    string     `json:"bank_branch,omitempty"`
	RequestedAt   time.Time  `json:"requested_at"`
	RemittedAt    *time.Time `json:"remitted_at,omitempty"`
	ConfirmBy     *time.Time `json:"confirm_by,omitempty"`
	AttemptsLeft  int        `json:"attempts_left"`
	FailureReason string     `json:"failure_reason,omitempty"`
}

// evidenceJSON is what proves the letter's signing (issue 12): which certificate, the document
// hashes, how the signer was identified, from where and when.
type evidenceJSON struct {
	Channel           string     `json:"channel"`
	CertificateKind   string     `json:"certificate_kind,omitempty"`
	CertificateSerial string     `json:"certificate_serial"`
	LetterSHA256      string     `json:"letter_sha256"`
	DocumentSHA256    string     `json:"document_sha256,omitempty"`
	PhoneCheck        string     `json:"phone_check,omitempty"`
	PhoneVerifiedAt   *time.Time `json:"phone_verified_at,omitempty"`
	CodeVerifiedAt    time.Time  `json:"code_verified_at"`
	LivenessResultID  string     `json:"liveness_result_id,omitempty"`
	IP                string     `json:"ip"`
}

type verificationJSON struct {
	ID             string        `json:"id"`
	Status         string        `json:"status"`
	InitiatorRole  string        `json:"initiator_role"`
	Method         string        `json:"method"`
	NextStep       string        `json:"next_step"`
	EnterpriseName string        `json:"enterprise_name"`
	CreditCode     string        `json:"credit_code"`
	LegalRepName   string        `json:"legal_rep_name"`
	LegalRepPhone  string        `json:"legal_rep_phone"`
	Link           *linkJSON     `json:"link,omitempty"`
	Transfer       *transferJSON `json:"transfer,omitempty"`
	SignedAt       *time.Time    `json:"signed_at,omitempty"`
	LetterURL      string        `json:"authorization_letter_url"`
	SignatureURL   string        `json:"authorization_letter_signature_url,omitempty"`
	Evidence       *evidenceJSON `json:"signing_evidence,omitempty"`
	EnterpriseID   string        `json:"enterprise_id,omitempty"`
	CreatedAt      time.Time     `json:"created_at"`
}

func toVerificationJSON(vw application.VerificationView) verificationJSON {
	v := vw.V
	base := "/api/v1/enterprise-verifications/" + string(v.ID())
	j := verificationJSON{ID: string(v.ID()), Status: string(v.Status()), InitiatorRole: string(v.Role()), Method: string(v.Method()),
		NextStep: vw.NextStep, EnterpriseName: v.EnterpriseName(), CreditCode: string(v.CreditCode()),
		LegalRepName: kernel.MaskName(v.LegalRepName()), LegalRepPhone: v.LegalRepPhone().Masked(),
		LetterURL: base + "/authorization-letter.pdf", EnterpriseID: string(v.EnterpriseID()), CreatedAt: v.CreatedAt()}
	if vw.Link != nil {
		j.Link = &linkJSON{URL: vw.Link.URL, QRPNGURL: base + "/authorization-link/qr.png", ExpiresAt: vw.Link.ExpiresAt}
	}
	if sg := v.Signing(); sg != nil {
		t := sg.SignedAt
		j.SignedAt, j.SignatureURL = &t, base+"/authorization-letter.p7s"
		ev := sg.Evidence
		j.Evidence = &evidenceJSON{Channel: ev.Channel, CertificateKind: ev.CertificateKind, CertificateSerial: sg.CertSerial,
			LetterSHA256: sg.LetterSHA256, DocumentSHA256: ev.DocumentSHA256, PhoneCheck: ev.PhoneCheck, CodeVerifiedAt: ev.OTPVerifiedAt,
			LivenessResultID: ev.LivenessResultID, IP: ev.IP}
		if !ev.PhoneVerifiedAt.IsZero() {
			pv := ev.PhoneVerifiedAt
			j.Evidence.PhoneVerifiedAt = &pv
		}
	}
	if t := v.Transfer(); t != nil {
		tj := &transferJSON{Status: string(t.Status), AccountNumber: kernel.MaskBankAccount(t.AccountNumber), BankName: t.BankName,
			BankProvince: t.Province, BankBranch: t.Branch, RequestedAt: t.RequestedAt, FailureReason: t.FailureReason,
			AttemptsLeft: max(0, enterprise.TransferWrongTries-t.WrongTries)}
		if !t.RemittedAt.IsZero() {
			r, by := t.RemittedAt, t.RemittedAt.Add(enterprise.TransferConfirmTTL)
			tj.RemittedAt, tj.ConfirmBy = &r, &by
		}
		j.Transfer = tj
	}
	return j
}

func (s *Server) startVerification(w http.ResponseWriter, r *http.Request, a application.Actor) error {
	var req startVerificationRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	vw, err := s.app.StartVerification(r.Context(), a, application.StartVerification{EnterpriseName: req.EnterpriseName,
		LegalRepIDNumber: req.LegalRepIDNumber, LegalRepPhone: req.LegalRepPhone, LicenceFileID: req.BusinessLicenceFileID,
		AgreementAccepted: req.AgreementAccepted})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, toVerificationJSON(vw))
	return nil
}

func (s *Server) getVerification(w http.ResponseWriter, r *http.Request, a application.Actor) error {
	vw, err := s.app.Verification(r.Context(), a, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toVerificationJSON(vw))
	return nil
}

func (s *Server) resendLink(w http.ResponseWriter, r *http.Request, a application.Actor) error {
	vw, err := s.app.ResendAuthorizationLink(r.Context(), a, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toVerificationJSON(vw).Link)
	return nil
}

type legalRepPhoneRequest struct {
	Phone string `json:"phone"`
}

func (s *Server) changeLegalRepPhone(w http.ResponseWriter, r *http.Request, a application.Actor) error {
	var req legalRepPhoneRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	vw, err := s.app.ChangeLegalRepPhone(r.Context(), a, r.PathValue("id"), req.Phone)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toVerificationJSON(vw))
	return nil
}

func (s *Server) linkQR(w http.ResponseWriter, r *http.Request, a application.Actor) error {
	vw, err := s.app.Verification(r.Context(), a, r.PathValue("id"))
	if err != nil {
		return err
	}
	if vw.Link == nil {
		return kernel.NotFound("authorization-link-not-found", "this verification has no live signing link")
	}
	png, err := s.app.QRCode(vw.Link.URL)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(png) //nolint:gosec // a PNG we drew, served as image/png with nosniff
	return nil
}

func writePDF(w http.ResponseWriter, name string, b []byte) {
	w.Header().Set("Content-Type", "application/pdf")
	w.Header().Set("Content-Disposition", mime.FormatMediaType("inline", map[string]string{"filename": name}))
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(b) //nolint:gosec // a PDF we made, served as application/pdf with nosniff
}

func (s *Server) letterPDF(w http.ResponseWriter, r *http.Request, a application.Actor) error {
	b, err := s.app.AuthorizationLetter(r.Context(), a, r.PathValue("id"))
	if err != nil {
		return err
	}
	writePDF(w, "authorization-letter.pdf", b)
	return nil
}

func (s *Server) letterP7S(w http.ResponseWriter, r *http.Request, a application.Actor) error {
	b, err := s.app.AuthorizationLetterSignature(r.Context(), a, r.PathValue("id"))
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/pkcs7-signature")
	w.Header().Set("Content-Disposition", `attachment; filename="authorization-letter.p7s"`)
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(b) //nolint:gosec // DER we made, served as a download
	return nil
}

func (s *Server) letterTemplate(w http.ResponseWriter, _ *http.Request) error {
	b, err := s.app.AuthorizationLetterTemplate()
	if err != nil {
		return err
	}
	writePDF(w, "shuxinqian-authorization-letter.pdf", b)
	return nil
}

type signRequest struct {
	SignatureID     string `json:"signature_id"`
	Code            string `json:"code"`
	SigningPassword string `json:"signing_password"`
}

func (s *Server) signInApp(w http.ResponseWriter, r *http.Request, a application.Actor) error {
	var req signRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	vw, err := s.app.SignInApp(r.Context(), a, r.PathValue("id"), req.SignatureID, req.Code, req.SigningPassword, s.clientIP(r), r.UserAgent())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toVerificationJSON(vw))
	return nil
}

type bankTransferRequest struct {
	AccountNumber string `json:"account_number"`
	BankName      string `json:"bank_name"`
	BankProvince  string `json:"bank_province"`
	BankBranch    string `json:"bank_branch,omitempty"`
}

func (s *Server) bankTransfer(w http.ResponseWriter, r *http.Request, a application.Actor) error {
	var req bankTransferRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	vw, err := s.app.StartBankTransfer(r.Context(), a, r.PathValue("id"), enterprise.TransferRequest{AccountNumber: req.AccountNumber,
		BankName: req.BankName, Province: req.BankProvince, Branch: req.BankBranch})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, toVerificationJSON(vw))
	return nil
}

type confirmTransferRequest struct {
	AmountFen                 int64  `json:"amount_fen"`
	AuthorizationLetterFileID string `json:"authorization_letter_file_id"`
}

func (s *Server) confirmTransfer(w http.ResponseWriter, r *http.Request, a application.Actor) error {
	var req confirmTransferRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	vw, err := s.app.ConfirmBankTransfer(r.Context(), a, r.PathValue("id"), req.AmountFen, req.AuthorizationLetterFileID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toVerificationJSON(vw))
	return nil
}

// Signing link (no login: the token in the path is the capability).

type linkPageJSON struct {
	EnterpriseName string        `json:"enterprise_name"`
	CreditCode     string        `json:"credit_code"`
	LegalRepName   string        `json:"legal_rep_name"`
	Phone          string        `json:"phone"`
	ExpiresAt      time.Time     `json:"expires_at"`
	Steps          linkStepsJSON `json:"steps"`
	Liveness       *livenessJSON `json:"liveness,omitempty"`
	LetterURL      string        `json:"authorization_letter_url"`
}

type linkStepsJSON struct {
	PhoneVerified  bool `json:"phone_verified"`
	LivenessPassed bool `json:"liveness_passed"`
}

func (s *Server) linkPage(w http.ResponseWriter, r *http.Request) error {
	p, err := s.app.AuthorizationLink(r.Context(), r.PathValue("token"))
	if err != nil {
		return err
	}
	j := linkPageJSON{EnterpriseName: p.EnterpriseName, CreditCode: p.CreditCode, LegalRepName: p.LegalRepName, Phone: p.PhoneMasked,
		ExpiresAt: p.ExpiresAt, Steps: linkStepsJSON{PhoneVerified: p.PhoneVerified, LivenessPassed: p.LivenessPassed},
		LetterURL: p.LetterURL}
	if p.Liveness != nil {
		j.Liveness = &livenessJSON{SessionID: p.Liveness.SessionID, URL: p.Liveness.URL}
	}
	writeJSON(w, http.StatusOK, j)
	return nil
}

type linkCodeRequest struct {
	Purpose string `json:"purpose"`
	// DocumentSHA256 (optional, purpose sign) is the hash of the letter the legal rep saw.
	DocumentSHA256 string `json:"document_sha256,omitempty"`
}

func (s *Server) linkCode(w http.ResponseWriter, r *http.Request) error {
	var req linkCodeRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	res, err := s.app.LinkRequestCode(r.Context(), r.PathValue("token"), req.Purpose, req.DocumentSHA256, s.clientIP(r))
	if err != nil {
		return err
	}
	if res.DocumentSHA256 != "" {
		writeJSON(w, http.StatusAccepted, map[string]any{"expires_in": int(res.ExpiresIn / time.Second),
			"resend_after": int(res.ResendAfter / time.Second), "document_sha256": res.DocumentSHA256})
		return nil
	}
	writeJSON(w, http.StatusAccepted, smsCodeResponse{ExpiresIn: int(res.ExpiresIn / time.Second), ResendAfter: int(res.ResendAfter / time.Second)})
	return nil
}

type linkLivenessRequest struct {
	Code string `json:"code"`
}

func (s *Server) linkLiveness(w http.ResponseWriter, r *http.Request) error {
	var req linkLivenessRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	lv, err := s.app.LinkStartLiveness(r.Context(), r.PathValue("token"), req.Code)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, livenessJSON{SessionID: lv.SessionID, URL: lv.URL})
	return nil
}

func (s *Server) linkSignatureImage(w http.ResponseWriter, r *http.Request) error {
	_, data, err := s.readUpload(w, r, "", file.MaxSize)
	if err != nil {
		return err
	}
	rec, err := s.app.LinkUploadSignature(r.Context(), r.PathValue("token"), data)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, fileJSON{FileID: string(rec.ID), ContentType: rec.Info.ContentType, Size: rec.Info.Size,
		Width: rec.Info.Width, Height: rec.Info.Height, SHA256: rec.Info.SHA256, Purpose: string(rec.Purpose)})
	return nil
}

type linkSignRequest struct {
	Code                 string `json:"code"`
	SignatureImageFileID string `json:"signature_image_file_id,omitempty"`
	Generate             bool   `json:"generate,omitempty"`
}

func (s *Server) linkSign(w http.ResponseWriter, r *http.Request) error {
	var req linkSignRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	v, err := s.app.LinkSign(r.Context(), r.PathValue("token"), req.Code, req.SignatureImageFileID, req.Generate, s.clientIP(r), r.UserAgent())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": string(v.Status()), "enterprise_name": v.EnterpriseName(),
		"signed": v.Signing() != nil})
	return nil
}

func (s *Server) linkLetter(w http.ResponseWriter, r *http.Request) error {
	b, err := s.app.LinkLetter(r.Context(), r.PathValue("token"))
	if err != nil {
		return err
	}
	writePDF(w, "authorization-letter.pdf", b)
	return nil
}

// Enterprises.

type orgCertJSON struct {
	Serial    string    `json:"serial"`
	Subject   string    `json:"subject"`
	NotBefore time.Time `json:"not_before"`
	NotAfter  time.Time `json:"not_after"`
	PEM       string    `json:"pem,omitempty"`
}

type enterpriseJSON struct {
	ID           string       `json:"id"`
	Name         string       `json:"name"`
	CreditCode   string       `json:"credit_code"`
	Role         string       `json:"role"`
	LegalRepName string       `json:"legal_rep_name"`
	Method       string       `json:"verification_method"`
	VerifiedAt   time.Time    `json:"verified_at"`
	Certificate  *orgCertJSON `json:"certificate"`
	Quota        *quotaJSON   `json:"quota,omitempty"`
}

// quotaJSON is what the enterprise bought (paid orders).
type quotaJSON struct {
	Signatures       int `json:"signatures"`
	CertificateYears int `json:"certificate_years"`
}

func toEnterpriseJSON(v application.EnterpriseView) enterpriseJSON {
	e := v.E
	j := enterpriseJSON{ID: string(e.ID()), Name: e.Name(), CreditCode: string(e.CreditCode()), Role: string(v.Role),
		LegalRepName: kernel.MaskName(e.LegalRepName()), Method: string(e.Method()), VerifiedAt: e.VerifiedAt()}
	if c := e.Certificate(); c != nil {
		j.Certificate = &orgCertJSON{Serial: c.Serial, Subject: c.Subject, NotBefore: c.NotBefore, NotAfter: c.NotAfter}
	}
	return j
}

func (s *Server) listEnterprises(w http.ResponseWriter, r *http.Request, a application.Actor) error {
	vs, err := s.app.MyEnterprises(r.Context(), a)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": toEnterpriseSummaries(vs)})
	return nil
}

func toEnterpriseSummaries(vs []ports.EnterpriseSummary) []enterpriseJSON {
	items := make([]enterpriseJSON, len(vs))
	for i, e := range vs {
		items[i] = enterpriseJSON{ID: string(e.ID), Name: e.Name, CreditCode: string(e.CreditCode), Role: string(e.Role),
			LegalRepName: kernel.MaskName(e.LegalRepName), Method: string(e.Method), VerifiedAt: e.VerifiedAt}
		if e.CertSerial != "" {
			items[i].Certificate = &orgCertJSON{Serial: e.CertSerial, Subject: e.CertSubject, NotBefore: e.CertNotBefore, NotAfter: e.CertNotAfter}
		}
	}
	return items
}

func (s *Server) getEnterprise(w http.ResponseWriter, r *http.Request, a application.Actor) error {
	v, err := s.app.Enterprise(r.Context(), a, r.PathValue("enterprise_id"))
	if err != nil {
		return err
	}
	q, err := s.app.EnterpriseQuota(r.Context(), a, r.PathValue("enterprise_id"))
	if err != nil {
		return err
	}
	j := toEnterpriseJSON(v)
	j.Quota = &quotaJSON{Signatures: q.Signatures, CertificateYears: q.CertificateYears}
	writeJSON(w, http.StatusOK, j)
	return nil
}

func (s *Server) enterpriseCertificate(w http.ResponseWriter, r *http.Request, a application.Actor) error {
	c, err := s.app.EnterpriseCertificate(r.Context(), a, r.PathValue("enterprise_id"))
	if err != nil {
		return err
	}
	p := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.DER})
	if wantsPEM(r) {
		w.Header().Set("Content-Type", "application/x-pem-file")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write(p)
		return nil
	}
	writeJSON(w, http.StatusOK, orgCertJSON{Serial: c.Serial, Subject: c.Subject, NotBefore: c.NotBefore, NotAfter: c.NotAfter, PEM: string(p)})
	return nil
}

// Sandbox views.

// SandboxRegistryEntry is a fixture enterprise of the sandbox registry, unmasked.
type SandboxRegistryEntry struct {
	Name             string `json:"name"`
	CreditCode       string `json:"credit_code"`
	LegalRepName     string `json:"legal_rep_name"`
	LegalRepIDNumber string `json:"legal_rep_id_number"`
	LegalRepPhone    string `json:"legal_rep_phone"`
}

// SandboxTransfer is a micro-deposit the sandbox bank made.
type SandboxTransfer struct {
	Reference      string    `json:"reference"`
	VerificationID string    `json:"verification_id"`
	AccountNumber  string    `json:"account_number"`
	BankName       string    `json:"bank_name"`
	AmountFen      int64     `json:"amount_fen"`
	Amount         string    `json:"amount"`
	Remitted       bool      `json:"remitted"`
	Reason         string    `json:"reason,omitempty"`
	At             time.Time `json:"at"`
}

func (s *Server) sandboxRegistry(w http.ResponseWriter, _ *http.Request) error {
	items := []SandboxRegistryEntry{}
	if s.opts.SandboxRegistry != nil {
		items = append(items, s.opts.SandboxRegistry()...)
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items})
	return nil
}

func (s *Server) sandboxTransfers(w http.ResponseWriter, r *http.Request) error {
	vid := strings.TrimSpace(r.URL.Query().Get("verification_id"))
	items := []SandboxTransfer{}
	if s.opts.SandboxTransfers != nil {
		items = append(items, s.opts.SandboxTransfers(vid)...)
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items})
	return nil
}
