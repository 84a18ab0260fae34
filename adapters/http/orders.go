package http

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/shuxinqian/server/application"
	"github.com/shuxinqian/server/domain/invoice"
	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/order"
	"github.com/shuxinqian/server/ports"
)

func (s *Server) catalog(w http.ResponseWriter, r *http.Request, a application.Actor) error {
	c, err := s.app.Catalog(r.Context(), a, r.PathValue("enterprise_id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.channelJSON(c, true))
	return nil
}

type orderLineJSON struct {
	SKU      string `json:"sku"`
	Quantity int    `json:"quantity"`
}

type placeOrderRequest struct {
	Items []orderLineJSON `json:"items"`
}

type orderItemJSON struct {
	SKU          string `json:"sku"`
	Name         string `json:"name"`
	Kind         string `json:"kind"`
	UnitPriceFen int64  `json:"unit_price_fen"`
	Quantity     int    `json:"quantity"`
	SubtotalFen  int64  `json:"subtotal_fen"`
}

type orderJSON struct {
	ID                 string          `json:"id"`
	EnterpriseID       string          `json:"enterprise_id"`
	Status             string          `json:"status"`
	Items              []orderItemJSON `json:"items"`
	TotalFen           int64           `json:"total_fen"`
	Total              string          `json:"total"`
	ChannelCode        string          `json:"channel_code"`
	OutTradeNo         string          `json:"out_trade_no"`
	TradeType          string          `json:"trade_type,omitempty"`
	CreatedAt          time.Time       `json:"created_at"`
	ExpiresAt          time.Time       `json:"expires_at"`
	PaidAt             *time.Time      `json:"paid_at,omitempty"`
	TransactionID      string          `json:"transaction_id,omitempty"`
	ClosedAt           *time.Time      `json:"closed_at,omitempty"`
	CloseReason        string          `json:"close_reason,omitempty"`
	RefundedFen        int64           `json:"refunded_fen"`
	RefundingFen       int64           `json:"refunding_fen"`
	InvoiceStatus      string          `json:"invoice_status"`
	InvoiceID          string          `json:"invoice_id,omitempty"`
	InvoiceURL         string          `json:"invoice_url,omitempty"`
	InvoiceDownloadURL string          `json:"invoice_download_url,omitempty"`
}

// withInvoices sets each order's invoice state ("none" without an invoice).
func (s *Server) withInvoices(r *http.Request, js []orderJSON) error {
	ids := make([]kernel.OrderID, len(js))
	for i, j := range js {
		ids[i] = kernel.OrderID(j.ID)
	}
	invs, err := s.app.InvoicesOfOrders(r.Context(), ids)
	if err != nil {
		return err
	}
	for i := range js {
		if inv := invs[kernel.OrderID(js[i].ID)]; inv != nil {
			js[i].InvoiceStatus, js[i].InvoiceID = string(inv.Status), string(inv.ID)
			js[i].InvoiceURL = "/api/v1/invoices/" + string(inv.ID)
			if inv.Status == invoice.StatusIssued {
				js[i].InvoiceDownloadURL = js[i].InvoiceURL + "/pdf"
			}
		}
	}
	return nil
}

func toOrderJSON(o *order.Order) orderJSON {
	j := orderJSON{ID: string(o.ID), EnterpriseID: string(o.EnterpriseID), Status: string(o.Status), TotalFen: o.Total.Fen(),
		Total: o.Total.String(), ChannelCode: o.ChannelCode, OutTradeNo: o.OutTradeNo, TradeType: o.TradeType,
		CreatedAt: o.CreatedAt, ExpiresAt: o.ExpiresAt, TransactionID: o.TransactionID, CloseReason: o.CloseReason,
		RefundedFen: o.Refunded.Fen(), RefundingFen: o.Refunding.Fen(), InvoiceStatus: "none", Items: []orderItemJSON{}}
	for _, it := range o.Items {
		j.Items = append(j.Items, orderItemJSON{SKU: it.SKU, Name: it.Name, Kind: string(it.Kind), UnitPriceFen: it.UnitPrice.Fen(),
			Quantity: it.Quantity, SubtotalFen: it.Subtotal.Fen()})
	}
	if !o.PaidAt.IsZero() {
		t := o.PaidAt
		j.PaidAt = &t
	}
	if !o.ClosedAt.IsZero() {
		t := o.ClosedAt
		j.ClosedAt = &t
	}
	return j
}

// placeOrder honours Idempotency-Key: the same key and body replay the first answer; the same key
// with another body is 422.
func (s *Server) placeOrder(w http.ResponseWriter, r *http.Request, a application.Actor) error {
	raw, err := readJSONBody(w, r)
	if err != nil {
		return err
	}
	eid := r.PathValue("enterprise_id")
	sum := sha256.Sum256(append([]byte(eid+"\n"), raw...))
	var req placeOrderRequest
	if err := decodeBytes(raw, &req); err != nil {
		return err
	}
	lines := make([]order.Line, len(req.Items))
	for i, it := range req.Items {
		lines[i] = order.Line{SKU: it.SKU, Quantity: it.Quantity}
	}
	once := application.Once{Scope: "orders:" + a.UserID, Key: strings.TrimSpace(r.Header.Get("Idempotency-Key")), RequestHash: hex.EncodeToString(sum[:])}
	status, body, err := s.app.PlaceOrderOnce(r.Context(), a, eid, lines, once, func(o *order.Order) (int, []byte, error) {
		b, err := json.Marshal(toOrderJSON(o))
		return http.StatusCreated, b, err
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

func (s *Server) listOrders(w http.ResponseWriter, r *http.Request, a application.Actor) error {
	q := r.URL.Query()
	limit := 0
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > application.OrderListLimit {
			return kernel.Invalid("limit-invalid", "limit is 1 to 100")
		}
		limit = n
	}
	os, err := s.app.Orders(r.Context(), a, q.Get("enterprise_id"), q.Get("status"), q.Get("before"), limit)
	if err != nil {
		return err
	}
	items := make([]orderJSON, len(os))
	for i, o := range os {
		items[i] = toOrderJSON(o)
	}
	if err := s.withInvoices(r, items); err != nil {
		return err
	}
	resp := map[string]any{"items": items}
	if len(os) > 0 && (limit == 0 && len(os) == 20 || len(os) == limit) {
		resp["next_before"] = string(os[len(os)-1].ID)
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

func (s *Server) getOrder(w http.ResponseWriter, r *http.Request, a application.Actor) error {
	o, err := s.app.Order(r.Context(), a, r.PathValue("order_id"))
	if err != nil {
		return err
	}
	js := []orderJSON{toOrderJSON(o)}
	if err := s.withInvoices(r, js); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, js[0])
	return nil
}

func (s *Server) cancelOrder(w http.ResponseWriter, r *http.Request, a application.Actor) error {
	o, err := s.app.CancelOrder(r.Context(), a, r.PathValue("order_id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toOrderJSON(o))
	return nil
}

type wechatPayRequest struct {
	TradeType string `json:"trade_type"`
	OpenID    string `json:"openid,omitempty"`
}

func (s *Server) wechatPay(w http.ResponseWriter, r *http.Request, a application.Actor) error {
	var req wechatPayRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	res, err := s.app.PayWithWeChat(r.Context(), a, r.PathValue("order_id"), ports.TradeType(req.TradeType), req.OpenID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"trade_type": req.TradeType, "prepay_id": res.PrepayID, "params": res.ClientParams})
	return nil
}

// wechatAnswer is WeChat Pay's expected answer body.
type wechatAnswer struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// wechatCallback is WeChat Pay's notification. It answers in WeChat's format: 204 when done (or
// recorded as an anomaly), 4xx/5xx with {"code":"FAIL"} otherwise (WeChat then retries).
func (s *Server) wechatCallback(w http.ResponseWriter, r *http.Request) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxJSONBody))
	if err != nil {
		var maxErr *http.MaxBytesError
		if errors.As(err, &maxErr) {
			writeJSON(w, http.StatusRequestEntityTooLarge, wechatAnswer{"FAIL", "body too large"})
		} else {
			writeJSON(w, http.StatusBadRequest, wechatAnswer{"FAIL", "body unreadable"})
		}
		return nil //nolint:nilerr // answered in WeChat's format
	}
	headers := map[string]string{}
	for _, h := range []string{"Wechatpay-Timestamp", "Wechatpay-Nonce", "Wechatpay-Signature", "Wechatpay-Serial", "Wechatpay-Signature-Type"} {
		headers[h] = r.Header.Get(h)
	}
	out, err := s.app.HandlePaymentNotification(r.Context(), ports.PaymentNotification{Headers: headers, Body: body})
	switch kernel.KindOf(err) {
	case kernel.KindUnauthenticated:
		writeJSON(w, http.StatusUnauthorized, wechatAnswer{"FAIL", "signature verification failed"})
		return nil
	case kernel.KindInvalid:
		writeJSON(w, http.StatusBadRequest, wechatAnswer{"FAIL", "malformed notification"})
		return nil
	}
	if err != nil {
		s.log.ErrorContext(r.Context(), "payment notification failed", "err", err)
		writeJSON(w, http.StatusInternalServerError, wechatAnswer{"FAIL", "try again"})
		return nil
	}
	s.log.InfoContext(r.Context(), "payment notification", "outcome", string(out))
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) sandboxPay(w http.ResponseWriter, r *http.Request) error {
	if s.opts.SandboxWeChatPay == nil {
		return kernel.NotFound("payment-not-found", "no WeChat Pay simulator")
	}
	id := r.PathValue("order_id")
	if err := s.opts.SandboxWeChatPay(r.Context(), order.OutTradeNo(kernel.OrderID(id))); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]string{"order_id": id, "result": "paid; notification sent"})
	return nil
}
