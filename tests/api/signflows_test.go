package api

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"image"
	_ "image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/digitorus/pdfsign/verify"
	"github.com/digitorus/timestamp"
	"github.com/go-pdf/fpdf"

	"github.com/shuxinqian/server/adapters/document"
	"github.com/shuxinqian/server/adapters/sqlstore"
	"github.com/shuxinqian/server/domain/kernel"
)

// bidDocument is an A4 bid document of n pages; page 2 carries the keyword 甲方（盖章）.
func bidDocument(t testing.TB, n int) []byte {
	t.Helper()
	f := fpdf.New("P", "pt", "A4", "")
	f.SetCompression(false)
	f.AddUTF8FontFromBytes("cjk", "", document.CJKFont())
	for i := 1; i <= n; i++ {
		f.AddPage()
		f.SetFont("Helvetica", "", 14)
		f.Text(72, 72, fmt.Sprintf("BIDDOC page %d", i))
		f.SetFont("cjk", "", 14)
		f.Text(72, 110, "投标文件 第"+fmt.Sprint(i)+"页")
		if i == 2 {
			f.Text(320, 600, "甲方（盖章）：")
		}
	}
	var b bytes.Buffer
	if err := f.Output(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// signer is a verified person with a signing password (and so a personal certificate).
func (s *server) signer(phone, name, seq string) string {
	s.t.Helper()
	token := s.verifiedUser(phone, name, idNumber(s.t, "440106", "19850505", seq))
	s.do("PUT", "/api/v1/me/channel", token, map[string]string{"code": "q86804"}).expect(s.t, 200, "")
	s.do("PUT", "/api/v1/me/signing-password", token, map[string]string{"password": "Sign1234x", "password_confirmation": "Sign1234x"}).
		expect(s.t, 201, "")
	return token
}

// signingEnterprise: a verified enterprise (admin on channel q86804) with its organisation
// certificate, 50 signatures bought, and a member granted the official seal.
type signingEnterprise struct {
	admin, eid, member, memberID, seal, grant string
}

func (s *server) signingEnterprise(fi int, adminPhone, memberPhone, seq string) signingEnterprise {
	s.t.Helper()
	fx := s.fixtures()[fi]
	names := []string{"甲", "乙", "丙"}
	memberName := "经办" + names[fi]
	admin, eid := s.orderSetup(fi, adminPhone, "管理"+names[fi], seq+"1")
	s.orgCertificate(admin, eid, fx)
	s.paidOrder(admin, eid)
	member := s.signer(memberPhone, memberName, seq+"2")
	s.do("POST", "/api/v1/enterprises/"+eid+"/join-requests", member, nil).expect(s.t, 201, "")
	mid := s.memberIDs(admin, eid, "pending")[memberName]
	s.do("POST", "/api/v1/enterprises/"+eid+"/members/"+mid+"/approve", admin, nil).expect(s.t, 200, "")
	official := s.officialSeal(admin, eid)
	g := s.do("POST", "/api/v1/enterprises/"+eid+"/seals/"+official+"/grants", admin, map[string]string{"member_id": mid}).expect(s.t, 201, "")
	return signingEnterprise{admin: admin, eid: eid, member: member, memberID: mid, seal: official, grant: g.str("id")}
}

func (s *server) signaturesLeft(token, eid string) int {
	s.t.Helper()
	q, _ := s.do("GET", "/api/v1/enterprises/"+eid, token, nil).expect(s.t, 200, "").body["quota"].(map[string]any)
	return int(q["signatures"].(float64))
}

func (s *server) uploadDocument(token string, pdf []byte) string {
	s.t.Helper()
	return s.upload(token, "document", "bid.pdf", pdf).expect(s.t, 201, "").str("file_id")
}

func pdfsigOutput(t *testing.T, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "doc.pdf")
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	out, _ := exec.Command("pdfsig", p).CombinedOutput() // exit status 1 or 2 on invalid signatures
	return string(out)
}

func needPoppler(t *testing.T) {
	for _, tool := range []string{"pdfsig", "pdftoppm"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s (poppler-utils) is not installed", tool)
		}
	}
}

func redPixels(img image.Image, r image.Rectangle) int {
	n := 0
	r = r.Intersect(img.Bounds())
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			cr, cg, cb, _ := img.At(x, y).RGBA()
			if cr > 0xB000 && cg < 0x7000 && cb < 0x7000 {
				n++
			}
		}
	}
	return n
}

// Acceptance (issue 15): a bid document signed by an enterprise (official seal, by a granted
// member) and then by a person: two valid, timestamped signatures, the seal's red where its
// field was placed, one changed byte breaks them; the enterprise's quota drops by one.
func TestSignFlowBidDocument(t *testing.T) {
	needPoppler(t)
	forEachBackend(t, func(t *testing.T, s *server) {
		ent := s.signingEnterprise(0, "13700000001", "13700000002", "71")
		person := s.signer("13700000003", "李四", "713")
		sig := s.do("POST", "/api/v1/me/signatures", person, map[string]any{"generate": true}).expect(t, 201, "").str("id")
		before := s.signaturesLeft(ent.admin, ent.eid)

		// Bad input first: a PNG is not a document; a field off the page; a missing keyword.
		s.upload(ent.admin, "document", "x.png", pngBytes(t, 64, 64)).expect(t, 422, "file-type-not-allowed")
		doc := bidDocument(t, 3)
		fileID := s.uploadDocument(ent.admin, doc)
		expires := s.clock.Now().Add(7 * 24 * time.Hour).UTC().Format(time.RFC3339)
		flow := func(orgField, personField map[string]any) map[string]any {
			return map[string]any{"title": "投标文件签署", "documents": []map[string]any{{"file_id": fileID, "name": "bid.pdf"}},
				"signers": []map[string]any{
					{"kind": "organization", "name": "投标单位", "phone": "13700000002", "enterprise_id": ent.eid, "fields": []any{orgField}},
					{"kind": "person", "name": "李四", "phone": "13700000003", "fields": []any{personField}}},
				"ordered": true, "expires_at": expires}
		}
		sealField := map[string]any{"document": 0, "page": 2, "x": 300, "y": 150}
		personField := map[string]any{"document": 0, "page": 3, "x": 72, "y": 72}
		s.do("POST", "/api/v1/sign-flows", ent.admin, flow(map[string]any{"document": 0, "page": 2, "x": 550, "y": 150}, personField)).
			expect(t, 422, "pdf-field-outside-page")
		s.do("POST", "/api/v1/sign-flows", ent.admin, flow(map[string]any{"document": 0, "page": 9, "x": 10, "y": 10}, personField)).
			expect(t, 422, "pdf-page-out-of-range")
		s.do("POST", "/api/v1/sign-flows", ent.admin, flow(sealField, map[string]any{"document": 0, "keyword": "乙方签字"})).
			expect(t, 422, "pdf-keyword-not-found")
		s.do("POST", "/api/v1/sign-flows", person, flow(sealField, personField)).expect(t, 404, "file-not-found")

		// A keyword field is resolved to its page at create.
		kw := s.do("POST", "/api/v1/sign-flows", ent.admin, flow(map[string]any{"document": 0, "keyword": "甲方（盖章）"}, personField)).
			expect(t, 201, "")
		f0 := kw.body["signers"].([]any)[0].(map[string]any)["fields"].([]any)[0].(map[string]any)
		if f0["page"] != float64(2) || f0["keyword"] != "甲方（盖章）" {
			t.Fatalf("keyword field %v", f0)
		}

		created := s.do("POST", "/api/v1/sign-flows", ent.admin, flow(sealField, personField)).expect(t, 201, "")
		id := created.str("id")
		if created.str("status") != "draft" {
			t.Fatalf("created %s", created.raw)
		}
		base := "/api/v1/sign-flows/" + id
		// A draft is the initiator's only.
		s.do("GET", base, ent.member, nil).expect(t, 404, "flow-not-found")
		started := s.do("POST", base+"/start", ent.admin, nil).expect(t, 200, "")
		if started.str("status") != "signing" {
			t.Fatalf("started %s", started.raw)
		}
		// The member (the organisation's contact phone) is told by SMS with the H5 link.
		s.eventually("the signing SMS", func() bool {
			r := s.do("GET", "/api/v1/sandbox/sms?phone=13700000002", "", nil)
			return strings.Contains(string(r.raw), "/#/flows/"+id)
		})
		// Ordered: the person waits for the enterprise.
		s.do("POST", base+"/sign", person, map[string]any{"signature_id": sig, "signing_password": "Sign1234x"}).
			expect(t, 422, "flow-not-your-turn")
		// The member signs with the official seal and their own signing password.
		s.do("POST", base+"/sign", ent.member, map[string]any{"seal_id": ent.seal, "signing_password": "Wrong0000x"}).
			expect(t, 422, "signing-password-wrong")
		one := s.do("POST", base+"/sign", ent.member, map[string]any{"seal_id": ent.seal, "signing_password": "Sign1234x"}).expect(t, 200, "")
		if st := one.body["signers"].([]any)[0].(map[string]any)["state"]; st != "signed" {
			t.Fatalf("after the seal %s", one.raw)
		}
		if got := s.signaturesLeft(ent.admin, ent.eid); got != before-1 {
			t.Fatalf("signatures left %d, want %d", got, before-1)
		}
		// Then the person: the flow completes.
		mine := s.do("GET", "/api/v1/sign-flows?role=signer", person, nil).expect(t, 200, "")
		if items := mine.body["items"].([]any); len(items) != 1 || items[0].(map[string]any)["my_turn"] == "" {
			t.Fatalf("the person's flows %s", mine.raw)
		}
		done := s.do("POST", base+"/sign", person, map[string]any{"signature_id": sig, "signing_password": "Sign1234x"}).expect(t, 200, "")
		if done.str("status") != "completed" {
			t.Fatalf("done %s", done.raw)
		}
		if got := s.signaturesLeft(ent.admin, ent.eid); got != before-1 {
			t.Fatalf("signatures left %d after the person, want %d (personal signing outside an enterprise space is free)", got, before-1)
		}
		s.do("POST", base+"/sign", person, map[string]any{"signature_id": sig, "signing_password": "Sign1234x"}).expect(t, 409, "flow-ended")

		st, h, signed := s.get(base+"/documents/0/pdf", person, "")
		if st != 200 || h.Get("Content-Type") != "application/pdf" || !bytes.HasPrefix(signed, doc) {
			t.Fatalf("signed document: %d %s (incremental: %v)", st, h.Get("Content-Type"), bytes.HasPrefix(signed, doc))
		}
		out := pdfsigOutput(t, signed)
		if n := strings.Count(out, "Signature is Valid"); n != 2 {
			t.Fatalf("pdfsig: %d valid signatures, want 2:\n%s", n, out)
		}
		res, err := verify.VerifyWithOptions(bytes.NewReader(signed), int64(len(signed)), &verify.VerifyOptions{})
		if err != nil || len(res.Signers) != 2 {
			t.Fatalf("verify: %v", err)
		}
		for i, sg := range res.Signers {
			if !sg.ValidSignature || sg.TimeStamp == nil {
				t.Errorf("signature %d: valid %v, timestamp %v", i, sg.ValidSignature, sg.TimeStamp != nil)
			}
		}
		// The platform's verification service agrees.
		vr := s.verifySignedPDF(signed)
		if sigs, _ := vr.body["signatures"].([]any); len(sigs) != 2 {
			t.Fatalf("verification %s", vr.raw)
		}
		// One changed byte in the signed content breaks them.
		i := bytes.Index(signed, []byte("BIDDOC page 1"))
		bad := bytes.Clone(signed)
		bad[i] = 'X'
		if out := pdfsigOutput(t, bad); strings.Contains(out, "Signature is Valid") {
			t.Fatalf("a changed document still verifies:\n%s", out)
		}
		// The seal's red is on page 2 where its field was placed.
		dir := t.TempDir()
		_ = os.WriteFile(filepath.Join(dir, "s.pdf"), signed, 0o600)
		if b, err := exec.Command("pdftoppm", "-f", "2", "-l", "2", "-r", "72", "-png", filepath.Join(dir, "s.pdf"), filepath.Join(dir, "p")).CombinedOutput(); err != nil {
			t.Fatalf("pdftoppm: %v %s", err, b)
		}
		pages, _ := filepath.Glob(filepath.Join(dir, "p-*2.png"))
		if len(pages) != 1 {
			t.Fatalf("rendered %v", pages)
		}
		fh, _ := os.Open(pages[0])
		img, _, err := image.Decode(fh)
		_ = fh.Close()
		if err != nil {
			t.Fatal(err)
		}
		top := img.Bounds().Dy() - (150 + 119)
		if n := redPixels(img, image.Rect(300, top, 300+119, top+119)); n < 300 {
			t.Fatalf("only %d red pixels in the seal's field", n)
		}
		if n := redPixels(img, image.Rect(0, 0, img.Bounds().Dx(), top-5)); n != 0 {
			t.Fatalf("%d red pixels above the seal's field", n)
		}
		// The flow's detail shows both signed, and the document's version and hash moved on.
		got := s.do("GET", base, ent.admin, nil).expect(t, 200, "")
		d0 := got.body["documents"].([]any)[0].(map[string]any)
		if d0["version"] != float64(3) || d0["current_sha256"] == d0["original_sha256"] {
			t.Fatalf("document %v", d0)
		}
		// The evidence: the report as a PDF naming the flow, and what
		// it shows: each signer's IP and hashes, a hash chain that verifies, its head timestamped.
		st, _, raw := s.try("GET", base+"/evidence.pdf", ent.admin, nil)
		if st != 200 || !bytes.HasPrefix(raw, []byte("%PDF-")) {
			t.Fatalf("evidence.pdf: %d %.200s", st, raw)
		}
		pdfText(t, raw, "签署证据报告", id)
		uid := s.do("GET", "/api/v1/me", ent.admin, nil).str("id")
		rep, err := s.rt.Signing.EvidenceReport(context.Background(), kernel.UserID(uid), id)
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Signers) != 2 || rep.Signers[0].IP == "" || rep.Signers[0].Seal == "" || rep.Signers[0].Member == "" ||
			rep.Signers[0].HashBefore != d0["original_sha256"] || rep.Signers[1].HashBefore != rep.Signers[0].HashAfter ||
			rep.Signers[1].HashAfter != d0["current_sha256"] || rep.Signers[1].CertificateSerial == "" || rep.Status != "completed" {
			t.Fatalf("evidence signers %+v", rep.Signers)
		}
		prev := ""
		for _, e := range rep.Events {
			if e.PrevHash != prev || e.Hash != sqlstore.ChainHash(prev, e.Seq, e.Type, e.Actor, e.Detail, e.At) {
				t.Fatalf("chain link %+v", e)
			}
			prev = e.Hash
		}
		if len(rep.Events) < 7 || rep.HeadHash != prev { // created, started, signed, signature_made ×2, signed, completed
			t.Fatalf("chain of %d, head %s", len(rep.Events), rep.HeadHash)
		}
		tst, err := timestamp.Parse(rep.HeadTimestamp)
		if err != nil || hex.EncodeToString(tst.HashedMessage) != rep.HeadHash {
			t.Fatalf("head timestamp: %v", err)
		}
		// A stranger sees nothing.
		stranger := s.login("13700000009")
		s.do("GET", base, stranger, nil).expect(t, 404, "flow-not-found")
		s.do("GET", base+"/documents/0/pdf", stranger, nil).expect(t, 404, "flow-not-found")
	})
}

// verifySignedPDF posts a PDF to the verification service.
func (s *server) verifySignedPDF(pdf []byte) resp {
	s.t.Helper()
	return s.uploadTo("/api/v1/signature-verifications", "", "", "signed.pdf", pdf)
}

// A revoked grant, a removed member and a disabled seal cannot sign (at once); reject and
// revoke end flows; a person whose phone has no verified account is invited and the flow waits.
func TestSignFlowRefusals(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *server) {
		ent := s.signingEnterprise(1, "13710000001", "13710000002", "72")
		fileID := s.uploadDocument(ent.admin, bidDocument(t, 1))
		expires := s.clock.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339)
		newFlow := func(signers ...map[string]any) string {
			r := s.do("POST", "/api/v1/sign-flows", ent.admin, map[string]any{"title": "合同", "documents": []map[string]any{{"file_id": fileID}},
				"signers": signers, "ordered": false, "expires_at": expires}).expect(t, 201, "")
			s.do("POST", "/api/v1/sign-flows/"+r.str("id")+"/start", ent.admin, nil).expect(t, 200, "")
			return "/api/v1/sign-flows/" + r.str("id")
		}
		org := map[string]any{"kind": "organization", "name": "本单位", "enterprise_id": ent.eid,
			"fields": []any{map[string]any{"document": 0, "page": 1, "x": 300, "y": 300}}}
		signWithSeal := map[string]any{"seal_id": ent.seal, "signing_password": "Sign1234x"}

		// A disabled seal: 422; enabled again it signs.
		f1 := newFlow(org)
		s.do("PUT", "/api/v1/enterprises/"+ent.eid+"/seals/"+ent.seal, ent.admin, map[string]string{"status": "disabled"}).expect(t, 200, "")
		s.do("POST", f1+"/sign", ent.member, signWithSeal).expect(t, 422, "seal-disabled")
		s.do("PUT", "/api/v1/enterprises/"+ent.eid+"/seals/"+ent.seal, ent.admin, map[string]string{"status": "active"}).expect(t, 200, "")
		// A revoked grant: 403 at once.
		s.do("DELETE", "/api/v1/enterprises/"+ent.eid+"/seals/"+ent.seal+"/grants/"+ent.grant, ent.admin, nil).expect(t, 204, "")
		s.do("POST", f1+"/sign", ent.member, signWithSeal).expect(t, 403, "seal-not-granted")
		left := s.signaturesLeft(ent.admin, ent.eid)
		// Granted again, then the member is removed: 403 at once, no signature used.
		s.do("POST", "/api/v1/enterprises/"+ent.eid+"/seals/"+ent.seal+"/grants", ent.admin, map[string]string{"member_id": ent.memberID}).expect(t, 201, "")
		s.do("DELETE", "/api/v1/enterprises/"+ent.eid+"/members/"+ent.memberID, ent.admin, nil).expect(t, 204, "")
		s.do("POST", f1+"/sign", ent.member, signWithSeal).expect(t, 403, "enterprise-member-removed")
		if got := s.signaturesLeft(ent.admin, ent.eid); got != left {
			t.Fatalf("signatures left %d, want %d", got, left)
		}

		// An invited person: no account yet; the flow waits; reject ends it.
		f2 := newFlow(map[string]any{"kind": "person", "name": "王五", "phone": "13710000005",
			"fields": []any{map[string]any{"document": 0, "page": 1, "x": 72, "y": 72}}})
		g := s.do("GET", f2, ent.admin, nil).expect(t, 200, "")
		if g.body["signers"].([]any)[0].(map[string]any)["invited"] != true {
			t.Fatalf("invited %s", g.raw)
		}
		wang := s.login("13710000005")
		s.do("POST", f2+"/sign", wang, map[string]any{"signature_id": "x", "signing_password": "Sign1234x"}).expect(t, 422, "signer-not-verified")
		s.do("POST", f2+"/reject", wang, map[string]any{"reason": "金额不对"}).expect(t, 200, "")
		if st := s.do("GET", f2, ent.admin, nil).str("status"); st != "rejected" {
			t.Fatalf("status %s", st)
		}
		// Revoke by the initiator only.
		f3 := newFlow(map[string]any{"kind": "person", "name": "王五", "phone": "13710000005",
			"fields": []any{map[string]any{"document": 0, "page": 1, "x": 72, "y": 72}}})
		s.do("POST", f3+"/revoke", wang, map[string]any{"reason": "x"}).expect(t, 403, "flow-initiator-only")
		s.do("POST", f3+"/revoke", ent.admin, map[string]any{"reason": "重新发起"}).expect(t, 200, "")
		s.do("POST", f3+"/reject", wang, map[string]any{"reason": "x"}).expect(t, 409, "flow-ended")

		// Expiry: the deadline passes; the flow is expired on access and in the list.
		f4 := newFlow(map[string]any{"kind": "person", "name": "王五", "phone": "13710000005",
			"fields": []any{map[string]any{"document": 0, "page": 1, "x": 72, "y": 72}}})
		s.clock.Advance(25 * time.Hour)
		if st := s.do("GET", f4, ent.admin, nil).expect(t, 200, "").str("status"); st != "expired" {
			t.Fatalf("status %s, want expired", st)
		}
		page := s.do("GET", "/api/v1/sign-flows?status=expired", ent.admin, nil).expect(t, 200, "")
		if n := len(page.body["items"].([]any)); n != 2 { // f1 and f4
			t.Fatalf("expired flows %d: %s", n, page.raw)
		}
		s.do("POST", f4+"/reject", wang, map[string]any{"reason": "x"}).expect(t, 409, "flow-ended")
		s.do("GET", "/api/v1/sign-flows?role=nobody", ent.admin, nil).expect(t, 422, "flow-role-invalid")
	})
}

// Quota under concurrency: 50 signings for one enterprise (50 flows) with 10 signatures left
// make exactly 10 signatures and 40 × 402 quota-exhausted.
func TestSignFlowQuotaConcurrent(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *server) {
		ent := s.signingEnterprise(2, "13720000001", "13720000002", "73")
		// 50 bought; leave 10 (the test sets the package down to 10 in the ledger).
		if _, err := s.rt.DB.NewUpdate().Table("quota_grants").Set("signatures = CASE WHEN sku = ? THEN 10 ELSE 0 END", "pkg-sign-50").Where("enterprise_id = ?", ent.eid).
			Exec(context.Background()); err != nil {
			t.Fatal(err)
		}
		if got := s.signaturesLeft(ent.admin, ent.eid); got != 10 {
			t.Fatalf("signatures left %d", got)
		}
		fileID := s.uploadDocument(ent.admin, bidDocument(t, 1))
		expires := s.clock.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339)
		var flows []string
		for i := 0; i < 50; i++ {
			r := s.do("POST", "/api/v1/sign-flows", ent.admin, map[string]any{"title": fmt.Sprintf("合同%d", i),
				"documents": []map[string]any{{"file_id": fileID}}, "expires_at": expires,
				"signers": []any{map[string]any{"kind": "organization", "name": "本单位", "enterprise_id": ent.eid,
					"fields": []any{map[string]any{"document": 0, "page": 1, "x": 300, "y": 300}}}}}).expect(t, 201, "")
			s.do("POST", "/api/v1/sign-flows/"+r.str("id")+"/start", ent.admin, nil).expect(t, 200, "")
			flows = append(flows, r.str("id"))
		}
		codes := map[string]int{}
		var mu sync.Mutex
		var wg sync.WaitGroup
		for _, id := range flows {
			wg.Add(1)
			go func() {
				defer wg.Done()
				st, _, raw := s.try("POST", "/api/v1/sign-flows/"+id+"/sign", ent.member, map[string]any{"seal_id": ent.seal, "signing_password": "Sign1234x"})
				key := fmt.Sprint(st)
				if st != 200 {
					var e struct {
						Error struct{ Code string } `json:"error"`
					}
					_ = jsonUnmarshal(raw, &e)
					key += " " + e.Error.Code
				}
				mu.Lock()
				codes[key]++
				mu.Unlock()
			}()
		}
		wg.Wait()
		if codes["200"] != 10 || codes["402 quota-exhausted"] != 40 {
			t.Fatalf("outcomes %v, want 10 × 200 and 40 × 402 quota-exhausted", codes)
		}
		if got := s.signaturesLeft(ent.admin, ent.eid); got != 0 {
			t.Fatalf("signatures left %d", got)
		}
		completed := s.do("GET", "/api/v1/sign-flows?status=completed&limit=100", ent.admin, nil).expect(t, 200, "")
		if n := len(completed.body["items"].([]any)); n != 10 {
			t.Fatalf("completed flows %d", n)
		}
	})
}

// TestSignFlowBenchmark measures signings with Go's benchmark loop (testing.Benchmark): one
// seal on a 20-page PDF per flow, on SQLite and Postgres, and one signing of a 200-page PDF.
// It reports, never asserts; run it with SIGNFLOW_BENCH=1.
func TestSignFlowBenchmark(t *testing.T) {
	if os.Getenv("SIGNFLOW_BENCH") == "" {
		t.Skip("set SIGNFLOW_BENCH=1 to measure signings")
	}
	forEachBackend(t, func(t *testing.T, s *server) {
		ent := s.signingEnterprise(0, "13730000001", "13730000002", "74")
		if _, err := s.rt.DB.NewUpdate().Table("quota_grants").Set("signatures = 1000000").Where("enterprise_id = ? AND sku = ?", ent.eid, "pkg-sign-50").
			Exec(context.Background()); err != nil {
			t.Fatal(err)
		}
		expires := s.clock.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339)
		newFlow := func(fileID string) string {
			r := s.do("POST", "/api/v1/sign-flows", ent.admin, map[string]any{"title": "基准", "documents": []map[string]any{{"file_id": fileID}},
				"expires_at": expires, "signers": []any{map[string]any{"kind": "organization", "name": "本单位", "enterprise_id": ent.eid,
					"fields": []any{map[string]any{"document": 0, "page": 1, "x": 300, "y": 300}}}}}).expect(t, 201, "")
			s.do("POST", "/api/v1/sign-flows/"+r.str("id")+"/start", ent.admin, nil).expect(t, 200, "")
			return r.str("id")
		}
		sign := func(id string) {
			st, _, raw := s.try("POST", "/api/v1/sign-flows/"+id+"/sign", ent.member, map[string]any{"seal_id": ent.seal, "signing_password": "Sign1234x"})
			if st != 200 {
				t.Errorf("sign: %d %s", st, raw)
			}
		}
		for _, pages := range []int{20, 200} {
			fileID := s.uploadDocument(ent.admin, bidDocument(t, pages))
			r := testing.Benchmark(func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					b.StopTimer()
					id := newFlow(fileID)
					b.StartTimer()
					sign(id)
				}
			})
			t.Logf("%s: %d-page PDF, one seal: %d signings, %v per signing, %.2f signings/s",
				t.Name(), pages, r.N, time.Duration(r.NsPerOp()), 1e9/float64(r.NsPerOp()))
		}
	})
}
