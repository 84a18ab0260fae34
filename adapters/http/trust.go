package http

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"time"

	"github.com/shuxinqian/server/application"
	"github.com/shuxinqian/server/domain/kernel"
)

// Trust services: CRL, OCSP, time-stamping and signature verification (public, no login).

// maxOCSPRequest bounds an OCSP request (one CertID is about 100 bytes).
const maxOCSPRequest = 8 << 10

func (s *Server) caCRL(w http.ResponseWriter, r *http.Request) error {
	der, err := s.app.CRL(r.Context())
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/pkix-crl")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(der)
	return nil
}

func readBody(w http.ResponseWriter, r *http.Request, wantType string, limit int64) ([]byte, error) {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != wantType {
		return nil, &httpError{http.StatusUnsupportedMediaType, "unsupported-media-type", "send " + wantType}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var maxErr *http.MaxBytesError
		if errors.As(err, &maxErr) {
			return nil, &httpError{http.StatusRequestEntityTooLarge, "request-too-large", "the request is too large"}
		}
		return nil, badRequest("body-unreadable", "the request body could not be read")
	}
	return body, nil
}

func (s *Server) caOCSP(w http.ResponseWriter, r *http.Request) error {
	req, err := readBody(w, r, "application/ocsp-request", maxOCSPRequest)
	if err != nil {
		return err
	}
	resp, err := s.app.OCSP(r.Context(), req)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/ocsp-response")
	_, _ = w.Write(resp)
	return nil
}

func (s *Server) tsaPEM(w http.ResponseWriter, _ *http.Request) error {
	chain := s.app.TSAChainPEM()
	if len(chain) == 0 {
		return kernel.NotFound("tsa-not-configured", "no time-stamping authority is configured")
	}
	w.Header().Set("Content-Type", "application/x-pem-file")
	_, _ = w.Write(chain)
	return nil
}

func (s *Server) tsa(w http.ResponseWriter, r *http.Request) error {
	if s.opts.TSA == nil {
		return kernel.NotFound("tsa-not-served", "this server does not run a time-stamping authority (a real TSA is configured)")
	}
	q, err := readBody(w, r, "application/timestamp-query", 4<<10)
	if err != nil {
		return err
	}
	resp, err := s.opts.TSA.Respond(r.Context(), q)
	if err != nil {
		return kernel.Internal(err)
	}
	w.Header().Set("Content-Type", "application/timestamp-reply")
	_, _ = w.Write(resp)
	return nil
}

type signatureVerdictJSON struct {
	Signer              string     `json:"signer"`
	CertificateSerial   string     `json:"certificate_serial"`
	SignedAt            *time.Time `json:"signed_at"`
	Timestamped         bool       `json:"timestamped"`
	CoversWholeDocument bool       `json:"covers_whole_document"`
	Intact              bool       `json:"intact"`
	CertificateStatus   string     `json:"certificate_status"`
	RevokedAt           *time.Time `json:"revoked_at,omitempty"`
	Trusted             bool       `json:"trusted"`
	DocumentSHA256      string     `json:"document_sha256,omitempty"`
	Problems            []string   `json:"problems"`
	Kind                string     `json:"kind,omitempty"`
	SignerName          string     `json:"signer_name,omitempty"`
	ModifiedAfter       bool       `json:"modified_after"`
}

// maxVerifyBody bounds the verification form: content (a PDF, 20 MiB) and its signature.
const maxVerifyBody = 21 << 20

func (s *Server) verifySignatures(w http.ResponseWriter, r *http.Request) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" {
		return &httpError{http.StatusUnsupportedMediaType, "unsupported-media-type", "send multipart/form-data: content + signature, or file"}
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxVerifyBody)
	mr, err := r.MultipartReader()
	if err != nil {
		return badRequest("multipart-invalid", "the multipart body could not be read")
	}
	parts := map[string][]byte{}
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return verifyMultipartError(err)
		}
		name := part.FormName()
		if name != "content" && name != "signature" && name != "file" {
			_ = part.Close()
			continue
		}
		if _, dup := parts[name]; dup {
			return badRequest("multipart-invalid", "send each of content, signature and file at most once")
		}
		b, err := io.ReadAll(part)
		if err != nil {
			return verifyMultipartError(err)
		}
		if len(b) > 0 { // an empty part is no part
			parts[name] = b
		}
		_ = part.Close()
	}
	verdicts, err := s.app.VerifySignatures(r.Context(), parts["content"], parts["signature"], parts["file"])
	if err != nil {
		return err
	}
	out := make([]signatureVerdictJSON, 0, len(verdicts))
	for _, v := range verdicts {
		j := signatureVerdictJSON{Signer: v.Signer, CertificateSerial: v.CertificateSerial, Timestamped: v.Timestamped,
			CoversWholeDocument: v.CoversWholeDocument, Intact: v.Intact, CertificateStatus: v.CertificateStatus, Trusted: v.Trusted,
			DocumentSHA256: v.DocumentSHA256, Problems: v.Problems, Kind: v.Kind, SignerName: v.SignerName, ModifiedAfter: v.ModifiedAfter}
		if !v.SignedAt.IsZero() {
			t := v.SignedAt.UTC()
			j.SignedAt = &t
		}
		if !v.RevokedAt.IsZero() {
			t := v.RevokedAt.UTC()
			j.RevokedAt = &t
		}
		if j.Problems == nil {
			j.Problems = []string{}
		}
		out = append(out, j)
	}
	writeJSON(w, http.StatusOK, map[string]any{"signatures": out})
	return nil
}

func verifyMultipartError(err error) error {
	var maxErr *http.MaxBytesError
	if errors.As(err, &maxErr) {
		return &httpError{http.StatusRequestEntityTooLarge, "request-too-large", "the form exceeds 21 MiB"}
	}
	return badRequest("multipart-invalid", "the multipart body could not be read")
}

type reissueRequest struct {
	SigningPassword string `json:"signing_password"`
}

func (s *Server) reissueCertificate(w http.ResponseWriter, r *http.Request, a application.Actor) error {
	var req reissueRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	c, err := s.app.ReissueCertificate(r.Context(), a, req.SigningPassword)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]any{"certificate": toCertificateJSON(c, false)})
	return nil
}
