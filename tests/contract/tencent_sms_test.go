package contract

import (
	"context"
	"slices"
	"testing"

	"github.com/shuxinqian/server/adapters/sms"
	"github.com/shuxinqian/server/adapters/tencentcloud"
	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/ports"
	"github.com/shuxinqian/server/tests/fakes"
)

// tsmsAdapter is an SMSSender with a way to read back which templates reached a phone, newest
// first: what both the sandbox and Tencent Cloud SMS can show.
type tsmsAdapter struct {
	name   string
	sender ports.SMSSender
	sent   func(kernel.Phone) []string
	fake   *tencentcloud.FakeServer // nil for the sandbox
}

func tsmsAdapters(t *testing.T) []tsmsAdapter {
	box := sms.NewSandbox(fakes.NewClock(t0))
	fake := tencentcloud.NewFakeServer(t)
	cfg := fake.Config()
	tc, err := tencentcloud.NewSMSSender(cfg)
	if err != nil {
		t.Fatal(err)
	}
	templateName := map[string]string{}
	for name, id := range cfg.SMSTemplates {
		templateName[id] = name
	}
	return []tsmsAdapter{
		{name: "sandbox", sender: box, sent: func(p kernel.Phone) []string {
			var out []string
			for _, m := range box.List(p) {
				out = append(out, m.Template)
			}
			return out
		}},
		{name: "tencentcloud", sender: tc, fake: fake, sent: func(p kernel.Phone) []string {
			var out []string
			for _, m := range fake.SMS() {
				if m.Phone == p.String() {
					out = append([]string{templateName[m.TemplateID]}, out...)
				}
			}
			return out
		}},
	}
}

func TestTencentSMSSenderContract(t *testing.T) {
	code := ports.SMS{Phone: "13800138000", Template: "code", Params: map[string]string{"code": "204817", "purpose": "login"},
		Text: "【数信签】您的验证码为204817，用于登录，5分钟内有效。请勿泄露给他人。", IdempotencyKey: "code-1"}
	welcome := ports.SMS{Phone: "13800138000", Template: "welcome", Text: "【数信签】欢迎注册数信签。", IdempotencyKey: "msg-7"}
	for _, a := range tsmsAdapters(t) {
		t.Run(a.name, func(t *testing.T) {
			ctx := context.Background()
			for _, m := range []ports.SMS{code, welcome, welcome} {
				if err := a.sender.Send(ctx, m); err != nil {
					t.Fatal(err)
				}
			}
			if got := a.sent("13800138000"); !slices.Equal(got, []string{"welcome", "code"}) {
				t.Fatalf("sent %v, want [welcome code] (newest first, the repeated key once)", got)
			}
			if got := a.sent("13900139000"); len(got) != 0 {
				t.Fatalf("another phone got %v", got)
			}
			if err := a.sender.Send(ctx, ports.SMS{Template: "code", Text: "nobody"}); err == nil {
				t.Fatal("sent to no phone")
			}
			cancelled, cancel := context.WithCancel(ctx)
			cancel()
			if err := a.sender.Send(cancelled, ports.SMS{Phone: "13700137000", Template: "welcome", Text: "late"}); err == nil {
				t.Fatal("sent under a cancelled context")
			}
			if got := a.sent("13700137000"); len(got) != 0 {
				t.Fatalf("a cancelled send went out: %v", got)
			}

			if a.fake == nil {
				return
			}
			// What only the real provider sees: template ids, ordered parameters, the key.
			got := a.fake.SMS()
			if len(got) != 2 {
				t.Fatalf("the fake got %+v", got)
			}
			if got[0].TemplateID != a.fake.Config().SMSTemplates["code"] || !slices.Equal(got[0].Params, []string{"204817", "5"}) ||
				got[0].SessionContext != "code-1" || got[0].SignName == "" {
				t.Errorf("code message reached the provider as %+v", got[0])
			}
			if got[1].TemplateID != a.fake.Config().SMSTemplates["welcome"] || len(got[1].Params) != 0 || got[1].SessionContext != "msg-7" {
				t.Errorf("welcome message reached the provider as %+v", got[1])
			}
		})
	}
}
