package identity_test

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/shuxinqian/server/adapters/identity"
	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/ports"
	"github.com/shuxinqian/server/tests/fakes"
)

var lvT0 = time.Date(2026, 11, 26, 8, 30, 0, 0, time.UTC)

func lvWant(t *testing.T, err error, kind kernel.Kind, code string) {
	t.Helper()
	var ke *kernel.Error
	if !errors.As(err, &ke) || ke.Kind != kind || ke.Code != code {
		t.Fatalf("error %v, want %s %q", err, kind, code)
	}
}

func TestSandboxLivenessSession(t *testing.T) {
	clock := fakes.NewClock(lvT0)
	l := identity.NewSandboxLiveness(clock, "https://sandbox.example/")
	ctx := context.Background()
	req := ports.LivenessRequest{Name: "韦小宝", IDNumber: "11010519491231002X", Reference: "user:1"}

	s, err := l.Start(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(s.ID) {
		t.Fatalf("id %q is not 128-bit hex", s.ID)
	}
	if s.URL != "https://sandbox.example/sandbox/liveness/"+s.ID || !s.ExpiresAt.Equal(lvT0.Add(30*time.Minute)) {
		t.Fatalf("session %+v", s)
	}
	res, err := l.Result(ctx, s.ID)
	if err != nil || res != (ports.LivenessResult{Status: ports.LivenessPending, Reference: "user:1"}) {
		t.Fatalf("pending: %+v, %v", res, err)
	}
	if err := l.Play(s.ID, true); err != nil {
		t.Fatal(err)
	}
	res, err = l.Result(ctx, s.ID)
	if err != nil || res != (ports.LivenessResult{Status: ports.LivenessPassed, Name: "韦小宝", IDNumber: "11010519491231002X", Reference: "user:1"}) {
		t.Fatalf("passed: %+v, %v", res, err)
	}
	lvWant(t, l.Play(s.ID, false), kernel.KindConflict, "liveness-session-finished")
	lvWant(t, l.PlayAs(s.ID, "李四", "110101199003070011"), kernel.KindConflict, "liveness-session-finished")

	s2, _ := l.Start(ctx, req)
	if s2.ID == s.ID {
		t.Fatal("session ids repeat")
	}
	_ = l.Play(s2.ID, false)
	if res, _ := l.Result(ctx, s2.ID); res.Status != ports.LivenessFailed || res.Reason != identity.ReasonFaceMismatch || res.Name != "" {
		t.Fatalf("failed: %+v", res)
	}

	s3, _ := l.Start(ctx, req)
	if err := l.PlayAs(s3.ID, "李四", "110101199003070011"); err != nil {
		t.Fatal(err)
	}
	if res, _ := l.Result(ctx, s3.ID); res.Status != ports.LivenessPassed || res.Name != "李四" || res.IDNumber != "110101199003070011" {
		t.Fatalf("played as another: %+v", res)
	}

	_, err = l.Result(ctx, "nope")
	lvWant(t, err, kernel.KindNotFound, "liveness-session-not-found")
	lvWant(t, l.Play("nope", true), kernel.KindNotFound, "liveness-session-not-found")
	_, err = l.Start(ctx, ports.LivenessRequest{Name: "韦小宝"})
	lvWant(t, err, kernel.KindInvalid, "liveness-identity-required")
}

func TestSandboxLivenessExpiry(t *testing.T) {
	clock := fakes.NewClock(lvT0)
	l := identity.NewSandboxLiveness(clock, "http://localhost:8080")
	ctx := context.Background()
	s, _ := l.Start(ctx, ports.LivenessRequest{Name: "韦小宝", IDNumber: "11010519491231002X"})
	done, _ := l.Start(ctx, ports.LivenessRequest{Name: "韦小宝", IDNumber: "11010519491231002X"})
	_ = l.Play(done.ID, true)

	clock.Advance(30 * time.Minute)
	lvWant(t, l.Play(s.ID, true), kernel.KindPrecondition, "liveness-session-expired")
	if res, err := l.Result(ctx, s.ID); err != nil || res.Status != ports.LivenessFailed || res.Reason != identity.ReasonSessionExpired {
		t.Fatalf("expired: %+v, %v", res, err)
	}
	// A decided session keeps its result.
	if res, _ := l.Result(ctx, done.ID); res.Status != ports.LivenessPassed {
		t.Fatalf("decided session after expiry: %+v", res)
	}
}

func TestSandboxLivenessEvictsOldest(t *testing.T) {
	l := identity.NewSandboxLiveness(fakes.NewClock(lvT0), "")
	ctx := context.Background()
	req := ports.LivenessRequest{Name: "韦小宝", IDNumber: "11010519491231002X"}
	first, _ := l.Start(ctx, req)
	second, _ := l.Start(ctx, req)
	for range identity.SandboxLivenessCapacity - 1 {
		if _, err := l.Start(ctx, req); err != nil {
			t.Fatal(err)
		}
	}
	_, err := l.Result(ctx, first.ID)
	lvWant(t, err, kernel.KindNotFound, "liveness-session-not-found")
	if _, err := l.Result(ctx, second.ID); err != nil {
		t.Fatalf("the second session was evicted too: %v", err)
	}
}

func TestSandboxLivenessConcurrent(t *testing.T) {
	l := identity.NewSandboxLiveness(fakes.NewClock(lvT0), "")
	ctx := context.Background()
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			s, err := l.Start(ctx, ports.LivenessRequest{Name: fmt.Sprint("人", i), IDNumber: "11010519491231002X"})
			if err != nil {
				t.Error(err)
				return
			}
			_ = l.Play(s.ID, i%2 == 0)
			if res, err := l.Result(ctx, s.ID); err != nil || res.Status == ports.LivenessPending {
				t.Errorf("result %+v, %v", res, err)
			}
		})
	}
	wg.Wait()
}
