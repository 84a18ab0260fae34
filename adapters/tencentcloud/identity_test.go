package tencentcloud

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/shuxinqian/server/domain/kernel"
)

const (
	tcName  = "韦小宝"
	tcID    = kernel.IDNumber("11010519491231002X")
	tcPhone = kernel.Phone("13800138000")
)

func newTestVerifier(t *testing.T, cfg Config) *IdentityVerifier {
	t.Helper()
	v, err := NewIdentityVerifier(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestIdentityVerifierID2(t *testing.T) {
	f := NewFakeServer(t)
	v := newTestVerifier(t, f.Config())
	ctx := context.Background()

	res, err := v.VerifyID2(ctx, tcName, tcID)
	if err != nil || !res.Match || res.Reason != "" || res.Reference == "" {
		t.Fatalf("match: %+v, %v", res, err)
	}
	body := f.Requests()[0].Body
	if f.Requests()[0].Action != "IdCardVerification" || body["Name"] != tcName || body["IdCard"] != tcID.String() {
		t.Fatalf("request %+v", f.Requests()[0])
	}

	for code, reason := range map[string]string{
		"-1": reasonMismatch, "-2": reasonInvalidID, "-3": reasonInvalidName, "-5": reasonNoRecord,
		"-42": "identity check did not pass (code -42)",
	} {
		f.OnIDCard(func(string, string) string { return code })
		res, err := v.VerifyID2(ctx, tcName, tcID)
		if err != nil || res.Match || res.Reason != reason || res.Reference == "" {
			t.Errorf("result %s: %+v, %v; want reason %q", code, res, err, reason)
		}
	}

	// "-4": the ID database is down, so the check did not run.
	f.OnIDCard(func(string, string) string { return "-4" })
	_, err = v.VerifyID2(ctx, tcName, tcID)
	wantKernel(t, err, kernel.KindUnavailable, "identity-unavailable")
	wantNoPersonalData(t, err, tcName, tcID.String())

	// The fake's own rule: a bad check character is "-2".
	f.OnIDCard(nil)
	if res, err := v.VerifyID2(ctx, tcName, "110105194912310021"); err != nil || res.Match || res.Reason != reasonInvalidID {
		t.Errorf("bad checksum: %+v, %v", res, err)
	}
}

func TestIdentityVerifierID3(t *testing.T) {
	f := NewFakeServer(t)
	v := newTestVerifier(t, f.Config())
	ctx := context.Background()

	res, err := v.VerifyID3(ctx, tcName, tcID, tcPhone)
	if err != nil || !res.Match || res.Reference == "" {
		t.Fatalf("match: %+v, %v", res, err)
	}
	if r := f.Requests()[0]; r.Action != "PhoneVerification" || r.Body["Phone"] != tcPhone.String() || r.Body["IdCard"] != tcID.String() {
		t.Fatalf("request %+v", r)
	}
	for code, reason := range map[string]string{
		"-4": reasonPhoneNotOwned, "-5": reasonPhoneNoRealName, "-6": reasonInvalidPhone, "-7": reasonInvalidID,
		"-8": reasonInvalidName, "-9": reasonPhoneNoRecord, "-10": reasonNotPassed,
	} {
		f.OnPhone(func(string, string, string) string { return code })
		res, err := v.VerifyID3(ctx, tcName, tcID, tcPhone)
		if err != nil || res.Match || res.Reason != reason {
			t.Errorf("result %s: %+v, %v; want reason %q", code, res, err, reason)
		}
	}
	f.OnPhone(func(string, string, string) string { return "-11" })
	_, err = v.VerifyID3(ctx, tcName, tcID, tcPhone)
	wantKernel(t, err, kernel.KindUnavailable, "identity-unavailable")
	wantNoPersonalData(t, err, tcName, tcID.String(), tcPhone.String())
}

func TestIdentityVerifierProviderErrors(t *testing.T) {
	f := NewFakeServer(t)
	v := newTestVerifier(t, f.Config())
	ctx := context.Background()

	f.FailNext("IdCardVerification", "UnauthorizedOperation.Arrears", "账户欠费")
	_, err := v.VerifyID2(ctx, tcName, tcID)
	wantKernel(t, err, kernel.KindUnavailable, "identity-unavailable")
	if !strings.Contains(err.Error(), "UnauthorizedOperation.Arrears") || !strings.Contains(err.Error(), "request ") {
		t.Errorf("error %q lacks the provider's code or request id", err)
	}

	cfg := f.Config()
	cfg.Timeout = 100 * time.Millisecond
	slow := newTestVerifier(t, cfg)
	f.SetDelay(2 * time.Second)
	_, err = slow.VerifyID3(ctx, tcName, tcID, tcPhone)
	wantKernel(t, err, kernel.KindUnavailable, "identity-unavailable")

	f.SetDelay(0)
	f.Close()
	_, err = v.VerifyID2(ctx, tcName, tcID)
	wantKernel(t, err, kernel.KindUnavailable, "identity-unavailable")
	wantNoPersonalData(t, err, tcName, tcID.String())
}
