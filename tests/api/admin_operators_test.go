package api

import (
	"strings"
	"sync"
	"testing"

	"github.com/shuxinqian/server/domain/operator"
)

// operatorID finds an account's id in the operator list.
func (s *server) operatorID(admin, username string) string {
	s.t.Helper()
	r := s.do("GET", "/api/v1/admin/operators", admin, nil).expect(s.t, 200, "")
	for _, it := range r.body["items"].([]any) {
		if m := it.(map[string]any); m["username"] == username {
			return m["id"].(string)
		}
	}
	s.t.Fatalf("%s not listed: %s", username, r.raw)
	return ""
}

// Operator management: admins list accounts (no secrets), change roles, disable and enable
// (sessions revoked), unlock, rotate TOTP and reset passwords (each shown once, sessions
// revoked); never themselves; every change audited without secrets.
func TestOperatorManagement(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *server) {
		root := s.operatorLogin("root", "admin")
		samSecret := s.createOperator("sam", "support")
		sam := s.adminLogin("sam", operatorPassword, s.totp(samSecret)).expect(t, 201, "").str("token")
		const ops = "/api/v1/admin/operators"

		s.do("GET", ops, sam, nil).expect(t, 403, "operator-permission-denied")
		list := s.do("GET", ops+"?limit=1", root, nil).expect(t, 200, "")
		items := list.body["items"].([]any)
		first := items[0].(map[string]any)
		if len(items) != 1 || first["username"] != "root" || first["role"] != "admin" || first["active"] != true ||
			first["last_login_at"] == nil || first["locked_until"] != nil || list.str("next_cursor") != "root" {
			t.Fatalf("first page %s", list.raw)
		}
		for _, secret := range []string{"password", "hash", "totp", "secret", "argon2"} {
			if strings.Contains(strings.ToLower(string(list.raw)), secret) {
				t.Fatalf("the list shows %q: %s", secret, list.raw)
			}
		}
		next := s.do("GET", ops+"?cursor=root", root, nil).expect(t, 200, "")
		if items := next.body["items"].([]any); len(items) != 1 || items[0].(map[string]any)["username"] != "sam" {
			t.Fatalf("second page %s", next.raw)
		}
		s.do("GET", ops+"?cursor=%00x", root, nil).expect(t, 422, "")
		rootID, samID := s.operatorID(root, "root"), s.operatorID(root, "sam")

		// Not oneself; bad input is 4xx with a code.
		s.do("PUT", ops+"/"+rootID, root, map[string]any{"active": false}).expect(t, 422, "operator-self-change")
		s.do("PUT", ops+"/"+rootID, root, map[string]any{"role": "support"}).expect(t, 422, "operator-self-change")
		s.do("PUT", ops+"/"+samID, root, map[string]any{}).expect(t, 422, "operator-change-empty")
		s.do("PUT", ops+"/"+samID, root, map[string]any{"role": "root"}).expect(t, 422, "operator-role-invalid")
		s.do("PUT", ops+"/"+samID, root, map[string]any{"role": "admin", "password": "x"}).expect(t, 400, "")
		s.do("PUT", ops+"/nobody", root, map[string]any{"active": false}).expect(t, 404, "operator-not-found")

		r := s.do("PUT", ops+"/"+samID, root, map[string]any{"role": "finance"}).expect(t, 200, "")
		if r.str("role") != "finance" {
			t.Fatalf("role %s", r.raw)
		}
		// Disabling ends the session at once and refuses logins; enabling lets the account back in.
		s.do("GET", "/api/v1/admin/me", sam, nil).expect(t, 200, "")
		s.do("PUT", ops+"/"+samID, root, map[string]any{"active": false}).expect(t, 200, "")
		s.do("GET", "/api/v1/admin/me", sam, nil).expect(t, 401, "operator-session-invalid")
		s.clock.Advance(operator.TOTPPeriod)
		s.adminLogin("sam", operatorPassword, s.totp(samSecret)).expect(t, 401, "operator-credentials-invalid")
		s.do("PUT", ops+"/"+samID, root, map[string]any{"active": true}).expect(t, 200, "")
		s.clock.Advance(operator.TOTPPeriod)
		s.adminLogin("sam", operatorPassword, s.totp(samSecret)).expect(t, 201, "")

		// Unlock after brute force.
		for i := range operator.MaxFailures {
			s.adminLogin("sam", "wrong-"+string(rune('a'+i)), s.totp(samSecret))
		}
		s.clock.Advance(operator.TOTPPeriod)
		s.adminLogin("sam", operatorPassword, s.totp(samSecret)).expect(t, 429, "operator-locked")
		locked := s.do("GET", ops+"?cursor=root", root, nil).expect(t, 200, "").body["items"].([]any)[0].(map[string]any)
		if locked["locked_until"] == nil {
			t.Fatalf("the lock is not shown: %v", locked)
		}
		if u := s.do("POST", ops+"/"+samID+"/unlock", root, nil).expect(t, 200, ""); u.body["locked_until"] != nil || u.body["failed_count"] != 0.0 {
			t.Fatalf("unlock %s", u.raw)
		}
		sam = s.adminLogin("sam", operatorPassword, s.totp(samSecret)).expect(t, 201, "").str("token")

		// TOTP rotation: the new secret once, the old one and the sessions dead.
		rot := s.do("POST", ops+"/"+samID+"/totp", root, nil).expect(t, 200, "")
		newSecret, err := operator.DecodeSecret(rot.str("totp_secret"))
		if err != nil || !strings.HasPrefix(rot.str("otpauth_url"), "otpauth://totp/") || rot.header.Get("Cache-Control") != "no-store" {
			t.Fatalf("rotate %s %v", rot.raw, err)
		}
		s.do("GET", "/api/v1/admin/me", sam, nil).expect(t, 401, "operator-session-invalid")
		s.clock.Advance(operator.TOTPPeriod)
		s.adminLogin("sam", operatorPassword, s.totp(samSecret)).expect(t, 401, "operator-credentials-invalid")
		s.adminLogin("sam", operatorPassword, s.totp(newSecret)).expect(t, 201, "")

		// Password reset: a generated password once; the old one stops working.
		pw := s.do("POST", ops+"/"+samID+"/password", root, nil).expect(t, 200, "")
		newPassword := pw.str("password")
		if err := operator.CheckPassword(newPassword); err != nil || newPassword == operatorPassword {
			t.Fatalf("generated password %q %v", newPassword, err)
		}
		s.clock.Advance(operator.TOTPPeriod)
		s.adminLogin("sam", operatorPassword, s.totp(newSecret)).expect(t, 401, "operator-credentials-invalid")
		s.clock.Advance(operator.TOTPPeriod)
		s.adminLogin("sam", newPassword, s.totp(newSecret)).expect(t, 201, "")

		// The audit log has every change with before and after, and no secret.
		audit := s.do("GET", "/api/v1/admin/audit?target_type=operator&target_id="+samID, root, nil).expect(t, 200, "")
		var got []string
		for _, act := range s.auditActions(root, "?target_type=operator&target_id="+samID) {
			if strings.HasPrefix(act, "operator.") { // not the failed logins
				got = append(got, act)
			}
		}
		want := []string{"operator.update", "operator.update", "operator.update", "operator.unlock", "operator.totp_rotate", "operator.password_reset"}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Fatalf("audited %v, want %v", got, want)
		}
		for _, leak := range []string{newPassword, rot.str("totp_secret"), "argon2"} {
			if strings.Contains(string(audit.raw), leak) {
				t.Fatalf("the audit log holds a secret: %s", audit.raw)
			}
		}
		if !strings.Contains(string(audit.raw), `"role":"support"`) || !strings.Contains(string(audit.raw), `"role":"finance"`) ||
			!strings.Contains(string(audit.raw), `"sessions_revoked":1`) {
			t.Fatalf("before/after missing: %s", audit.raw)
		}
	})
}

// Two admins demote each other with concurrent requests: exactly one wins and one admin is left.
func TestOperatorAdminsDemoteEachOtherConcurrently(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *server) {
		a := s.operatorLogin("anna", "admin")
		b := s.operatorLogin("bert", "admin")
		ids := [2]string{s.operatorID(a, "anna"), s.operatorID(a, "bert")}
		tokens := [2]string{a, b}
		for round := range 5 {
			var statuses [2]int
			var bodies [2][]byte
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i := range 2 {
				wg.Go(func() {
					<-start
					statuses[i], _, bodies[i] = s.try("PUT", "/api/v1/admin/operators/"+ids[1-i], tokens[i], map[string]any{"role": "support"})
				})
			}
			close(start)
			wg.Wait()
			winner := -1
			for i, st := range statuses {
				switch st {
				case 200:
					if winner >= 0 {
						t.Fatalf("round %d: both demotions passed", round)
					}
					winner = i
				case 403, 409:
				default:
					t.Fatalf("round %d: %d %s", round, st, bodies[i])
				}
			}
			if winner < 0 {
				t.Fatalf("round %d: none passed: %s / %s", round, bodies[0], bodies[1])
			}
			admins := 0
			for _, it := range s.do("GET", "/api/v1/admin/operators", tokens[winner], nil).expect(t, 200, "").body["items"].([]any) {
				if m := it.(map[string]any); m["role"] == "admin" && m["active"] == true {
					admins++
				}
			}
			if admins != 1 {
				t.Fatalf("round %d: %d admins", round, admins)
			}
			s.do("PUT", "/api/v1/admin/operators/"+ids[1-winner], tokens[winner], map[string]any{"role": "admin"}).expect(t, 200, "")
		}
	})
}
