package ports

import (
	"context"
	"time"

	"github.com/shuxinqian/server/domain/kernel"
)

// TradeType is how the client pays.
type TradeType string

// Trade types.
const (
	TradeJSAPI TradeType = "jsapi" // the mini-program (wx.requestPayment)
	TradeApp   TradeType = "app"   // the app SDK
	// TradeNative is Native pay: WeChat answers a code_url the browser shows as a QR code for the
	// payer to scan with WeChat (the H5 client outside WeChat).
	TradeNative TradeType = "native"
)

// PrepayRequest opens a WeChat Pay transaction for an order.
type PrepayRequest struct {
	TradeType   TradeType
	OutTradeNo  string
	Description string
	Amount      kernel.Money
	TimeExpire  time.Time
	OpenID      string // jsapi only: the payer's openid in the mini-program
	NotifyURL   string
}

// PrepayResult is what the client hands to WeChat: for jsapi the wx.requestPayment parameters
// (appId, timeStamp, nonceStr, package, signType, paySign), for app the APP SDK parameters
// (appid, partnerid, prepayid, package, noncestr, timestamp, sign). They are signed with the
// merchant key. For native, ClientParams holds only code_url (the QR code's text) and PrepayID is
// empty.
type PrepayResult struct {
	PrepayID     string
	ClientParams map[string]string
}

// Trade states as WeChat Pay names them.
const (
	TradeSuccess    = "SUCCESS"
	TradeNotPay     = "NOTPAY"
	TradeClosed     = "CLOSED"
	TradeRefund     = "REFUND"
	TradeRevoked    = "REVOKED"
	TradeUserPaying = "USERPAYING"
	TradePayError   = "PAYERROR"
)

// PaymentTransaction is WeChat Pay's view of a transaction (from a query or a notification).
type PaymentTransaction struct {
	MchID         string
	AppID         string
	OutTradeNo    string
	TransactionID string
	TradeState    string
	Total         kernel.Money // amount.total, fen
	Currency      string
	SuccessTime   time.Time
	// NotificationID is the notification's id (empty for queries).
	NotificationID string
}

// PaymentNotification is an incoming HTTP notification as received.
type PaymentNotification struct {
	Headers map[string]string // Wechatpay-Timestamp, -Nonce, -Signature, -Serial, -Signature-Type
	Body    []byte
}

// PaymentGateway talks to WeChat Pay.
type PaymentGateway interface {
	Prepay(ctx context.Context, req PrepayRequest) (PrepayResult, error)
	// Query returns the transaction of an out_trade_no; unknown → kernel not-found "payment-not-found".
	Query(ctx context.Context, outTradeNo string) (PaymentTransaction, error)
	// Close closes an unpaid transaction; an already paid one is kernel conflict "payment-already-paid".
	Close(ctx context.Context, outTradeNo string) error
	// ParseNotification verifies the signature (timestamp within 5 minutes, known serial) before
	// anything, then decrypts the resource. A bad signature is kernel unauthenticated
	// "notification-signature-invalid"; WeChat's signature probe (a signature starting
	// "WECHATPAY/SIGNTEST/") is refused the same way; an undecryptable or malformed body is kernel
	// invalid "notification-malformed".
	ParseNotification(ctx context.Context, n PaymentNotification) (PaymentTransaction, error)
	// MchID and AppID are the merchant's, for checking notifications.
	MchID() string
	AppID() string
}
