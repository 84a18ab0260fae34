package tencentcloud

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/ports"
)

func newTestLiveness(t *testing.T, cfg Config) *LivenessVerifier {
	t.Helper()
	l, err := NewLivenessVerifier(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestLivenessVerifierSession(t *testing.T) {
	f := NewFakeServer(t)
	clock := &testClock{t: time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)}
	cfg := f.Config()
	cfg.Clock = clock
	l := newTestLiveness(t, cfg)
	ctx := context.Background()

	sess, err := l.Start(ctx, ports.LivenessRequest{Name: tcName, IDNumber: tcID, RedirectURL: "https://app.example/back", Reference: "user:42"})
	if err != nil {
		t.Fatal(err)
	}
	if sess.ID == "" || !strings.Contains(sess.URL, sess.ID) || !sess.ExpiresAt.Equal(clock.Now().Add(2*time.Hour)) {
		t.Fatalf("session %+v", sess)
	}
	got, ok := f.LivenessSession(sess.ID)
	if !ok || got.Name != tcName || got.IDCard != tcID.String() || got.Extra != "user:42" ||
		got.RedirectURL != "https://app.example/back" || got.RuleID != "1" {
		t.Fatalf("DetectAuth sent %+v", got)
	}

	res, err := l.Result(ctx, sess.ID)
	if err != nil || res.Status != ports.LivenessPending || res.Reference != "user:42" || res.Name != "" {
		t.Fatalf("pending: %+v, %v", res, err)
	}
	if err := f.FinishLiveness(sess.ID, true); err != nil {
		t.Fatal(err)
	}
	res, err = l.Result(ctx, sess.ID)
	if err != nil || res != (ports.LivenessResult{Status: ports.LivenessPassed, Name: tcName, IDNumber: tcID, Reference: "user:42"}) {
		t.Fatalf("passed: %+v, %v", res, err)
	}
	for _, r := range f.Requests() {
		if r.Action == "GetDetectInfoEnhanced" && (r.Body["InfoType"] != "1" || r.Body["RuleId"] != "1" || r.Body["BizToken"] != sess.ID) {
			t.Errorf("GetDetectInfoEnhanced sent %v", r.Body)
		}
	}
}

func TestLivenessVerifierOutcomes(t *testing.T) {
	f := NewFakeServer(t)
	l := newTestLiveness(t, f.Config())
	ctx := context.Background()
	start := func() string {
		t.Helper()
		s, err := l.Start(ctx, ports.LivenessRequest{Name: tcName, IDNumber: tcID})
		if err != nil {
			t.Fatal(err)
		}
		return s.ID
	}

	id := start()
	_ = f.FinishLiveness(id, false)
	if res, err := l.Result(ctx, id); err != nil || res.Status != ports.LivenessFailed || res.Reason != reasonFaceMismatch || res.Name != "" || !res.IDNumber.IsZero() {
		t.Errorf("face mismatch: %+v, %v", res, err)
	}

	id = start()
	_ = f.FailLiveness(id, 1001)
	if res, err := l.Result(ctx, id); err != nil || res.Status != ports.LivenessFailed || res.Reason != reasonLivenessFailed {
		t.Errorf("liveness failure: %+v, %v", res, err)
	}

	id = start()
	_ = f.FinishLivenessAs(id, "李四", "110101199003070011")
	if res, err := l.Result(ctx, id); err != nil || res.Status != ports.LivenessPassed || res.Name != "李四" || res.IDNumber != "110101199003070011" {
		t.Errorf("another person: %+v, %v", res, err)
	}

	id = start()
	_ = f.FinishLivenessAs(id, "李四", "not-an-id")
	_, err := l.Result(ctx, id)
	wantKernel(t, err, kernel.KindUnavailable, "liveness-unavailable")

	id = start()
	_ = f.ExpireLiveness(id)
	if res, err := l.Result(ctx, id); err != nil || res.Status != ports.LivenessFailed || res.Reason != reasonSessionExpired {
		t.Errorf("expired: %+v, %v", res, err)
	}

	_, err = l.Result(ctx, "5E6A0C3D-0000-4000-8000-000000000000")
	wantKernel(t, err, kernel.KindNotFound, "liveness-session-not-found")
	_, err = l.Result(ctx, "")
	wantKernel(t, err, kernel.KindNotFound, "liveness-session-not-found")

	_, err = l.Start(ctx, ports.LivenessRequest{Name: " ", IDNumber: tcID})
	wantKernel(t, err, kernel.KindInvalid, "liveness-identity-required")
}

func TestLivenessVerifierProviderErrors(t *testing.T) {
	f := NewFakeServer(t)
	l := newTestLiveness(t, f.Config())
	ctx := context.Background()

	f.FailNext("DetectAuth", "FailedOperation.UnKnown", "未知错误")
	_, err := l.Start(ctx, ports.LivenessRequest{Name: tcName, IDNumber: tcID})
	wantKernel(t, err, kernel.KindUnavailable, "liveness-unavailable")
	wantNoPersonalData(t, err, tcName, tcID.String())

	cfg := f.Config()
	cfg.FaceIDRuleID = "99"
	_, err = newTestLiveness(t, cfg).Start(ctx, ports.LivenessRequest{Name: tcName, IDNumber: tcID})
	wantKernel(t, err, kernel.KindUnavailable, "liveness-unavailable")
	if !strings.Contains(err.Error(), "RuleIdNotExist") {
		t.Errorf("error %q", err)
	}

	s, err := l.Start(ctx, ports.LivenessRequest{Name: tcName, IDNumber: tcID})
	if err != nil {
		t.Fatal(err)
	}
	f.FailNext("GetDetectInfoEnhanced", "InternalError", "内部错误")
	_, err = l.Result(ctx, s.ID)
	wantKernel(t, err, kernel.KindUnavailable, "liveness-unavailable")

	f.Close()
	_, err = l.Result(ctx, s.ID)
	wantKernel(t, err, kernel.KindUnavailable, "liveness-unavailable")

	if _, err := NewLivenessVerifier(Config{SecretID: "a", SecretKey: "b"}); err == nil {
		t.Error("accepted a config without FaceIDRuleID")
	}
}
