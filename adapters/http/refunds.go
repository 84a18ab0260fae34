package http

import (
	"context"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/shuxinqian/server/application/operators"
	"github.com/shuxinqian/server/application/refunds"
	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/operator"
	"github.com/shuxinqian/server/domain/order"
	"github.com/shuxinqian/server/ports"
)

func (s *Server) refundService() (*refunds.Service, error) {
	if s.opts.Refunds == nil {
		return nil, kernel.Unavailable("refunds-unavailable", "refunds are not configured", nil)
	}
	return s.opts.Refunds, nil
}

type refundRequest struct {
	AmountFen int64  `json:"amount_fen"`
	Reason    string `json:"reason"`
	// RefundNo is the refund number (WeChat Pay's out_refund_no); the same number again is the
	// same refund. Optional: the server makes one.
	RefundNo string `json:"refund_no,omitempty"`
}

type reductionJSON struct {
	SKU              string `json:"sku"`
	Signatures       int    `json:"signatures"`
	CertificateYears int    `json:"certificate_years"`
}

type refundJSON struct {
	RefundNo   string          `json:"refund_no"`
	OrderID    string          `json:"order_id"`
	AmountFen  int64           `json:"amount_fen"`
	Amount     string          `json:"amount"`
	Reason     string          `json:"reason"`
	Status     string          `json:"status"`
	RefundID   string          `json:"refund_id,omitempty"`
	Reductions []reductionJSON `json:"quota_reductions"`
	Failure    string          `json:"failure,omitempty"`
	CreatedAt  time.Time       `json:"created_at"`
	SettledAt  *time.Time      `json:"settled_at,omitempty"`
}

type refundAnswer struct {
	Refund refundJSON `json:"refund"`
	Order  orderJSON  `json:"order"`
}

func toRefundJSON(rf *order.Refund) refundJSON {
	j := refundJSON{RefundNo: rf.OutRefundNo(), OrderID: string(rf.OrderID()), AmountFen: rf.Amount().Fen(), Amount: rf.Amount().String(),
		Reason: rf.Reason(), Status: string(rf.Status()), RefundID: rf.RefundID(), Failure: rf.Failure(), CreatedAt: rf.CreatedAt(),
		Reductions: []reductionJSON{}}
	for _, x := range rf.Reductions() {
		j.Reductions = append(j.Reductions, reductionJSON(x))
	}
	if t := rf.SettledAt(); !t.IsZero() {
		j.SettledAt = &t
	}
	return j
}

// registerRefundRoutes mounts the refund routes: the console's refund (operators holding the
// refund permission: admin and finance) and WeChat Pay's refund notification.
func (s *Server) registerRefundRoutes() {
	s.operator("POST", "/api/v1/admin/orders/{order_id}/refunds", operator.PermRefund, s.refundOrder)
	s.operator("GET", "/api/v1/admin/orders/{order_id}/refunds", operator.PermOrdersRead, s.listOrderRefunds)
	s.handle("POST", "/api/v1/callbacks/wechat-pay/refunds", s.refundCallback)
}

// refundOrder opens a refund of an order for an operator, audited in the transaction that
// stores it. It answers 202 with the refund and the order (the refund is final when WeChat Pay's
// notification arrives); the same refund_no again answers the same refund.
func (s *Server) refundOrder(w http.ResponseWriter, r *http.Request, op operators.Actor) error {
	svc, err := s.refundService()
	if err != nil {
		return err
	}
	ops, err := s.operatorService()
	if err != nil {
		return err
	}
	var req refundRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	oid := r.PathValue("order_id")
	v, err := svc.Refund(r.Context(), refunds.Request{OrderID: oid, Amount: kernel.Fen(req.AmountFen),
		Reason: req.Reason, RefundNo: req.RefundNo, By: string(op.OperatorID),
		Audit: func(ctx context.Context, tx ports.Tx, before, after refunds.AuditState) error {
			return ops.Record(ctx, tx, op, "order.refund", "order", oid, before, after)
		}})
	if err != nil {
		return err
	}
	js := []orderJSON{toOrderJSON(v.Order)}
	if err := s.withInvoices(r, js); err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, refundAnswer{Refund: toRefundJSON(v.Refund), Order: js[0]})
	return nil
}

// listOrderRefunds lists an order's refunds, oldest first.
func (s *Server) listOrderRefunds(w http.ResponseWriter, r *http.Request, _ operators.Actor) error {
	svc, err := s.refundService()
	if err != nil {
		return err
	}
	rfs, err := svc.OrderRefunds(r.Context(), r.PathValue("order_id"))
	if err != nil {
		return err
	}
	items := make([]refundJSON, 0, len(rfs))
	for _, rf := range rfs {
		items = append(items, toRefundJSON(rf))
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items})
	return nil
}

// refundCallback is WeChat Pay's refund notification, answered like the payment one: 204 when
// done (or recorded as an anomaly), 4xx/5xx with {"code":"FAIL"} otherwise (WeChat retries).
func (s *Server) refundCallback(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.refundService()
	if err != nil {
		writeJSON(w, http.StatusServiceUnavailable, wechatAnswer{"FAIL", "refunds are not configured"})
		return nil //nolint:nilerr // answered in WeChat's format
	}
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
	out, err := svc.HandleNotification(r.Context(), ports.PaymentNotification{Headers: headers, Body: body})
	switch kernel.KindOf(err) {
	case kernel.KindUnauthenticated:
		writeJSON(w, http.StatusUnauthorized, wechatAnswer{"FAIL", "signature verification failed"})
		return nil
	case kernel.KindInvalid:
		writeJSON(w, http.StatusBadRequest, wechatAnswer{"FAIL", "malformed notification"})
		return nil
	}
	if err != nil {
		s.log.ErrorContext(r.Context(), "refund notification failed", "err", err)
		writeJSON(w, http.StatusInternalServerError, wechatAnswer{"FAIL", "try again"})
		return nil
	}
	s.log.InfoContext(r.Context(), "refund notification", "outcome", string(out))
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type sandboxSettleRequest struct {
	Status string `json:"status"`
}

// sandboxSettleRefund has the simulator give a refund its final state and notify us.
func (s *Server) sandboxSettleRefund(w http.ResponseWriter, r *http.Request) error {
	if s.opts.SandboxRefund == nil {
		return kernel.NotFound("refund-not-found", "no WeChat Pay simulator")
	}
	var req sandboxSettleRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	switch req.Status {
	case ports.RefundStateSuccess, ports.RefundStateClosed, ports.RefundStateAbnormal:
	default:
		return kernel.Invalid("refund-status-invalid", "status is SUCCESS, CLOSED or ABNORMAL")
	}
	no := r.PathValue("refund_no")
	if err := order.ValidRefundNo(no); err != nil {
		return err
	}
	if err := s.opts.SandboxRefund(r.Context(), no, req.Status); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]string{"refund_no": no, "result": "settled; notification sent"})
	return nil
}
