package enterprise_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/shuxinqian/server/domain/enterprise"
	"github.com/shuxinqian/server/domain/kernel"
)

func transferRequest(id string, fen int64) enterprise.TransferRequest {
	return enterprise.TransferRequest{ID: id, AccountNumber: account, BankName: "中国工商银行", Province: "北京市",
		Branch: "海淀支行", Amount: kernel.Fen(fen)}
}

// remitted is an operator's verification whose transfer "tr1" of fen was requested at t0 and
// reached the account at t0+1h.
func remitted(t *testing.T, fen int64) *enterprise.Verification {
	t.Helper()
	v := started(t, operator())
	mustOK(t, v.RequestTransfer(transferRequest("tr1", fen), t0))
	mustOK(t, v.TransferRemitted("tr1", t0.Add(time.Hour)))
	v.PullEvents()
	return v
}

func TestNormalizeAccount(t *testing.T) {
	for _, tc := range []struct {
		in, want string
	}{
		{account, account},
		{" 6222 0202-0011 2233 445 ", account},
		{"12345678", "12345678"},
		{strings.Repeat("9", 32), strings.Repeat("9", 32)},
		{"1234567", ""},
		{strings.Repeat("9", 33), ""},
		{"", ""},
		{"6222O20200112233445", ""},
		{"６２２２０２０２００１１", ""}, // full-width digits
		{"6222_0202_0011", ""},
	} {
		got, err := enterprise.NormalizeAccount(tc.in)
		if tc.want == "" {
			wantErr(t, err, kernel.KindInvalid, "bank-account-invalid")
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("NormalizeAccount(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestRequestTransfer(t *testing.T) {
	v := withLink(t)
	now := t0.Add(time.Minute + 700*time.Nanosecond)
	r := transferRequest("tr1", 37)
	r.AccountNumber, r.BankName, r.Province, r.Branch = "6222 0202 0011 2233 445", "  中国工商银行 ", " 北京市", "海淀支行  "
	mustOK(t, v.RequestTransfer(r, now))
	at := kernel.OccurredAt(now)
	want := enterprise.Transfer{ID: "tr1", AccountNumber: account, BankName: "中国工商银行", Province: "北京市", Branch: "海淀支行",
		Amount: kernel.Fen(37), Status: enterprise.TransferRemitting, RequestedAt: at}
	if got := v.Transfer(); got == nil || !reflect.DeepEqual(*got, want) {
		t.Fatalf("transfer %+v, want %+v", got, want)
	}
	if v.Method() != enterprise.MethodBankTransfer || v.Status() != enterprise.StatusInProgress || v.ReadyToComplete() {
		t.Fatalf("verification %+v", v.Snapshot())
	}
	// The signing link dies with the switch.
	if l := v.CurrentLink(); !l.RevokedAt.Equal(at) {
		t.Fatalf("link %+v", l)
	}
	evs := v.PullEvents()
	ev, ok := evs[0].(enterprise.BankTransferRequested)
	if len(evs) != 1 || !ok || ev.VerificationID != vid || ev.TransferID != "tr1" || !ev.At.Equal(at) {
		t.Fatalf("events %#v", evs)
	}
	// Transfer returns a copy.
	v.Transfer().Status = enterprise.TransferConfirmed
	if v.Transfer().Status != enterprise.TransferRemitting {
		t.Fatal("Transfer shares the aggregate's state")
	}
	// The legal rep may choose the transfer too.
	w := started(t, legalRep())
	mustOK(t, w.RequestTransfer(transferRequest("tr1", 1), t0))
}

func TestRequestTransferValidation(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(r *enterprise.TransferRequest)
		code   string // "" when accepted
	}{
		{"account too short", func(r *enterprise.TransferRequest) { r.AccountNumber = "1234567" }, "bank-account-invalid"},
		{"account with letters", func(r *enterprise.TransferRequest) { r.AccountNumber = "62220202001122334X" }, "bank-account-invalid"},
		{"no bank", func(r *enterprise.TransferRequest) { r.BankName = "  " }, "bank-name-invalid"},
		{"bank of 64 characters", func(r *enterprise.TransferRequest) { r.BankName = strings.Repeat("银", 64) }, ""},
		{"bank of 65 characters", func(r *enterprise.TransferRequest) { r.BankName = strings.Repeat("银", 65) }, "bank-name-invalid"},
		{"no province", func(r *enterprise.TransferRequest) { r.Province = "" }, "bank-province-invalid"},
		{"province of 32 characters", func(r *enterprise.TransferRequest) { r.Province = strings.Repeat("省", 32) }, ""},
		{"province of 33 characters", func(r *enterprise.TransferRequest) { r.Province = strings.Repeat("省", 33) }, "bank-province-invalid"},
		{"no branch", func(r *enterprise.TransferRequest) { r.Branch = "" }, ""},
		{"branch of 64 characters", func(r *enterprise.TransferRequest) { r.Branch = strings.Repeat("支", 64) }, ""},
		{"branch of 65 characters", func(r *enterprise.TransferRequest) { r.Branch = strings.Repeat("支", 65) }, "bank-branch-invalid"},
		{"0 fen", func(r *enterprise.TransferRequest) { r.Amount = 0 }, "remit-amount-invalid"},
		{"negative", func(r *enterprise.TransferRequest) { r.Amount = -1 }, "remit-amount-invalid"},
		{"1 fen", func(r *enterprise.TransferRequest) { r.Amount = enterprise.MinDepositFen }, ""},
		{"99 fen", func(r *enterprise.TransferRequest) { r.Amount = enterprise.MaxDepositFen }, ""},
		{"100 fen", func(r *enterprise.TransferRequest) { r.Amount = 100 }, "remit-amount-invalid"},
		{"no id", func(r *enterprise.TransferRequest) { r.ID = "" }, "transfer-id-missing"},
		{"bank with ESC", func(r *enterprise.TransferRequest) { r.BankName = "中国\x1b[31m银行" }, "bank-name-invalid"},
		{"bank with NUL", func(r *enterprise.TransferRequest) { r.BankName = "中国\x00银行" }, "bank-name-invalid"},
		{"province with bidi override", func(r *enterprise.TransferRequest) { r.Province = "广东\u202e省" }, "bank-province-invalid"},
		{"branch with NUL", func(r *enterprise.TransferRequest) { r.Branch = "天河\x00支行" }, "bank-branch-invalid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := withLink(t)
			r := transferRequest("tr1", 37)
			tc.change(&r)
			if tc.code == "" {
				mustOK(t, v.RequestTransfer(r, t0))
				return
			}
			before := v.Snapshot()
			wantErr(t, v.RequestTransfer(r, t0), kernel.KindInvalid, tc.code)
			unchanged(t, v, before)
		})
	}
}

func TestRequestTransferStateRefusals(t *testing.T) {
	for _, tc := range []struct {
		name string
		v    func(t *testing.T) *enterprise.Verification
		kind kernel.Kind
		code string
	}{
		{"letter signed", signed, kernel.KindConflict, "verification-finished"},
		{"verified", func(t *testing.T) *enterprise.Verification {
			v := signed(t)
			mustOK(t, v.Complete(eid, t0))
			return v
		}, kernel.KindConflict, "verification-finished"},
		{"superseded", func(t *testing.T) *enterprise.Verification {
			v := started(t, operator())
			v.Supersede(t0)
			return v
		}, kernel.KindConflict, "enterprise-already-verified"},
		{"a transfer is being sent", func(t *testing.T) *enterprise.Verification {
			v := started(t, operator())
			mustOK(t, v.RequestTransfer(transferRequest("tr1", 37), t0))
			return v
		}, kernel.KindConflict, "transfer-in-progress"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := tc.v(t)
			v.PullEvents()
			before := v.Snapshot()
			wantErr(t, v.RequestTransfer(transferRequest("tr2", 12), t0.Add(time.Minute)), tc.kind, tc.code)
			unchanged(t, v, before)
		})
	}
}

func TestRequestTransferReplacesAnUnconfirmedOne(t *testing.T) {
	for _, tc := range []struct {
		name string
		prev func(t *testing.T, v *enterprise.Verification)
	}{
		{"remitted", func(t *testing.T, v *enterprise.Verification) {}},
		{"remitted, one wrong amount", func(t *testing.T, v *enterprise.Verification) {
			wantErr(t, v.ConfirmTransfer(kernel.Fen(1), scan, t0.Add(2*time.Hour)), kernel.KindInvalid, "transfer-amount-wrong")
		}},
		{"failed after 3 wrong amounts", func(t *testing.T, v *enterprise.Verification) {
			for range enterprise.TransferWrongTries {
				_ = v.ConfirmTransfer(kernel.Fen(1), scan, t0.Add(2*time.Hour))
			}
		}},
		{"expired", func(t *testing.T, v *enterprise.Verification) {
			wantErr(t, v.ConfirmTransfer(kernel.Fen(37), scan, t0.Add(time.Hour+enterprise.TransferConfirmTTL)), kernel.KindPrecondition, "transfer-expired")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := remitted(t, 37)
			tc.prev(t, v)
			now := t0.Add(3 * time.Hour)
			mustOK(t, v.RequestTransfer(transferRequest("tr2", 12), now))
			want := enterprise.Transfer{ID: "tr2", AccountNumber: account, BankName: "中国工商银行", Province: "北京市", Branch: "海淀支行",
				Amount: kernel.Fen(12), Status: enterprise.TransferRemitting, RequestedAt: now}
			if got := v.Transfer(); !reflect.DeepEqual(*got, want) {
				t.Fatalf("transfer %+v, want %+v", *got, want)
			}
			// The replaced transfer's news changes nothing.
			wantErr(t, v.TransferRemitted("tr1", now), kernel.KindNotFound, "transfer-not-found")
		})
	}
	t.Run("a bank refusal", func(t *testing.T) {
		v := started(t, operator())
		mustOK(t, v.RequestTransfer(transferRequest("tr1", 37), t0))
		mustOK(t, v.TransferRemitFailed("tr1", "account closed", t0.Add(time.Minute)))
		mustOK(t, v.RequestTransfer(transferRequest("tr2", 12), t0.Add(2*time.Minute)))
		if got := v.Transfer(); got.ID != "tr2" || got.FailureReason != "" || got.Status != enterprise.TransferRemitting {
			t.Fatalf("transfer %+v", got)
		}
	})
}

// A confirmed transfer is the proof: it is not replaced.
func TestRequestTransferKeepsAConfirmedOne(t *testing.T) {
	v := remitted(t, 37)
	mustOK(t, v.ConfirmTransfer(kernel.Fen(37), scan, t0.Add(2*time.Hour)))
	v.PullEvents()
	before := v.Snapshot()
	wantErr(t, v.RequestTransfer(transferRequest("tr2", 12), t0.Add(3*time.Hour)), kernel.KindConflict, "verification-finished")
	unchanged(t, v, before)
}

func TestTransferDailyLimit(t *testing.T) {
	v := started(t, operator())
	// Three requests a CST day, whatever became of them.
	for i, id := range []string{"tr1", "tr2", "tr3"} {
		now := t0.Add(time.Duration(i) * time.Minute)
		mustOK(t, v.RequestTransfer(transferRequest(id, 37), now))
		mustOK(t, v.TransferRemitFailed(id, "bank busy", now))
	}
	v.PullEvents()
	for _, now := range []time.Time{t0.Add(3 * time.Minute), cstMidnight.Add(-time.Microsecond)} {
		before := v.Snapshot()
		e := kernelErr(t, v.RequestTransfer(transferRequest("tr4", 37), now), kernel.KindRateLimited, "transfer-daily-limit")
		if e.RetryAfter != cstMidnight.Sub(now) {
			t.Errorf("at %v: retry after %v, want until CST midnight (%v)", now, e.RetryAfter, cstMidnight.Sub(now))
		}
		unchanged(t, v, before)
	}
	for i, id := range []string{"tr4", "tr5", "tr6"} {
		now := cstMidnight.Add(time.Duration(i) * time.Minute)
		mustOK(t, v.RequestTransfer(transferRequest(id, 37), now))
		mustOK(t, v.TransferRemitFailed(id, "bank busy", now))
	}
	wantErr(t, v.RequestTransfer(transferRequest("tr7", 37), cstMidnight.Add(time.Hour)), kernel.KindRateLimited, "transfer-daily-limit")
}

func TestTransferRemittedAndRemitFailed(t *testing.T) {
	t.Run("unknown transfer", func(t *testing.T) {
		for _, v := range []*enterprise.Verification{started(t, operator()), remitted(t, 37)} {
			before := v.Snapshot()
			wantErr(t, v.TransferRemitted("tr9", t0), kernel.KindNotFound, "transfer-not-found")
			wantErr(t, v.TransferRemitFailed("tr9", "x", t0), kernel.KindNotFound, "transfer-not-found")
			unchanged(t, v, before)
		}
	})
	t.Run("remitted once", func(t *testing.T) {
		v := started(t, operator())
		mustOK(t, v.RequestTransfer(transferRequest("tr1", 37), t0))
		v.PullEvents()
		at := t0.Add(time.Hour + 300*time.Nanosecond)
		mustOK(t, v.TransferRemitted("tr1", at))
		if tr := v.Transfer(); tr.Status != enterprise.TransferRemitted || !tr.RemittedAt.Equal(kernel.OccurredAt(at)) {
			t.Fatalf("transfer %+v", tr)
		}
		before := v.Snapshot()
		mustOK(t, v.TransferRemitted("tr1", at.Add(time.Hour)))
		mustOK(t, v.TransferRemitFailed("tr1", "late refusal", at.Add(time.Hour)))
		unchanged(t, v, before)
	})
	t.Run("refused once", func(t *testing.T) {
		v := started(t, operator())
		mustOK(t, v.RequestTransfer(transferRequest("tr1", 37), t0))
		v.PullEvents()
		mustOK(t, v.TransferRemitFailed("tr1", "account name mismatch", t0.Add(time.Hour)))
		if tr := v.Transfer(); tr.Status != enterprise.TransferRemitFailed || tr.FailureReason != "account name mismatch" || !tr.RemittedAt.IsZero() {
			t.Fatalf("transfer %+v", tr)
		}
		before := v.Snapshot()
		mustOK(t, v.TransferRemitFailed("tr1", "again", t0.Add(2*time.Hour)))
		mustOK(t, v.TransferRemitted("tr1", t0.Add(2*time.Hour)))
		unchanged(t, v, before)
		e := kernelErr(t, v.ConfirmTransfer(kernel.Fen(37), scan, t0.Add(3*time.Hour)), kernel.KindPrecondition, "transfer-remit-failed")
		if !strings.Contains(e.Message, "account name mismatch") {
			t.Errorf("message %q does not give the bank's reason", e.Message)
		}
	})
}

func TestConfirmTransferRefusals(t *testing.T) {
	ttl := enterprise.TransferConfirmTTL
	remittedAt := t0.Add(time.Hour)
	for _, tc := range []struct {
		name  string
		v     func(t *testing.T) *enterprise.Verification
		scan  kernel.FileID
		at    time.Time
		kind  kernel.Kind
		code  string
		state bool // the refusal changes the verification (the transfer fails)
	}{
		{"authorization method", withLink, scan, t0, kernel.KindPrecondition, "transfer-not-started", false},
		{"still remitting", func(t *testing.T) *enterprise.Verification {
			v := started(t, operator())
			mustOK(t, v.RequestTransfer(transferRequest("tr1", 37), t0))
			return v
		}, scan, t0.Add(time.Minute), kernel.KindPrecondition, "transfer-not-remitted", false},
		{"remit failed", func(t *testing.T) *enterprise.Verification {
			v := started(t, operator())
			mustOK(t, v.RequestTransfer(transferRequest("tr1", 37), t0))
			mustOK(t, v.TransferRemitFailed("tr1", "closed", t0))
			return v
		}, scan, t0.Add(time.Minute), kernel.KindPrecondition, "transfer-remit-failed", false},
		{"no scan", func(t *testing.T) *enterprise.Verification { return remitted(t, 37) }, "", remittedAt.Add(time.Hour), kernel.KindInvalid, "authorization-letter-scan-required", false},
		{"exactly 7 days after the remittance", func(t *testing.T) *enterprise.Verification { return remitted(t, 37) }, scan, remittedAt.Add(ttl), kernel.KindPrecondition, "transfer-expired", true},
		{"expired, no scan", func(t *testing.T) *enterprise.Verification { return remitted(t, 37) }, "", remittedAt.Add(ttl + time.Hour), kernel.KindPrecondition, "transfer-expired", true},
		{"superseded", func(t *testing.T) *enterprise.Verification {
			v := remitted(t, 37)
			v.Supersede(t0.Add(2 * time.Hour))
			return v
		}, scan, remittedAt.Add(time.Hour), kernel.KindConflict, "enterprise-already-verified", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := tc.v(t)
			v.PullEvents()
			before := v.Snapshot()
			wantErr(t, v.ConfirmTransfer(kernel.Fen(37), tc.scan, tc.at), tc.kind, tc.code)
			if !tc.state {
				unchanged(t, v, before)
				return
			}
			if tr := v.Transfer(); tr.Status != enterprise.TransferFailed || tr.FailureReason == "" {
				t.Fatalf("transfer %+v", tr)
			}
			// Failed for good: even the right amount in time is refused now.
			wantErr(t, v.ConfirmTransfer(kernel.Fen(37), scan, remittedAt.Add(time.Hour)), kernel.KindPrecondition, "transfer-failed")
		})
	}
}

func TestConfirmTransfer(t *testing.T) {
	remittedAt := t0.Add(time.Hour)
	t.Run("the right amount a microsecond before 7 days", func(t *testing.T) {
		v := remitted(t, 37)
		now := remittedAt.Add(enterprise.TransferConfirmTTL - time.Microsecond)
		mustOK(t, v.ConfirmTransfer(kernel.Fen(37), scan, now))
		if tr := v.Transfer(); tr.Status != enterprise.TransferConfirmed || tr.ScanFileID != scan || tr.WrongTries != 0 {
			t.Fatalf("transfer %+v", tr)
		}
		if !v.ReadyToComplete() {
			t.Fatal("not ready")
		}
		evs := v.PullEvents()
		ev, ok := evs[0].(enterprise.BankTransferConfirmed)
		if len(evs) != 1 || !ok || ev.VerificationID != vid || ev.TransferID != "tr1" || !ev.At.Equal(now) {
			t.Fatalf("events %#v", evs)
		}
		before := v.Snapshot()
		wantErr(t, v.ConfirmTransfer(kernel.Fen(37), scan, now), kernel.KindConflict, "verification-finished")
		unchanged(t, v, before)
	})
	t.Run("three wrong amounts fail the transfer", func(t *testing.T) {
		v := remitted(t, 37)
		for i, want := range []struct {
			kind kernel.Kind
			code string
			left int
		}{
			{kernel.KindInvalid, "transfer-amount-wrong", 2},
			{kernel.KindInvalid, "transfer-amount-wrong", 1},
			{kernel.KindPrecondition, "transfer-failed", 0},
		} {
			e := kernelErr(t, v.ConfirmTransfer(kernel.Fen(73), scan, remittedAt.Add(time.Duration(i+1)*time.Minute)), want.kind, want.code)
			if e.Details["attempts_left"] != want.left {
				t.Errorf("try %d: attempts_left %v, want %d", i+1, e.Details["attempts_left"], want.left)
			}
			if tr := v.Transfer(); tr.WrongTries != i+1 {
				t.Errorf("try %d: wrong tries %d", i+1, tr.WrongTries)
			}
		}
		if tr := v.Transfer(); tr.Status != enterprise.TransferFailed || tr.FailureReason != "3 wrong amounts" {
			t.Fatalf("transfer %+v", tr)
		}
		if evs := v.PullEvents(); len(evs) != 0 {
			t.Fatalf("events %v", eventNames(evs))
		}
		before := v.Snapshot()
		wantErr(t, v.ConfirmTransfer(kernel.Fen(37), scan, remittedAt.Add(time.Hour)), kernel.KindPrecondition, "transfer-failed")
		unchanged(t, v, before)
		if v.ReadyToComplete() {
			t.Fatal("ready after a failed transfer")
		}
	})
	t.Run("two wrong amounts, then the right one", func(t *testing.T) {
		v := remitted(t, 37)
		_ = v.ConfirmTransfer(kernel.Fen(36), scan, remittedAt)
		_ = v.ConfirmTransfer(kernel.Fen(38), scan, remittedAt)
		mustOK(t, v.ConfirmTransfer(kernel.Fen(37), scan, remittedAt))
		if tr := v.Transfer(); tr.Status != enterprise.TransferConfirmed || tr.WrongTries != 2 {
			t.Fatalf("transfer %+v", tr)
		}
	})
}
