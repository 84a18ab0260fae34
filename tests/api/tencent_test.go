package api

import (
	"strings"
	"testing"

	"github.com/shuxinqian/server/adapters/tencentcloud"
)

// With SMS_PROVIDER=tencent and IDENTITY_PROVIDER=tencent the server talks to Tencent Cloud through
// the official SDK: here a local fake endpoint that checks the TC3 signatures.
func TestTencentProvidersByConfiguration(t *testing.T) {
	fake := tencentcloud.NewFakeServer(t)
	c := fake.Config()
	s := startWith(t, map[string]string{
		"SMS_PROVIDER": "tencent", "IDENTITY_PROVIDER": "tencent",
		"TENCENTCLOUD_SECRET_ID": c.SecretID, "TENCENTCLOUD_SECRET_KEY": c.SecretKey,
		"TENCENTCLOUD_ENDPOINT": c.Endpoint, "TENCENTCLOUD_SCHEME": "http",
		"TENCENTCLOUD_SMS_APP_ID": c.SMSAppID, "TENCENTCLOUD_SMS_TEMPLATES": "code=" + c.SMSTemplates["code"] + ",welcome=" + c.SMSTemplates["welcome"],
		"TENCENTCLOUD_FACEID_RULE_ID": c.FaceIDRuleID,
	})
	s.requestCode("13800138000", "login", "").expect(t, 202, "")
	sent := fake.SMS()
	if len(sent) != 1 || sent[0].Phone != "13800138000" || sent[0].TemplateID != c.SMSTemplates["code"] || len(sent[0].Params) == 0 {
		t.Fatalf("SMS at the provider: %+v", sent)
	}
	token := s.do("POST", "/api/v1/sessions", "", map[string]string{"phone": "13800138000", "code": sent[0].Params[0]}).expect(t, 201, "").str("token")
	s.eventually("welcome SMS through Tencent", func() bool {
		for _, m := range fake.SMS() {
			if m.TemplateID == c.SMSTemplates["welcome"] {
				return true
			}
		}
		return false
	})
	// The sandbox SMS box and sandbox liveness are not in use.
	s.do("POST", "/api/v1/sandbox/liveness/x", "", map[string]string{"result": "pass"}).expect(t, 404, "route-not-found")

	// Real name through Tencent FaceID (id2 on the default platform method).
	r := s.do("POST", "/api/v1/me/real-name", token, map[string]any{"name": "张三", "id_number": idNumber(t, "110105", "19850312", "123"), "consent": true}).expect(t, 200, "")
	if r.str("status") != "verified" {
		t.Fatalf("real name %s", r.raw)
	}
	found := false
	for _, req := range fake.Requests() {
		if strings.Contains(req.Action, "IdCardVerification") {
			found = true
		}
	}
	if !found {
		t.Fatal("no IdCardVerification reached the provider")
	}
}
