package wechatpay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/wechatpay-apiv3/wechatpay-go/core"
	"github.com/wechatpay-apiv3/wechatpay-go/services/refunddomestic"

	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/ports"
)

// Refund error codes of this adapter (kernel error codes).
const (
	CodeRefundRefused  = "refund-refused"
	CodeRefundNotFound = "refund-not-found"
)

var _ ports.RefundGateway = (*Gateway)(nil)

// Refund asks WeChat Pay's refund service (POST /v3/refund/domestic/refunds) for a refund of
// req.Refund out of the payment of req.OutTradeNo. The same out_refund_no again is the same
// refund: WeChat Pay answers the refund it already has.
func (g *Gateway) Refund(ctx context.Context, req ports.RefundRequest) (ports.RefundTransaction, error) {
	if req.OutTradeNo == "" || req.OutRefundNo == "" || req.Refund <= 0 || req.Total <= 0 || req.NotifyURL == "" {
		return ports.RefundTransaction{}, kernel.Invalid(CodeRequestInvalid,
			"out_trade_no, out_refund_no, notify url and positive amounts are required")
	}
	refund, total, cny := int64(req.Refund), int64(req.Total), "CNY"
	cr := refunddomestic.CreateRequest{
		OutTradeNo: core.String(req.OutTradeNo), OutRefundNo: core.String(req.OutRefundNo),
		NotifyUrl: core.String(req.NotifyURL),
		Amount:    &refunddomestic.AmountReq{Refund: &refund, Total: &total, Currency: &cny},
	}
	if req.Reason != "" {
		cr.Reason = core.String(req.Reason)
	}
	resp, _, err := g.refunds.Create(ctx, cr)
	if err != nil {
		return ports.RefundTransaction{}, mapRefundErr("refund", err)
	}
	return toRefund(resp)
}

// QueryRefund returns WeChat Pay's view of the refund of outRefundNo
// (GET /v3/refund/domestic/refunds/{out_refund_no}).
func (g *Gateway) QueryRefund(ctx context.Context, outRefundNo string) (ports.RefundTransaction, error) {
	if outRefundNo == "" {
		return ports.RefundTransaction{}, kernel.NotFound(CodeRefundNotFound, "refund not found")
	}
	resp, _, err := g.refunds.QueryByOutRefundNo(ctx, refunddomestic.QueryByOutRefundNoRequest{OutRefundNo: core.String(outRefundNo)})
	if err != nil {
		return ports.RefundTransaction{}, mapRefundErr("query refund", err)
	}
	return toRefund(resp)
}

// refundResource is the decrypted resource of a refund notification (REFUND.SUCCESS,
// REFUND.ABNORMAL, REFUND.CLOSED), as WeChat Pay documents it.
type refundResource struct {
	MchID         string `json:"mchid"`
	OutTradeNo    string `json:"out_trade_no"`
	TransactionID string `json:"transaction_id"`
	OutRefundNo   string `json:"out_refund_no"`
	RefundID      string `json:"refund_id"`
	RefundStatus  string `json:"refund_status"`
	SuccessTime   string `json:"success_time"`
	Amount        *struct {
		Total       int64 `json:"total"`
		Refund      int64 `json:"refund"`
		PayerTotal  int64 `json:"payer_total"`
		PayerRefund int64 `json:"payer_refund"`
	} `json:"amount"`
}

// ParseRefundNotification verifies a refund notification and only then decrypts it, exactly as
// ParseNotification does for payments.
func (g *Gateway) ParseRefundNotification(ctx context.Context, n ports.PaymentNotification) (ports.RefundTransaction, error) {
	plain, nr, err := g.open(ctx, n, "refund")
	if err != nil {
		return ports.RefundTransaction{}, err
	}
	malformed := kernel.Invalid(CodeMalformed, "the notification cannot be decrypted or read")
	var rr refundResource
	if err := json.Unmarshal(plain, &rr); err != nil || rr.OutRefundNo == "" || rr.RefundStatus == "" || rr.Amount == nil {
		return ports.RefundTransaction{}, malformed
	}
	rt := ports.RefundTransaction{MchID: rr.MchID, OutTradeNo: rr.OutTradeNo, OutRefundNo: rr.OutRefundNo, RefundID: rr.RefundID,
		TransactionID: rr.TransactionID, Status: rr.RefundStatus, Refund: kernel.Money(rr.Amount.Refund),
		Total: kernel.Money(rr.Amount.Total), NotificationID: nr.ID}
	if rr.SuccessTime != "" {
		t, err := time.Parse(time.RFC3339, rr.SuccessTime)
		if err != nil {
			return ports.RefundTransaction{}, malformed
		}
		rt.SuccessTime = t
	}
	return rt, nil
}

func toRefund(r *refunddomestic.Refund) (ports.RefundTransaction, error) {
	if r == nil || r.OutRefundNo == nil || r.Status == nil {
		return ports.RefundTransaction{}, unavailable("refund", errors.New("an incomplete refund in the response"))
	}
	rt := ports.RefundTransaction{OutTradeNo: deref(r.OutTradeNo), OutRefundNo: *r.OutRefundNo, RefundID: deref(r.RefundId),
		TransactionID: deref(r.TransactionId), Status: string(*r.Status)}
	if r.Amount != nil {
		if r.Amount.Refund != nil {
			rt.Refund = kernel.Money(*r.Amount.Refund)
		}
		if r.Amount.Total != nil {
			rt.Total = kernel.Money(*r.Amount.Total)
		}
	}
	if r.SuccessTime != nil {
		rt.SuccessTime = *r.SuccessTime
	}
	return rt, nil
}

// mapRefundErr maps an SDK error of the refund service. Requests WeChat Pay refuses for good
// (bad parameters, a refund above the paid amount, a reused out_refund_no with other parameters,
// an unknown trade, a payer account that cannot take refunds) are "refund-refused" with WeChat's
// code; throttling, a short balance and system errors are unavailable (retried).
func mapRefundErr(op string, err error) error {
	var apiErr *core.APIError
	if !errors.As(err, &apiErr) {
		return unavailable(op, err)
	}
	switch apiErr.Code {
	case "RESOURCE_NOT_EXISTS", "ORDER_NOT_EXIST":
		if op == "query refund" {
			return kernel.NotFound(CodeRefundNotFound, "refund not found")
		}
		return kernel.Invalid(CodeRefundRefused, "WeChat Pay refused the refund: "+apiErr.Message).WithDetail("wechat_code", apiErr.Code)
	case "PARAM_ERROR", "INVALID_REQUEST", "USER_ACCOUNT_ABNORMAL", "MCH_NOT_EXISTS", "NO_AUTH":
		return kernel.Invalid(CodeRefundRefused, "WeChat Pay refused the refund: "+apiErr.Message).WithDetail("wechat_code", apiErr.Code)
	}
	if apiErr.StatusCode == http.StatusNotFound && op == "query refund" {
		return kernel.NotFound(CodeRefundNotFound, "refund not found")
	}
	return unavailable(op, fmt.Errorf("http %d %s: %s", apiErr.StatusCode, apiErr.Code, apiErr.Message))
}
