package api

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// The manual's account flow (§1.1): SMS code → login (registers) → me → logout → token refused.
func TestAccountFlow(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *server) {
		r := s.requestCode("13800138000", "login", "").expect(t, 202, "")
		if r.body["expires_in"] != float64(300) || r.body["resend_after"] != float64(60) {
			t.Fatalf("sms-codes answer %s", r.raw)
		}
		r = s.do("POST", "/api/v1/sessions", "", map[string]string{"phone": "13800138000", "code": s.lastCode("13800138000")}).expect(t, 201, "")
		token := r.str("token")
		user, _ := r.body["user"].(map[string]any)
		if len(token) != 43 || r.body["registered"] != true || user["phone"] != "138****8000" {
			t.Fatalf("login answer %s", r.raw)
		}
		me := s.do("GET", "/api/v1/me", token, nil).expect(t, 200, "")
		if me.str("phone") != "138****8000" || me.str("real_name_status") != "unverified" || strings.Contains(string(me.raw), "13800138000") {
			t.Fatalf("me %s", me.raw)
		}
		// The consumers record the activity and text a welcome.
		s.eventually("account activity", func() bool {
			items, _ := s.do("GET", "/api/v1/me/activity", token, nil).body["items"].([]any)
			return len(items) == 2
		})
		s.eventually("welcome SMS", func() bool {
			items, _ := s.do("GET", "/api/v1/sandbox/sms?phone=13800138000", "", nil).body["items"].([]any)
			return len(items) == 2 && strings.Contains(fmtAny(items[0]), "欢迎")
		})
		s.do("DELETE", "/api/v1/sessions/current", token, nil).expect(t, 204, "")
		r = s.do("GET", "/api/v1/me", token, nil).expect(t, 401, "session-invalid")
		if !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
			t.Fatal("401 without WWW-Authenticate")
		}
		s.do("DELETE", "/api/v1/sessions/current", token, nil).expect(t, 401, "session-invalid")

		// The second login finds the same account.
		s.clock.Advance(61 * time.Second)
		token2 := s.login("13800138000")
		me2 := s.do("GET", "/api/v1/me", token2, nil).expect(t, 200, "")
		if me2.str("id") != me.str("id") {
			t.Fatal("second login registered a new account")
		}
	})
}

func TestSMSCodeRefusals(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *server) {
		const phone = "13900139000"
		login := func(code string) resp {
			return s.do("POST", "/api/v1/sessions", "", map[string]string{"phone": phone, "code": code})
		}
		s.requestCode(phone, "login", "").expect(t, 202, "")
		good := s.lastCode(phone)
		wrong := "000000"
		if good == wrong {
			wrong = "111111"
		}

		// A second SMS within 60 s: 429 with Retry-After.
		r := s.requestCode(phone, "login", "").expect(t, 429, "sms-resend-too-soon")
		if ra := r.header.Get("Retry-After"); ra != "60" {
			t.Fatalf("Retry-After %q", ra)
		}
		s.clock.Advance(20 * time.Second)
		if ra := s.requestCode(phone, "login", "").expect(t, 429, "sms-resend-too-soon").header.Get("Retry-After"); ra != "40" {
			t.Fatalf("Retry-After after 20 s: %q", ra)
		}

		// A code of another purpose is refused (and counts as a wrong try of the login code).
		s.do("POST", "/api/v1/sms-codes", "", map[string]string{"phone": phone, "purpose": "reset_password"}).expect(t, 202, "")
		if resetCode := s.lastCode(phone); resetCode != good {
			wrong = resetCode
		}

		// Five wrong codes kill it; the sixth try, even with the right code, is refused.
		for left := 4; left >= 1; left-- {
			r := login(wrong).expect(t, 422, "sms-code-wrong")
			if d, _ := r.body["error"].(map[string]any)["details"].(map[string]any); d["attempts_left"] != float64(left) {
				t.Fatalf("attempts_left %v, want %d", d["attempts_left"], left)
			}
		}
		login(wrong).expect(t, 422, "sms-code-exhausted")
		login(good).expect(t, 422, "sms-code-exhausted")

		// An expired code.
		s.clock.Advance(60 * time.Second)
		s.requestCode(phone, "login", "").expect(t, 202, "")
		c := s.lastCode(phone)
		s.clock.Advance(5*time.Minute + time.Second)
		login(c).expect(t, 422, "sms-code-expired")

		// A reused code.
		s.requestCode(phone, "login", "").expect(t, 202, "")
		c = s.lastCode(phone)
		login(c).expect(t, 201, "")
		login(c).expect(t, 422, "sms-code-used")

		// Malformed requests.
		s.do("POST", "/api/v1/sms-codes", "", map[string]string{"phone": "12345", "purpose": "login"}).expect(t, 422, "phone-invalid")
		s.do("POST", "/api/v1/sms-codes", "", map[string]string{"phone": phone, "purpose": "pay"}).expect(t, 422, "sms-purpose-invalid")
		s.do("POST", "/api/v1/sms-codes", "", map[string]any{"phone": phone, "purpose": "login", "role": "admin"}).expect(t, 400, "body-unknown-field")
		s.do("POST", "/api/v1/sms-codes", "", `{"phone":`).expect(t, 400, "body-invalid-json")
		s.do("POST", "/api/v1/sessions", "", map[string]string{"phone": "13700137000", "code": "123456"}).expect(t, 422, "sms-code-not-requested")
		s.do("POST", "/api/v1/sms-codes", "", map[string]string{"phone": phone, "purpose": "sign"}).expect(t, 401, "login-required")
	})
}

func TestSMSSendingLimits(t *testing.T) {
	s := start(t, "")
	const phone = "13600136000"
	for i := range 5 {
		s.requestCode(phone, "login", "").expect(t, 202, "")
		if i < 4 {
			s.clock.Advance(61 * time.Second)
		}
	}
	s.clock.Advance(61 * time.Second)
	r := s.requestCode(phone, "login", "").expect(t, 429, "sms-phone-hourly-limit")
	// The oldest of the five was sent 5×61 s ago; it leaves the hour after 3600-305 s.
	if ra := r.header.Get("Retry-After"); ra != "3295" {
		t.Fatalf("Retry-After %q, want 3295", ra)
	}
	// Thirty codes a day per IP: other phones from the same address.
	for i := range 25 {
		s.requestCode(fmt.Sprintf("1370013%04d", i), "login", "").expect(t, 202, "")
	}
	s.requestCode("13500135000", "login", "").expect(t, 429, "sms-ip-daily-limit")
}

func TestPasswordFlow(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *server) {
		const phone = "13800138001"
		token := s.login(phone)
		s.clock.Advance(61 * time.Second)
		s.requestCode(phone, "reset_password", token).expect(t, 202, "")
		code := s.lastCode(phone)
		s.do("PUT", "/api/v1/me/password", token, map[string]string{"code": code, "password": "weakpass"}).expect(t, 422, "password-too-weak")
		s.do("PUT", "/api/v1/me/password", token, map[string]string{"code": code, "password": "Abcdef12"}).expect(t, 204, "")
		if s.do("GET", "/api/v1/me", token, nil).body["has_password"] != true {
			t.Fatal("has_password not set")
		}
		pw := func(p string) resp {
			return s.do("POST", "/api/v1/sessions", "", map[string]string{"phone": phone, "password": p})
		}
		pw("Abcdef12").expect(t, 201, "")
		s.do("POST", "/api/v1/sessions", "", map[string]string{"phone": "13000130000", "password": "Abcdef12"}).expect(t, 401, "credentials-invalid")
		for range 4 {
			pw("Wrong1234").expect(t, 401, "credentials-invalid")
		}
		pw("Wrong1234").expect(t, 401, "credentials-invalid") // the fifth locks
		r := pw("Abcdef12").expect(t, 429, "password-locked")
		if r.header.Get("Retry-After") != "900" {
			t.Fatalf("Retry-After %q", r.header.Get("Retry-After"))
		}
		s.clock.Advance(15 * time.Minute)
		pw("Abcdef12").expect(t, 201, "")
	})
}

func TestHealthAndErrors(t *testing.T) {
	s := start(t, "")
	s.do("GET", "/healthz", "", nil).expect(t, 200, "")
	s.do("GET", "/readyz", "", nil).expect(t, 200, "")
	s.do("GET", "/api/v1/nope", "", nil).expect(t, 404, "route-not-found")
	r := s.do("PUT", "/api/v1/sessions", "", nil).expect(t, 405, "method-not-allowed")
	if r.header.Get("Allow") != "POST" {
		t.Fatalf("Allow %q", r.header.Get("Allow"))
	}
	s.do("GET", "/api/v1/me", "", nil).expect(t, 401, "session-invalid")
	s.do("GET", "/api/v1/me", "forged-token", nil).expect(t, 401, "session-invalid")
	big := `{"phone":"` + strings.Repeat("1", 70<<10) + `","purpose":"login"}`
	s.do("POST", "/api/v1/sms-codes", "", big).expect(t, 413, "body-too-large")
	if st, _, raw := s.try("GET", "/api/v1/openapi.json", "", nil); st != 200 || !strings.Contains(string(raw), `"openapi"`) {
		t.Fatalf("openapi.json %d", st)
	}
}
