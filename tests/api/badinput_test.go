package api

import (
	"net/http"
	"strings"
	"testing"
)

// Issue 11 item 1: NUL bytes and other control characters in paths, queries and bodies answer a
// clear 4xx (404 for a malformed id in a path, 422 in a query or body), never 500, on both
// databases. Free text that reaches the database never carries control characters.
func TestBadInputNeverAnswers5xx(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *server) {
		token := s.login("13900000011")
		for _, tc := range []struct {
			method, path string
			auth         bool
			body         any
			status       int
			code         string
		}{
			{"GET", "/api/v1/channels/%00", false, nil, 404, "id-malformed"},
			{"GET", "/api/v1/channels/%00/qr.png", false, nil, 404, "id-malformed"},
			{"GET", "/api/v1/channels?q=%00", false, nil, 422, "query-invalid"},
			{"GET", "/api/v1/channels?code=%00", false, nil, 422, "query-invalid"},
			{"GET", "/api/v1/channels?q=%1b%5b31m", false, nil, 422, "query-invalid"},
			{"GET", "/api/v1/enterprises/search?name=%00", true, nil, 422, "query-invalid"},
			{"GET", "/api/v1/orders?before=%00", true, nil, 422, "query-invalid"},
			{"GET", "/api/v1/orders?enterprise_id=%00", true, nil, 422, "query-invalid"},
			{"GET", "/api/v1/orders?enterprise_id=%ff%fe", true, nil, 422, "query-invalid"},
			{"GET", "/api/v1/enterprise-verifications/%00", true, nil, 404, "id-malformed"},
			{"GET", "/api/v1/enterprise-verifications/a%01b", true, nil, 404, "id-malformed"},
			{"GET", "/api/v1/enterprises/%00", true, nil, 404, "id-malformed"},
			{"GET", "/api/v1/enterprises/e1/members/%00", true, nil, 404, "id-malformed"},
			{"DELETE", "/api/v1/enterprises/e1/members/%00", true, nil, 404, "id-malformed"},
			{"GET", "/api/v1/orders/" + strings.Repeat("a", 300), true, nil, 404, "id-malformed"},
			{"GET", "/api/v1/invoices/%e2%80%ae", true, nil, 404, "id-malformed"},
			{"GET", "/api/v1/authorization-links/%00", false, nil, 404, "id-malformed"},
			{"POST", "/api/v1/enterprises/e1/members/batch", true, map[string]any{"decision": "approve", "member_ids": []string{"\x00"}}, 422, "id-malformed"},
			{"POST", "/api/v1/enterprises/e1/members/batch", true, map[string]any{"decision": "approve", "member_ids": []string{strings.Repeat("m", 60000)}}, 422, "id-malformed"},
			{"PUT", "/api/v1/me/channel", true, map[string]any{"code": "\x00"}, 422, "text-control-characters"},
			{"POST", "/api/v1/enterprise-verifications", true, map[string]any{"enterprise_name": "a\x00b", "legal_rep_id_number": "x",
				"legal_rep_phone": "13800000000", "business_licence_file_id": "f1", "agreement_accepted": true}, 422, "text-control-characters"},
			{"POST", "/api/v1/enterprise-verifications", true, map[string]any{"enterprise_name": "甲", "legal_rep_id_number": "x",
				"legal_rep_phone": "13800000000", "business_licence_file_id": "\x00", "agreement_accepted": true}, 422, "id-malformed"},
			{"POST", "/api/v1/enterprise-verifications/v1/bank-transfer", true, map[string]any{"account_number": "6222021234567890",
				"bank_name": "中国\x1b银行", "bank_province": "广东省"}, 422, "text-control-characters"},
			{"POST", "/api/v1/enterprise-verifications/v1/bank-transfer", true, map[string]any{"account_number": "6222021234567890",
				"bank_name": "中国银行", "bank_province": "广东省", "bank_branch": "x\x00"}, 422, "text-control-characters"},
			{"POST", "/api/v1/me/real-name", true, map[string]any{"name": "张\u0085三", "id_number": "x", "consent": true}, 422, "text-control-characters"},
		} {
			tok := ""
			if tc.auth {
				tok = token
			}
			r := s.do(tc.method, tc.path, tok, tc.body)
			if r.status >= 500 {
				t.Errorf("%s %s: %d %s", tc.method, tc.path, r.status, r.raw)
				continue
			}
			if r.status != tc.status {
				t.Errorf("%s %s: status %d, want %d: %s", tc.method, tc.path, r.status, tc.status, r.raw)
				continue
			}
			if e, _ := r.body["error"].(map[string]any); e == nil || e["code"] != tc.code {
				t.Errorf("%s %s: %s, want code %s", tc.method, tc.path, r.raw, tc.code)
			}
		}
	})
}

// Issue 11 item 12: a body declared in another charset is refused (415), duplicate keys are
// refused (400), the sandbox SMS list needs a phone.
func TestBodyCharsetAndDuplicateKeys(t *testing.T) {
	s := start(t, "")
	for _, tc := range []struct {
		ct, body string
		status   int
		code     string
	}{
		{"application/json; charset=utf-16", `{"phone":"13800001234","purpose":"login"}`, 415, "unsupported-media-type"},
		{"application/json; charset=latin1", `{"phone":"13800001234","purpose":"login"}`, 415, "unsupported-media-type"},
		{"application/json", `{"phone":"13800001234","purpose":"login","purpose":"x"}`, 400, "body-duplicate-key"},
		{"application/json", `{"phone":"13800001234","Phone":"13800001235","purpose":"login"}`, 400, "body-duplicate-key"},
	} {
		req, _ := http.NewRequest("POST", s.base+"/api/v1/sms-codes", strings.NewReader(tc.body))
		req.Header.Set("Content-Type", tc.ct)
		s.send(req).expect(t, tc.status, tc.code)
	}
	s.do("GET", "/api/v1/sandbox/sms", "", nil).expect(t, 422, "phone-required")
}
