package http

import (
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/shuxinqian/server/application"
	"github.com/shuxinqian/server/domain/channel"
	"github.com/shuxinqian/server/domain/file"
	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/signature"
	"github.com/shuxinqian/server/domain/user"
)

type catalogItemJSON struct {
	SKU          string         `json:"sku"`
	Name         string         `json:"name"`
	Description  string         `json:"description"`
	Kind         string         `json:"kind"`
	UnitPriceFen int64          `json:"unit_price_fen"`
	UnitPrice    string         `json:"unit_price"`
	Grants       channel.Grants `json:"grants"`
	TaxCode      string         `json:"tax_code"`
	TaxCategory  string         `json:"tax_category"`
	TaxRateBP    int            `json:"tax_rate_bp"`
	TaxRate      string         `json:"tax_rate"`
	Unit         string         `json:"unit"`
	Spec         string         `json:"spec,omitempty"`
}

type channelJSON struct {
	Code                string            `json:"code"`
	Name                string            `json:"name"`
	RealNameMethod      string            `json:"real_name_method"`
	PersonalCertService bool              `json:"personal_cert_service"`
	JoinURL             string            `json:"join_url,omitempty"`
	QRPNGURL            string            `json:"qr_png_url,omitempty"`
	Catalog             []catalogItemJSON `json:"catalog,omitzero"`
}

func (s *Server) channelJSON(c *channel.Channel, withCatalog bool) channelJSON {
	j := channelJSON{Code: c.Code(), Name: c.Name(), RealNameMethod: string(c.Method()), PersonalCertService: c.PersonalCertService(),
		QRPNGURL: "/api/v1/channels/" + c.Code() + "/qr.png"}
	if withCatalog {
		j.JoinURL = s.app.ChannelJoinURL(c)
		j.Catalog = []catalogItemJSON{}
		for _, it := range c.Catalog() {
			j.Catalog = append(j.Catalog, catalogItemJSON{SKU: it.SKU, Name: it.Name, Description: it.Description, Kind: string(it.Kind),
				UnitPriceFen: it.UnitPrice.Fen(), UnitPrice: it.UnitPrice.String(), Grants: it.Grants,
				TaxCode: it.Tax.Code, TaxCategory: it.Tax.Category, TaxRateBP: it.Tax.Rate.BasisPoints(), TaxRate: it.Tax.Rate.String(),
				Unit: it.Unit, Spec: it.Spec})
		}
	}
	return j
}

func (s *Server) searchChannels(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	cs, err := s.app.SearchChannels(r.Context(), q.Get("q"), q.Get("code"))
	if err != nil {
		return err
	}
	items := make([]channelJSON, len(cs))
	for i, c := range cs {
		items[i] = s.channelJSON(c, false)
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items})
	return nil
}

func (s *Server) getChannel(w http.ResponseWriter, r *http.Request) error {
	c, err := s.app.Channel(r.Context(), r.PathValue("code"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.channelJSON(c, true))
	return nil
}

func (s *Server) channelQR(w http.ResponseWriter, r *http.Request) error {
	png, err := s.app.ChannelQR(r.Context(), r.PathValue("code"))
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(png) //nolint:gosec // a PNG we drew, served as image/png with nosniff
	return nil
}

type switchChannelRequest struct {
	Code string `json:"code,omitempty"`
	QR   string `json:"qr,omitempty"`
}

func (s *Server) switchChannel(w http.ResponseWriter, r *http.Request, a application.Actor) error {
	var req switchChannelRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	c, err := s.app.SwitchChannel(r.Context(), a, req.Code, req.QR)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.channelJSON(c, true))
	return nil
}

type realNameRequest struct {
	Name     string `json:"name"`
	IDNumber string `json:"id_number"`
	Consent  bool   `json:"consent"`
}

type livenessJSON struct {
	SessionID string `json:"session_id"`
	URL       string `json:"url"`
}

type realNameJSON struct {
	Status        string        `json:"status"`
	Name          string        `json:"name,omitempty"`
	IDNumber      string        `json:"id_number,omitempty"`
	Method        string        `json:"method,omitempty"`
	VerifiedAt    *time.Time    `json:"verified_at,omitempty"`
	Liveness      *livenessJSON `json:"liveness,omitempty"`
	FailureReason string        `json:"failure_reason,omitempty"`
	AttemptsLeft  int           `json:"attempts_left"`
}

func toRealNameJSON(v application.RealNameView) realNameJSON {
	j := realNameJSON{Status: string(v.Status), Name: v.Name, IDNumber: v.IDNumberMasked, Method: v.Method,
		FailureReason: v.FailureReason, AttemptsLeft: v.AttemptsLeft}
	if !v.VerifiedAt.IsZero() {
		t := v.VerifiedAt
		j.VerifiedAt = &t
	}
	if v.Liveness != nil {
		j.Liveness = &livenessJSON{SessionID: v.Liveness.SessionID, URL: v.Liveness.URL}
	}
	return j
}

func (s *Server) startRealName(w http.ResponseWriter, r *http.Request, a application.Actor) error {
	var req realNameRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	v, err := s.app.StartRealName(r.Context(), a, application.StartRealName{Name: req.Name, IDNumber: req.IDNumber,
		Consent: req.Consent, ClientIP: s.clientIP(r)})
	if err != nil {
		return err
	}
	status := http.StatusOK
	if v.Status == user.RealNameVerifying {
		status = http.StatusAccepted
	}
	writeJSON(w, status, toRealNameJSON(v))
	return nil
}

func (s *Server) getRealName(w http.ResponseWriter, r *http.Request, a application.Actor) error {
	v, err := s.app.RealName(r.Context(), a)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toRealNameJSON(v))
	return nil
}

type signingPasswordRequest struct {
	Password             string `json:"password"`
	PasswordConfirmation string `json:"password_confirmation"`
	OldPassword          string `json:"old_password,omitempty"`
	Code                 string `json:"code,omitempty"`
	LivenessSessionID    string `json:"liveness_session_id,omitempty"`
}

type certificateJSON struct {
	Serial    string    `json:"serial"`
	Subject   string    `json:"subject"`
	NotBefore time.Time `json:"not_before"`
	NotAfter  time.Time `json:"not_after"`
	Status    string    `json:"status"`
	PEM       string    `json:"pem,omitempty"`
}

func toCertificateJSON(c *user.Certificate, withPEM bool) *certificateJSON {
	if c == nil {
		return nil
	}
	j := &certificateJSON{Serial: c.Serial, Subject: c.Subject, NotBefore: c.NotBefore, NotAfter: c.NotAfter, Status: string(c.Status)}
	if withPEM {
		j.PEM = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.DER}))
	}
	return j
}

func (s *Server) setSigningPassword(w http.ResponseWriter, r *http.Request, a application.Actor) error {
	var req signingPasswordRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	c, created, live, err := s.app.SigningPassword(r.Context(), a, application.SetSigningPassword{Password: req.Password,
		Confirmation: req.PasswordConfirmation, OldPassword: req.OldPassword, Code: req.Code, LivenessSessionID: req.LivenessSessionID})
	if err != nil {
		return err
	}
	if live != nil { // a reset on a face channel: the face check first, then the same request with liveness_session_id
		writeJSON(w, http.StatusAccepted, map[string]any{"status": "verifying", "liveness": map[string]string{"session_id": live.SessionID, "url": live.URL}})
		return nil
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	writeJSON(w, status, map[string]any{"certificate": toCertificateJSON(c, false)})
	return nil
}

type verifySigningPasswordRequest struct {
	Password string `json:"password"`
}

func (s *Server) verifySigningPassword(w http.ResponseWriter, r *http.Request, a application.Actor) error {
	var req verifySigningPasswordRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	if err := s.app.VerifySigningPassword(r.Context(), a, req.Password); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// wantsPEM reports whether the client prefers PEM to JSON, honouring q-values: PEM is chosen
// when it is acceptable (q > 0) and at least as preferred as JSON.
func wantsPEM(r *http.Request) bool {
	pemQ, jsonQ := -1.0, -1.0
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		q := 1.0
		if v, ok := params["q"]; ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil && f >= 0 && f <= 1 {
				q = f
			}
		}
		switch mt {
		case "application/x-pem-file", "application/pem-certificate-chain":
			pemQ = max(pemQ, q)
		case "application/json", "application/*", "*/*":
			jsonQ = max(jsonQ, q)
		}
	}
	return pemQ > 0 && pemQ >= jsonQ
}

func (s *Server) getCertificate(w http.ResponseWriter, r *http.Request, a application.Actor) error {
	c, err := s.app.Certificate(r.Context(), a)
	if err != nil {
		return err
	}
	if wantsPEM(r) {
		w.Header().Set("Content-Type", "application/x-pem-file")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.DER}))
		return nil
	}
	writeJSON(w, http.StatusOK, toCertificateJSON(c, true))
	return nil
}

func (s *Server) caPEM(w http.ResponseWriter, _ *http.Request) error {
	w.Header().Set("Content-Type", "application/x-pem-file")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	_, _ = w.Write(s.app.CAChainPEM())
	return nil
}

type signatureJSON struct {
	ID        string    `json:"id"`
	Kind      string    `json:"kind"`
	Default   bool      `json:"default"`
	ImageURL  string    `json:"image_url"`
	CreatedAt time.Time `json:"created_at"`
}

func toSignatureJSON(sig signature.Signature) signatureJSON {
	return signatureJSON{ID: sig.ID, Kind: string(sig.Kind), Default: sig.Default,
		ImageURL: "/api/v1/me/signatures/" + sig.ID + "/image", CreatedAt: sig.CreatedAt}
}

func (s *Server) listSignatures(w http.ResponseWriter, r *http.Request, a application.Actor) error {
	sigs, err := s.app.Signatures(r.Context(), a)
	if err != nil {
		return err
	}
	items := make([]signatureJSON, len(sigs))
	for i, sig := range sigs {
		items[i] = toSignatureJSON(sig)
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items})
	return nil
}

type createSignatureRequest struct {
	FileID   string `json:"file_id,omitempty"`
	Generate bool   `json:"generate,omitempty"`
}

func (s *Server) createSignature(w http.ResponseWriter, r *http.Request, a application.Actor) error {
	var req createSignatureRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	sig, err := s.app.CreateSignature(r.Context(), a, req.FileID, req.Generate)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, toSignatureJSON(sig))
	return nil
}

type updateSignatureRequest struct {
	Default bool `json:"default"`
}

func (s *Server) updateSignature(w http.ResponseWriter, r *http.Request, a application.Actor) error {
	var req updateSignatureRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	if !req.Default {
		return kernel.Invalid("signature-update-invalid", "only {\"default\": true} is supported: choose another default instead")
	}
	sig, err := s.app.SetDefaultSignature(r.Context(), a, r.PathValue("signature_id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toSignatureJSON(sig))
	return nil
}

func (s *Server) deleteSignature(w http.ResponseWriter, r *http.Request, a application.Actor) error {
	if err := s.app.DeleteSignature(r.Context(), a, r.PathValue("signature_id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) signatureImage(w http.ResponseWriter, r *http.Request, a application.Actor) error {
	png, err := s.app.SignatureImage(r.Context(), a, r.PathValue("signature_id"))
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("Cache-Control", "private, max-age=300")
	_, _ = w.Write(png) //nolint:gosec // a checked PNG, served as image/png with nosniff
	return nil
}

// MaxUploadBody bounds a multipart upload: the largest file limit (a document, 20 MiB) plus room
// for the form. Each purpose's own limit is checked on the file (file.MaxSizeOf).
const MaxUploadBody = file.MaxDocumentSize + 64<<10

type fileJSON struct {
	FileID      string `json:"file_id"`
	ContentType string `json:"content_type"`
	Size        int64  `json:"size"`
	Width       int    `json:"width,omitempty"`
	Height      int    `json:"height,omitempty"`
	SHA256      string `json:"sha256"`
	Purpose     string `json:"purpose"`
}

// uploadFile takes a multipart form with the fields purpose and file.
func (s *Server) uploadFile(w http.ResponseWriter, r *http.Request, a application.Actor) error {
	purpose, data, err := s.readUpload(w, r, "purpose", file.MaxDocumentSize)
	if err != nil {
		return err
	}
	rec, err := s.app.UploadFile(r.Context(), a, purpose, data)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, fileJSON{FileID: string(rec.ID), ContentType: rec.Info.ContentType, Size: rec.Info.Size,
		Width: rec.Info.Width, Height: rec.Info.Height, SHA256: rec.Info.SHA256, Purpose: string(rec.Purpose)})
	return nil
}

// readUpload streams a multipart form: at most one small text field (named field, "" for none)
// and exactly one "file" part, read up to limit plus one byte, so an oversized upload is
// refused without reading it whole. The body is read before any budget is taken.
func (s *Server) readUpload(w http.ResponseWriter, r *http.Request, field string, limit int) (string, []byte, error) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" {
		return "", nil, &httpError{http.StatusUnsupportedMediaType, "unsupported-media-type", "send the file as multipart/form-data (field file)"}
	}
	// The body is read (bounded) without holding anything: slow clients block nobody. The decode
	// memory of all uploads is bounded by the application's budget.
	r.Body = http.MaxBytesReader(w, r.Body, int64(limit)+64<<10)
	mr, err := r.MultipartReader()
	if err != nil {
		return "", nil, badRequest("multipart-invalid", "the multipart body could not be read")
	}
	var value string
	var data []byte
	gotFile := false
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return "", nil, multipartError(err, limit)
		}
		switch name := part.FormName(); {
		case field != "" && name == field:
			b, err := io.ReadAll(io.LimitReader(part, 64))
			if err != nil {
				return "", nil, multipartError(err, limit)
			}
			value = strings.TrimSpace(string(b))
		case name == "file":
			if gotFile {
				return "", nil, badRequest("multipart-invalid", "send exactly one file")
			}
			gotFile = true
			if data, err = io.ReadAll(io.LimitReader(part, int64(limit)+1)); err != nil {
				return "", nil, multipartError(err, limit)
			}
			if len(data) > limit {
				return "", nil, &httpError{http.StatusRequestEntityTooLarge, "file-too-large", fmt.Sprintf("the file exceeds %d MiB", limit>>20)}
			}
		}
		_ = part.Close()
	}
	if !gotFile {
		return "", nil, badRequest("multipart-file-missing", "the form has no field named file")
	}
	return value, data, nil
}

func multipartError(err error, limit int) error {
	var maxErr *http.MaxBytesError
	if errors.As(err, &maxErr) {
		return &httpError{http.StatusRequestEntityTooLarge, "file-too-large", fmt.Sprintf("the upload exceeds %d MiB", limit>>20)}
	}
	return badRequest("multipart-invalid", "the multipart body could not be read")
}

type sandboxLivenessRequest struct {
	Result string `json:"result"`
	// As makes a passing check verify another person (to test that the server refuses it).
	As *struct {
		Name     string `json:"name"`
		IDNumber string `json:"id_number"`
	} `json:"as,omitempty"`
}

// sandboxLivenessPage is where the liveness URL leads in the sandbox: it tells the state of the
// session and how to play it (a real provider shows its face-check page here).
func (s *Server) sandboxLivenessPage(w http.ResponseWriter, r *http.Request) error {
	res, err := s.opts.SandboxLiveness.Result(r.Context(), r.PathValue("session_id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]string{"session_id": r.PathValue("session_id"), "status": string(res.Status),
		"how": "POST this URL with {\"result\":\"pass\"} or {\"result\":\"fail\"} to play the face check"})
	return nil
}

func (s *Server) sandboxLiveness(w http.ResponseWriter, r *http.Request) error {
	var req sandboxLivenessRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	if s.opts.SandboxLiveness == nil {
		return kernel.NotFound("liveness-session-not-found", "no sandbox liveness")
	}
	id := r.PathValue("session_id")
	switch {
	case req.Result == "pass" && req.As != nil:
		if err := s.opts.SandboxLiveness.PlayAs(id, req.As.Name, kernel.IDNumber(strings.ToUpper(req.As.IDNumber))); err != nil {
			return err
		}
	case req.Result == "pass" || req.Result == "fail":
		if err := s.opts.SandboxLiveness.Play(id, req.Result == "pass"); err != nil {
			return err
		}
	default:
		return kernel.Invalid("liveness-result-invalid", "result must be pass or fail")
	}
	writeJSON(w, http.StatusOK, map[string]string{"session_id": id, "result": req.Result})
	return nil
}
