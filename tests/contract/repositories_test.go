// Package contract runs the same suite against every adapter of a port: the repositories and
// the outbox on SQLite and on Postgres, the SMS sender, the crypto and system adapters.
package contract

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/shuxinqian/server/adapters/sqlstore"
	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/otp"
	"github.com/shuxinqian/server/domain/session"
	"github.com/shuxinqian/server/domain/user"
	"github.com/shuxinqian/server/ports"
	"github.com/shuxinqian/server/tests/testdb"
)

var t0 = time.Date(2026, 11, 26, 8, 30, 15, 123456000, time.UTC)

// forEachBackend runs fn as a subtest on every database, each with a fresh schema.
func forEachBackend(t *testing.T, fn func(t *testing.T, db *sqlstore.DB, uow ports.UnitOfWork)) {
	for _, b := range testdb.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			db := b.Open(t)
			fn(t, db, testdb.Store(t, db))
		})
	}
}

func newUser(t testing.TB, id string, phone kernel.Phone) *user.User {
	t.Helper()
	u, err := user.Register(kernel.UserID(id), phone, t0)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func addUser(t testing.TB, uow ports.UnitOfWork, u *user.User) {
	t.Helper()
	if err := uow.Do(context.Background(), func(ctx context.Context, tx ports.Tx) error { return tx.Users().Add(ctx, u) }); err != nil {
		t.Fatal(err)
	}
}

func outboxCount(t *testing.T, db *sqlstore.DB) int {
	t.Helper()
	n, err := db.NewSelect().Table("watermill_outbox").Count(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return int(n)
}

func TestUserRepository(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *sqlstore.DB, uow ports.UnitOfWork) {
		ctx := context.Background()
		u := newUser(t, "u1", "13800138000")
		addUser(t, uow, u)

		t.Run("get by id and phone round-trips every field in UTC", func(t *testing.T) {
			_ = uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
				for _, get := range []func() (*user.User, error){
					func() (*user.User, error) { return tx.Users().Get(ctx, "u1") },
					func() (*user.User, error) { return tx.Users().GetByPhone(ctx, "13800138000") },
				} {
					got, err := get()
					if err != nil {
						t.Fatal(err)
					}
					s := got.Snapshot()
					if s.ID != "u1" || s.Phone != "13800138000" || s.RealName != user.RealNameUnverified || s.Version != 1 ||
						!s.CreatedAt.Equal(t0) || s.CreatedAt.Location() != time.UTC {
						t.Fatalf("snapshot %+v", s)
					}
				}
				return nil
			})
		})
		t.Run("missing user is not found", func(t *testing.T) {
			_ = uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
				if _, err := tx.Users().Get(ctx, "nobody"); kernel.CodeOf(err) != "user-not-found" {
					t.Fatalf("err %v", err)
				}
				if _, err := tx.Users().GetByPhone(ctx, "13900139000"); kernel.CodeOf(err) != "user-not-found" {
					t.Fatalf("err %v", err)
				}
				return nil
			})
		})
		t.Run("a taken phone is a conflict and leaves nothing behind", func(t *testing.T) {
			before := outboxCount(t, db)
			err := uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
				return tx.Users().Add(ctx, newUser(t, "u2", "13800138000"))
			})
			if kernel.KindOf(err) != kernel.KindConflict || kernel.CodeOf(err) != "phone-taken" {
				t.Fatalf("err %v", err)
			}
			if outboxCount(t, db) != before {
				t.Fatal("a failed insert published its event")
			}
		})
		t.Run("phones are encrypted at rest and looked up by digest", func(t *testing.T) {
			var enc []byte
			var idx string
			if err := db.NewSelect().Table("users").Column("phone_enc", "phone_idx").Where("id = ?", "u1").Scan(ctx, &enc, &idx); err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(enc, []byte("13800138000")) || idx == "13800138000" || len(idx) != 64 {
				t.Fatalf("phone stored in clear: enc=%x idx=%s", enc, idx)
			}
		})
		t.Run("update applies fn under lock, bumps the version and publishes events", func(t *testing.T) {
			before := outboxCount(t, db)
			err := uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
				return tx.Users().Update(ctx, "u1", func(u *user.User) error { return u.SetPassword("H1", t0.Add(time.Minute)) })
			})
			if err != nil {
				t.Fatal(err)
			}
			_ = uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
				got, err := tx.Users().Get(ctx, "u1")
				if err != nil || got.PasswordHash() != "H1" || got.Version() != 2 {
					t.Fatalf("got %+v err %v", got, err)
				}
				return nil
			})
			if outboxCount(t, db) != before+1 {
				t.Fatal("the password.set event was not written to the outbox")
			}
		})
		t.Run("an error after the write rolls back both the row and its event", func(t *testing.T) {
			before := outboxCount(t, db)
			boom := errors.New("boom")
			err := uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
				if err := tx.Users().Add(ctx, newUser(t, "u3", "13700137000")); err != nil {
					return err
				}
				if err := tx.Users().Update(ctx, "u1", func(u *user.User) error { return u.SetPassword("H2", t0) }); err != nil {
					return err
				}
				return boom
			})
			if !errors.Is(err, boom) {
				t.Fatalf("err %v", err)
			}
			_ = uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
				if _, err := tx.Users().Get(ctx, "u3"); kernel.CodeOf(err) != "user-not-found" {
					t.Fatalf("rolled-back user exists: %v", err)
				}
				if got, _ := tx.Users().Get(ctx, "u1"); got.PasswordHash() != "H1" {
					t.Fatal("rolled-back update persisted")
				}
				return nil
			})
			if outboxCount(t, db) != before {
				t.Fatal("rolled-back events reached the outbox")
			}
		})
		t.Run("writes through a read unit of work fail", func(t *testing.T) {
			err := uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
				return tx.Users().Add(ctx, newUser(t, "u4", "13600136000"))
			})
			if err == nil {
				t.Fatal("write through Read succeeded")
			}
		})
		t.Run("concurrent updates of one user are serialised", func(t *testing.T) {
			const n = 8
			var wg sync.WaitGroup
			errs := make(chan error, n)
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					errs <- uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
						return tx.Users().Update(ctx, "u1", func(u *user.User) error {
							return u.SetPassword(fmt.Sprintf("C%d", i), t0)
						})
					})
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatalf("concurrent update failed: %v", err)
				}
			}
			_ = uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
				got, _ := tx.Users().Get(ctx, "u1")
				if got.Version() != 2+n {
					t.Fatalf("version %d, want %d: an update was lost", got.Version(), 2+n)
				}
				return nil
			})
		})
	})
}

func TestCodeRepository(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *sqlstore.DB, uow ports.UnitOfWork) {
		ctx := context.Background()
		const phone = kernel.Phone("13800138000")
		add := func(id string, purpose otp.Purpose, at time.Time, ip string) {
			t.Helper()
			c, err := otp.Issue(id, phone, purpose, "hash-"+id, at)
			if err != nil {
				t.Fatal(err)
			}
			if err := uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
				if err := tx.Codes().LockPhone(ctx, phone); err != nil {
					return err
				}
				return tx.Codes().Add(ctx, c, ip)
			}); err != nil {
				t.Fatal(err)
			}
		}
		_ = uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
			if _, err := tx.Codes().Latest(ctx, phone, otp.PurposeLogin); !errors.Is(err, otp.ErrNotRequested) {
				t.Fatalf("no code yet: %v", err)
			}
			return nil
		})
		add("c1", otp.PurposeLogin, t0.Add(-25*time.Hour), "1.1.1.1")
		add("c2", otp.PurposeLogin, t0.Add(-2*time.Minute), "1.1.1.1")
		add("c3", otp.PurposeSign, t0.Add(-time.Minute), "2.2.2.2")

		t.Run("latest is the newest code of that purpose", func(t *testing.T) {
			_ = uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
				c, err := tx.Codes().Latest(ctx, phone, otp.PurposeLogin)
				if err != nil || c.ID() != "c2" || c.Snapshot().Hash != "hash-c2" || c.Snapshot().Phone != phone {
					t.Fatalf("latest %+v err %v", c, err)
				}
				return nil
			})
		})
		t.Run("history counts the last 24 hours by phone and by IP", func(t *testing.T) {
			_ = uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
				h, err := tx.Codes().History(ctx, phone, "1.1.1.1", t0.Add(-24*time.Hour))
				if err != nil {
					t.Fatal(err)
				}
				if len(h.Phone) != 2 || len(h.IP) != 1 || !h.IP[0].Equal(t0.Add(-2*time.Minute)) {
					t.Fatalf("history %+v", h)
				}
				return nil
			})
		})
		t.Run("attempts and use are saved", func(t *testing.T) {
			err := uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
				c, err := tx.Codes().Latest(ctx, phone, otp.PurposeLogin)
				if err != nil {
					return err
				}
				_ = c.Verify("wrong", t0)
				if err := c.Verify("hash-c2", t0); err != nil {
					return err
				}
				return tx.Codes().Save(ctx, c)
			})
			if err != nil {
				t.Fatal(err)
			}
			_ = uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
				c, _ := tx.Codes().Latest(ctx, phone, otp.PurposeLogin)
				if s := c.Snapshot(); s.Attempts != 1 || !s.UsedAt.Equal(t0) {
					t.Fatalf("saved %+v", s)
				}
				return nil
			})
		})
		t.Run("one code is consumed once under concurrency", func(t *testing.T) {
			add("c4", otp.PurposeResetPassword, t0, "1.1.1.1")
			const n = 8
			var wg sync.WaitGroup
			var mu sync.Mutex
			ok := 0
			for range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					var verr error
					err := uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
						if err := tx.Codes().LockPhone(ctx, phone); err != nil {
							return err
						}
						c, err := tx.Codes().Latest(ctx, phone, otp.PurposeResetPassword)
						if err != nil {
							return err
						}
						verr = c.Verify("hash-c4", t0.Add(time.Second))
						return tx.Codes().Save(ctx, c)
					})
					if err != nil {
						t.Error(err)
						return
					}
					if verr == nil {
						mu.Lock()
						ok++
						mu.Unlock()
					} else if !errors.Is(verr, otp.ErrUsed) {
						t.Errorf("loser got %v, want sms-code-used", verr)
					}
				}()
			}
			wg.Wait()
			if ok != 1 {
				t.Fatalf("%d requests consumed one code", ok)
			}
		})
	})
}

func TestSessionRepository(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *sqlstore.DB, uow ports.UnitOfWork) {
		ctx := context.Background()
		addUser(t, uow, newUser(t, "u1", "13800138000"))
		for _, id := range []string{"s1", "s2", "s3"} {
			s, _ := session.Open(kernel.SessionID(id), "u1", "th-"+id, t0)
			if err := uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error { return tx.Sessions().Add(ctx, s) }); err != nil {
				t.Fatal(err)
			}
		}
		t.Run("get by token hash", func(t *testing.T) {
			_ = uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
				s, err := tx.Sessions().GetByTokenHash(ctx, "th-s1")
				if err != nil || s.ID() != "s1" || !s.ExpiresAt().Equal(t0.Add(session.TTL)) {
					t.Fatalf("s %+v err %v", s, err)
				}
				if _, err := tx.Sessions().GetByTokenHash(ctx, "nope"); !errors.Is(err, session.ErrInvalid) {
					t.Fatalf("unknown token: %v", err)
				}
				return nil
			})
		})
		t.Run("touch and revoke are saved", func(t *testing.T) {
			before := outboxCount(t, db)
			err := uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
				s, err := tx.Sessions().GetByTokenHash(ctx, "th-s1")
				if err != nil {
					return err
				}
				s.Touch(t0.Add(2 * time.Hour))
				s.Revoke("logout", t0.Add(2*time.Hour))
				return tx.Sessions().Save(ctx, s)
			})
			if err != nil {
				t.Fatal(err)
			}
			_ = uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
				s, _ := tx.Sessions().GetByTokenHash(ctx, "th-s1")
				if !errors.Is(s.Check(t0.Add(3*time.Hour)), session.ErrInvalid) || !s.ExpiresAt().Equal(t0.Add(2*time.Hour+session.TTL)) {
					t.Fatalf("saved %+v", s.Snapshot())
				}
				return nil
			})
			if outboxCount(t, db) != before+1 {
				t.Fatal("session.revoked not published")
			}
		})
		t.Run("revoke all but one", func(t *testing.T) {
			var n int
			err := uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
				var err error
				n, err = tx.Sessions().RevokeAllForUser(ctx, "u1", "s3", "password_changed", t0.Add(time.Hour))
				return err
			})
			if err != nil || n != 1 {
				t.Fatalf("revoked %d, err %v (s1 was already revoked, s3 is kept)", n, err)
			}
			_ = uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
				s2, _ := tx.Sessions().GetByTokenHash(ctx, "th-s2")
				s3, _ := tx.Sessions().GetByTokenHash(ctx, "th-s3")
				if s2.Check(t0.Add(2*time.Hour)) == nil || s3.Check(t0.Add(2*time.Hour)) != nil {
					t.Fatal("wrong sessions revoked")
				}
				return nil
			})
		})
	})
}

func TestAuditLogAndInbox(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *sqlstore.DB, uow ports.UnitOfWork) {
		ctx := context.Background()
		for i := range 5 {
			e := ports.AuditEntry{ID: fmt.Sprintf("a%d", i), MessageID: fmt.Sprintf("m%d", i), UserID: "u1",
				Action: "user.logged_in", At: t0.Add(time.Duration(i) * time.Minute)}
			if err := uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error { return tx.Audit().Append(ctx, e) }); err != nil {
				t.Fatal(err)
			}
		}
		err := uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
			return tx.Audit().Append(ctx, ports.AuditEntry{ID: "ax", MessageID: "m0", UserID: "u1", Action: "x", At: t0})
		})
		if kernel.KindOf(err) != kernel.KindConflict {
			t.Fatalf("duplicate message id: %v", err)
		}
		_ = uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
			got, err := tx.Audit().ListByUser(ctx, "u1", 3)
			if err != nil || len(got) != 3 || got[0].ID != "a4" || got[2].ID != "a2" {
				t.Fatalf("list %+v err %v", got, err)
			}
			return nil
		})

		mark := func() (bool, error) {
			var first bool
			err := uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
				var err error
				first, err = tx.Inbox().MarkProcessed(ctx, "audit", "msg-1")
				return err
			})
			return first, err
		}
		// A rolled-back mark is forgotten.
		_ = uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
			if _, err := tx.Inbox().MarkProcessed(ctx, "audit", "msg-1"); err != nil {
				return err
			}
			return errors.New("roll back")
		})
		if first, err := mark(); err != nil || !first {
			t.Fatalf("first mark: %v %v", first, err)
		}
		if first, err := mark(); err != nil || first {
			t.Fatalf("second mark: %v %v", first, err)
		}
		err = uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
			first, err := tx.Inbox().MarkProcessed(ctx, "welcome-sms", "msg-1")
			if !first {
				t.Error("consumers must have separate inboxes")
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}
