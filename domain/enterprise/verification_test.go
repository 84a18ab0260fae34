package enterprise_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/shuxinqian/server/domain/enterprise"
	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/kernel/kerneltest"
)

// t0 is 10:00 in China Standard Time, the zone the daily limits count in.
var t0 = time.Date(2026, 11, 26, 2, 0, 0, 0, time.UTC)

// cstMidnight is the next CST midnight after t0 (2026-11-27 00:00 CST).
var cstMidnight = time.Date(2026, 11, 26, 16, 0, 0, 0, time.UTC)

const (
	vid      kernel.VerificationID = "01HVERIFICATION"
	eid      kernel.EnterpriseID   = "01HENTERPRISE"
	opUser   kernel.UserID         = "01HOPERATOR"
	opName                         = "张三"
	opID     kernel.IDNumber       = "440306199002154562"
	repName                        = "王五"
	repID    kernel.IDNumber       = "110101198001011232"
	repPhone kernel.Phone          = "13912345678"
	newPhone kernel.Phone          = "13787654321"
	entName                        = "数信科技有限公司"
	credit   kernel.CreditCode     = "91110108MA01ABCDEN"
	licence  kernel.FileID         = "01HLICENCE"
	scan     kernel.FileID         = "01HSCAN"
	account                        = "6222020200112233445"
)

// tok is a link token of 43 characters (256 bits, base64url), distinct per n.
func tok(n int) string { return fmt.Sprintf("tok-%039d", n) }

// wantErr asserts the kind and the stable code of err.
func wantErr(t *testing.T, err error, kind kernel.Kind, code string) {
	t.Helper()
	_ = kerneltest.WantErr(t, err, kind, code)
}

// kernelErr is wantErr returning the error, for its details and retry-after.
func kernelErr(t *testing.T, err error, kind kernel.Kind, code string) *kernel.Error {
	t.Helper()
	if err == nil {
		t.Fatalf("error = nil, want %v/%q", kind, code)
	}
	if got := kernel.KindOf(err); got != kind {
		t.Errorf("KindOf(%v) = %v, want %v", err, got, kind)
	}
	if got := kernel.CodeOf(err); got != code {
		t.Errorf("CodeOf(%v) = %q, want %q", err, got, code)
	}
	var e *kernel.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not a *kernel.Error", err, err)
	}
	return e
}

func mustOK(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
}

// unchanged asserts that a refused call left the verification as it was.
func unchanged(t *testing.T, v *enterprise.Verification, before enterprise.Snapshot) {
	t.Helper()
	if after := v.Snapshot(); !reflect.DeepEqual(before, after) {
		t.Errorf("state changed on refusal:\nbefore %+v\nafter  %+v", before, after)
	}
	if ev := v.PullEvents(); len(ev) != 0 {
		t.Errorf("events recorded on refusal: %#v", ev)
	}
}

func operator() enterprise.Initiator {
	return enterprise.Initiator{UserID: opUser, Name: opName, IDNumber: opID, Verified: true}
}

func legalRep() enterprise.Initiator {
	return enterprise.Initiator{UserID: opUser, Name: repName, IDNumber: repID, Verified: true}
}

func params(in enterprise.Initiator) enterprise.StartParams {
	return enterprise.StartParams{ID: vid, Initiator: in, EnterpriseName: entName, CreditCode: credit, LegalRepName: repName,
		LegalRepIDNumber: repID, LegalRepPhone: repPhone, LicenceFileID: licence, AgreementAccepted: true}
}

// started opens a verification at t0 and drains its events.
func started(t *testing.T, in enterprise.Initiator) *enterprise.Verification {
	t.Helper()
	v, err := enterprise.Start(params(in), t0)
	mustOK(t, err)
	v.PullEvents()
	return v
}

// withLink is an operator's verification whose first link tok(1) was issued at t0.
func withLink(t *testing.T) *enterprise.Verification {
	t.Helper()
	v := started(t, operator())
	mustOK(t, v.IssueLink(tok(1), t0))
	v.PullEvents()
	return v
}

// linkReady is withLink with the phone proved and the face check "sess1" passed.
func linkReady(t *testing.T) *enterprise.Verification {
	t.Helper()
	v := withLink(t)
	mustOK(t, v.LinkPhoneVerified(tok(1), t0.Add(time.Minute)))
	mustOK(t, v.LinkLivenessStarted(tok(1), "sess1", "https://face.test/sess1", t0.Add(2*time.Minute)))
	mustOK(t, v.LinkLivenessPassed(tok(1), "sess1", t0.Add(3*time.Minute)))
	v.PullEvents()
	return v
}

func signing(channel string) enterprise.Signing {
	return enterprise.Signing{LetterKey: "verifications/v/letter-pdf", SignatureKey: "verifications/v/letter-p7s",
		LetterSHA256: strings.Repeat("ab", 32), CertSerial: "0a1b", CertDER: []byte{0x30, 0x82, 0x01},
		Evidence: enterprise.Evidence{Channel: channel, OTPVerifiedAt: t0, IP: "10.0.0.1", UserAgent: "test"}}
}

// signed is a legal rep's verification signed in the app.
func signed(t *testing.T) *enterprise.Verification {
	t.Helper()
	v := started(t, legalRep())
	mustOK(t, v.Sign(signing("app"), "", t0.Add(time.Minute)))
	v.PullEvents()
	return v
}

func eventNames(evs []kernel.Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.EventName()
	}
	return out
}

func TestStartDecidesTheRole(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   enterprise.Initiator
		want enterprise.Role
	}{
		{"same name and ID number: legal rep", legalRep(), enterprise.RoleLegalRep},
		{"other person: operator", operator(), enterprise.RoleOperator},
		{"same name, other ID number: operator", enterprise.Initiator{UserID: opUser, Name: repName, IDNumber: opID, Verified: true}, enterprise.RoleOperator},
		{"same ID number, other name: operator", enterprise.Initiator{UserID: opUser, Name: opName, IDNumber: repID, Verified: true}, enterprise.RoleOperator},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now := time.Date(2026, 11, 26, 10, 0, 0, 123456789, time.FixedZone("CST", 8*3600))
			v, err := enterprise.Start(params(tc.in), now)
			mustOK(t, err)
			if v.Role() != tc.want {
				t.Fatalf("role %s, want %s", v.Role(), tc.want)
			}
			if v.Status() != enterprise.StatusInProgress || v.Method() != enterprise.MethodLegalRepAuthorization ||
				v.ID() != vid || v.InitiatorID() != opUser || v.EnterpriseName() != entName || v.CreditCode() != credit ||
				v.LegalRepName() != repName || v.LegalRepIDNumber() != repID || v.LegalRepPhone() != repPhone ||
				v.LicenceFileID() != licence || v.EnterpriseID() != "" || v.Signing() != nil || v.Transfer() != nil || v.CurrentLink() != nil {
				t.Fatalf("verification %+v", v.Snapshot())
			}
			want := kernel.OccurredAt(now)
			if !v.CreatedAt().Equal(want) || v.CreatedAt().Location() != time.UTC || v.CreatedAt().Nanosecond()%1000 != 0 {
				t.Errorf("created at %v, want %v in UTC to the microsecond", v.CreatedAt(), want)
			}
			evs := v.PullEvents()
			if len(evs) != 1 {
				t.Fatalf("events %v", eventNames(evs))
			}
			ev, ok := evs[0].(enterprise.VerificationStarted)
			if !ok || ev.VerificationID != vid || ev.InitiatorID != opUser || ev.Role != tc.want || ev.CreditCode != credit || !ev.At.Equal(want) {
				t.Fatalf("event %#v", evs[0])
			}
			if ev.EventName() != "enterprise.verification_started" {
				t.Errorf("event name %q", ev.EventName())
			}
		})
	}
}

func TestStartRefusals(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(p *enterprise.StartParams)
		kind   kernel.Kind
		code   string
	}{
		{"unverified initiator", func(p *enterprise.StartParams) { p.Initiator.Verified = false }, kernel.KindForbidden, "real-name-required"},
		{"unverified wins over every other fault", func(p *enterprise.StartParams) { *p = enterprise.StartParams{} }, kernel.KindForbidden, "real-name-required"},
		{"agreement not accepted", func(p *enterprise.StartParams) { p.AgreementAccepted = false }, kernel.KindInvalid, "agreement-required"},
		{"no id", func(p *enterprise.StartParams) { p.ID = "" }, kernel.KindInvalid, "verification-incomplete"},
		{"no enterprise name", func(p *enterprise.StartParams) { p.EnterpriseName = "" }, kernel.KindInvalid, "verification-incomplete"},
		{"no credit code", func(p *enterprise.StartParams) { p.CreditCode = "" }, kernel.KindInvalid, "verification-incomplete"},
		{"no legal rep name", func(p *enterprise.StartParams) { p.LegalRepName = "" }, kernel.KindInvalid, "verification-incomplete"},
		{"no legal rep ID number", func(p *enterprise.StartParams) { p.LegalRepIDNumber = "" }, kernel.KindInvalid, "id-number-format"},
		{"no legal rep phone", func(p *enterprise.StartParams) { p.LegalRepPhone = "" }, kernel.KindInvalid, "phone-invalid"},
		{"no business licence", func(p *enterprise.StartParams) { p.LicenceFileID = "" }, kernel.KindInvalid, "business-licence-required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := params(operator())
			tc.change(&p)
			v, err := enterprise.Start(p, t0)
			wantErr(t, err, tc.kind, tc.code)
			if v != nil {
				t.Fatalf("verification returned with the error: %+v", v.Snapshot())
			}
		})
	}
}

func TestIssueLink(t *testing.T) {
	v := started(t, operator())
	mustOK(t, v.IssueLink(tok(1), t0))
	l := v.CurrentLink()
	if l == nil || l.Token != tok(1) || l.Phone != repPhone || !l.IssuedAt.Equal(t0) || !l.ExpiresAt.Equal(t0.Add(7*24*time.Hour)) ||
		!l.UsedAt.IsZero() || !l.RevokedAt.IsZero() || !l.PhoneVerifiedAt.IsZero() {
		t.Fatalf("link %+v", l)
	}
	evs := v.PullEvents()
	ev, ok := evs[0].(enterprise.AuthorizationLinkIssued)
	if len(evs) != 1 || !ok || ev.VerificationID != vid || !ev.ExpiresAt.Equal(l.ExpiresAt) || !ev.At.Equal(t0) {
		t.Fatalf("events %#v", evs)
	}
	// The returned link is a copy.
	l.Token = "changed"
	if v.CurrentLink().Token != tok(1) || v.Links()[0].Token != tok(1) {
		t.Fatal("CurrentLink shares the aggregate's state")
	}
}

func TestIssueLinkRefusals(t *testing.T) {
	bank := func(t *testing.T) *enterprise.Verification {
		v := started(t, operator())
		mustOK(t, v.RequestTransfer(transferRequest("tr1", 37), t0))
		v.PullEvents()
		return v
	}
	verified := func(t *testing.T) *enterprise.Verification {
		v := linkReady(t)
		mustOK(t, v.Sign(signing("link"), tok(1), t0.Add(4*time.Minute)))
		mustOK(t, v.Complete(eid, t0.Add(4*time.Minute)))
		v.PullEvents()
		return v
	}
	superseded := func(t *testing.T) *enterprise.Verification {
		v := withLink(t)
		v.Supersede(t0.Add(time.Minute))
		return v
	}
	for _, tc := range []struct {
		name  string
		v     func(t *testing.T) *enterprise.Verification
		token string
		at    time.Duration
		kind  kernel.Kind
		code  string
	}{
		{"the legal rep signs in the app", func(t *testing.T) *enterprise.Verification { return started(t, legalRep()) }, tok(2), time.Hour, kernel.KindPrecondition, "authorization-link-not-needed"},
		{"bank transfer chosen", bank, tok(2), time.Hour, kernel.KindPrecondition, "verification-method-mismatch"},
		{"verified", verified, tok(2), time.Hour, kernel.KindConflict, "verification-finished"},
		{"superseded", superseded, tok(2), time.Hour, kernel.KindConflict, "enterprise-already-verified"},
		{"token of 31 characters", func(t *testing.T) *enterprise.Verification { return started(t, operator()) }, strings.Repeat("x", 31), 0, kernel.KindInvalid, "authorization-link-token-weak"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := tc.v(t)
			before := v.Snapshot()
			wantErr(t, v.IssueLink(tc.token, t0.Add(tc.at)), tc.kind, tc.code)
			unchanged(t, v, before)
		})
	}
	t.Run("token of 32 characters is enough", func(t *testing.T) {
		v := started(t, operator())
		mustOK(t, v.IssueLink(strings.Repeat("x", 32), t0))
	})
}

func TestLinkResendInterval(t *testing.T) {
	for _, tc := range []struct {
		name    string
		elapsed time.Duration
		ok      bool
	}{
		{"at once", 0, false},
		{"after 59 s", 59 * time.Second, false},
		{"a microsecond before 60 s", 60*time.Second - time.Microsecond, false},
		{"after exactly 60 s", 60 * time.Second, true},
		{"after 61 s", 61 * time.Second, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := withLink(t)
			now := t0.Add(tc.elapsed)
			if !tc.ok {
				before := v.Snapshot()
				wantErr(t, v.CanSendLink(now), kernel.KindRateLimited, "authorization-link-resend-too-soon")
				e := kernelErr(t, v.IssueLink(tok(2), now), kernel.KindRateLimited, "authorization-link-resend-too-soon")
				if e.RetryAfter <= 0 || t0.Add(enterprise.LinkResendInterval).After(now.Add(e.RetryAfter)) {
					t.Errorf("retry after %v: too early to resend", e.RetryAfter)
				}
				unchanged(t, v, before)
				return
			}
			mustOK(t, v.CanSendLink(now))
			mustOK(t, v.IssueLink(tok(2), now))
			links := v.Links()
			if len(links) != 2 || !links[0].RevokedAt.Equal(now) || links[1].Token != tok(2) || !links[1].RevokedAt.IsZero() {
				t.Fatalf("links %+v", links)
			}
			wantErr(t, func() error { _, err := v.OpenLink(tok(1), now); return err }(), kernel.KindGone, "authorization-link-revoked")
			if _, err := v.OpenLink(tok(2), now); err != nil {
				t.Fatalf("new link: %v", err)
			}
		})
	}
}

// The Retry-After of a refused resend is the time left, rounded up to a second.
func TestLinkResendRetryAfterIsTheTimeLeft(t *testing.T) {
	for _, tc := range []struct {
		elapsed, want time.Duration
	}{
		{0, 60 * time.Second},
		{30 * time.Second, 30 * time.Second},
		{59 * time.Second, time.Second},
		{59*time.Second + 500*time.Millisecond, time.Second},
		{30*time.Second + 200*time.Millisecond, 30 * time.Second},
	} {
		v := withLink(t)
		e := kernelErr(t, v.CanSendLink(t0.Add(tc.elapsed)), kernel.KindRateLimited, "authorization-link-resend-too-soon")
		if e.RetryAfter != tc.want {
			t.Errorf("after %v: retry after %v, want %v", tc.elapsed, e.RetryAfter, tc.want)
		}
	}
}

func TestLinkDailyLimit(t *testing.T) {
	v := started(t, operator())
	for i := range enterprise.LinkSendsPerDay {
		mustOK(t, v.IssueLink(tok(i+1), t0.Add(time.Duration(i)*time.Minute)))
	}
	v.PullEvents()
	for _, now := range []time.Time{t0.Add(10 * time.Minute), cstMidnight.Add(-time.Second)} {
		before := v.Snapshot()
		e := kernelErr(t, v.CanSendLink(now), kernel.KindRateLimited, "authorization-link-daily-limit")
		if e.RetryAfter <= 0 {
			t.Errorf("retry after %v", e.RetryAfter)
		}
		wantErr(t, v.IssueLink(tok(99), now), kernel.KindRateLimited, "authorization-link-daily-limit")
		// A phone change sends at once, but within the daily limit too.
		wantErr(t, v.ChangeLegalRepPhone(newPhone, tok(99), now), kernel.KindRateLimited, "authorization-link-daily-limit")
		unchanged(t, v, before)
	}
	// The day is the CST calendar day: at CST midnight the count starts again.
	mustOK(t, v.IssueLink(tok(11), cstMidnight))
	if l := v.CurrentLink(); l.Token != tok(11) {
		t.Fatalf("link %+v", l)
	}
	for i := 1; i < enterprise.LinkSendsPerDay; i++ {
		mustOK(t, v.IssueLink(tok(11+i), cstMidnight.Add(time.Duration(i)*time.Minute)))
	}
	wantErr(t, v.IssueLink(tok(99), cstMidnight.Add(time.Hour)), kernel.KindRateLimited, "authorization-link-daily-limit")
}

func TestChangeLegalRepPhone(t *testing.T) {
	t.Run("revokes the old link and sends a new one at once", func(t *testing.T) {
		v := withLink(t)
		now := t0.Add(time.Second) // no 60 s wait for a correction
		mustOK(t, v.ChangeLegalRepPhone(newPhone, tok(2), now))
		if v.LegalRepPhone() != newPhone {
			t.Fatalf("phone %s", v.LegalRepPhone())
		}
		links := v.Links()
		if len(links) != 2 || !links[0].RevokedAt.Equal(now) || links[0].Phone != repPhone ||
			links[1].Phone != newPhone || links[1].Token != tok(2) || !links[1].ExpiresAt.Equal(now.Add(enterprise.LinkTTL)) {
			t.Fatalf("links %+v", links)
		}
		wantErr(t, func() error { _, err := v.OpenLink(tok(1), now); return err }(), kernel.KindGone, "authorization-link-revoked")
		if _, err := v.OpenLink(tok(2), now); err != nil {
			t.Fatal(err)
		}
		names := eventNames(v.PullEvents())
		if !reflect.DeepEqual(names, []string{"enterprise.authorization_link_issued", "enterprise.legal_rep_phone_changed"}) {
			t.Fatalf("events %v", names)
		}
	})
	t.Run("a link whose phone is no longer the legal rep's is revoked", func(t *testing.T) {
		v := withLink(t)
		s := v.Snapshot()
		s.LegalRepPhone = newPhone // e.g. a link left unrevoked by an older version
		v = enterprise.FromSnapshot(s)
		wantErr(t, func() error { _, err := v.OpenLink(tok(1), t0); return err }(), kernel.KindGone, "authorization-link-revoked")
	})
	for _, tc := range []struct {
		name  string
		v     func(t *testing.T) *enterprise.Verification
		phone kernel.Phone
		token string
		kind  kernel.Kind
		code  string
	}{
		{"no phone", withLink, "", tok(2), kernel.KindInvalid, "phone-invalid"},
		{"same phone", withLink, repPhone, tok(2), kernel.KindInvalid, "legal-rep-phone-unchanged"},
		{"legal rep initiated", func(t *testing.T) *enterprise.Verification { return started(t, legalRep()) }, newPhone, tok(2), kernel.KindPrecondition, "authorization-link-not-needed"},
		{"weak token", withLink, newPhone, "short", kernel.KindInvalid, "authorization-link-token-weak"},
		{"superseded", func(t *testing.T) *enterprise.Verification {
			v := withLink(t)
			v.Supersede(t0)
			return v
		}, newPhone, tok(2), kernel.KindConflict, "enterprise-already-verified"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := tc.v(t)
			before := v.Snapshot()
			wantErr(t, v.ChangeLegalRepPhone(tc.phone, tc.token, t0.Add(time.Hour)), tc.kind, tc.code)
			unchanged(t, v, before)
		})
	}
}

// A verification that switched to the bank transfer has no use for a signing link.
func TestChangeLegalRepPhoneAfterBankTransferSendsNoLink(t *testing.T) {
	v := withLink(t)
	mustOK(t, v.RequestTransfer(transferRequest("tr1", 37), t0.Add(time.Minute)))
	v.PullEvents()
	before := v.Snapshot()
	wantErr(t, v.ChangeLegalRepPhone(newPhone, tok(2), t0.Add(time.Hour)), kernel.KindPrecondition, "verification-method-mismatch")
	unchanged(t, v, before)
}

func TestOpenLink(t *testing.T) {
	ttl := enterprise.LinkTTL
	for _, tc := range []struct {
		name  string
		v     func(t *testing.T) *enterprise.Verification
		token string
		at    time.Duration
		kind  kernel.Kind
		code  string // "" for a live link
	}{
		{"live", withLink, tok(1), time.Hour, 0, ""},
		{"a microsecond before 7 days", withLink, tok(1), ttl - time.Microsecond, 0, ""},
		{"exactly 7 days", withLink, tok(1), ttl, kernel.KindGone, "authorization-link-expired"},
		{"after 7 days", withLink, tok(1), ttl + time.Hour, kernel.KindGone, "authorization-link-expired"},
		{"unknown token", withLink, tok(9), time.Hour, kernel.KindNotFound, "authorization-link-not-found"},
		{"empty token", withLink, "", time.Hour, kernel.KindNotFound, "authorization-link-not-found"},
		{"no link issued", func(t *testing.T) *enterprise.Verification { return started(t, operator()) }, tok(1), 0, kernel.KindNotFound, "authorization-link-not-found"},
		{"used", func(t *testing.T) *enterprise.Verification {
			v := linkReady(t)
			mustOK(t, v.Sign(signing("link"), tok(1), t0.Add(4*time.Minute)))
			return v
		}, tok(1), time.Hour, kernel.KindGone, "authorization-link-used"},
		{"used wins over expired", func(t *testing.T) *enterprise.Verification {
			v := linkReady(t)
			mustOK(t, v.Sign(signing("link"), tok(1), t0.Add(4*time.Minute)))
			return v
		}, tok(1), ttl + time.Hour, kernel.KindGone, "authorization-link-used"},
		{"verification verified", func(t *testing.T) *enterprise.Verification {
			v := linkReady(t)
			mustOK(t, v.Sign(signing("link"), tok(1), t0.Add(4*time.Minute)))
			mustOK(t, v.Complete(eid, t0.Add(4*time.Minute)))
			return v
		}, tok(1), time.Hour, kernel.KindGone, "authorization-link-used"},
		{"revoked by a resend", func(t *testing.T) *enterprise.Verification {
			v := withLink(t)
			mustOK(t, v.IssueLink(tok(2), t0.Add(time.Minute)))
			return v
		}, tok(1), time.Hour, kernel.KindGone, "authorization-link-revoked"},
		{"revoked wins over expired", func(t *testing.T) *enterprise.Verification {
			v := withLink(t)
			mustOK(t, v.IssueLink(tok(2), t0.Add(time.Minute)))
			return v
		}, tok(1), ttl + time.Hour, kernel.KindGone, "authorization-link-revoked"},
		{"revoked by the bank transfer", func(t *testing.T) *enterprise.Verification {
			v := withLink(t)
			mustOK(t, v.RequestTransfer(transferRequest("tr1", 37), t0.Add(time.Minute)))
			return v
		}, tok(1), time.Hour, kernel.KindGone, "authorization-link-revoked"},
		{"verification superseded", func(t *testing.T) *enterprise.Verification {
			v := withLink(t)
			v.Supersede(t0.Add(time.Minute))
			return v
		}, tok(1), time.Hour, kernel.KindGone, "authorization-link-revoked"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := tc.v(t)
			v.PullEvents()
			before := v.Snapshot()
			l, err := v.OpenLink(tc.token, t0.Add(tc.at))
			if tc.code == "" {
				mustOK(t, err)
				if l == nil || l.Token != tc.token {
					t.Fatalf("link %+v", l)
				}
				return
			}
			wantErr(t, err, tc.kind, tc.code)
			if l != nil {
				t.Errorf("link returned with the error: %+v", l)
			}
			unchanged(t, v, before)
		})
	}
	// The sentinels carry the kinds the HTTP adapter maps to 404 and 410.
	for _, e := range []struct {
		err  error
		kind kernel.Kind
	}{{enterprise.ErrLinkNotFound, kernel.KindNotFound}, {enterprise.ErrLinkExpired, kernel.KindGone},
		{enterprise.ErrLinkUsed, kernel.KindGone}, {enterprise.ErrLinkRevoked, kernel.KindGone}} {
		if kernel.KindOf(e.err) != e.kind {
			t.Errorf("%v: kind %v, want %v", e.err, kernel.KindOf(e.err), e.kind)
		}
	}
}

func TestLinkSteps(t *testing.T) {
	v := withLink(t)
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }

	// Face check before the phone is proved.
	before := v.Snapshot()
	wantErr(t, v.LinkLivenessStarted(tok(1), "sess1", "u", at(1)), kernel.KindPrecondition, "link-phone-not-verified")
	wantErr(t, v.CanSignByLink(tok(1), at(1)), kernel.KindPrecondition, "link-phone-not-verified")
	unchanged(t, v, before)

	mustOK(t, v.LinkPhoneVerified(tok(1), at(1)))
	if l := v.CurrentLink(); !l.PhoneVerifiedAt.Equal(at(1)) {
		t.Fatalf("link %+v", l)
	}
	wantErr(t, v.CanSignByLink(tok(1), at(1)), kernel.KindPrecondition, "link-liveness-required")

	mustOK(t, v.LinkLivenessStarted(tok(1), "sess1", "https://face.test/sess1", at(2)))
	if l := v.CurrentLink(); l.LivenessSession != "sess1" || l.LivenessURL != "https://face.test/sess1" || !l.LivenessPassed.IsZero() {
		t.Fatalf("link %+v", l)
	}
	wantErr(t, v.CanSignByLink(tok(1), at(2)), kernel.KindPrecondition, "link-liveness-required")

	// A result for another session is refused.
	before = v.Snapshot()
	wantErr(t, v.LinkLivenessPassed(tok(1), "sess0", at(3)), kernel.KindConflict, "liveness-session-mismatch")
	unchanged(t, v, before)

	// A failure clears the face check; it can start again.
	mustOK(t, v.LinkLivenessFailed(tok(1), at(3)))
	if l := v.CurrentLink(); l.LivenessSession != "" || l.LivenessURL != "" || !l.LivenessPassed.IsZero() || l.PhoneVerifiedAt.IsZero() {
		t.Fatalf("link %+v", l)
	}
	wantErr(t, v.LinkLivenessPassed(tok(1), "sess1", at(4)), kernel.KindConflict, "liveness-session-mismatch")

	mustOK(t, v.LinkLivenessStarted(tok(1), "sess2", "https://face.test/sess2", at(4)))
	mustOK(t, v.LinkLivenessPassed(tok(1), "sess2", at(5)))
	if l := v.CurrentLink(); !l.LivenessPassed.Equal(at(5)) {
		t.Fatalf("link %+v", l)
	}
	mustOK(t, v.CanSignByLink(tok(1), at(5)))

	// A new face check clears the pass.
	mustOK(t, v.LinkLivenessStarted(tok(1), "sess3", "https://face.test/sess3", at(6)))
	wantErr(t, v.CanSignByLink(tok(1), at(6)), kernel.KindPrecondition, "link-liveness-required")
	mustOK(t, v.LinkLivenessPassed(tok(1), "sess3", at(7)))
	mustOK(t, v.CanSignByLink(tok(1), at(7)))

	// Every step goes through OpenLink: a dead link refuses them all.
	dead := v.CurrentLink().ExpiresAt
	before = v.Snapshot()
	wantErr(t, v.LinkPhoneVerified(tok(1), dead), kernel.KindGone, "authorization-link-expired")
	wantErr(t, v.LinkLivenessStarted(tok(1), "s", "u", dead), kernel.KindGone, "authorization-link-expired")
	wantErr(t, v.LinkLivenessPassed(tok(1), "sess3", dead), kernel.KindGone, "authorization-link-expired")
	wantErr(t, v.LinkLivenessFailed(tok(1), dead), kernel.KindGone, "authorization-link-expired")
	wantErr(t, v.CanSignByLink(tok(1), dead), kernel.KindGone, "authorization-link-expired")
	wantErr(t, v.Sign(signing("link"), tok(1), dead), kernel.KindGone, "authorization-link-expired")
	wantErr(t, v.LinkPhoneVerified(tok(9), at(8)), kernel.KindNotFound, "authorization-link-not-found")
	unchanged(t, v, before)
}

// A face check pass needs a face check: no session, no pass.
func TestLinkLivenessPassedNeedsASession(t *testing.T) {
	v := withLink(t)
	mustOK(t, v.LinkPhoneVerified(tok(1), t0.Add(time.Minute)))
	before := v.Snapshot()
	wantErr(t, v.LinkLivenessPassed(tok(1), "", t0.Add(2*time.Minute)), kernel.KindConflict, "liveness-session-mismatch")
	unchanged(t, v, before)
}

func TestSignInApp(t *testing.T) {
	t.Run("the legal rep initiator signs", func(t *testing.T) {
		v := started(t, legalRep())
		mustOK(t, v.CanSignInApp(opUser))
		now := t0.Add(time.Minute + 500*time.Nanosecond)
		mustOK(t, v.Sign(signing("app"), "", now))
		s := v.Signing()
		if s == nil || !s.SignedAt.Equal(kernel.OccurredAt(now)) || s.LetterSHA256 != strings.Repeat("ab", 32) || s.Evidence.Channel != "app" {
			t.Fatalf("signing %+v", s)
		}
		if !v.ReadyToComplete() {
			t.Fatal("not ready after signing")
		}
		evs := v.PullEvents()
		ev, ok := evs[0].(enterprise.AuthorizationLetterSigned)
		if len(evs) != 1 || !ok || ev.VerificationID != vid || ev.Channel != "app" || ev.LetterSHA256 != s.LetterSHA256 {
			t.Fatalf("events %#v", evs)
		}
		before := v.Snapshot()
		wantErr(t, v.CanSignInApp(opUser), kernel.KindConflict, "verification-finished")
		wantErr(t, v.Sign(signing("app"), "", now), kernel.KindConflict, "verification-finished")
		unchanged(t, v, before)
	})
	for _, tc := range []struct {
		name string
		v    func(t *testing.T) *enterprise.Verification
		user kernel.UserID
		kind kernel.Kind
		code string
	}{
		{"operator initiated", withLink, opUser, kernel.KindForbidden, "legal-rep-only"},
		{"another user", func(t *testing.T) *enterprise.Verification { return started(t, legalRep()) }, "01HSOMEONE", kernel.KindForbidden, "legal-rep-only"},
		{"bank transfer", func(t *testing.T) *enterprise.Verification {
			v := started(t, legalRep())
			mustOK(t, v.RequestTransfer(transferRequest("tr1", 37), t0))
			return v
		}, opUser, kernel.KindPrecondition, "verification-method-mismatch"},
		{"superseded", func(t *testing.T) *enterprise.Verification {
			v := started(t, legalRep())
			v.Supersede(t0)
			return v
		}, opUser, kernel.KindConflict, "enterprise-already-verified"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := tc.v(t)
			v.PullEvents()
			before := v.Snapshot()
			wantErr(t, v.CanSignInApp(tc.user), tc.kind, tc.code)
			if tc.user == opUser {
				wantErr(t, v.Sign(signing("app"), "", t0.Add(time.Hour)), tc.kind, tc.code)
			}
			unchanged(t, v, before)
		})
	}
	for _, tc := range []struct {
		name   string
		change func(s *enterprise.Signing)
	}{
		{"no letter", func(s *enterprise.Signing) { s.LetterKey = "" }},
		{"no signature", func(s *enterprise.Signing) { s.SignatureKey = "" }},
		{"no digest", func(s *enterprise.Signing) { s.LetterSHA256 = "" }},
		{"no certificate", func(s *enterprise.Signing) { s.CertDER = nil }},
	} {
		t.Run("incomplete signing: "+tc.name, func(t *testing.T) {
			v := started(t, legalRep())
			s := signing("app")
			tc.change(&s)
			before := v.Snapshot()
			wantErr(t, v.Sign(s, "", t0), kernel.KindInvalid, "signing-incomplete")
			unchanged(t, v, before)
		})
	}
}

func TestSignByLink(t *testing.T) {
	v := linkReady(t)
	now := t0.Add(4 * time.Minute)
	mustOK(t, v.Sign(signing("link"), tok(1), now))
	if l := v.CurrentLink(); !l.UsedAt.Equal(now) {
		t.Fatalf("link not used: %+v", l)
	}
	if s := v.Signing(); s == nil || s.Evidence.Channel != "link" || !s.SignedAt.Equal(now) || !v.ReadyToComplete() {
		t.Fatalf("signing %+v", s)
	}
	if names := eventNames(v.PullEvents()); !reflect.DeepEqual(names, []string{"enterprise.authorization_letter_signed"}) {
		t.Fatalf("events %v", names)
	}
	before := v.Snapshot()
	wantErr(t, v.Sign(signing("link"), tok(1), now.Add(time.Second)), kernel.KindGone, "authorization-link-used")
	unchanged(t, v, before)

	t.Run("refused before the face check", func(t *testing.T) {
		v := withLink(t)
		mustOK(t, v.LinkPhoneVerified(tok(1), t0))
		v.PullEvents()
		before := v.Snapshot()
		wantErr(t, v.Sign(signing("link"), tok(1), t0.Add(time.Minute)), kernel.KindPrecondition, "link-liveness-required")
		unchanged(t, v, before)
	})
	t.Run("refused on a revoked link", func(t *testing.T) {
		v := linkReady(t)
		mustOK(t, v.ChangeLegalRepPhone(newPhone, tok(2), t0.Add(5*time.Minute)))
		v.PullEvents()
		before := v.Snapshot()
		wantErr(t, v.Sign(signing("link"), tok(1), t0.Add(6*time.Minute)), kernel.KindGone, "authorization-link-revoked")
		unchanged(t, v, before)
		// The new link starts over: phone and face check again.
		wantErr(t, v.Sign(signing("link"), tok(2), t0.Add(6*time.Minute)), kernel.KindPrecondition, "link-phone-not-verified")
	})
}

// A refused signing leaves the link usable.
func TestSignByLinkIncompleteKeepsTheLink(t *testing.T) {
	v := linkReady(t)
	s := signing("link")
	s.CertDER = nil
	before := v.Snapshot()
	wantErr(t, v.Sign(s, tok(1), t0.Add(4*time.Minute)), kernel.KindInvalid, "signing-incomplete")
	unchanged(t, v, before)
}

// The signing's certificate bytes are the aggregate's own.
func TestSigningCertificateIsCopied(t *testing.T) {
	in := signing("app")
	v := started(t, legalRep())
	mustOK(t, v.Sign(in, "", t0))
	in.CertDER[0] = 0xff
	got := v.Signing()
	if got.CertDER[0] != 0x30 {
		t.Fatal("the caller's slice is kept")
	}
	got.CertDER[0] = 0xff
	if v.Signing().CertDER[0] != 0x30 {
		t.Fatal("Signing() shares the aggregate's bytes")
	}
	s := v.Snapshot()
	s.Signing.CertDER[0] = 0xff
	if v.Signing().CertDER[0] != 0x30 {
		t.Fatal("Snapshot() shares the aggregate's bytes")
	}
	s = v.Snapshot()
	w := enterprise.FromSnapshot(s)
	s.Signing.CertDER[0] = 0xff
	if w.Signing().CertDER[0] != 0x30 {
		t.Fatal("FromSnapshot keeps the snapshot's bytes")
	}
}

func TestCompleteAndSupersede(t *testing.T) {
	t.Run("not ready", func(t *testing.T) {
		for name, v := range map[string]*enterprise.Verification{
			"nothing signed":         started(t, legalRep()),
			"link issued, unsigned":  linkReady(t),
			"transfer not confirmed": remitted(t, 37),
		} {
			if v.ReadyToComplete() {
				t.Errorf("%s: ready", name)
			}
			before := v.Snapshot()
			wantErr(t, v.Complete(eid, t0.Add(time.Hour)), kernel.KindPrecondition, "verification-not-ready")
			unchanged(t, v, before)
		}
	})
	t.Run("signed completes once", func(t *testing.T) {
		v := signed(t)
		now := t0.Add(time.Hour)
		mustOK(t, v.Complete(eid, now))
		if v.Status() != enterprise.StatusVerified || v.EnterpriseID() != eid || v.ReadyToComplete() {
			t.Fatalf("verification %+v", v.Snapshot())
		}
		evs := v.PullEvents()
		ev, ok := evs[0].(enterprise.EnterpriseVerified)
		if len(evs) != 1 || !ok || ev.VerificationID != vid || ev.EnterpriseID != eid || ev.CreditCode != credit ||
			ev.InitiatorID != opUser || ev.Role != enterprise.RoleLegalRep || ev.Method != enterprise.MethodLegalRepAuthorization || !ev.At.Equal(now) {
			t.Fatalf("events %#v", evs)
		}
		before := v.Snapshot()
		wantErr(t, v.Complete("01HOTHER", now), kernel.KindPrecondition, "verification-not-ready")
		v.Supersede(now) // a verified verification stays verified
		unchanged(t, v, before)
		wantErr(t, v.RequestTransfer(transferRequest("tr1", 37), now), kernel.KindConflict, "verification-finished")
		wantErr(t, v.CanSignInApp(opUser), kernel.KindConflict, "verification-finished")
	})
	t.Run("confirmed transfer completes", func(t *testing.T) {
		v := remitted(t, 37)
		mustOK(t, v.ConfirmTransfer(kernel.Fen(37), scan, t0.Add(2*time.Hour)))
		mustOK(t, v.Complete(eid, t0.Add(2*time.Hour)))
		evs := v.PullEvents()
		if ev, ok := evs[len(evs)-1].(enterprise.EnterpriseVerified); !ok || ev.Method != enterprise.MethodBankTransfer || ev.Role != enterprise.RoleOperator {
			t.Fatalf("events %#v", evs)
		}
	})
	t.Run("superseded", func(t *testing.T) {
		v := linkReady(t)
		now := t0.Add(time.Hour)
		v.Supersede(now)
		if v.Status() != enterprise.StatusSuperseded || v.ReadyToComplete() || !v.CurrentLink().RevokedAt.Equal(now) {
			t.Fatalf("verification %+v", v.Snapshot())
		}
		before := v.Snapshot()
		v.Supersede(now.Add(time.Hour)) // again: nothing changes
		unchanged(t, v, before)
		for name, err := range map[string]error{
			"IssueLink":           v.IssueLink(tok(2), now.Add(time.Hour)),
			"ChangeLegalRepPhone": v.ChangeLegalRepPhone(newPhone, tok(2), now),
			"RequestTransfer":     v.RequestTransfer(transferRequest("tr1", 37), now),
			"ConfirmTransfer":     v.ConfirmTransfer(kernel.Fen(37), scan, now),
			"CanSignInApp":        v.CanSignInApp(opUser),
		} {
			if kernel.KindOf(err) != kernel.KindConflict || kernel.CodeOf(err) != "enterprise-already-verified" {
				t.Errorf("%s: %v", name, err)
			}
		}
		wantErr(t, v.Sign(signing("link"), tok(1), now), kernel.KindGone, "authorization-link-revoked")
		unchanged(t, v, before)
	})
}

// TestEventsCarryNoPersonalData runs every flow and checks that no event, as JSON, names the
// legal rep, the operator, their ID numbers, the phones, the account or a link token.
func TestEventsCarryNoPersonalData(t *testing.T) {
	var evs []kernel.Event
	// Operator: link, phone change, face check, signing by link, completion.
	v, err := enterprise.Start(params(operator()), t0)
	mustOK(t, err)
	mustOK(t, v.IssueLink(tok(1), t0))
	mustOK(t, v.ChangeLegalRepPhone(newPhone, tok(2), t0.Add(time.Minute)))
	mustOK(t, v.LinkPhoneVerified(tok(2), t0.Add(2*time.Minute)))
	mustOK(t, v.LinkLivenessStarted(tok(2), "sess1", "https://face.test/sess1", t0.Add(3*time.Minute)))
	mustOK(t, v.LinkLivenessPassed(tok(2), "sess1", t0.Add(4*time.Minute)))
	mustOK(t, v.Sign(signing("link"), tok(2), t0.Add(5*time.Minute)))
	mustOK(t, v.Complete(eid, t0.Add(5*time.Minute)))
	evs = append(evs, v.PullEvents()...)
	e, err := enterprise.NewFromVerification(eid, signed(t), t0)
	mustOK(t, err)
	mustOK(t, e.IssueCertificate(orgCert(), t0))
	evs = append(evs, e.PullEvents()...)
	// Legal rep: bank transfer.
	v, err = enterprise.Start(params(legalRep()), t0)
	mustOK(t, err)
	mustOK(t, v.RequestTransfer(transferRequest("tr1", 37), t0))
	mustOK(t, v.TransferRemitted("tr1", t0.Add(time.Hour)))
	mustOK(t, v.ConfirmTransfer(kernel.Fen(37), scan, t0.Add(2*time.Hour)))
	mustOK(t, v.Complete(eid, t0.Add(2*time.Hour)))
	evs = append(evs, v.PullEvents()...)

	seen := map[string]bool{}
	for _, ev := range evs {
		seen[ev.EventName()] = true
		if !strings.HasPrefix(ev.EventName(), "enterprise.") {
			t.Errorf("event name %q", ev.EventName())
		}
		b, err := json.Marshal(ev)
		mustOK(t, err)
		for _, secret := range []string{repName, string(repID), string(repPhone), string(newPhone), account, opName, string(opID),
			tok(1), tok(2), "sess1", "10.0.0.1"} {
			if bytes.Contains(b, []byte(secret)) {
				t.Errorf("%s carries %q: %s", ev.EventName(), secret, b)
			}
		}
	}
	for _, name := range []string{"enterprise.verification_started", "enterprise.authorization_link_issued", "enterprise.legal_rep_phone_changed",
		"enterprise.authorization_letter_signed", "enterprise.bank_transfer_requested", "enterprise.bank_transfer_confirmed",
		"enterprise.verified", "enterprise.org_certificate_issued"} {
		if !seen[name] {
			t.Errorf("flow recorded no %s", name)
		}
	}
}

func TestVerificationSnapshotRoundTrip(t *testing.T) {
	rich := func(t *testing.T) *enterprise.Verification {
		v := linkReady(t)
		mustOK(t, v.IssueLink(tok(2), t0.Add(time.Hour)))
		mustOK(t, v.RequestTransfer(transferRequest("tr1", 37), t0.Add(2*time.Hour)))
		mustOK(t, v.TransferRemitted("tr1", t0.Add(3*time.Hour)))
		wantErr(t, v.ConfirmTransfer(kernel.Fen(38), scan, t0.Add(4*time.Hour)), kernel.KindInvalid, "transfer-amount-wrong")
		return v
	}
	for name, v := range map[string]*enterprise.Verification{
		"links and transfer": rich(t),
		"signed":             signed(t),
		"fresh":              started(t, operator()),
	} {
		t.Run(name, func(t *testing.T) {
			s := v.Snapshot()
			w := enterprise.FromSnapshot(s)
			if got := w.Snapshot(); !reflect.DeepEqual(got, s) {
				t.Fatalf("round trip:\n got %+v\nwant %+v", got, s)
			}
			if evs := w.PullEvents(); len(evs) != 0 {
				t.Fatalf("FromSnapshot recorded %v", eventNames(evs))
			}
			// The rehydrated aggregate owns its links and transfer.
			if len(s.Links) > 0 {
				s.Links[0].Token = "changed"
				if w.Links()[0].Token == "changed" {
					t.Error("FromSnapshot shares the links")
				}
				v.Snapshot().Links[0].Token = "changed"
				if v.Links()[0].Token == "changed" {
					t.Error("Snapshot shares the links")
				}
			}
			if s.Transfer != nil {
				s.Transfer.Amount = 99
				if w.Transfer().Amount == 99 {
					t.Error("FromSnapshot shares the transfer")
				}
			}
		})
	}
	t.Run("the counters survive", func(t *testing.T) {
		v := started(t, operator())
		for i := range enterprise.LinkSendsPerDay {
			mustOK(t, v.IssueLink(tok(i+1), t0.Add(time.Duration(i)*time.Minute)))
		}
		w := enterprise.FromSnapshot(v.Snapshot())
		wantErr(t, w.IssueLink(tok(99), t0.Add(time.Hour)), kernel.KindRateLimited, "authorization-link-daily-limit")
		if _, err := w.OpenLink(tok(10), t0.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	})
}
