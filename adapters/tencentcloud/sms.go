package tencentcloud

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"
	sms "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/sms/v20210111"

	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/otp"
	"github.com/shuxinqian/server/ports"
)

const codeSMSUnavailable = "sms-unavailable"

// templateParams lists, per template name, the ports.SMS Params keys in the order of the Tencent
// template's variables {1}, {2}...; templateDefaults fills keys the application does not pass.
// A template not listed here takes its Params sorted by key.
var (
	templateParams = map[string][]string{
		"code":    {"code", "minutes"}, // 您的验证码为{1}，{2}分钟内有效…
		"welcome": {},
	}
	templateDefaults = map[string]map[string]string{
		"code": {"minutes": strconv.Itoa(int(otp.TTL / time.Minute))},
	}
)

// smsKeyCapacity is how many idempotency keys the sender remembers.
const smsKeyCapacity = 10000

// SMSSender sends text messages with Tencent Cloud SMS (SendSms, API 2021-01-11). It is safe for
// concurrent use.
type SMSSender struct {
	api       *api
	appID     string
	signName  string
	templates map[string]string

	mu       sync.Mutex
	keys     map[string]struct{}
	keyOrder []string
}

var _ ports.SMSSender = (*SMSSender)(nil)

// NewSMSSender makes an SMS sender. Message parameters are passed in a fixed order per template:
// "code" → [code, minutes] (minutes defaults to the code's validity, 5), "welcome" → none; any
// other template → its parameters sorted by key.
func NewSMSSender(cfg Config) (*SMSSender, error) {
	a, err := newAPI(cfg)
	if err != nil {
		return nil, err
	}
	if cfg.Region == "" || cfg.SMSAppID == "" || cfg.SMSSignName == "" {
		return nil, errors.New("tencentcloud: SMS needs Region, SMSAppID and SMSSignName")
	}
	if len(cfg.SMSTemplates) == 0 {
		return nil, errors.New("tencentcloud: SMS needs SMSTemplates")
	}
	return &SMSSender{
		api: a, appID: cfg.SMSAppID, signName: cfg.SMSSignName,
		templates: maps.Clone(cfg.SMSTemplates), keys: map[string]struct{}{},
	}, nil
}

// Send sends one message. The idempotency key goes to the provider as SessionContext (Tencent
// Cloud echoes it but does not deduplicate on it), so the sender drops a message whose key it has
// already sent, or is sending, itself: per process, the last 10,000 keys. A failed send forgets
// its key so that a retry goes out. Provider refusals (a SendStatus Code other than "Ok") and
// unreachable or slow APIs are kernel Unavailable "sms-unavailable"; the error names the
// provider's code and request id, never the phone or the parameters.
func (s *SMSSender) Send(ctx context.Context, msg ports.SMS) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if msg.Phone.IsZero() {
		return kernel.Invalid("phone-invalid", "no phone")
	}
	templateID, ok := s.templates[msg.Template]
	if !ok {
		return fmt.Errorf("tencentcloud: no SMS template configured for %q", msg.Template)
	}
	params, err := orderedParams(msg.Template, msg.Params)
	if err != nil {
		return err
	}
	if !s.reserve(msg.IdempotencyKey) {
		return nil
	}
	if err := s.send(ctx, msg, templateID, params); err != nil {
		s.release(msg.IdempotencyKey)
		return kernel.Unavailable(codeSMSUnavailable, "the SMS could not be sent", err)
	}
	return nil
}

func (s *SMSSender) send(ctx context.Context, msg ports.SMS, templateID string, params []string) error {
	req := sms.NewSendSmsRequest()
	req.PhoneNumberSet = []*string{common.StringPtr("+86" + msg.Phone.String())}
	req.SmsSdkAppId = common.StringPtr(s.appID)
	req.SignName = common.StringPtr(s.signName)
	req.TemplateId = common.StringPtr(templateID)
	req.TemplateParamSet = common.StringPtrs(params)
	if msg.IdempotencyKey != "" {
		req.SessionContext = common.StringPtr(msg.IdempotencyKey)
	}
	var resp *sms.SendSmsResponse
	err := s.api.call(ctx, "SendSms", func(ctx context.Context) error {
		c, err := newClient(ctx, s.api, sms.NewClient)
		if err != nil {
			return err
		}
		resp, err = c.SendSms(req)
		return err
	})
	if err != nil {
		return err
	}
	r := resp.Response
	if r == nil || len(r.SendStatusSet) != 1 || r.SendStatusSet[0] == nil {
		rid := ""
		if r != nil {
			rid = str(r.RequestId)
		}
		return &callError{Action: "SendSms", Code: codeUnexpectedResponse, RequestID: rid}
	}
	if code := str(r.SendStatusSet[0].Code); code != "Ok" {
		// e.g. "LimitExceeded.PhoneNumberDailyLimit"; the status message is left out on purpose.
		return &callError{Action: "SendSms", Code: code, RequestID: str(r.RequestId)}
	}
	return nil
}

// reserve records key as sent; it reports false if it already was. An empty key is never a
// duplicate.
func (s *SMSSender) reserve(key string) bool {
	if key == "" {
		return true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.keys[key]; dup {
		return false
	}
	s.keys[key] = struct{}{}
	s.keyOrder = append(s.keyOrder, key)
	if len(s.keyOrder) > smsKeyCapacity {
		delete(s.keys, s.keyOrder[0])
		s.keyOrder = s.keyOrder[1:]
	}
	return true
}

// release forgets a key whose message could not be sent, so that a retry sends it.
func (s *SMSSender) release(key string) {
	if key == "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.keys, key)
	if i := slices.Index(s.keyOrder, key); i >= 0 {
		s.keyOrder = slices.Delete(s.keyOrder, i, i+1)
	}
}

func orderedParams(template string, params map[string]string) ([]string, error) {
	keys, ok := templateParams[template]
	if !ok {
		keys = make([]string, 0, len(params))
		for k := range params {
			keys = append(keys, k)
		}
		slices.Sort(keys)
	}
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		v, ok := params[k]
		if !ok {
			v, ok = templateDefaults[template][k]
		}
		if !ok {
			return nil, fmt.Errorf("tencentcloud: SMS template %q needs the parameter %q", template, k)
		}
		out = append(out, v)
	}
	return out, nil
}
