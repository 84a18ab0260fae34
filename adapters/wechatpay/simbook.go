package wechatpay

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// The simulator's order book: in memory (bounded by MaxOrders), or in SimConfig.Records so that
// every instance of a deployment sees one WeChat Pay, as it would the real one (a prepay on one
// instance, the payment page served by another, the notification received by a third).

// Kinds of the simulator's durable records.
const (
	simOrdersKind = "wechatpay-orders"
	// simOrderKeep is how long a durable simulated transaction is kept.
	simOrderKeep = 30 * 24 * time.Hour
)

// simOrderRecord is a simOrder as the durable records keep it.
type simOrderRecord struct {
	AppID         string            `json:"appid"`
	MchID         string            `json:"mchid"`
	Description   string            `json:"description"`
	OutTradeNo    string            `json:"out_trade_no"`
	TradeType     string            `json:"trade_type"`
	Total         int64             `json:"total"`
	Currency      string            `json:"currency"`
	OpenID        string            `json:"openid,omitempty"`
	NotifyURL     string            `json:"notify_url"`
	PrepayID      string            `json:"prepay_id,omitempty"`
	CodeURL       string            `json:"code_url,omitempty"`
	State         string            `json:"state"`
	TransactionID string            `json:"transaction_id,omitempty"`
	SuccessTime   time.Time         `json:"success_time"`
	TimeExpire    time.Time         `json:"time_expire"`
	Refunds       []simRefundRecord `json:"refunds,omitempty"`
}

// simRefundRecord is a simRefund as the order's record keeps it.
type simRefundRecord struct {
	OutRefundNo string    `json:"out_refund_no"`
	RefundID    string    `json:"refund_id"`
	Reason      string    `json:"reason,omitempty"`
	NotifyURL   string    `json:"notify_url,omitempty"`
	Refund      int64     `json:"refund"`
	Status      string    `json:"status"`
	CreateTime  time.Time `json:"create_time"`
	SuccessTime time.Time `json:"success_time"`
}

func (o *simOrder) marshal() ([]byte, error) {
	rec := simOrderRecord{AppID: o.appID, MchID: o.mchID, Description: o.description, OutTradeNo: o.outTradeNo,
		TradeType: o.tradeType, Total: o.total, Currency: o.currency, OpenID: o.openID, NotifyURL: o.notifyURL,
		PrepayID: o.prepayID, CodeURL: o.codeURL, State: o.state, TransactionID: o.transactionID,
		SuccessTime: o.successTime, TimeExpire: o.timeExpire}
	for _, rf := range o.refunds {
		rec.Refunds = append(rec.Refunds, simRefundRecord{OutRefundNo: rf.outRefundNo, RefundID: rf.refundID, Reason: rf.reason,
			NotifyURL: rf.notifyURL, Refund: rf.refund, Status: rf.status, CreateTime: rf.createTime, SuccessTime: rf.successTime})
	}
	return json.Marshal(rec)
}

func unmarshalSimOrder(v []byte) (*simOrder, error) {
	var r simOrderRecord
	if err := json.Unmarshal(v, &r); err != nil {
		return nil, fmt.Errorf("wechatpay simulator: stored order: %w", err)
	}
	o := &simOrder{appID: r.AppID, mchID: r.MchID, description: r.Description, outTradeNo: r.OutTradeNo,
		tradeType: r.TradeType, total: r.Total, currency: r.Currency, openID: r.OpenID, notifyURL: r.NotifyURL,
		prepayID: r.PrepayID, codeURL: r.CodeURL, state: r.State, transactionID: r.TransactionID,
		successTime: r.SuccessTime, timeExpire: r.TimeExpire}
	for _, rf := range r.Refunds {
		o.refunds = append(o.refunds, simRefund{outRefundNo: rf.OutRefundNo, outTradeNo: r.OutTradeNo, transactionID: r.TransactionID,
			refundID: rf.RefundID, reason: rf.Reason, notifyURL: rf.NotifyURL, refund: rf.Refund, total: r.Total, status: rf.Status,
			createTime: rf.CreateTime, successTime: rf.SuccessTime})
	}
	return o, nil
}

// clone copies the order with its own refunds (a copy handed out never shares them).
func (o *simOrder) clone() simOrder {
	c := *o
	c.refunds = slices.Clone(o.refunds)
	return c
}

// simRefundIndexKind keeps, durably, which transaction each out_refund_no belongs to.
const simRefundIndexKind = "wechatpay-refunds"

// indexRefund records that outRefundNo refunds outTradeNo, unless it is recorded already; it
// returns the transaction the number belongs to (another one: the number was used before).
func (s *Simulator) indexRefund(ctx context.Context, outRefundNo, outTradeNo string) (string, error) {
	if r := s.cfg.Records; r != nil {
		created, err := r.Insert(ctx, simRefundIndexKind, outRefundNo, []byte(outTradeNo), s.clock.Now().Add(simOrderKeep))
		if err != nil || created {
			return outTradeNo, err
		}
		v, ok, err := r.Get(ctx, simRefundIndexKind, outRefundNo)
		if err == nil && !ok {
			err = fmt.Errorf("wechatpay simulator: refund %s vanished", outRefundNo)
		}
		return string(v), err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if got, ok := s.refunds[outRefundNo]; ok {
		return got, nil
	}
	s.refunds[outRefundNo] = outTradeNo
	return outTradeNo, nil
}

// refundTrade returns the transaction outRefundNo belongs to; false when the number is unknown.
func (s *Simulator) refundTrade(ctx context.Context, outRefundNo string) (string, bool, error) {
	if r := s.cfg.Records; r != nil {
		v, ok, err := r.Get(ctx, simRefundIndexKind, outRefundNo)
		return string(v), ok, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.refunds[outRefundNo]
	return t, ok, nil
}

// findRefund returns a copy of the refund outRefundNo; false when there is none.
func (s *Simulator) findRefund(ctx context.Context, outRefundNo string) (simRefund, bool, error) {
	trade, ok, err := s.refundTrade(ctx, outRefundNo)
	if err != nil || !ok {
		return simRefund{}, false, err
	}
	o, ok, err := s.getOrder(ctx, trade)
	if err != nil || !ok {
		return simRefund{}, false, err
	}
	for _, rf := range o.refunds {
		if rf.outRefundNo == outRefundNo {
			return rf, true, nil
		}
	}
	return simRefund{}, false, nil
}

// createOrder stores o unless an order with its out_trade_no exists; it returns a copy of the
// stored order and whether it is o.
func (s *Simulator) createOrder(ctx context.Context, o *simOrder) (simOrder, bool, error) {
	if r := s.cfg.Records; r != nil {
		v, err := o.marshal()
		if err != nil {
			return simOrder{}, false, err
		}
		created, err := r.Insert(ctx, simOrdersKind, o.outTradeNo, v, s.clock.Now().Add(simOrderKeep))
		if err != nil || created {
			return *o, created, err
		}
		got, ok, err := s.getOrder(ctx, o.outTradeNo)
		if err == nil && !ok {
			err = fmt.Errorf("wechatpay simulator: order %s vanished", o.outTradeNo)
		}
		return got, false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if got, ok := s.orders[o.outTradeNo]; ok {
		return got.clone(), false, nil
	}
	s.orders[o.outTradeNo] = o
	s.fifo = append(s.fifo, o.outTradeNo)
	for len(s.fifo) > s.cfg.MaxOrders {
		delete(s.orders, s.fifo[0])
		s.fifo = s.fifo[1:]
	}
	return *o, true, nil
}

// getOrder returns a copy of the order of outTradeNo.
func (s *Simulator) getOrder(ctx context.Context, outTradeNo string) (simOrder, bool, error) {
	if r := s.cfg.Records; r != nil {
		v, ok, err := r.Get(ctx, simOrdersKind, outTradeNo)
		if err != nil || !ok {
			return simOrder{}, false, err
		}
		o, err := unmarshalSimOrder(v)
		if err != nil {
			return simOrder{}, false, err
		}
		return *o, true, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.orders[outTradeNo]
	if !ok {
		return simOrder{}, false, nil
	}
	return o.clone(), true, nil
}

// updateOrder applies fn to the order of outTradeNo atomically (an error of fn changes nothing)
// and returns a copy of the result; false when there is no such order.
func (s *Simulator) updateOrder(ctx context.Context, outTradeNo string, fn func(*simOrder) error) (simOrder, bool, error) {
	if r := s.cfg.Records; r != nil {
		var out simOrder
		found, err := r.Update(ctx, simOrdersKind, outTradeNo, func(v []byte) ([]byte, error) {
			o, err := unmarshalSimOrder(v)
			if err != nil {
				return nil, err
			}
			if err := fn(o); err != nil {
				return nil, err
			}
			out = *o
			return o.marshal()
		})
		return out, found, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.orders[outTradeNo]
	if !ok {
		return simOrder{}, false, nil
	}
	c := o.clone()
	if err := fn(&c); err != nil {
		return simOrder{}, true, err
	}
	*o = c
	return c, true, nil
}

// sandboxKeysRecord is SandboxKeys as the keys file keeps them.
type sandboxKeysRecord struct {
	MerchantPrivateKey  []byte `json:"merchant_private_key"` // PKCS#1 DER
	MerchantSerial      string `json:"merchant_serial"`
	PlatformPrivateKey  []byte `json:"platform_private_key"` // PKCS#1 DER
	PlatformPublicKeyID string `json:"platform_public_key_id"`
	APIv3Key            string `json:"apiv3_key"`
}

// SharedSandboxKeys returns the sandbox keys kept in dir (keys.json), made and stored by the first
// process that asks: every instance sharing DATA_DIR (as they share the sandbox CA there) then
// signs and verifies with the same merchant and platform keys, as with one real WeChat Pay
// merchant account. The file is written to a temporary name and linked into place, so two
// processes starting together agree on one set.
func SharedSandboxKeys(dir string) (SandboxKeys, error) {
	path := filepath.Join(dir, "keys.json")
	load := func() (SandboxKeys, error) {
		v, err := os.ReadFile(path) //nolint:gosec // the configured data directory
		if err != nil {
			return SandboxKeys{}, err
		}
		var r sandboxKeysRecord
		if err := json.Unmarshal(v, &r); err != nil {
			return SandboxKeys{}, fmt.Errorf("wechatpay sandbox keys %s: %w", path, err)
		}
		mk, err := x509.ParsePKCS1PrivateKey(r.MerchantPrivateKey)
		if err != nil {
			return SandboxKeys{}, fmt.Errorf("wechatpay sandbox keys %s: %w", path, err)
		}
		pk, err := x509.ParsePKCS1PrivateKey(r.PlatformPrivateKey)
		if err != nil {
			return SandboxKeys{}, fmt.Errorf("wechatpay sandbox keys %s: %w", path, err)
		}
		return SandboxKeys{MerchantPrivateKey: mk, MerchantSerial: r.MerchantSerial, PlatformPrivateKey: pk,
			PlatformPublicKeyID: r.PlatformPublicKeyID, APIv3Key: r.APIv3Key}, nil
	}
	k, err := load()
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return k, err
	}
	if k, err = GenerateSandboxKeys(); err != nil {
		return SandboxKeys{}, err
	}
	v, err := json.Marshal(sandboxKeysRecord{MerchantPrivateKey: x509.MarshalPKCS1PrivateKey(k.MerchantPrivateKey),
		MerchantSerial: k.MerchantSerial, PlatformPrivateKey: x509.MarshalPKCS1PrivateKey(k.PlatformPrivateKey),
		PlatformPublicKeyID: k.PlatformPublicKeyID, APIv3Key: k.APIv3Key})
	if err != nil {
		return SandboxKeys{}, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return SandboxKeys{}, err
	}
	tmp, err := os.CreateTemp(dir, "keys-*.tmp")
	if err != nil {
		return SandboxKeys{}, err
	}
	defer func() { _ = os.Remove(tmp.Name()) }()
	if _, err := tmp.Write(v); err != nil {
		_ = tmp.Close()
		return SandboxKeys{}, err
	}
	if err := tmp.Sync(); err != nil {
		_ = tmp.Close()
		return SandboxKeys{}, err
	}
	if err := tmp.Close(); err != nil {
		return SandboxKeys{}, err
	}
	if err := os.Link(tmp.Name(), path); err != nil && !errors.Is(err, fs.ErrExist) {
		return SandboxKeys{}, err
	}
	return load() // ours, or those another process linked first
}
