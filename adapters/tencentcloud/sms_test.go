package tencentcloud

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/ports"
)

func newTestSender(t *testing.T, cfg Config) *SMSSender {
	t.Helper()
	s, err := NewSMSSender(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func codeSMS(key string) ports.SMS {
	return ports.SMS{
		Phone: "13800138000", Template: "code", IdempotencyKey: key,
		Params: map[string]string{"code": "493817", "purpose": "login"},
		Text:   "【数信签】您的验证码为493817，用于登录，5分钟内有效。",
	}
}

func TestSMSSenderSendsThroughSendSms(t *testing.T) {
	f := NewFakeServer(t)
	s := newTestSender(t, f.Config())
	ctx := context.Background()

	if err := s.Send(ctx, codeSMS("msg-1")); err != nil {
		t.Fatal(err)
	}
	if err := s.Send(ctx, ports.SMS{Phone: "13900139000", Template: "welcome", Text: "欢迎"}); err != nil {
		t.Fatal(err)
	}
	got := f.SMS()
	want := []FakeSMS{
		{Phone: "13800138000", AppID: "1400000001", SignName: "数信签", TemplateID: "1000001", Params: []string{"493817", "5"}, SessionContext: "msg-1"},
		{Phone: "13900139000", AppID: "1400000001", SignName: "数信签", TemplateID: "1000002"},
	}
	if len(got) != len(want) {
		t.Fatalf("fake got %+v", got)
	}
	for i := range want {
		if got[i].Phone != want[i].Phone || got[i].TemplateID != want[i].TemplateID || !slices.Equal(got[i].Params, want[i].Params) ||
			got[i].SessionContext != want[i].SessionContext || got[i].SignName != want[i].SignName || got[i].AppID != want[i].AppID {
			t.Errorf("message %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	req := f.Requests()[0]
	if phones, _ := req.Body["PhoneNumberSet"].([]any); len(phones) != 1 || phones[0] != "+8613800138000" {
		t.Errorf("PhoneNumberSet = %v", req.Body["PhoneNumberSet"])
	}
}

func TestSMSSenderDropsASentIdempotencyKey(t *testing.T) {
	f := NewFakeServer(t)
	s := newTestSender(t, f.Config())
	for range 3 {
		if err := s.Send(context.Background(), codeSMS("once")); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(f.SMS()); n != 1 {
		t.Fatalf("sent %d messages for one key", n)
	}
	// Without a key every message goes.
	for range 2 {
		if err := s.Send(context.Background(), codeSMS("")); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(f.SMS()); n != 3 {
		t.Fatalf("sent %d messages, want 3", n)
	}
}

func TestSMSSenderParamOrder(t *testing.T) {
	cases := []struct {
		template string
		params   map[string]string
		want     []string
		fails    bool
	}{
		{"code", map[string]string{"code": "1", "minutes": "10"}, []string{"1", "10"}, false},
		{"code", map[string]string{"code": "1"}, []string{"1", "5"}, false},
		{"code", map[string]string{"minutes": "3"}, nil, true},
		{"welcome", map[string]string{"ignored": "x"}, []string{}, false},
		{"other", map[string]string{"b": "2", "a": "1", "c": "3"}, []string{"1", "2", "3"}, false},
		{"other", nil, []string{}, false},
	}
	for _, tc := range cases {
		got, err := orderedParams(tc.template, tc.params)
		if (err != nil) != tc.fails || !slices.Equal(got, tc.want) {
			t.Errorf("orderedParams(%q, %v) = %q, %v", tc.template, tc.params, got, err)
		}
	}
}

func TestSMSSenderRefusals(t *testing.T) {
	f := NewFakeServer(t)
	s := newTestSender(t, f.Config())
	ctx := context.Background()

	if err := s.Send(ctx, ports.SMS{Template: "code"}); kernel.CodeOf(err) != "phone-invalid" {
		t.Errorf("no phone: %v", err)
	}
	if err := s.Send(ctx, ports.SMS{Phone: "13800138000", Template: "unknown"}); err == nil {
		t.Error("an unknown template was sent")
	}
	if err := s.Send(ctx, ports.SMS{Phone: "13800138000", Template: "code"}); err == nil {
		t.Error("a code message without a code was sent")
	}
	if n := len(f.Requests()); n != 0 {
		t.Errorf("%d requests reached the provider", n)
	}

	// A status other than Ok fails, without quoting the phone or the code, and frees the key.
	f.OnSMSStatus(func(string) (string, string) {
		return "LimitExceeded.PhoneNumberDailyLimit", "the number +8613800138000 exceeded its daily limit"
	})
	err := s.Send(ctx, codeSMS("retry-me"))
	wantKernel(t, err, kernel.KindUnavailable, "sms-unavailable")
	wantNoPersonalData(t, err, "13800138000", "493817")
	if !strings.Contains(err.Error(), "LimitExceeded.PhoneNumberDailyLimit") {
		t.Errorf("error %q lacks the provider's code", err)
	}
	f.OnSMSStatus(nil)
	if err := s.Send(ctx, codeSMS("retry-me")); err != nil {
		t.Fatal(err)
	}
	if n := len(f.SMS()); n != 1 {
		t.Fatalf("the retry was not sent: %d messages", n)
	}

	// An API error answer.
	f.FailNext("SendSms", "InternalError", "internal error")
	err = s.Send(ctx, codeSMS(""))
	wantKernel(t, err, kernel.KindUnavailable, "sms-unavailable")
	if !strings.Contains(err.Error(), "InternalError") {
		t.Errorf("error %q lacks the provider's code", err)
	}
}

func TestSMSSenderWrongSecretKeyFailsTheSignature(t *testing.T) {
	f := NewFakeServer(t)
	cfg := f.Config()
	cfg.SecretKey = "not-the-key"
	err := newTestSender(t, cfg).Send(context.Background(), codeSMS(""))
	wantKernel(t, err, kernel.KindUnavailable, "sms-unavailable")
	if !strings.Contains(err.Error(), "AuthFailure.SignatureFailure") {
		t.Fatalf("error %q, want a signature failure", err)
	}
	cfg = f.Config()
	cfg.SecretID = "AKIDsomebodyElse"
	if err := newTestSender(t, cfg).Send(context.Background(), codeSMS("")); !strings.Contains(fmt.Sprint(err), "AuthFailure.SecretIdNotFound") {
		t.Fatalf("error %v, want an unknown SecretId", err)
	}
	if len(f.SMS()) != 0 {
		t.Fatal("a badly signed message was sent")
	}
}

func TestFakeServerRejectsUnsignedRequests(t *testing.T) {
	f := NewFakeServer(t)
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, f.URL+"/", strings.NewReader(`{"PhoneNumberSet":["+8613800138000"]}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-TC-Action", "SendSms")
	req.Header.Set("X-TC-Version", "2021-01-11")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(body), `"Code":"AuthFailure.SignatureFailure"`) || !strings.Contains(string(body), `"RequestId"`) {
		t.Fatalf("unsigned request answered %s", body)
	}
}

func TestSMSSenderTimeoutAndUnreachable(t *testing.T) {
	f := NewFakeServer(t)
	cfg := f.Config()
	cfg.Timeout = 150 * time.Millisecond
	s := newTestSender(t, cfg)

	f.SetDelay(3 * time.Second)
	start := time.Now()
	err := s.Send(context.Background(), codeSMS("slow"))
	wantKernel(t, err, kernel.KindUnavailable, "sms-unavailable")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %v does not wrap context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("the call took %s despite a 150ms timeout", d)
	}

	// The caller's cancellation cuts the call short too.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	s2 := newTestSender(t, f.Config())
	start = time.Now()
	err = s2.Send(ctx, codeSMS("slow"))
	wantKernel(t, err, kernel.KindUnavailable, "sms-unavailable")
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("the call took %s despite the caller's deadline", d)
	}

	f.SetDelay(0)
	f.Close()
	err = s.Send(context.Background(), codeSMS("down"))
	wantKernel(t, err, kernel.KindUnavailable, "sms-unavailable")
	if !strings.Contains(err.Error(), "ClientError.NetworkError") {
		t.Errorf("error %q, want a network error", err)
	}
}

func TestSMSSenderConcurrentSends(t *testing.T) {
	f := NewFakeServer(t)
	s := newTestSender(t, f.Config())
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			if err := s.Send(context.Background(), codeSMS(fmt.Sprintf("k%d", i%10))); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := len(f.SMS()); n != 10 {
		t.Fatalf("sent %d messages for 10 keys", n)
	}
}

func TestNewSMSSenderValidatesConfig(t *testing.T) {
	good := Config{SecretID: "id", SecretKey: "key", Region: "ap-guangzhou", SMSAppID: "1400000001", SMSSignName: "数信签",
		SMSTemplates: map[string]string{"code": "1"}}
	if _, err := NewSMSSender(good); err != nil {
		t.Fatal(err)
	}
	for name, mut := range map[string]func(*Config){
		"no secret":    func(c *Config) { c.SecretKey = "" },
		"no app":       func(c *Config) { c.SMSAppID = "" },
		"no sign":      func(c *Config) { c.SMSSignName = "" },
		"no region":    func(c *Config) { c.Region = "" },
		"no templates": func(c *Config) { c.SMSTemplates = nil },
		"bad scheme":   func(c *Config) { c.Scheme = "ftp" },
		"neg timeout":  func(c *Config) { c.Timeout = -time.Second },
	} {
		c := good
		mut(&c)
		if _, err := NewSMSSender(c); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestSDKClientsLeaveTheStandardLoggerAlone(t *testing.T) {
	f := NewFakeServer(t)
	prev := log.Flags()
	t.Cleanup(func() { log.SetFlags(prev) })
	log.SetFlags(log.Lmicroseconds)
	if err := newTestSender(t, f.Config()).Send(context.Background(), codeSMS("")); err != nil {
		t.Fatal(err)
	}
	if got := log.Flags(); got != log.Lmicroseconds {
		t.Fatalf("log flags changed to %d", got)
	}
}
