package http

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// A body that decodes cleanly reaches the use case; with an unknown purpose (sms-codes) or a
// malformed phone (sessions) the application answers 422 before touching any port, which proves
// that decoding succeeded without needing a database.
const (
	smsOK   = `{"phone":"13800001234","purpose":"bogus"}`
	loginOK = `{"phone":"x","code":"123456"}`
)

// padTo makes a valid sms-codes body of exactly n bytes.
func padTo(n int) string {
	// Pad the purpose string: the body stays valid JSON with known fields only.
	head, tail := `{"phone":"13800001234","purpose":"bogus`, `"}`
	return head + strings.Repeat("z", n-len(head)-len(tail)) + tail
}

func TestDecodeThroughServer(t *testing.T) {
	s := newTestServer(t, Options{})
	const ctJSON = "application/json"
	big := `{"phone":"13800001234","purpose":"` + strings.Repeat("a", MaxJSONBody) + `"}`
	for _, tc := range []struct {
		name   string
		target string
		ct     string // "-" sends no Content-Type
		body   string
		status int
		code   string
		msg    string // substring of the message
	}{
		// Accepted bodies.
		{"valid", "/api/v1/sms-codes", ctJSON, smsOK, 422, "sms-purpose-invalid", ""},
		{"no content type", "/api/v1/sms-codes", "-", smsOK, 422, "sms-purpose-invalid", ""},
		{"charset parameter", "/api/v1/sms-codes", "application/json; charset=utf-8", smsOK, 422, "sms-purpose-invalid", ""},
		{"content type is case-insensitive", "/api/v1/sms-codes", "Application/JSON", smsOK, 422, "sms-purpose-invalid", ""},
		{"trailing white space", "/api/v1/sms-codes", ctJSON, smsOK + " \n\t\r\n", 422, "sms-purpose-invalid", ""},
		{"leading white space", "/api/v1/sms-codes", ctJSON, "\n  " + smsOK, 422, "sms-purpose-invalid", ""},
		{"null body is an empty object", "/api/v1/sms-codes", ctJSON, `null`, 422, "sms-purpose-invalid", ""},
		{"exactly the limit", "/api/v1/sms-codes", ctJSON, padTo(MaxJSONBody), 422, "sms-purpose-invalid", ""},
		{"login valid", "/api/v1/sessions", ctJSON, loginOK, 422, "phone-invalid", ""},

		// Content type.
		{"text/plain", "/api/v1/sms-codes", "text/plain", smsOK, 415, "unsupported-media-type", ""},
		{"form", "/api/v1/sms-codes", "application/x-www-form-urlencoded", "phone=1", 415, "unsupported-media-type", ""},
		{"multipart", "/api/v1/sms-codes", "multipart/form-data; boundary=x", smsOK, 415, "unsupported-media-type", ""},
		{"json suffix type", "/api/v1/sms-codes", "application/merge-patch+json", smsOK, 415, "unsupported-media-type", ""},
		{"malformed content type", "/api/v1/sms-codes", "application/json; =", smsOK, 415, "unsupported-media-type", ""},
		{"login text/plain", "/api/v1/sessions", "text/plain", loginOK, 415, "unsupported-media-type", ""},

		// Empty.
		{"empty body", "/api/v1/sms-codes", ctJSON, "", 400, "body-empty", ""},
		{"white space only", "/api/v1/sms-codes", ctJSON, "  \n ", 400, "body-empty", ""},
		{"login empty body", "/api/v1/sessions", "-", "", 400, "body-empty", ""},

		// Malformed.
		{"truncated", "/api/v1/sms-codes", ctJSON, `{"phone":`, 400, "body-invalid-json", ""},
		{"truncated string", "/api/v1/sms-codes", ctJSON, `{"phone":"138`, 400, "body-invalid-json", ""},
		{"missing colon", "/api/v1/sms-codes", ctJSON, `{"phone" "x"}`, 400, "body-invalid-json", ""},
		{"single quotes", "/api/v1/sms-codes", ctJSON, `{'phone':'x'}`, 400, "body-invalid-json", ""},
		{"trailing comma", "/api/v1/sms-codes", ctJSON, `{"phone":"x",}`, 400, "body-invalid-json", ""},
		{"bare word", "/api/v1/sms-codes", ctJSON, `hello`, 400, "body-invalid-json", ""},
		{"login malformed", "/api/v1/sessions", ctJSON, `{"phone":"x","code":}`, 400, "body-invalid-json", ""},

		// Unknown fields: no mass assignment.
		{"unknown field", "/api/v1/sms-codes", ctJSON, `{"phone":"13800001234","purpose":"login","role":"admin"}`, 400, "body-unknown-field", `"role"`},
		{"unknown field first", "/api/v1/sms-codes", ctJSON, `{"user_id":"u1","phone":"13800001234","purpose":"login"}`, 400, "body-unknown-field", `"user_id"`},
		{"login unknown field", "/api/v1/sessions", ctJSON, `{"phone":"13800001234","code":"123456","registered":true}`, 400, "body-unknown-field", `"registered"`},

		// Wrong types.
		{"number for string", "/api/v1/sms-codes", ctJSON, `{"phone":13800001234,"purpose":"login"}`, 400, "body-wrong-type", `"phone"`},
		{"object for string", "/api/v1/sms-codes", ctJSON, `{"phone":"13800001234","purpose":{"a":1}}`, 400, "body-wrong-type", `"purpose"`},
		{"array body", "/api/v1/sms-codes", ctJSON, `[]`, 400, "body-wrong-type", ""},
		{"string body", "/api/v1/sms-codes", ctJSON, `"login"`, 400, "body-wrong-type", ""},
		{"number body", "/api/v1/sms-codes", ctJSON, `42`, 400, "body-wrong-type", ""},

		// Exactly one value.
		{"two objects", "/api/v1/sms-codes", ctJSON, smsOK + smsOK, 400, "body-trailing-data", ""},
		{"two objects on two lines", "/api/v1/sms-codes", ctJSON, smsOK + "\n" + smsOK, 400, "body-trailing-data", ""},
		{"trailing garbage", "/api/v1/sms-codes", ctJSON, smsOK + " x", 400, "body-trailing-data", ""},
		{"trailing brace", "/api/v1/sms-codes", ctJSON, smsOK + "}", 400, "body-trailing-data", ""},
		{"trailing number", "/api/v1/sms-codes", ctJSON, smsOK + "1", 400, "body-trailing-data", ""},

		// Size.
		{"one byte over the limit", "/api/v1/sms-codes", ctJSON, padTo(MaxJSONBody + 1), 413, "body-too-large", "65536"},
		{"far over the limit", "/api/v1/sms-codes", ctJSON, big, 413, "body-too-large", ""},
		{"over the limit without content type", "/api/v1/sms-codes", "-", big, 413, "body-too-large", ""},
		{"login over the limit", "/api/v1/sessions", ctJSON, `{"phone":"x","password":"` + strings.Repeat("p", MaxJSONBody) + `"}`, 413, "body-too-large", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			headers := map[string]string{"X-Request-Id": "rid-decode"}
			if tc.ct != "-" {
				headers["Content-Type"] = tc.ct
			}
			rec := serve(t, s, req{method: "POST", target: tc.target, body: tc.body, headers: headers})
			e := expectError(t, rec, tc.status, tc.code)
			if !strings.Contains(e.Message, tc.msg) {
				t.Errorf("message %q does not mention %s", e.Message, tc.msg)
			}
			if e.RequestID != "rid-decode" {
				t.Errorf("request_id = %q", e.RequestID)
			}
		})
	}
}

func TestPadTo(t *testing.T) {
	for _, n := range []int{100, MaxJSONBody, MaxJSONBody + 1} {
		if got := len(padTo(n)); got != n {
			t.Fatalf("padTo(%d) has %d bytes", n, got)
		}
	}
}

// A body over the limit is 413 even when its first JSON value fits: the excess is only met while
// looking for trailing data.
func TestDecodeOversizedTrailingWhiteSpace(t *testing.T) {
	s := newTestServer(t, Options{})
	rec := serve(t, s, req{method: "POST", target: "/api/v1/sms-codes", body: smsOK + strings.Repeat(" ", MaxJSONBody),
		headers: map[string]string{"Content-Type": "application/json"}})
	expectError(t, rec, http.StatusRequestEntityTooLarge, "body-too-large")
}

// The public sms-codes route reads an optional bearer token after decoding; a token that cannot
// be a session token is refused before any lookup.
func TestSmsCodesOptionalBearerIsChecked(t *testing.T) {
	s := newTestServer(t, Options{})
	rec := serve(t, s, req{method: "POST", target: "/api/v1/sms-codes", body: `{"phone":"13800001234","purpose":"sign"}`,
		headers: map[string]string{"Content-Type": "application/json", "Authorization": "Bearer " + strings.Repeat("t", 200)}})
	expectError(t, rec, http.StatusUnauthorized, "session-invalid")
	if rec.Header().Get("WWW-Authenticate") == "" {
		t.Error("401 without WWW-Authenticate")
	}
}

type decodeProbe struct {
	A string   `json:"a"`
	N int      `json:"n,omitempty"`
	L []string `json:"l,omitempty"`
}

func TestDecodeHelper(t *testing.T) {
	for _, tc := range []struct {
		name   string
		ct     string
		body   string
		status int // 0: success
		code   string
		want   decodeProbe
	}{
		{name: "ok", ct: "application/json", body: `{"a":"x","n":2,"l":["p","q"]}`, want: decodeProbe{A: "x", N: 2, L: []string{"p", "q"}}},
		{name: "ok partial", body: `{"a":"x"}`, want: decodeProbe{A: "x"}},
		{name: "ok empty object", body: `{}`},
		{name: "unknown", body: `{"a":"x","b":1}`, status: 400, code: "body-unknown-field"},
		{name: "nested wrong type", body: `{"l":[1]}`, status: 400, code: "body-wrong-type"},
		{name: "overflow", body: `{"n":1e400}`, status: 400, code: "body-wrong-type"},
		{name: "float for int", body: `{"n":1.5}`, status: 400, code: "body-wrong-type"},
		{name: "syntax", body: `{"a":x}`, status: 400, code: "body-invalid-json"},
		{name: "empty", body: ``, status: 400, code: "body-empty"},
		{name: "trailing", body: `{"a":"x"}{}`, status: 400, code: "body-trailing-data"},
		{name: "media type", ct: "text/json", body: `{}`, status: 415, code: "unsupported-media-type"},
		{name: "too large", body: `{"a":"` + strings.Repeat("x", MaxJSONBody) + `"}`, status: 413, code: "body-too-large"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/", strings.NewReader(tc.body))
			if tc.ct != "" {
				r.Header.Set("Content-Type", tc.ct)
			}
			var got decodeProbe
			err := decode(httptest.NewRecorder(), r, &got)
			if tc.status == 0 {
				if err != nil {
					t.Fatalf("decode: %v", err)
				}
				if got.A != tc.want.A || got.N != tc.want.N || strings.Join(got.L, ",") != strings.Join(tc.want.L, ",") {
					t.Fatalf("decoded %+v, want %+v", got, tc.want)
				}
				return
			}
			he, ok := err.(*httpError)
			if !ok {
				t.Fatalf("decode error %T %v, want *httpError", err, err)
			}
			if he.status != tc.status || he.code != tc.code {
				t.Fatalf("got %d %s (%s), want %d %s", he.status, he.code, he.message, tc.status, tc.code)
			}
		})
	}
}

func TestDecodeErrorFallback(t *testing.T) {
	err := decodeError(errStr("something odd"))
	he, ok := err.(*httpError)
	if !ok || he.status != http.StatusBadRequest || he.code != "body-invalid" {
		t.Fatalf("decodeError(other) = %#v", err)
	}
}

type errStr string

func (e errStr) Error() string { return string(e) }
