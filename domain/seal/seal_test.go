package seal_test

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/png"
	"testing"
	"time"

	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/seal"
)

var t0 = time.Date(2026, 12, 4, 8, 0, 0, 0, time.UTC)

func newSeal(t *testing.T) *seal.Seal {
	t.Helper()
	s, err := seal.New(seal.NewParams{ID: "s1", EnterpriseID: "e1", Type: seal.TypeContract, Template: seal.TemplateRoundStar,
		ImageFileID: "f1", CreatedBy: "u-admin"}, t0)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func names(evs []kernel.Event) []string {
	var out []string
	for _, e := range evs {
		out = append(out, e.EventName())
	}
	return out
}

func TestNewValidates(t *testing.T) {
	base := seal.NewParams{ID: "s1", EnterpriseID: "e1", Type: seal.TypeOfficial, Template: seal.TemplateRoundStar, ImageFileID: "f", CreatedBy: "u"}
	for name, tc := range map[string]struct {
		mut  func(p *seal.NewParams)
		code string
	}{
		"no id":        {func(p *seal.NewParams) { p.ID = "" }, "seal-incomplete"},
		"no image":     {func(p *seal.NewParams) { p.ImageFileID = "" }, "seal-incomplete"},
		"bad type":     {func(p *seal.NewParams) { p.Type = "stamp" }, "seal-type-invalid"},
		"bad template": {func(p *seal.NewParams) { p.Template = "hexagon" }, "seal-template-invalid"},
		"long name":    {func(p *seal.NewParams) { p.Name = string(bytes.Repeat([]byte("章"), 31)) }, "seal-name-invalid"},
		"control name": {func(p *seal.NewParams) { p.Name = "公\u0000章" }, "seal-name-invalid"},
	} {
		p := base
		tc.mut(&p)
		if _, err := seal.New(p, t0); kernel.CodeOf(err) != tc.code {
			t.Errorf("%s: %v, want %s", name, err, tc.code)
		}
	}
	s, err := seal.New(base, t0)
	if err != nil {
		t.Fatal(err)
	}
	if s.Name() != "公章" || s.Status() != seal.StatusActive || s.Uploaded() {
		t.Fatalf("defaults: %q %s", s.Name(), s.Status())
	}
	if got := names(s.PullEvents()); len(got) != 1 || got[0] != "seal.created" {
		t.Fatalf("events %v", got)
	}
	up := base
	up.Template, up.Type, up.Name = seal.TemplateNone, seal.TypeFinance, "  财务章（上传） "
	s, err = seal.New(up, t0)
	if err != nil || !s.Uploaded() || s.Name() != "财务章（上传）" {
		t.Fatalf("uploaded: %v %q", err, s.Name())
	}
	if seal.TypeLegalRep.Label() != "法定代表人章" || seal.TypeOfficial.Label() != "" {
		t.Fatal("labels")
	}
}

func TestStatusRenameDelete(t *testing.T) {
	s := newSeal(t)
	s.PullEvents()
	if err := s.SetStatus(seal.StatusDisabled, "u", t0); err != nil || s.Status() != seal.StatusDisabled {
		t.Fatal(err)
	}
	if err := s.SetStatus(seal.StatusDisabled, "u", t0); err != nil {
		t.Fatal(err) // no-op
	}
	if err := s.SetStatus(seal.StatusDeleted, "u", t0); kernel.CodeOf(err) != "seal-status-invalid" {
		t.Fatalf("set deleted: %v", err)
	}
	if err := s.Rename("新名", "u", t0); err != nil || s.Name() != "新名" {
		t.Fatal(err)
	}
	if err := s.SetStatus(seal.StatusActive, "u", t0); err != nil {
		t.Fatal(err)
	}
	if got := names(s.PullEvents()); len(got) != 3 || got[0] != "seal.disabled" || got[1] != "seal.renamed" || got[2] != "seal.enabled" {
		t.Fatalf("events %v", got)
	}
	// A used seal cannot be deleted; a fresh one can, and then nothing else changes it.
	if _, err := s.GrantTo("g1", "m1", "u1", time.Time{}, "u", t0); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkUsed("u1", t0); err != nil || s.UsedCount() != 1 {
		t.Fatal(err)
	}
	if err := s.Delete("u", t0); kernel.CodeOf(err) != "seal-in-use" {
		t.Fatalf("delete used: %v", err)
	}
	f := newSeal(t)
	_, _ = f.GrantTo("g1", "m1", "u1", time.Time{}, "u", t0)
	if err := f.Delete("u", t0); err != nil || f.Status() != seal.StatusDeleted {
		t.Fatal(err)
	}
	if g, _ := f.Grant("g1"); g.State(t0) != "revoked" {
		t.Fatalf("grant of a deleted seal: %+v", g)
	}
	for _, err := range []error{f.Rename("x", "u", t0), f.SetStatus(seal.StatusActive, "u", t0), f.Delete("u", t0), f.RevokeGrant("g1", "u", t0)} {
		if kernel.CodeOf(err) != "seal-deleted" {
			t.Fatalf("after delete: %v", err)
		}
	}
	if _, err := f.Authorize("u1", t0); kernel.CodeOf(err) != "seal-deleted" {
		t.Fatal(err)
	}
}

func TestGrants(t *testing.T) {
	s := newSeal(t)
	s.PullEvents()
	if _, err := s.GrantTo("g0", "m1", "u1", t0, "u", t0); kernel.CodeOf(err) != "seal-grant-expiry-invalid" {
		t.Fatalf("past expiry: %v", err)
	}
	g, err := s.GrantTo("g1", "m1", "u1", t0.Add(time.Hour), "u", t0)
	if err != nil || g.State(t0) != "active" {
		t.Fatal(err)
	}
	if _, err := s.GrantTo("g2", "m1", "u1", time.Time{}, "u", t0); kernel.CodeOf(err) != "seal-grant-exists" {
		t.Fatalf("second grant: %v", err)
	}
	if _, err := s.Authorize("u1", t0.Add(59*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authorize("u2", t0); kernel.CodeOf(err) != "seal-not-granted" || kernel.KindOf(err) != kernel.KindForbidden {
		t.Fatalf("no grant: %v", err)
	}
	// Expired: no longer authorizes; a new grant replaces it.
	later := t0.Add(time.Hour)
	if _, err := s.Authorize("u1", later); kernel.CodeOf(err) != "seal-not-granted" {
		t.Fatalf("expired grant: %v", err)
	}
	if _, err := s.GrantTo("g2", "m1", "u1", time.Time{}, "u", later); err != nil {
		t.Fatal(err)
	}
	old, _ := s.Grant("g1")
	if old.RevokeReason != seal.ReasonReplaced || old.State(later) != "revoked" {
		t.Fatalf("replaced: %+v", old)
	}
	// Disabled seals authorize nobody.
	_ = s.SetStatus(seal.StatusDisabled, "u", later)
	if _, err := s.Authorize("u1", later); kernel.CodeOf(err) != "seal-disabled" {
		t.Fatalf("disabled: %v", err)
	}
	if err := s.MarkUsed("u1", later); kernel.CodeOf(err) != "seal-disabled" {
		t.Fatalf("use disabled: %v", err)
	}
	_ = s.SetStatus(seal.StatusActive, "u", later)
	// Revoke: at once; twice is a conflict; unknown is not found.
	if err := s.RevokeGrant("g2", "u", later); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authorize("u1", later); kernel.CodeOf(err) != "seal-not-granted" {
		t.Fatalf("revoked: %v", err)
	}
	if err := s.RevokeGrant("g2", "u", later); kernel.CodeOf(err) != "seal-grant-revoked" {
		t.Fatal(err)
	}
	if err := s.RevokeGrant("nope", "u", later); kernel.CodeOf(err) != "seal-grant-not-found" {
		t.Fatal(err)
	}
	// Removing a member ends its open grants only.
	_, _ = s.GrantTo("g3", "m2", "u2", time.Time{}, "u", later)
	_, _ = s.GrantTo("g4", "m3", "u3", time.Time{}, "u", later)
	s.PullEvents()
	if n := s.RevokeMember("m2", "u", later); n != 1 {
		t.Fatalf("revoked %d", n)
	}
	if n := s.RevokeMember("m2", "u", later); n != 0 {
		t.Fatalf("again %d", n)
	}
	if g, _ := s.Grant("g3"); g.RevokeReason != seal.ReasonMemberRemoved {
		t.Fatalf("%+v", g)
	}
	if _, err := s.Authorize("u3", later); err != nil {
		t.Fatal(err)
	}
	if got := names(s.PullEvents()); len(got) != 1 || got[0] != "seal.grant_revoked" {
		t.Fatalf("events %v", got)
	}
	if len(s.Grants()) != 4 {
		t.Fatalf("grants %d", len(s.Grants()))
	}
}

func TestSnapshotRoundTrip(t *testing.T) {
	s := newSeal(t)
	_, _ = s.GrantTo("g1", "m1", "u1", t0.Add(time.Hour), "u", t0)
	_ = s.MarkUsed("u1", t0)
	snap := s.Snapshot()
	r := seal.FromSnapshot(snap)
	if r.ID() != s.ID() || r.UsedCount() != 1 || len(r.Grants()) != 1 || r.Grants()[0] != s.Grants()[0] || r.Template() != seal.TemplateRoundStar {
		t.Fatalf("round trip %+v", r.Snapshot())
	}
	snap.Grants[0].UserID = "changed"
	if r.Grants()[0].UserID != "u1" {
		t.Fatal("FromSnapshot shares the grants slice")
	}
}

func pngOf(t *testing.T, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestCheckImage(t *testing.T) {
	red := color.NRGBA{200, 0, 0, 255}
	ring := image.NewNRGBA(image.Rect(0, 0, 200, 200))
	for y := 0; y < 200; y++ {
		for x := 0; x < 200; x++ {
			dx, dy := x-100, y-100
			if d := dx*dx + dy*dy; d < 95*95 && d > 80*80 {
				ring.Set(x, y, red)
			}
		}
	}
	if err := seal.CheckImage(pngOf(t, ring)); err != nil {
		t.Fatalf("a transparent ring: %v", err)
	}
	opaque := image.NewRGBA(image.Rect(0, 0, 200, 200))
	for i := range opaque.Pix {
		opaque.Pix[i] = 255
	}
	full := image.NewNRGBA(image.Rect(0, 0, 200, 200))
	for i := 0; i < len(full.Pix); i += 4 {
		full.Pix[i], full.Pix[i+3] = 200, 255
	}
	for name, tc := range map[string]struct {
		data []byte
		code string
	}{
		"jpeg-ish":    {[]byte("\xff\xd8\xff\xe0 not a png"), "seal-image-not-png"},
		"truncated":   {pngOf(t, ring)[:60], "seal-image-corrupt"},
		"opaque":      {pngOf(t, opaque), "seal-image-not-transparent"},
		"no clear px": {pngOf(t, full), "seal-image-not-transparent"},
		"empty":       {pngOf(t, image.NewNRGBA(image.Rect(0, 0, 200, 200))), "seal-image-empty"},
		"tiny":        {pngOf(t, image.NewNRGBA(image.Rect(0, 0, 32, 32))), "seal-image-dimensions"},
		"too wide":    {pngOf(t, image.NewNRGBA(image.Rect(0, 0, 500, 200))), "seal-image-dimensions"},
		"huge":        {hugeHeader(t), "seal-image-dimensions"},
	} {
		if err := seal.CheckImage(tc.data); kernel.CodeOf(err) != tc.code {
			t.Errorf("%s: %v, want %s", name, err, tc.code)
		}
	}
}

// hugeHeader is a PNG whose header claims 60000×60000 pixels: refused from the header alone.
func hugeHeader(t *testing.T) []byte {
	b := pngOf(t, image.NewNRGBA(image.Rect(0, 0, 1, 1)))
	// IHDR: type at 12..15, width/height at 16..23, its CRC (over type and data) at 29..32.
	b = append([]byte(nil), b...)
	copy(b[16:24], []byte{0, 0, 0xEA, 0x60, 0, 0, 0xEA, 0x60})
	binary.BigEndian.PutUint32(b[29:33], crc32.ChecksumIEEE(b[12:29]))
	return b
}
