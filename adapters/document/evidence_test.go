package document_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shuxinqian/server/adapters/document"
	"github.com/shuxinqian/server/ports"
)

func evHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// evidenceReport is a finished two-signer flow with n chained events.
func evidenceReport(n int) ports.EvidenceReport {
	base := time.Date(2026, 12, 4, 9, 30, 0, 0, time.UTC)
	rep := ports.EvidenceReport{
		FlowID: "flow_01JEVIDENCE", Title: "福州市政道路改造工程投标文件", Status: "completed", Initiator: "王**（138****0001）",
		CreatedAt: base, FinishedAt: base.Add(2 * time.Hour), GeneratedAt: base.Add(3 * time.Hour),
		Documents: []ports.EvidenceDocument{
			{Index: 1, Name: "投标函.pdf", Pages: 20, OriginalSHA256: evHash("doc1"), CurrentSHA256: evHash("doc1-signed")},
			{Index: 2, Name: "商务标 Business part.pdf", Pages: 3, OriginalSHA256: evHash("doc2"), CurrentSHA256: evHash("doc2-signed")},
		},
		Signers: []ports.EvidenceSigner{
			{Kind: "organization", Name: "福州数信科技有限公司", Enterprise: "福州数信科技有限公司", Seal: "公章（official）",
				Member: "李*", Phone: "139****0002", Status: "signed", IdentityChecks: []string{"企业认证（对公打款）", "经办人实名认证（人脸核身）", "签署密码"},
				SignedAt: base.Add(time.Hour), IP: "203.0.113.7", CertificateSerial: "0a1b2c3d4e5f60718293a4b5c6d7e8f9",
				HashBefore: evHash("doc1"), HashAfter: evHash("doc1-sealed")},
			{Kind: "person", Name: "张*", Phone: "138****0003", Status: "signed", IdentityChecks: []string{"实名认证（人脸核身）", "签署密码"},
				SignedAt: base.Add(2 * time.Hour), IP: "2001:db8::1", CertificateSerial: "ff00ee11dd22cc33bb44aa5599668877",
				HashBefore: evHash("doc1-sealed"), HashAfter: evHash("doc1-signed")},
		},
	}
	prev := ""
	types := []string{"flow.created", "flow.started", "signer.notified", "signer.signed", "flow.completed"}
	for i := 1; i <= n; i++ {
		h := evHash(prev + fmt.Sprint(i))
		rep.Events = append(rep.Events, ports.EvidenceEvent{Seq: i, At: base.Add(time.Duration(i) * time.Minute), Type: types[i%len(types)],
			Actor: "张*", Detail: "第 " + fmt.Sprint(i) + " 条事件：签署人已签署 投标函.pdf", PrevHash: prev, Hash: h})
		prev = h
	}
	rep.HeadHash = prev
	rep.HeadTimestamp = []byte("DER token over the head hash")
	rep.HeadTimestampTime = base.Add(2*time.Hour + time.Minute)
	return rep
}

func evidenceText(t *testing.T, pdf []byte) (text string, pages int) {
	t.Helper()
	for _, tool := range []string{"pdftotext", "pdfinfo"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s (poppler-utils) is missing", tool)
			}
			t.Skipf("%s (poppler-utils) is not installed", tool)
		}
	}
	p := filepath.Join(t.TempDir(), "evidence.pdf")
	if err := os.WriteFile(p, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("pdftotext", "-enc", "UTF-8", p, "-").CombinedOutput()
	if err != nil {
		t.Fatalf("pdftotext: %v\n%s", err, out)
	}
	info, err := exec.Command("pdfinfo", p).CombinedOutput()
	if err != nil {
		t.Fatalf("pdfinfo: %v\n%s", err, info)
	}
	m := regexp.MustCompile(`(?m)^Pages:\s+(\d+)`).FindSubmatch(info)
	if m == nil {
		t.Fatalf("pdfinfo: no page count:\n%s", info)
	}
	pages, _ = strconv.Atoi(string(m[1]))
	return string(out), pages
}

// squash removes the spaces and line breaks pdftotext puts between table cells and wrapped lines.
func squash(s string) string { return strings.Join(strings.Fields(s), "") }

func TestEvidenceReportShowsTheFacts(t *testing.T) {
	r, err := document.NewRenderer()
	if err != nil {
		t.Fatal(err)
	}
	rep := evidenceReport(8)
	pdf, err := r.RenderEvidence(context.Background(), rep)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(pdf, []byte("%PDF-")) {
		t.Fatal("not a PDF")
	}
	again, _ := r.RenderEvidence(context.Background(), rep)
	if !bytes.Equal(pdf, again) {
		t.Error("the same report gave different bytes")
	}
	text, pages := evidenceText(t, pdf)
	flat := squash(text)
	if pages < 1 || pages > 2 {
		t.Errorf("%d pages for a short report, want 1 or 2", pages)
	}
	for _, want := range []string{
		document.EvidenceTitle, "流程信息", rep.FlowID, rep.Title, "已完成", "王**", "2026-12-0417:30:00", // created, UTC+8
		"投标函.pdf", "商务标Businesspart.pdf", rep.Documents[0].OriginalSHA256, rep.Documents[0].CurrentSHA256, rep.Documents[1].CurrentSHA256,
		"福州数信科技有限公司", "公章（official）", "李*", "经办人实名认证（人脸核身）", "签署密码", "203.0.113.7", "2001:db8::1",
		"0a1b2c3d4e5f60718293a4b5c6d7e8f9", evHash("doc1-sealed"), "张*", "138****0003",
		"事件哈希链", "signer.signed", "第8条事件", rep.Events[3].Hash[:8] + ".." + rep.Events[3].Hash[56:],
		"链头哈希", rep.HeadHash, "时间戳时间", "2026-12-0419:31:00", fmt.Sprintf("第1页/共%d页", pages), "2026-12-0417:38:00",
	} {
		if !strings.Contains(flat, squash(want)) {
			t.Errorf("the report does not show %q", want)
		}
	}
	tok := sha256.Sum256(rep.HeadTimestamp)
	if !strings.Contains(flat, hex.EncodeToString(tok[:])) {
		t.Error("the report does not show the time-stamp token's SHA-256")
	}
	// Abbreviated hashes in the table: an event's full hash appears only for the head.
	if strings.Contains(flat, rep.Events[3].Hash) {
		t.Error("a hash other than the head is shown in full")
	}
}

func TestEvidenceReportPaginates(t *testing.T) {
	r, _ := document.NewRenderer()
	rep := evidenceReport(300)
	rep.HeadTimestamp = nil
	pdf, err := r.RenderEvidence(context.Background(), rep)
	if err != nil {
		t.Fatal(err)
	}
	text, pages := evidenceText(t, pdf)
	if pages < 5 {
		t.Fatalf("%d pages for 300 events, want several", pages)
	}
	flat := squash(text)
	for _, want := range []string{
		fmt.Sprintf("第%d页/共%d页", pages, pages), fmt.Sprintf("第2页/共%d页", pages),
		"第1条事件", "第150条事件", "第300条事件", rep.HeadHash, "链头尚未加盖时间戳",
	} {
		if !strings.Contains(flat, want) {
			t.Errorf("the report does not show %q", want)
		}
	}
	// The table's header repeats on every page the table continues on.
	if n := strings.Count(flat, "本条哈希"); n < pages-1 {
		t.Errorf("the events' header appears %d times over %d pages", n, pages)
	}
	// Every event made it, once.
	for _, i := range []int{1, 2, 99, 100, 101, 299, 300} {
		if n := strings.Count(flat, fmt.Sprintf("第%d条事件：", i)); n != 1 {
			t.Errorf("event %d appears %d times", i, n)
		}
	}
}

// Odd input never fails the report: control characters, characters no font has, empty fields,
// malformed hashes; too many events is refused.
func TestEvidenceReportOddInput(t *testing.T) {
	r, _ := document.NewRenderer()
	rep := ports.EvidenceReport{FlowID: "f\x00\u202e1", Title: "标题\n第二行\U0001F600", Signers: []ports.EvidenceSigner{{Kind: "robot"}},
		Documents: []ports.EvidenceDocument{{Name: "", OriginalSHA256: "not a hash"}},
		Events:    []ports.EvidenceEvent{{Seq: 1, Type: "x", Hash: "zz"}}}
	pdf, err := r.RenderEvidence(context.Background(), rep)
	if err != nil {
		t.Fatal(err)
	}
	text, _ := evidenceText(t, pdf)
	if !strings.Contains(squash(text), "标题第二行?") {
		t.Errorf("title not drawn with its odd characters replaced:\n%s", text)
	}
	// Missing values are shown as "-", never as a missing glyph.
	if strings.Contains(text, "状态 ?") || strings.Contains(squash(text), "创建时间?") {
		t.Errorf("a missing value is drawn as a missing glyph:\n%s", text)
	}
	big := ports.EvidenceReport{Events: make([]ports.EvidenceEvent, document.MaxEvidenceEvents+1)}
	if _, err := r.RenderEvidence(context.Background(), big); err == nil {
		t.Fatal("a report with too many events was drawn")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := r.RenderEvidence(ctx, evidenceReport(10)); err == nil {
		t.Fatal("a cancelled render succeeded")
	}
}
