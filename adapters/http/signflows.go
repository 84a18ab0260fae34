package http

import (
	"net/http"
	"strconv"
	"time"

	"github.com/shuxinqian/server/application"
	"github.com/shuxinqian/server/application/signing"
	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/signflow"
)

// registerSignFlowRoutes mounts the sign flows (API.md "Documents and signing").
func (s *Server) registerSignFlowRoutes() {
	const base = "/api/v1/sign-flows"
	s.authed("POST", base, s.createSignFlow)
	s.authed("GET", base, s.listSignFlows)
	s.authed("GET", base+"/{flow_id}", s.getSignFlow)
	s.authed("POST", base+"/{flow_id}/start", s.startSignFlow)
	s.authed("POST", base+"/{flow_id}/revoke", s.revokeSignFlow)
	s.authed("POST", base+"/{flow_id}/sign", s.signSignFlow)
	s.authed("POST", base+"/{flow_id}/reject", s.rejectSignFlow)
	s.authed("GET", base+"/{flow_id}/documents/{document}/pdf", s.signFlowDocument)
	s.authed("GET", base+"/{flow_id}/evidence.pdf", s.signFlowEvidence)
}

func (s *Server) signingService() (*signing.Service, error) {
	if s.opts.Signing == nil {
		return nil, kernel.Unavailable("signing-unavailable", "document signing is not configured", nil)
	}
	return s.opts.Signing, nil
}

type flowFieldJSON struct {
	Document int     `json:"document"`
	Page     int     `json:"page,omitempty"`
	X        float64 `json:"x,omitempty"`
	Y        float64 `json:"y,omitempty"`
	W        float64 `json:"w,omitempty"`
	H        float64 `json:"h,omitempty"`
	Keyword  string  `json:"keyword,omitempty"`
}

type flowSignerJSON struct {
	ID           string          `json:"id"`
	Kind         string          `json:"kind"`
	Name         string          `json:"name"`
	Phone        string          `json:"phone,omitempty"`
	EnterpriseID string          `json:"enterprise_id,omitempty"`
	State        string          `json:"state"`
	Invited      bool            `json:"invited"`
	SignedAt     *time.Time      `json:"signed_at,omitempty"`
	RejectReason string          `json:"reject_reason,omitempty"`
	Fields       []flowFieldJSON `json:"fields"`
}

type flowDocumentJSON struct {
	Index          int          `json:"index"`
	FileID         string       `json:"file_id"`
	Name           string       `json:"name"`
	Pages          int          `json:"pages"`
	PageSizes      [][2]float64 `json:"page_sizes"`
	OriginalSHA256 string       `json:"original_sha256"`
	CurrentSHA256  string       `json:"current_sha256"`
	Version        int          `json:"version"`
	PDFURL         string       `json:"pdf_url"`
}

type flowJSON struct {
	ID           string             `json:"id"`
	Title        string             `json:"title"`
	Status       string             `json:"status"`
	InitiatorID  string             `json:"initiator_id"`
	EnterpriseID string             `json:"enterprise_id,omitempty"`
	Ordered      bool               `json:"ordered"`
	Certify      bool               `json:"certify"`
	ExpiresAt    time.Time          `json:"expires_at"`
	CreatedAt    time.Time          `json:"created_at"`
	StartedAt    *time.Time         `json:"started_at,omitempty"`
	EndedAt      *time.Time         `json:"ended_at,omitempty"`
	EndReason    string             `json:"end_reason,omitempty"`
	MyRoles      []string           `json:"my_roles"`
	MyTurn       string             `json:"my_turn"`
	Documents    []flowDocumentJSON `json:"documents"`
	Signers      []flowSignerJSON   `json:"signers"`
	EvidenceURL  string             `json:"evidence_url"`
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func toFlowJSON(v *signing.FlowView) flowJSON {
	f := v.Flow
	id := string(f.ID())
	j := flowJSON{ID: id, Title: f.Title(), Status: string(f.Status()), InitiatorID: string(f.InitiatorID()), EnterpriseID: string(f.EnterpriseID()),
		Ordered: f.Ordered(), Certify: f.Certify(), ExpiresAt: f.ExpiresAt(), CreatedAt: f.CreatedAt(), StartedAt: optTime(f.StartedAt()),
		EndedAt: optTime(f.EndedAt()), EndReason: f.EndReason(), MyRoles: v.Roles, MyTurn: string(v.MyTurn),
		EvidenceURL: "/api/v1/sign-flows/" + id + "/evidence.pdf", Documents: []flowDocumentJSON{}, Signers: []flowSignerJSON{}}
	if j.MyRoles == nil {
		j.MyRoles = []string{}
	}
	for _, d := range v.Documents {
		j.Documents = append(j.Documents, flowDocumentJSON{Index: d.Index, FileID: string(d.OriginalFileID), Name: d.Name, Pages: d.Pages,
			PageSizes: d.PageSizes, OriginalSHA256: d.OriginalSHA256, CurrentSHA256: d.CurrentSHA256, Version: d.Version,
			PDFURL: "/api/v1/sign-flows/" + id + "/documents/" + strconv.Itoa(d.Index) + "/pdf"})
	}
	for _, sg := range f.Signers() {
		sj := flowSignerJSON{ID: string(sg.ID), Kind: string(sg.Kind), Name: kernel.MaskName(sg.Name), Phone: sg.Phone.Masked(),
			EnterpriseID: string(sg.EnterpriseID), State: string(sg.State), Invited: v.Invited[sg.ID], SignedAt: optTime(sg.SignedAt),
			RejectReason: sg.RejectReason, Fields: []flowFieldJSON{}}
		if sg.Kind == signflow.KindOrganization {
			sj.Name = sg.Name // an enterprise's name is public
		}
		for _, fd := range sg.Fields {
			sj.Fields = append(sj.Fields, flowFieldJSON{Document: fd.Document, Page: fd.Page, X: fd.X, Y: fd.Y, W: fd.W, H: fd.H, Keyword: fd.Keyword})
		}
		j.Signers = append(j.Signers, sj)
	}
	return j
}

type flowDocumentInput struct {
	FileID string `json:"file_id"`
	Name   string `json:"name,omitempty"`
}

type flowSignerInput struct {
	Kind         string          `json:"kind"`
	Name         string          `json:"name"`
	Phone        string          `json:"phone,omitempty"`
	EnterpriseID string          `json:"enterprise_id,omitempty"`
	Fields       []flowFieldJSON `json:"fields"`
}

type createFlowRequest struct {
	Title        string              `json:"title"`
	EnterpriseID string              `json:"enterprise_id,omitempty"`
	Documents    []flowDocumentInput `json:"documents"`
	Signers      []flowSignerInput   `json:"signers"`
	Ordered      bool                `json:"ordered,omitempty"`
	Certify      bool                `json:"certify,omitempty"`
	ExpiresAt    *time.Time          `json:"expires_at"`
}

func (s *Server) createSignFlow(w http.ResponseWriter, r *http.Request, a application.Actor) error {
	svc, err := s.signingService()
	if err != nil {
		return err
	}
	var req createFlowRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	in := signing.CreateInput{Title: req.Title, EnterpriseID: req.EnterpriseID, Ordered: req.Ordered, Certify: req.Certify}
	if req.ExpiresAt != nil {
		in.ExpiresAt = *req.ExpiresAt
	}
	for _, d := range req.Documents {
		in.Documents = append(in.Documents, signing.DocumentInput{FileID: d.FileID, Name: d.Name})
	}
	for _, sg := range req.Signers {
		si := signing.SignerInput{Kind: sg.Kind, Name: sg.Name, Phone: sg.Phone, EnterpriseID: sg.EnterpriseID}
		for _, f := range sg.Fields {
			si.Fields = append(si.Fields, signing.FieldInput{Document: f.Document, Page: f.Page, X: f.X, Y: f.Y, W: f.W, H: f.H, Keyword: f.Keyword})
		}
		in.Signers = append(in.Signers, si)
	}
	v, err := svc.Create(r.Context(), kernel.UserID(a.UserID), in)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/sign-flows/"+string(v.Flow.ID()))
	writeJSON(w, http.StatusCreated, toFlowJSON(v))
	return nil
}

func (s *Server) listSignFlows(w http.ResponseWriter, r *http.Request, a application.Actor) error {
	svc, err := s.signingService()
	if err != nil {
		return err
	}
	q := r.URL.Query()
	limit := 0
	if v := q.Get("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 || limit > 100 {
			return kernel.Invalid("limit-invalid", "limit is 1 to 100")
		}
	}
	list, next, err := svc.List(r.Context(), kernel.UserID(a.UserID), signing.ListInput{Role: q.Get("role"), Status: q.Get("status"),
		Before: q.Get("cursor"), Limit: limit})
	if err != nil {
		return err
	}
	items := make([]flowJSON, len(list))
	for i, v := range list {
		items[i] = toFlowJSON(v)
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items, "next_cursor": next})
	return nil
}

func (s *Server) getSignFlow(w http.ResponseWriter, r *http.Request, a application.Actor) error {
	svc, err := s.signingService()
	if err != nil {
		return err
	}
	v, err := svc.Get(r.Context(), kernel.UserID(a.UserID), r.PathValue("flow_id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toFlowJSON(v))
	return nil
}

// decodeOptional decodes a JSON body when there is one (start and revoke may come empty).
func decodeOptional(w http.ResponseWriter, r *http.Request, dst any) error {
	if r.ContentLength == 0 {
		return nil
	}
	return decode(w, r, dst)
}

func (s *Server) startSignFlow(w http.ResponseWriter, r *http.Request, a application.Actor) error {
	svc, err := s.signingService()
	if err != nil {
		return err
	}
	var req struct{}
	if err := decodeOptional(w, r, &req); err != nil {
		return err
	}
	v, err := svc.Start(r.Context(), kernel.UserID(a.UserID), r.PathValue("flow_id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toFlowJSON(v))
	return nil
}

type reasonRequest struct {
	Reason   string `json:"reason,omitempty"`
	SignerID string `json:"signer_id,omitempty"`
}

func (s *Server) revokeSignFlow(w http.ResponseWriter, r *http.Request, a application.Actor) error {
	svc, err := s.signingService()
	if err != nil {
		return err
	}
	var req reasonRequest
	if err := decodeOptional(w, r, &req); err != nil {
		return err
	}
	v, err := svc.Revoke(r.Context(), kernel.UserID(a.UserID), r.PathValue("flow_id"), req.Reason)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toFlowJSON(v))
	return nil
}

func (s *Server) rejectSignFlow(w http.ResponseWriter, r *http.Request, a application.Actor) error {
	svc, err := s.signingService()
	if err != nil {
		return err
	}
	var req reasonRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	v, err := svc.Reject(r.Context(), kernel.UserID(a.UserID), r.PathValue("flow_id"), req.SignerID, req.Reason)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toFlowJSON(v))
	return nil
}

type signFlowRequest struct {
	SignerID        string `json:"signer_id,omitempty"`
	SignatureID     string `json:"signature_id,omitempty"`
	SealID          string `json:"seal_id,omitempty"`
	SigningPassword string `json:"signing_password"`
}

func (s *Server) signSignFlow(w http.ResponseWriter, r *http.Request, a application.Actor) error {
	svc, err := s.signingService()
	if err != nil {
		return err
	}
	var req signFlowRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	if (req.SignatureID == "") == (req.SealID == "") {
		return kernel.Invalid("sign-appearance-required", "give signature_id (a person) or seal_id (an enterprise), not both")
	}
	v, err := svc.Sign(r.Context(), kernel.UserID(a.UserID), r.PathValue("flow_id"), signing.SignInput{SignerID: req.SignerID,
		SignatureID: req.SignatureID, SealID: req.SealID, SigningPassword: req.SigningPassword, IP: s.clientIP(r)})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toFlowJSON(v))
	return nil
}

func (s *Server) signFlowDocument(w http.ResponseWriter, r *http.Request, a application.Actor) error {
	svc, err := s.signingService()
	if err != nil {
		return err
	}
	idx, err := strconv.Atoi(r.PathValue("document"))
	if err != nil || idx < 0 || idx > signflow.MaxDocuments {
		return kernel.NotFound("flow-document-not-found", "no such document of this flow")
	}
	b, name, err := svc.Document(r.Context(), kernel.UserID(a.UserID), r.PathValue("flow_id"), idx)
	if err != nil {
		return err
	}
	writePDF(w, name, b)
	return nil
}

func (s *Server) signFlowEvidence(w http.ResponseWriter, r *http.Request, a application.Actor) error {
	svc, err := s.signingService()
	if err != nil {
		return err
	}
	b, err := svc.Evidence(r.Context(), kernel.UserID(a.UserID), r.PathValue("flow_id"))
	if err != nil {
		return err
	}
	writePDF(w, "evidence.pdf", b)
	return nil
}
