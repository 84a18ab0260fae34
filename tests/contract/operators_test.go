package contract

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/shuxinqian/server/adapters/crypto"
	"github.com/shuxinqian/server/adapters/sqlstore"
	"github.com/shuxinqian/server/adapters/system"
	"github.com/shuxinqian/server/application/operators"
	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/operator"
	"github.com/shuxinqian/server/ports"
	"github.com/shuxinqian/server/tests/fakes"
)

func newTestOperator(t *testing.T, id, username string, role operator.Role) *operator.Operator {
	t.Helper()
	o, err := operator.New(operator.ID(id), username, "hash-"+id, []byte("0123456789abcdefghij"), role, t0)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// TestOperatorRepository: accounts round trip (last login, rotated TOTP secret and password hash
// included) through Update; List pages by username; LockActiveAdmins returns exactly the active
// admins; RevokeSessions ends every open session of one operator and no other's.
func TestOperatorRepository(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *sqlstore.DB, uow ports.UnitOfWork) {
		ctx := context.Background()
		do := func(fn func(ctx context.Context, tx ports.Tx) error) error { return uow.Do(ctx, fn) }
		for i, c := range []struct {
			name string
			role operator.Role
		}{{"carol", operator.RoleAdmin}, {"alice", operator.RoleAdmin}, {"bob", operator.RoleSupport}, {"dave", operator.RoleAdmin}, {"erin", operator.RoleFinance}} {
			o := newTestOperator(t, fmt.Sprintf("op%d", i), c.name, c.role)
			if err := do(func(ctx context.Context, tx ports.Tx) error { return tx.Operators().Add(ctx, o) }); err != nil {
				t.Fatal(err)
			}
		}
		// dave (op3) is a disabled admin: not counted.
		if err := do(func(ctx context.Context, tx ports.Tx) error {
			return tx.Operators().Update(ctx, "op3", func(o *operator.Operator) error {
				_, err := o.Disable("op0", 3)
				return err
			})
		}); err != nil {
			t.Fatal(err)
		}
		secret := []byte("ZYXWVUTSRQPONMLKJIHG")
		login := t0.Add(time.Hour)
		if err := do(func(ctx context.Context, tx ports.Tx) error {
			return tx.Operators().Update(ctx, "op2", func(o *operator.Operator) error {
				if err := o.RotateTOTP(secret); err != nil {
					return err
				}
				if err := o.ResetPassword("hash-new"); err != nil {
					return err
				}
				return o.Login(true, operator.Code(secret, operator.Step(login)), login)
			})
		}); err != nil {
			t.Fatal(err)
		}
		_ = uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
			o, err := tx.Operators().Get(ctx, "op2")
			if err != nil {
				t.Fatal(err)
			}
			s := o.Snapshot()
			if !bytes.Equal(s.TOTPSecret, secret) || s.PasswordHash != "hash-new" || !s.LastLoginAt.Equal(login) || s.LastLoginAt.Location() != time.UTC {
				t.Fatalf("round trip %+v", s)
			}
			if never, _ := tx.Operators().Get(ctx, "op1"); !never.LastLoginAt().IsZero() {
				t.Fatalf("never logged in: %v", never.LastLoginAt())
			}
			page, err := tx.Operators().List(ctx, "", 2)
			if err != nil || len(page) != 2 || page[0].Username() != "alice" || page[1].Username() != "bob" {
				t.Fatalf("first page %v %v", page, err)
			}
			page, err = tx.Operators().List(ctx, "bob", 10)
			if err != nil || len(page) != 3 || page[0].Username() != "carol" || page[2].Username() != "erin" {
				t.Fatalf("after bob %v %v", page, err)
			}
			return nil
		})
		if err := do(func(ctx context.Context, tx ports.Tx) error {
			ids, err := tx.Operators().LockActiveAdmins(ctx)
			if err != nil || len(ids) != 2 || ids[0] != "op0" || ids[1] != "op1" {
				t.Fatalf("active admins %v %v", ids, err)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		// Sessions: two open and one revoked for op0, one open for op1.
		for i, op := range []operator.ID{"op0", "op0", "op0", "op1"} {
			sess, err := operator.OpenSession(fmt.Sprintf("s%d", i), op, fmt.Sprintf("th%d", i), t0)
			if err != nil {
				t.Fatal(err)
			}
			if i == 2 {
				sess.Revoke(t0)
			}
			if err := do(func(ctx context.Context, tx ports.Tx) error { return tx.Operators().AddSession(ctx, sess) }); err != nil {
				t.Fatal(err)
			}
		}
		at := t0.Add(2 * time.Hour)
		var n int
		if err := do(func(ctx context.Context, tx ports.Tx) error {
			var err error
			n, err = tx.Operators().RevokeSessions(ctx, "op0", at)
			return err
		}); err != nil || n != 2 {
			t.Fatalf("revoked %d %v", n, err)
		}
		_ = uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
			for hash, want := range map[string]time.Time{"th0": at, "th1": at, "th2": t0, "th3": {}} {
				s, err := tx.Operators().SessionByTokenHash(ctx, hash)
				if err != nil || !s.RevokedAt.Equal(want) {
					t.Fatalf("%s revoked at %v, want %v (%v)", hash, s.RevokedAt, want, err)
				}
			}
			return nil
		})
	})
}

// TestOperatorAdminsDemotingEachOther: two admins demote (or disable) each other at the same time,
// over and over; the platform never ends up without an active admin, and at most one of each
// pair of changes succeeds, the other answering operator-last-admin (or permission denied when
// its own account was demoted first).
func TestOperatorAdminsDemotingEachOther(t *testing.T) {
	const rounds = 12
	forEachBackend(t, func(t *testing.T, db *sqlstore.DB, uow ports.UnitOfWork) {
		ctx := context.Background()
		svc := operators.New(operators.Deps{UoW: uow, Clock: fakes.NewClock(time.Now()), IDs: system.NewIDs(), Random: crypto.Random{},
			Passwords: crypto.Argon2id{}})
		var actors [2]operators.Actor
		for i, name := range []string{"anna", "bert"} {
			c, err := svc.Create(ctx, name, "admin", "operator-password-1")
			if err != nil {
				t.Fatal(err)
			}
			actors[i] = operators.Actor{OperatorID: c.ID, Username: c.Username, Role: operator.RoleAdmin}
		}
		activeAdmins := func() int {
			n := 0
			_ = uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
				list, err := tx.Operators().List(ctx, "", 10)
				if err != nil {
					t.Fatal(err)
				}
				for _, o := range list {
					if o.IsActiveAdmin() {
						n++
					}
				}
				return nil
			})
			return n
		}
		wins := 0
		for round := range rounds {
			ch := operators.OperatorChange{Role: new("support")}
			if round%2 == 1 {
				ch = operators.OperatorChange{Active: new(false)}
			}
			var errs [2]error
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i := range 2 {
				wg.Go(func() {
					<-start
					_, errs[i] = svc.UpdateOperator(ctx, actors[i], string(actors[1-i].OperatorID), ch)
				})
			}
			close(start)
			wg.Wait()
			if n := activeAdmins(); n != 1 {
				t.Fatalf("round %d: %d active admins after the race (errors %v)", round, n, errs)
			}
			winner := -1
			for i, err := range errs {
				switch kernel.CodeOf(err) {
				case "":
					if winner >= 0 {
						t.Fatalf("round %d: both changes passed", round)
					}
					winner = i
				case "operator-last-admin", "operator-permission-denied":
				default:
					t.Fatalf("round %d: %v", round, err)
				}
			}
			if winner < 0 {
				t.Fatalf("round %d: neither change passed: %v", round, errs)
			}
			wins++
			// The winner restores the loser for the next round.
			restore := operators.OperatorChange{Role: new("admin"), Active: new(true)}
			if _, err := svc.UpdateOperator(ctx, actors[winner], string(actors[1-winner].OperatorID), restore); err != nil {
				t.Fatal(err)
			}
			if n := activeAdmins(); n != 2 {
				t.Fatalf("round %d: restored to %d admins", round, n)
			}
		}
		if wins != rounds {
			t.Fatalf("wins %d", wins)
		}
	})
}

// TestOperatorCommandLineRecovery: a sole admin locked out by failed logins gets back in through
// the command line's unlock (and reset-password / reset-totp), each audited as the command line.
func TestOperatorCommandLineRecovery(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *sqlstore.DB, uow ports.UnitOfWork) {
		ctx := context.Background()
		clock := fakes.NewClock(time.Now())
		svc := operators.New(operators.Deps{UoW: uow, Clock: clock, IDs: system.NewIDs(), Random: crypto.Random{}, Passwords: crypto.Argon2id{}})
		c, err := svc.Create(ctx, "solo", "admin", "operator-password-1")
		if err != nil {
			t.Fatal(err)
		}
		secret, _ := operator.DecodeSecret(c.TOTPSecret)
		code := func() string { return operator.Code(secret, operator.Step(clock.Now())) }
		login := func(password string) error {
			_, err := svc.Login(ctx, operators.LoginInput{Username: "solo", Password: password, TOTP: code()})
			clock.Advance(operator.TOTPPeriod)
			return err
		}
		for range operator.MaxFailures {
			_ = login("wrong-password")
		}
		if err := login("operator-password-1"); kernel.CodeOf(err) != "operator-locked" {
			t.Fatalf("not locked: %v", err)
		}
		if _, err := svc.UnlockByUsername(ctx, "nobody"); kernel.CodeOf(err) != "operator-not-found" {
			t.Fatalf("unknown username: %v", err)
		}
		if v, err := svc.UnlockByUsername(ctx, "SOLO"); err != nil || !v.LockedUntil.IsZero() || v.FailedCount != 0 {
			t.Fatalf("unlock %+v %v", v, err)
		}
		if err := login("operator-password-1"); err != nil {
			t.Fatalf("after unlock: %v", err)
		}
		pw, err := svc.ResetPasswordByUsername(ctx, "solo")
		if err != nil {
			t.Fatal(err)
		}
		if err := login("operator-password-1"); kernel.CodeOf(err) != "operator-credentials-invalid" {
			t.Fatalf("old password: %v", err)
		}
		rot, err := svc.RotateTOTPByUsername(ctx, "solo")
		if err != nil {
			t.Fatal(err)
		}
		if secret, err = operator.DecodeSecret(rot.TOTPSecret); err != nil {
			t.Fatal(err)
		}
		if err := login(pw.Password); err != nil {
			t.Fatalf("new password and secret: %v", err)
		}
		_ = uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
			entries, err := tx.OperatorAudit().List(ctx, operator.AuditFilter{TargetType: "operator", TargetID: string(c.ID)}, "", 20)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range entries {
				if e.Username == operators.CLIUsername {
					got = append(got, e.Action)
					if bytes.Contains(e.After, []byte(pw.Password)) || bytes.Contains(e.After, []byte(rot.TOTPSecret)) {
						t.Fatalf("secret in the audit log: %s", e.After)
					}
				}
			}
			if fmt.Sprint(got) != "[operator.totp_rotate operator.password_reset operator.unlock]" {
				t.Fatalf("command line actions audited: %v", got)
			}
			return nil
		})
	})
}
