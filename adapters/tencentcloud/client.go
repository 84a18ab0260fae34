// Package tencentcloud holds the real adapters backed by Tencent Cloud, through the official
// SDK (github.com/tencentcloud/tencentcloud-sdk-go, the monolithic module v1.0.162): SMS
// (sms/v20210111 SendSms), identity checks (faceid/v20180301 IdCardVerification and
// PhoneVerification) and H5 face liveness (faceid DetectAuth and GetDetectInfoEnhanced).
//
// Personal data (names, ID numbers, phones, SMS codes) is sent to the provider only; it never
// appears in the errors these adapters return, and they log nothing.
//
// FakeServer (fake.go) is a local stand-in for the Tencent Cloud API used by the tests.
package tencentcloud

import (
	"context"
	"errors"
	"fmt"
	"log"
	"math"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"
	sdkerrors "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/errors"
	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/profile"

	"github.com/shuxinqian/server/ports"
)

// Config configures the Tencent Cloud adapters.
type Config struct {
	SecretID  string
	SecretKey string
	// Region is the API region (e.g. "ap-guangzhou"); SMS needs it, FaceID ignores it.
	Region string
	// Endpoint overrides the API host (default "<service>.tencentcloudapi.com"), e.g.
	// "127.0.0.1:port" for tests.
	Endpoint string
	// Scheme is "https" (the default) or "http" (tests only).
	Scheme string

	// SMSAppID is the SMS SdkAppId, SMSSignName the approved signature (e.g. "数信签").
	SMSAppID    string
	SMSSignName string
	// SMSTemplates maps our template names ("code", "welcome"...) to Tencent template ids.
	SMSTemplates map[string]string

	// FaceIDRuleID is the FaceID business flow (RuleId) used for liveness sessions.
	FaceIDRuleID string

	// Timeout bounds each API call (default 10 s).
	Timeout time.Duration
	// Clock tells the time for session expiry; nil means the system clock.
	Clock ports.Clock
}

// DefaultTimeout bounds an API call when Config.Timeout is zero.
const DefaultTimeout = 10 * time.Second

// Service names and API versions, as the SDK signs them.
const (
	serviceSMS    = "sms"
	serviceFaceID = "faceid"
	versionSMS    = "2021-01-11"
	versionFaceID = "2018-03-01"
)

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// api is what every adapter shares: credentials, a profile and one pooled HTTP transport.
type api struct {
	cred      *common.Credential
	region    string
	endpoint  string
	scheme    string
	timeout   time.Duration
	transport http.RoundTripper
	clock     ports.Clock
}

func newAPI(cfg Config) (*api, error) {
	if cfg.SecretID == "" || cfg.SecretKey == "" {
		return nil, errors.New("tencentcloud: SecretID and SecretKey are required")
	}
	scheme := strings.ToLower(cfg.Scheme)
	switch scheme {
	case "":
		scheme = "https"
	case "https", "http":
	default:
		return nil, fmt.Errorf("tencentcloud: unknown scheme %q", cfg.Scheme)
	}
	if cfg.Timeout < 0 {
		return nil, errors.New("tencentcloud: negative timeout")
	}
	a := &api{
		cred:     common.NewCredential(cfg.SecretID, cfg.SecretKey),
		region:   cfg.Region,
		endpoint: cfg.Endpoint,
		scheme:   scheme,
		timeout:  cfg.Timeout,
		clock:    cfg.Clock,
	}
	if a.timeout == 0 {
		a.timeout = DefaultTimeout
	}
	if a.clock == nil {
		a.clock = systemClock{}
	}
	t := &http.Transport{Proxy: http.ProxyFromEnvironment, ForceAttemptHTTP2: true}
	if d, ok := http.DefaultTransport.(*http.Transport); ok {
		t = d.Clone()
	}
	t.MaxIdleConnsPerHost = 16
	a.transport = t
	return a, nil
}

func (a *api) profile() *profile.ClientProfile {
	p := profile.NewClientProfile()
	p.HttpProfile.Endpoint = a.endpoint
	p.HttpProfile.Scheme = strings.ToUpper(a.scheme)
	p.HttpProfile.ReqMethod = "POST"
	// A backstop only: the call's context carries the real deadline.
	p.HttpProfile.ReqTimeout = int(math.Ceil(a.timeout.Seconds())) + 1
	p.Debug = false // the SDK's debug mode logs whole requests, personal data included
	return p
}

// sdkClientMu serialises the SDK's client construction: its Client.Init overwrites the standard
// logger's flags (log.SetFlags(log.LstdFlags|log.Lshortfile)), which newClient puts back.
var sdkClientMu sync.Mutex

// newClient builds an SDK client for one call. v1.0.162 has no context support, so each call
// gets its own client whose transport binds every request to the call's context; the pooled
// transport underneath is shared.
func newClient[C interface {
	WithHttpTransport(http.RoundTripper) *common.Client
}](ctx context.Context, a *api, build func(*common.Credential, string, *profile.ClientProfile) (C, error)) (C, error) {
	sdkClientMu.Lock()
	flags := log.Flags()
	c, err := build(a.cred, a.region, a.profile())
	log.SetFlags(flags)
	sdkClientMu.Unlock()
	if err != nil {
		var zero C
		return zero, err
	}
	c.WithHttpTransport(ctxTransport{ctx: ctx, base: a.transport})
	return c, nil
}

// ctxTransport sends every request under ctx.
type ctxTransport struct {
	ctx  context.Context // the SDK has no other way to pass a context
	base http.RoundTripper
}

func (t ctxTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	return t.base.RoundTrip(req.WithContext(t.ctx))
}

// call runs one API call under the configured timeout and turns SDK failures into *callError.
func (a *api) call(ctx context.Context, action string, fn func(ctx context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	err := fn(ctx)
	if err == nil {
		return nil
	}
	ce := &callError{Action: action, Code: "ClientError"}
	var sdkErr *sdkerrors.TencentCloudSDKError
	if errors.As(err, &sdkErr) {
		ce.Code, ce.RequestID = sdkErr.GetCode(), sdkErr.GetRequestId()
	}
	ce.ctxErr = ctx.Err()
	return ce
}

// callError is a failed API call. It keeps only the provider's error code and request id: the
// SDK's messages can quote the request or response body, personal data included.
type callError struct {
	Action    string
	Code      string // e.g. "ClientError.NetworkError", "AuthFailure.SignatureFailure"
	RequestID string
	ctxErr    error
}

func (e *callError) Error() string {
	s := "tencentcloud " + e.Action + ": " + e.Code
	if e.RequestID != "" {
		s += " (request " + e.RequestID + ")"
	}
	if e.ctxErr != nil {
		s += ": " + e.ctxErr.Error()
	}
	return s
}

// Unwrap exposes context.Canceled or context.DeadlineExceeded when the call was cut short.
func (e *callError) Unwrap() error { return e.ctxErr }

func callCode(err error) string {
	var ce *callError
	if errors.As(err, &ce) {
		return ce.Code
	}
	return ""
}

// codeUnexpectedResponse marks a response that lacks what the API promises.
const codeUnexpectedResponse = "ClientError.UnexpectedResponse"

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
