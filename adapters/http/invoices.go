package http

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/shuxinqian/server/application"
	"github.com/shuxinqian/server/domain/invoice"
	"github.com/shuxinqian/server/domain/kernel"
)

type invoiceRequest struct {
	Type      string `json:"type,omitempty"`
	TitleType string `json:"title_type"`
	Title     string `json:"title"`
	TaxID     string `json:"tax_id,omitempty"`
	Email     string `json:"email,omitempty"`
}

type invoiceJSON struct {
	ID             string     `json:"id"`
	OrderID        string     `json:"order_id"`
	Status         string     `json:"status"`
	Type           string     `json:"type"`
	TitleType      string     `json:"title_type"`
	Title          string     `json:"title"`
	TaxID          string     `json:"tax_id,omitempty"`
	AmountFen      int64      `json:"amount_fen"`
	Amount         string     `json:"amount"`
	AmountNetFen   int64      `json:"amount_net_fen"`
	TaxFen         int64      `json:"tax_fen"`
	TaxRate        string     `json:"tax_rate"`              // "6%", or "mixed" when the lines' rates differ
	TaxRateBP      *int       `json:"tax_rate_bp,omitempty"` // absent when mixed
	AmountUpper    string     `json:"amount_upper"`          // 价税合计（大写）
	Number         string     `json:"number,omitempty"`
	IssuedAt       *time.Time `json:"issued_at,omitempty"`
	DownloadURL    string     `json:"download_url,omitempty"`
	ShareURL       string     `json:"share_url,omitempty"`
	ShareExpiresAt *time.Time `json:"share_expires_at,omitempty"`
	FailureReason  string     `json:"failure_reason,omitempty"`
	// RedLetterRequired: the order was refunded; this invoice must be cancelled by a red-letter
	// invoice (红冲).
	RedLetterRequired bool      `json:"red_letter_required"`
	CreatedAt         time.Time `json:"created_at"`
}

func (s *Server) toInvoiceJSON(inv *invoice.Invoice) invoiceJSON {
	j := invoiceJSON{ID: string(inv.ID), OrderID: string(inv.OrderID), Status: string(inv.Status), Type: inv.Type, TitleType: inv.TitleType,
		Title: inv.Title, TaxID: string(inv.TaxID), AmountFen: inv.Amount.Fen(), Amount: inv.Amount.String(), Number: inv.Number,
		FailureReason: inv.FailureReason, CreatedAt: inv.CreatedAt, RedLetterRequired: inv.RedLetterRequired,
		AmountNetFen: inv.Net.Fen(), TaxFen: inv.Tax.Fen(), TaxRate: "mixed", AmountUpper: kernel.UpperCase(inv.Amount)}
	if !inv.MixedRates {
		j.TaxRate, j.TaxRateBP = inv.TaxRate.String(), new(inv.TaxRate.BasisPoints())
	}
	if inv.Status == invoice.StatusIssued {
		t := inv.IssuedAt
		j.IssuedAt = &t
		j.DownloadURL = "/api/v1/invoices/" + string(inv.ID) + "/pdf"
		token, exp := s.app.InvoiceShareLink(inv)
		j.ShareURL, j.ShareExpiresAt = s.opts.PublicBaseURL+"/api/v1/invoice-links/"+token, &exp
	}
	return j
}

// requestInvoice honours Idempotency-Key like order creation.
func (s *Server) requestInvoice(w http.ResponseWriter, r *http.Request, a application.Actor) error {
	raw, err := readJSONBody(w, r)
	if err != nil {
		return err
	}
	oid := r.PathValue("order_id")
	sum := sha256.Sum256(append([]byte(oid+"\n"), raw...))
	var req invoiceRequest
	if err := decodeBytes(raw, &req); err != nil {
		return err
	}
	once := application.Once{Scope: "invoices:" + a.UserID, Key: strings.TrimSpace(r.Header.Get("Idempotency-Key")), RequestHash: hex.EncodeToString(sum[:])}
	status, body, err := s.app.RequestInvoiceOnce(r.Context(), a, oid, invoice.Request{Type: req.Type, TitleType: req.TitleType,
		Title: req.Title, TaxID: req.TaxID, Email: req.Email}, once, func(inv *invoice.Invoice) (int, []byte, error) {
		b, err := json.Marshal(s.toInvoiceJSON(inv))
		return http.StatusAccepted, b, err
	})
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(body) //nolint:gosec // JSON we encoded (replayed for the Idempotency-Key), served as application/json with nosniff
	return nil
}

func (s *Server) getInvoice(w http.ResponseWriter, r *http.Request, a application.Actor) error {
	inv, err := s.app.Invoice(r.Context(), a, r.PathValue("invoice_id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.toInvoiceJSON(inv))
	return nil
}

func (s *Server) invoicePDF(w http.ResponseWriter, r *http.Request, a application.Actor) error {
	b, err := s.app.InvoicePDF(r.Context(), a, r.PathValue("invoice_id"))
	if err != nil {
		return err
	}
	writePDF(w, "invoice.pdf", b)
	return nil
}

func (s *Server) invoiceLink(w http.ResponseWriter, r *http.Request) error {
	b, err := s.app.InvoiceByLink(r.Context(), r.PathValue("token"))
	if err != nil {
		return err
	}
	writePDF(w, "invoice.pdf", b)
	return nil
}
