package wechatpay

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"time"
	"unicode/utf8"

	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/ports"
)

// simRefund is one refund in the simulator.
type simRefund struct {
	outRefundNo, outTradeNo, transactionID, refundID string
	reason, notifyURL                                string
	refund, total                                    int64
	status                                           string
	createTime, successTime                          time.Time
}

var outRefundNoRe = regexp.MustCompile(`^[0-9A-Za-z_\-|*@]{1,64}$`)

type simRefundRequest struct {
	TransactionID string `json:"transaction_id"`
	OutTradeNo    string `json:"out_trade_no"`
	OutRefundNo   string `json:"out_refund_no"`
	Reason        string `json:"reason"`
	NotifyURL     string `json:"notify_url"`
	Amount        *struct {
		Refund   int64  `json:"refund"`
		Total    int64  `json:"total"`
		Currency string `json:"currency"`
	} `json:"amount"`
}

// createRefund is POST /v3/refund/domestic/refunds: a refund of (part of) a paid transaction,
// PROCESSING until SettleRefund gives it a final state. The same out_refund_no with the same
// parameters answers the refund already made (WeChat Pay refunds once); other parameters are
// refused; the refunds of a transaction never exceed what was paid.
func (s *Simulator) createRefund(w http.ResponseWriter, r *http.Request) {
	var req simRefundRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		s.fail(w, http.StatusBadRequest, "PARAM_ERROR", "请求体不是合法的 JSON")
		return
	}
	switch {
	case !outRefundNoRe.MatchString(req.OutRefundNo):
		s.fail(w, http.StatusBadRequest, "PARAM_ERROR", "out_refund_no 应为1-64位数字、大小写字母或_-|*@")
		return
	case req.OutTradeNo == "" && req.TransactionID == "":
		s.fail(w, http.StatusBadRequest, "PARAM_ERROR", "transaction_id 和 out_trade_no 必须二选一")
		return
	case req.Amount == nil || req.Amount.Refund <= 0 || req.Amount.Total <= 0:
		s.fail(w, http.StatusBadRequest, "PARAM_ERROR", "amount.refund 与 amount.total 应大于0")
		return
	case req.Amount.Currency != "" && req.Amount.Currency != "CNY":
		s.fail(w, http.StatusBadRequest, "PARAM_ERROR", "境内商户号仅支持人民币")
		return
	case utf8.RuneCountInString(req.Reason) > 80:
		s.fail(w, http.StatusBadRequest, "PARAM_ERROR", "reason 不超过80个字符")
		return
	}
	if req.NotifyURL != "" {
		if u, err := url.Parse(req.NotifyURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" {
			s.fail(w, http.StatusBadRequest, "PARAM_ERROR", "notify_url 格式不正确")
			return
		}
	}
	now := s.clock.Now()
	// The paid order, from the simulator's order book (durable when shared by instances).
	var o *simOrder
	if req.OutTradeNo != "" {
		got, ok, err := s.getOrder(r.Context(), req.OutTradeNo)
		if err != nil {
			s.fail(w, http.StatusInternalServerError, "SYSTEM_ERROR", "系统错误")
			return
		}
		if ok {
			o = &got
		}
	} else {
		s.mu.Lock()
		for _, c := range s.orders {
			if c.transactionID != "" && c.transactionID == req.TransactionID {
				cp := *c
				o = &cp
				break
			}
		}
		s.mu.Unlock()
	}
	if o == nil || (req.TransactionID != "" && o.transactionID != req.TransactionID) {
		s.fail(w, http.StatusNotFound, "RESOURCE_NOT_EXISTS", "订单不存在")
		return
	}
	ctx := r.Context()
	if trade, err := s.indexRefund(ctx, req.OutRefundNo, o.outTradeNo); err != nil {
		s.fail(w, http.StatusInternalServerError, "SYSTEM_ERROR", "系统错误")
		return
	} else if trade != o.outTradeNo {
		s.fail(w, http.StatusBadRequest, "INVALID_REQUEST", "退款单号重复：参数与首次请求时不一致")
		return
	}
	// One update of the order's record: the same out_refund_no answers the refund made, and the
	// refunds of the transaction never pass what was paid, across instances (a row lock).
	var out simRefund
	var refusal *simRefusal
	_, _, err := s.updateOrder(ctx, o.outTradeNo, func(c *simOrder) error {
		for _, rf := range c.refunds {
			if rf.outRefundNo == req.OutRefundNo {
				if rf.refund != req.Amount.Refund || rf.total != req.Amount.Total {
					refusal = &simRefusal{http.StatusBadRequest, "INVALID_REQUEST", "退款单号重复：参数与首次请求时不一致"}
					return refusal
				}
				out = rf
				return nil
			}
		}
		if c.state != ports.TradeSuccess {
			refusal = &simRefusal{http.StatusBadRequest, "INVALID_REQUEST", "订单未支付，不能退款"}
			return refusal
		}
		if req.Amount.Total != c.total {
			refusal = &simRefusal{http.StatusBadRequest, "PARAM_ERROR", "amount.total 与原订单金额不一致"}
			return refusal
		}
		var taken int64
		for _, rf := range c.refunds {
			if rf.status != ports.RefundStateClosed {
				taken += rf.refund
			}
		}
		if taken+req.Amount.Refund > c.total {
			refusal = &simRefusal{http.StatusBadRequest, "INVALID_REQUEST", "申请退款金额超过订单可退金额"}
			return refusal
		}
		out = simRefund{outRefundNo: req.OutRefundNo, outTradeNo: c.outTradeNo, transactionID: c.transactionID,
			refundID: "50" + randDigits(10) + now.In(beijing).Format("20060102") + randDigits(10), reason: req.Reason,
			notifyURL: req.NotifyURL, refund: req.Amount.Refund, total: c.total, status: ports.RefundStateProcessing, createTime: now}
		c.refunds = append(c.refunds, out)
		return nil
	})
	switch {
	case refusal != nil:
		s.fail(w, refusal.status, refusal.code, refusal.message)
	case err != nil:
		s.fail(w, http.StatusInternalServerError, "SYSTEM_ERROR", "系统错误")
	default:
		s.reply(w, http.StatusOK, out.resource())
	}
}

// simRefusal is an answer of WeChat Pay refusing a request.
type simRefusal struct {
	status        int
	code, message string
}

func (e *simRefusal) Error() string { return e.code + ": " + e.message }

// queryRefund is GET /v3/refund/domestic/refunds/{out_refund_no}.
func (s *Simulator) queryRefund(w http.ResponseWriter, r *http.Request) {
	rf, ok, err := s.findRefund(r.Context(), r.PathValue("out_refund_no"))
	switch {
	case err != nil:
		s.fail(w, http.StatusInternalServerError, "SYSTEM_ERROR", "系统错误")
	case !ok:
		s.fail(w, http.StatusNotFound, "RESOURCE_NOT_EXISTS", "退款单不存在")
	default:
		s.reply(w, http.StatusOK, rf.resource())
	}
}

// resource is the refund as WeChat Pay's API returns it.
func (rf *simRefund) resource() map[string]any {
	res := map[string]any{
		"refund_id": rf.refundID, "out_refund_no": rf.outRefundNo, "transaction_id": rf.transactionID,
		"out_trade_no": rf.outTradeNo, "channel": "ORIGINAL", "user_received_account": "支付用户零钱",
		"create_time": rf.createTime.In(beijing).Format(time.RFC3339), "status": rf.status, "funds_account": "AVAILABLE",
		"amount": map[string]any{"total": rf.total, "refund": rf.refund, "payer_total": rf.total, "payer_refund": rf.refund,
			"settlement_refund": rf.refund, "settlement_total": rf.total, "discount_refund": 0, "currency": "CNY"},
	}
	if rf.status == ports.RefundStateSuccess {
		res["success_time"] = rf.successTime.In(beijing).Format(time.RFC3339)
	}
	return res
}

// notifyResource is the decrypted resource of a refund notification.
func (rf *simRefund) notifyResource(mchID string) map[string]any {
	res := map[string]any{
		"mchid": mchID, "out_trade_no": rf.outTradeNo, "transaction_id": rf.transactionID, "out_refund_no": rf.outRefundNo,
		"refund_id": rf.refundID, "refund_status": rf.status, "user_received_account": "支付用户零钱",
		"amount": map[string]any{"total": rf.total, "refund": rf.refund, "payer_total": rf.total, "payer_refund": rf.refund},
	}
	if rf.status == ports.RefundStateSuccess {
		res["success_time"] = rf.successTime.In(beijing).Format(time.RFC3339)
	}
	return res
}

// MarkRefund gives a PROCESSING refund its final state (SUCCESS, CLOSED or ABNORMAL) without
// notifying anyone (a lost notification: only a query will tell). An ABNORMAL refund can still
// become SUCCESS or CLOSED (resolved on the merchant platform). It returns where the refund's
// notification goes.
func (s *Simulator) MarkRefund(outRefundNo, status string) (notifyURL string, err error) {
	switch status {
	case ports.RefundStateSuccess, ports.RefundStateClosed, ports.RefundStateAbnormal:
	default:
		return "", kernel.Invalid("refund-status-invalid", "a final refund state is SUCCESS, CLOSED or ABNORMAL")
	}
	now := s.clock.Now()
	ctx := context.Background()
	trade, ok, err := s.refundTrade(ctx, outRefundNo)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", kernel.NotFound(CodeRefundNotFound, "the simulator has no refund with this out_refund_no")
	}
	_, _, err = s.updateOrder(ctx, trade, func(c *simOrder) error {
		for i := range c.refunds {
			rf := &c.refunds[i]
			if rf.outRefundNo != outRefundNo {
				continue
			}
			if rf.status != ports.RefundStateProcessing && rf.status != ports.RefundStateAbnormal {
				return kernel.Conflict("refund-final", "the simulator's refund is "+rf.status)
			}
			rf.status = status
			if status == ports.RefundStateSuccess {
				rf.successTime = now
			}
			notifyURL = rf.notifyURL
			return nil
		}
		return kernel.NotFound(CodeRefundNotFound, "the simulator has no refund with this out_refund_no")
	})
	return notifyURL, err
}

// SettleRefund gives the refund its final state and sends the signed, encrypted REFUND.SUCCESS
// / REFUND.CLOSED / REFUND.ABNORMAL notification to the callback, as WeChat Pay does; it returns
// an error when the callback does not answer 2xx (a caller retries with NotifyRefund).
func (s *Simulator) SettleRefund(ctx context.Context, outRefundNo, status string) error {
	if _, err := s.MarkRefund(outRefundNo, status); err != nil {
		return err
	}
	return s.NotifyRefund(ctx, outRefundNo)
}

// NotifyRefund sends the refund's current final state to the callback again (WeChat Pay
// repeats a notification until the callback answers 2xx).
func (s *Simulator) NotifyRefund(ctx context.Context, outRefundNo string) error {
	rf, ok, err := s.findRefund(ctx, outRefundNo)
	if err != nil {
		return err
	}
	target := ""
	if ok {
		target = rf.notifyURL
	}
	if s.cfg.RefundNotifyURL != "" {
		target = s.cfg.RefundNotifyURL
	}
	if target == "" {
		return errors.New("wechatpay simulator: the refund has no notify_url")
	}
	headers, body, err := s.RefundNotification(outRefundNo, nil)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("wechatpay simulator: refund notify: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := s.cfg.HTTPClient.Do(req)
	if err != nil {
		return fmt.Errorf("wechatpay simulator: refund notify: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("wechatpay simulator: the refund callback answered %d", resp.StatusCode)
	}
	return nil
}

// RefundNotification builds (without sending) the signed refund notification of the refund's
// current state, after mutate (if not nil) edited the resource.
func (s *Simulator) RefundNotification(outRefundNo string, mutate func(res map[string]any)) (map[string]string, []byte, error) {
	rf, ok, err := s.findRefund(context.Background(), outRefundNo)
	if err != nil {
		return nil, nil, err
	}
	if !ok {
		return nil, nil, errors.New("wechatpay simulator: refund not found")
	}
	res, status := rf.notifyResource(s.cfg.MchID), rf.status
	if mutate != nil {
		mutate(res)
	}
	plain, err := json.Marshal(res)
	if err != nil {
		return nil, nil, err
	}
	summary := map[string]string{ports.RefundStateSuccess: "退款成功", ports.RefundStateClosed: "退款关闭",
		ports.RefundStateAbnormal: "退款异常", ports.RefundStateProcessing: "退款处理中"}[status]
	nonce := randAlnum(12)
	const ad = "refund"
	ciphertext := s.aead.Seal(nil, []byte(nonce), plain, []byte(ad))
	body, err := json.Marshal(map[string]any{
		"id":            randUUID(),
		"create_time":   s.clock.Now().In(beijing).Format(time.RFC3339),
		"event_type":    "REFUND." + status,
		"resource_type": "encrypt-resource",
		"summary":       summary,
		"resource": map[string]any{
			"algorithm":       "AEAD_AES_256_GCM",
			"ciphertext":      base64.StdEncoding.EncodeToString(ciphertext),
			"associated_data": ad,
			"nonce":           nonce,
			"original_type":   "refund",
		},
	})
	if err != nil {
		return nil, nil, err
	}
	return s.SignedHeaders(body), body, nil
}
