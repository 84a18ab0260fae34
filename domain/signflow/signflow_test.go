package signflow_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/signflow"
)

var t0 = time.Date(2026, 12, 4, 8, 0, 0, 0, time.UTC)

func params() signflow.NewParams {
	return signflow.NewParams{ID: "f1", InitiatorID: "u-init", EnterpriseID: "e1", Title: "投标文件签署",
		Documents: []signflow.Document{{FileID: "doc1", Name: "投标文件.pdf"}, {FileID: "doc2"}},
		Signers: []signflow.Signer{
			{ID: "s-org", Kind: signflow.KindOrganization, Name: "福州数信科技有限公司", EnterpriseID: "e1",
				Fields: []signflow.Field{{Document: 0, Keyword: "甲方（盖章）"}}},
			{ID: "s-person", Kind: signflow.KindPerson, Name: "张三", Phone: "13800138000",
				Fields: []signflow.Field{{Document: 1, Page: 2, X: 100, Y: 200}}},
		},
		Ordered: true, ExpiresAt: t0.Add(7 * 24 * time.Hour)}
}

func newFlow(t *testing.T, mut func(p *signflow.NewParams)) *signflow.Flow {
	t.Helper()
	p := params()
	if mut != nil {
		mut(&p)
	}
	f, err := signflow.New(p, t0)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func names(evs []kernel.Event) []string {
	var out []string
	for _, e := range evs {
		out = append(out, e.EventName())
	}
	return out
}

func TestNewValidates(t *testing.T) {
	for name, tc := range map[string]struct {
		mut  func(p *signflow.NewParams)
		code string
	}{
		"no id":             {func(p *signflow.NewParams) { p.ID = "" }, "flow-incomplete"},
		"no title":          {func(p *signflow.NewParams) { p.Title = "  " }, "flow-title-invalid"},
		"long title":        {func(p *signflow.NewParams) { p.Title = strings.Repeat("标", 101) }, "flow-title-invalid"},
		"title newline":     {func(p *signflow.NewParams) { p.Title = "a\nb" }, "flow-title-invalid"},
		"no documents":      {func(p *signflow.NewParams) { p.Documents = nil }, "flow-documents-invalid"},
		"11 documents":      {func(p *signflow.NewParams) { p.Documents = make([]signflow.Document, 11) }, "flow-documents-invalid"},
		"document no file":  {func(p *signflow.NewParams) { p.Documents[1].FileID = "" }, "flow-documents-invalid"},
		"no signers":        {func(p *signflow.NewParams) { p.Signers = nil }, "flow-signers-invalid"},
		"past deadline":     {func(p *signflow.NewParams) { p.ExpiresAt = t0 }, "flow-deadline-invalid"},
		"far deadline":      {func(p *signflow.NewParams) { p.ExpiresAt = t0.Add(91 * 24 * time.Hour) }, "flow-deadline-invalid"},
		"bad kind":          {func(p *signflow.NewParams) { p.Signers[0].Kind = "robot" }, "flow-signer-kind-invalid"},
		"person no phone":   {func(p *signflow.NewParams) { p.Signers[1].Phone = "" }, "flow-signer-invalid"},
		"org no enterprise": {func(p *signflow.NewParams) { p.Signers[0].EnterpriseID = "" }, "flow-signer-invalid"},
		"no name":           {func(p *signflow.NewParams) { p.Signers[1].Name = "" }, "flow-signer-invalid"},
		"same id":           {func(p *signflow.NewParams) { p.Signers[1].ID = "s-org" }, "flow-signer-invalid"},
		"same party twice": {func(p *signflow.NewParams) {
			p.Signers = append(p.Signers, p.Signers[1])
			p.Signers[2].ID = "s-3"
		}, "flow-signer-duplicate"},
		"no fields":        {func(p *signflow.NewParams) { p.Signers[0].Fields = nil }, "flow-fields-invalid"},
		"field doc range":  {func(p *signflow.NewParams) { p.Signers[1].Fields[0].Document = 2 }, "flow-field-document-invalid"},
		"field page zero":  {func(p *signflow.NewParams) { p.Signers[1].Fields[0].Page = 0 }, "flow-field-invalid"},
		"field negative x": {func(p *signflow.NewParams) { p.Signers[1].Fields[0].X = -1 }, "flow-field-invalid"},
		"keyword and page": {func(p *signflow.NewParams) { p.Signers[0].Fields[0].Page = 1 }, "flow-field-invalid"},
		"long keyword":     {func(p *signflow.NewParams) { p.Signers[0].Fields[0].Keyword = strings.Repeat("字", 51) }, "flow-field-invalid"},
	} {
		p := params()
		p.Signers = append([]signflow.Signer(nil), p.Signers...)
		for i := range p.Signers {
			p.Signers[i].Fields = append([]signflow.Field(nil), p.Signers[i].Fields...)
		}
		p.Documents = append([]signflow.Document(nil), p.Documents...)
		tc.mut(&p)
		if _, err := signflow.New(p, t0); kernel.CodeOf(err) != tc.code {
			t.Errorf("%s: %v, want %s", name, err, tc.code)
		}
	}
	f := newFlow(t, nil)
	if f.Status() != signflow.StatusDraft || len(f.Current()) != 0 || f.Title() != "投标文件签署" {
		t.Fatalf("new flow %+v", f.Snapshot())
	}
	if got := names(f.PullEvents()); !reflect.DeepEqual(got, []string{"signflow.created"}) {
		t.Fatalf("events %v", got)
	}
}

func TestOrderedFlow(t *testing.T) {
	f := newFlow(t, nil)
	f.PullEvents()
	if err := f.Sign("s-org", "u-m", t0); kernel.CodeOf(err) != "flow-not-signing" {
		t.Fatalf("sign a draft: %v", err)
	}
	if err := f.Start("u-other", t0); kernel.CodeOf(err) != "flow-initiator-only" {
		t.Fatalf("start by another: %v", err)
	}
	if err := f.Start("u-init", t0); err != nil {
		t.Fatal(err)
	}
	if err := f.Start("u-init", t0); kernel.CodeOf(err) != "flow-not-draft" {
		t.Fatalf("start twice: %v", err)
	}
	if got := f.Current(); !reflect.DeepEqual(got, []signflow.SignerID{"s-org"}) {
		t.Fatalf("current %v", got)
	}
	// Not the person's turn yet; unknown signers are not found.
	if err := f.Sign("s-person", "u-p", t0); kernel.CodeOf(err) != "flow-not-your-turn" {
		t.Fatalf("out of turn: %v", err)
	}
	if err := f.Reject("s-person", "no", t0); kernel.CodeOf(err) != "flow-not-your-turn" {
		t.Fatalf("reject out of turn: %v", err)
	}
	if err := f.Sign("nobody", "u-p", t0); kernel.CodeOf(err) != "flow-signer-not-found" {
		t.Fatal(err)
	}
	if err := f.Sign("s-org", "u-member", t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := f.Sign("s-org", "u-member", t0.Add(time.Minute)); kernel.CodeOf(err) != "flow-already-signed" {
		t.Fatalf("sign twice: %v", err)
	}
	if got := f.Current(); !reflect.DeepEqual(got, []signflow.SignerID{"s-person"}) {
		t.Fatalf("current after the first %v", got)
	}
	if err := f.Sign("s-person", "u-p", t0.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if f.Status() != signflow.StatusCompleted || !f.EndedAt().Equal(t0.Add(2*time.Minute)) {
		t.Fatalf("completed? %s", f.Status())
	}
	evs := f.PullEvents()
	if got := names(evs); !reflect.DeepEqual(got, []string{"signflow.started", "signflow.signed", "signflow.signed", "signflow.completed"}) {
		t.Fatalf("events %v", got)
	}
	if s := evs[1].(signflow.Signed); s.SignerID != "s-org" || s.By != "u-member" || !reflect.DeepEqual(s.Next, []signflow.SignerID{"s-person"}) {
		t.Fatalf("signed event %+v", s)
	}
	signers := f.Signers()
	if signers[0].SignedBy != "u-member" || signers[1].State != signflow.SignerSigned {
		t.Fatalf("signers %+v", signers)
	}
	// Over: nothing more happens.
	for _, err := range []error{f.Revoke("u-init", "", t0), f.Expire(t0.Add(30 * 24 * time.Hour)), f.Reject("s-person", "x", t0)} {
		if kernel.CodeOf(err) != "flow-ended" {
			t.Fatalf("after completion: %v", err)
		}
	}
}

func TestParallelFlowRejectRevokeExpire(t *testing.T) {
	parallel := func(p *signflow.NewParams) { p.Ordered = false }
	f := newFlow(t, parallel)
	_ = f.Start("u-init", t0)
	if got := f.Current(); len(got) != 2 {
		t.Fatalf("parallel current %v", got)
	}
	if err := f.Sign("s-person", "u-p", t0); err != nil {
		t.Fatal(err)
	}
	if f.Status() != signflow.StatusSigning {
		t.Fatal("completed with a signer left")
	}
	f.PullEvents()
	if err := f.Reject("s-org", " ", t0); kernel.CodeOf(err) != "flow-reason-invalid" {
		t.Fatalf("empty reason: %v", err)
	}
	if err := f.Reject("s-org", "价格有误", t0); err != nil {
		t.Fatal(err)
	}
	if f.Status() != signflow.StatusRejected || f.EndReason() != "价格有误" {
		t.Fatalf("rejected? %s", f.Status())
	}
	if got := names(f.PullEvents()); !reflect.DeepEqual(got, []string{"signflow.rejected"}) {
		t.Fatalf("events %v", got)
	}
	if err := f.Sign("s-org", "u", t0); kernel.CodeOf(err) != "flow-ended" {
		t.Fatal(err)
	}

	// Revoke: the initiator only, from a draft or while signing.
	r := newFlow(t, nil)
	if err := r.Revoke("u-other", "", t0); kernel.CodeOf(err) != "flow-initiator-only" {
		t.Fatal(err)
	}
	if err := r.Revoke("u-init", "发错了", t0); err != nil || r.Status() != signflow.StatusRevoked {
		t.Fatal(err)
	}
	s := newFlow(t, nil)
	_ = s.Start("u-init", t0)
	if err := s.Revoke("u-init", "", t0); err != nil || s.Status() != signflow.StatusRevoked {
		t.Fatal(err)
	}

	// Expiry: signing past the deadline is refused (410) and the flow can be expired then,
	// not before.
	e := newFlow(t, nil)
	_ = e.Start("u-init", t0)
	due := e.ExpiresAt()
	if err := e.Expire(due.Add(-time.Second)); kernel.CodeOf(err) != "flow-not-due" {
		t.Fatal(err)
	}
	if err := e.Sign("s-org", "u", due); kernel.CodeOf(err) != "flow-expired" || kernel.KindOf(err) != kernel.KindGone {
		t.Fatalf("sign at the deadline: %v", err)
	}
	e.PullEvents()
	if err := e.Expire(due); err != nil || e.Status() != signflow.StatusExpired {
		t.Fatal(err)
	}
	if got := names(e.PullEvents()); !reflect.DeepEqual(got, []string{"signflow.expired"}) {
		t.Fatalf("events %v", got)
	}
	d := newFlow(t, nil)
	if err := d.Start("u-init", d.ExpiresAt()); kernel.CodeOf(err) != "flow-expired" {
		t.Fatalf("start an overdue draft: %v", err)
	}
}

func TestSnapshotRoundTrip(t *testing.T) {
	f := newFlow(t, nil)
	_ = f.Start("u-init", t0)
	_ = f.Sign("s-org", "u-m", t0)
	snap := f.Snapshot()
	g := signflow.FromSnapshot(snap)
	if !reflect.DeepEqual(g.Snapshot(), snap) {
		t.Fatalf("round trip\n%+v\n%+v", g.Snapshot(), snap)
	}
	snap.Signers[0].Fields[0].Keyword = "changed"
	if g.Signers()[0].Fields[0].Keyword != "甲方（盖章）" {
		t.Fatal("FromSnapshot shares the fields")
	}
	// The rehydrated flow goes on where it was.
	if err := g.Sign("s-person", "u-p", t0); err != nil || g.Status() != signflow.StatusCompleted {
		t.Fatal(err)
	}
}
