package contract

import (
	"context"
	"errors"
	"testing"

	"github.com/shuxinqian/server/adapters/identity"
	"github.com/shuxinqian/server/adapters/tencentcloud"
	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/ports"
	"github.com/shuxinqian/server/tests/fakes"
)

// lvAdapter is one LivenessVerifier under the contract, with the means to play the person's part.
type lvAdapter struct {
	name   string
	v      ports.LivenessVerifier
	clock  ports.Clock
	pass   func(sessionID string) error
	fail   func(sessionID string) error
	passAs func(sessionID, name string, id kernel.IDNumber) error
}

func lvAdapters(t *testing.T) []lvAdapter {
	clock := fakes.NewClock(t0)
	box := identity.NewSandboxLiveness(clock, "http://sandbox.test")

	fake := tencentcloud.NewFakeServer(t)
	cfg := fake.Config()
	cfg.Clock = clock
	tc, err := tencentcloud.NewLivenessVerifier(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return []lvAdapter{
		{
			name: "sandbox", v: box, clock: clock,
			pass:   func(id string) error { return box.Play(id, true) },
			fail:   func(id string) error { return box.Play(id, false) },
			passAs: box.PlayAs,
		},
		{
			name: "tencentcloud", v: tc, clock: clock,
			pass: func(id string) error { return fake.FinishLiveness(id, true) },
			fail: func(id string) error { return fake.FinishLiveness(id, false) },
			passAs: func(id, name string, n kernel.IDNumber) error {
				return fake.FinishLivenessAs(id, name, n.String())
			},
		},
	}
}

func TestLivenessVerifierContract(t *testing.T) {
	req := ports.LivenessRequest{Name: "韦小宝", IDNumber: "11010519491231002X", RedirectURL: "https://app.test/done", Reference: "user:01J"}
	for _, a := range lvAdapters(t) {
		t.Run(a.name, func(t *testing.T) {
			ctx := context.Background()
			start := func() ports.LivenessSession {
				t.Helper()
				s, err := a.v.Start(ctx, req)
				if err != nil {
					t.Fatal(err)
				}
				if s.ID == "" || s.URL == "" || !s.ExpiresAt.After(a.clock.Now()) {
					t.Fatalf("session %+v", s)
				}
				return s
			}
			result := func(id string) ports.LivenessResult {
				t.Helper()
				res, err := a.v.Result(ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				return res
			}

			s := start()
			if res := result(s.ID); res.Status != ports.LivenessPending || res.Reference != req.Reference || res.Name != "" {
				t.Fatalf("new session: %+v", res)
			}
			if err := a.pass(s.ID); err != nil {
				t.Fatal(err)
			}
			want := ports.LivenessResult{Status: ports.LivenessPassed, Name: req.Name, IDNumber: req.IDNumber, Reference: req.Reference}
			if res := result(s.ID); res != want {
				t.Fatalf("passed: %+v, want %+v", res, want)
			}
			if res := result(s.ID); res != want {
				t.Fatalf("a second read: %+v", res)
			}

			s2 := start()
			if s2.ID == s.ID {
				t.Fatal("session ids repeat")
			}
			if err := a.fail(s2.ID); err != nil {
				t.Fatal(err)
			}
			if res := result(s2.ID); res.Status != ports.LivenessFailed || res.Reason != identity.ReasonFaceMismatch || res.Name != "" || !res.IDNumber.IsZero() {
				t.Fatalf("failed: %+v", res)
			}

			// Somebody else did the face check: the result says who, and the caller must notice.
			s3 := start()
			if err := a.passAs(s3.ID, "李四", "110101199003070011"); err != nil {
				t.Fatal(err)
			}
			if res := result(s3.ID); res.Status != ports.LivenessPassed || res.Name != "李四" || res.IDNumber != "110101199003070011" {
				t.Fatalf("played by another person: %+v", res)
			}

			_, err := a.v.Result(ctx, "0123456789abcdef0123456789abcdef")
			var ke *kernel.Error
			if !errors.As(err, &ke) || ke.Kind != kernel.KindNotFound || ke.Code != "liveness-session-not-found" {
				t.Fatalf("unknown session: %v", err)
			}
			if _, err := a.v.Start(ctx, ports.LivenessRequest{Name: "韦小宝"}); kernel.KindOf(err) != kernel.KindInvalid {
				t.Fatalf("start without an ID number: %v", err)
			}
		})
	}
}
