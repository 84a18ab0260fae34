package document

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/go-pdf/fpdf"
	"golang.org/x/image/font/sfnt"

	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/ports"
)

// EvidenceTitle is the title of a sign flow's evidence report.
const EvidenceTitle = "签署证据报告"

// MaxEvidenceEvents bounds the events one report draws (a flow has a few dozen; the bound keeps a
// runaway chain from producing a PDF nobody can open).
const MaxEvidenceEvents = 20000

var _ ports.EvidenceRenderer = (*Renderer)(nil)

// Evidence page geometry (millimetres, A4 portrait) and type sizes (points).
const (
	evX        = 15.0
	evW        = pageW - 2*evX
	evTop      = 16.0
	evBottom   = 297.0 - 18 // content ends above the footer
	evTitle    = 20.0
	evHeading  = 11.5
	evBody     = 9.0
	evSmall    = 7.5
	evHash     = 7.0 // hashes, in Courier
	evCellHash = 6.2 // hashes in tables
	evLineH    = 5.2
	evSmallH   = 4.0
	evCellPad  = 1.4
	fontMono   = "Courier"
	hashAbbrev = 8 // hex digits kept at each end of an abbreviated hash
)

// Chinese names of the flow's and signers' states; an unknown state is shown as given.
var (
	evFlowStatus = map[string]string{"draft": "草稿", "signing": "签署中", "completed": "已完成", "rejected": "已拒签",
		"revoked": "已撤销", "expired": "已过期"}
	evSignerStatus = map[string]string{"pending": "待签署", "waiting": "等待中", "invited": "已邀请", "notified": "已通知",
		"signed": "已签署", "rejected": "已拒签", "revoked": "已撤销", "expired": "已过期"}
	evSignerKind = map[string]string{"person": "个人", "organization": "机构"}
)

// RenderEvidence draws the evidence report of a sign flow (ports.EvidenceRenderer): an A4 PDF with
// the flow's facts, its documents and their hashes, every signer (identity checks, time, IP,
// certificate, hashes before and after), the hash chain of events (abbreviated, the head in full),
// the head's RFC 3161 time-stamp, and page numbers. Long lists continue on further pages. The same
// report always gives the same bytes. Characters the fonts cannot draw are shown as "?".
func (r *Renderer) RenderEvidence(ctx context.Context, rep ports.EvidenceReport) ([]byte, error) {
	if len(rep.Events) > MaxEvidenceEvents {
		return nil, kernel.Invalid("evidence-too-large", fmt.Sprintf("the report has more than %d events", MaxEvidenceEvents))
	}
	// Two passes: the first counts the pages, the second draws "page n of N" with the count.
	first, err := r.layoutEvidence(ctx, rep, 0)
	if err != nil {
		return nil, err
	}
	e, err := r.layoutEvidence(ctx, rep, first.pdf.PageNo())
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if err := e.pdf.Output(&out); err != nil {
		return nil, kernel.Internal(fmt.Errorf("document: render the evidence report: %w", err))
	}
	return out.Bytes(), nil
}

func (r *Renderer) layoutEvidence(ctx context.Context, rep ports.EvidenceReport, total int) (*evidencePDF, error) {
	e := newEvidencePDF(r, rep, total)
	e.facts(rep)
	e.documents(rep.Documents)
	if err := e.signers(ctx, rep.Signers); err != nil {
		return nil, err
	}
	if err := e.events(ctx, rep.Events); err != nil {
		return nil, err
	}
	e.head(rep)
	if err := e.pdf.Error(); err != nil {
		return nil, kernel.Internal(fmt.Errorf("document: lay the evidence report out: %w", err))
	}
	return e, nil
}

// evidencePDF lays the report out top to bottom, starting new pages as needed.
type evidencePDF struct {
	r   *Renderer
	pdf *fpdf.Fpdf
	w   letterPDF
	y   float64
	buf sfnt.Buffer
}

func newEvidencePDF(r *Renderer, rep ports.EvidenceReport, total int) *evidencePDF {
	pdf := fpdf.New("P", "mm", "A4", "")
	pdf.SetCatalogSort(true)
	pdf.SetCompression(true)
	pdf.SetAutoPageBreak(false, 0)
	pdf.SetMargins(evX, evTop, evX)
	pdf.AddUTF8FontFromBytes(fontCJK, "", []byte(cjkFont))
	gen := rep.GeneratedAt
	if gen.IsZero() {
		gen = rep.CreatedAt
	}
	pdf.SetCreationDate(gen.UTC())
	pdf.SetModificationDate(gen.UTC())
	pdf.SetProducer("Shuxinqian document renderer", false)
	pdf.SetCreator("数信签 Shuxinqian", true)
	pdf.SetAuthor("数信签 Shuxinqian", true)
	pdf.SetTitle(EvidenceTitle+" "+rep.FlowID, true)
	pdf.SetSubject("签署流程证据报告", true)
	pdf.SetLang("zh-CN")
	e := &evidencePDF{r: r, pdf: pdf, w: letterPDF{pdf: pdf}}
	flow := e.clean(rep.FlowID)
	pdf.SetFooterFunc(func() {
		pdf.SetTextColor(110, 110, 110)
		pdf.SetDrawColor(180, 180, 180)
		pdf.SetLineWidth(0.2)
		fy := 297.0 - 13
		pdf.Line(evX, fy, pageW-evX, fy)
		e.w.text(evX, fy+4.5, e.clean("数信签 "+EvidenceTitle+" · 流程 "+flow), evSmall)
		num := fmt.Sprintf("第 %d 页 / 共 %d 页", pdf.PageNo(), max(total, pdf.PageNo()))
		e.w.text(pageW-evX-e.w.width(num, evSmall), fy+4.5, num, evSmall)
		pdf.SetTextColor(0, 0, 0)
		pdf.SetDrawColor(0, 0, 0)
	})
	pdf.AddPage()
	e.y = evTop
	return e
}

// clean makes s drawable: control characters become spaces, characters neither font has become
// "?", and runs of spaces collapse.
func (e *evidencePDF) clean(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "?")
	}
	var b strings.Builder
	for _, c := range s {
		switch {
		case c >= ' ' && c <= '~':
			b.WriteRune(c)
		case unicode.IsControl(c) || unicode.Is(unicode.Cf, c) || unicode.IsSpace(c):
			b.WriteRune(' ')
		default:
			g, ok := e.r.glyphFor(&e.buf, c)
			if !ok {
				g = '?'
			}
			b.WriteRune(g)
		}
	}
	return strings.Join(strings.Fields(b.String()), " ")
}

// need starts a new page unless h millimetres fit below y; it tells whether it did.
func (e *evidencePDF) need(h float64) bool {
	if e.y+h <= evBottom {
		return false
	}
	e.pdf.AddPage()
	e.y = evTop
	return true
}

// heading starts a section, on a new page unless room more millimetres fit below it.
func (e *evidencePDF) heading(s string, room float64) {
	e.need(room + 12)
	e.y += 3
	e.pdf.SetFillColor(176, 30, 35)
	e.pdf.Rect(evX, e.y+1, 1.2, 5.2, "F")
	e.w.text(evX+3, baseline(e.y, 7, evHeading), s, evHeading)
	e.y += 8
	e.pdf.SetDrawColor(200, 200, 200)
	e.pdf.SetLineWidth(0.2)
	e.pdf.Line(evX, e.y-0.5, pageW-evX, e.y-0.5)
	e.pdf.SetDrawColor(0, 0, 0)
	e.y += 1
}

// field draws "label value" with the value wrapped beside the label column; a hash value is set
// in Courier.
func (e *evidencePDF) field(label, value string, labelW float64, mono bool) {
	valueW := evW - labelW
	var lines []string
	if mono {
		lines = monoLines(e.pdf, value, evHash, valueW)
	} else {
		lines = e.w.wrap(e.clean(value), evBody, valueW, valueW)
	}
	e.need(float64(len(lines)) * evLineH)
	e.pdf.SetTextColor(90, 90, 90)
	e.w.text(evX, baseline(e.y, evLineH, evBody), label, evBody)
	e.pdf.SetTextColor(0, 0, 0)
	for _, line := range lines {
		if mono {
			e.pdf.SetFont(fontMono, "", evHash)
			e.pdf.Text(evX+labelW, baseline(e.y, evLineH, evHash), line)
		} else {
			e.w.text(evX+labelW, baseline(e.y, evLineH, evBody), line, evBody)
		}
		e.y += evLineH
	}
}

// monoLines cuts an ASCII string (a hash) into lines no wider than width in Courier at size.
func monoLines(pdf *fpdf.Fpdf, s string, size, width float64) []string {
	s = strings.Map(func(c rune) rune {
		if c < ' ' || c > '~' {
			return '-'
		}
		return c
	}, s)
	pdf.SetFont(fontMono, "", size)
	per := max(1, int(width/pdf.GetStringWidth("0")))
	var out []string
	for len(s) > per {
		out = append(out, s[:per])
		s = s[per:]
	}
	return append(out, s)
}

func evTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.In(chinaTime).Format("2006-01-02 15:04:05") + " (UTC+8)"
}

func orDash(s string) string {
	if strings.TrimSpace(s) == "" {
		return "-"
	}
	return s
}

func named(m map[string]string, s string) string {
	if n, ok := m[s]; ok {
		return n + "（" + s + "）"
	}
	return orDash(s)
}

// abbrev shortens a hex hash to its first and last hashAbbrev digits.
func abbrev(h string) string {
	if len(h) <= 2*hashAbbrev+2 {
		return orDash(h)
	}
	return h[:hashAbbrev] + ".." + h[len(h)-hashAbbrev:]
}

// hexOnly keeps a hash printable: anything but hex digits is dropped.
func hexOnly(s string) string {
	return strings.Map(func(c rune) rune {
		if (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') {
			return unicode.ToLower(c)
		}
		return -1
	}, s)
}

func (e *evidencePDF) facts(rep ports.EvidenceReport) {
	tw := e.w.width(EvidenceTitle, evTitle)
	e.w.text((pageW-tw)/2, baseline(e.y, 10, evTitle), EvidenceTitle, evTitle)
	e.y += 11
	sub := e.clean("数信签 Shuxinqian · Evidence report of sign flow " + rep.FlowID)
	e.pdf.SetTextColor(100, 100, 100)
	e.w.text((pageW-e.w.width(sub, evSmall))/2, baseline(e.y, 5, evSmall), sub, evSmall)
	e.pdf.SetTextColor(0, 0, 0)
	e.y += 7
	e.pdf.SetLineWidth(0.4)
	e.pdf.Line(evX, e.y, pageW-evX, e.y)
	e.y += 2

	e.heading("一、流程信息", 2*evLineH)
	finished := "未完成"
	if !rep.FinishedAt.IsZero() {
		finished = evTime(rep.FinishedAt)
	}
	for _, f := range []letterField{
		{"流程编号", rep.FlowID},
		{"流程标题", rep.Title},
		{"流程状态", named(evFlowStatus, rep.Status)},
		{"发起人", orDash(rep.Initiator)},
		{"创建时间", evTime(rep.CreatedAt)},
		{"完成时间", finished},
		{"文件数 / 签署人数", fmt.Sprintf("%d / %d", len(rep.Documents), len(rep.Signers))},
		{"报告生成时间", evTime(rep.GeneratedAt)},
	} {
		e.field(f.label, f.value, 34, false)
	}
}

// Columns of the documents' table (millimetres).
var evDocCols = []float64{10, 50, 12, 14, evW - 86}

func (e *evidencePDF) documents(docs []ports.EvidenceDocument) {
	e.heading("二、签署文件", 3*evSmallH)
	header := func() {
		e.row(evDocCols, []string{"序号", "文件名", "页数", "版本", "SHA-256"}, nil, true)
	}
	header()
	if len(docs) == 0 {
		e.field("", "（无文件）", 0, false)
		return
	}
	for _, d := range docs {
		cells := []string{fmt.Sprint(d.Index), d.Name, fmt.Sprint(d.Pages), "原始\n当前", ""}
		hashes := map[int][]string{4: {orDash(hexOnly(d.OriginalSHA256)), orDash(hexOnly(d.CurrentSHA256))}}
		if e.row(evDocCols, cells, hashes, false) {
			header()
			e.row(evDocCols, cells, hashes, false)
		}
	}
	e.y += 2
}

// row draws one table row: cells wrapped in their columns ("\n" starts a new line; mono cells,
// one line each entry, are set in Courier). When the row does not fit, it starts a new page and draws nothing, returning true:
// the caller draws the header and the row again.
func (e *evidencePDF) row(cols []float64, cells []string, mono map[int][]string, head bool) bool {
	size := evSmall
	lines := make([][]string, len(cols))
	n := 1
	for c, colW := range cols {
		if m, ok := mono[c]; ok {
			for _, s := range m {
				lines[c] = append(lines[c], monoLines(e.pdf, s, evCellHash, colW-2*evCellPad)...)
			}
		} else {
			for _, part := range strings.Split(cells[c], "\n") {
				lines[c] = append(lines[c], e.w.wrap(e.clean(part), size, colW-2*evCellPad, colW-2*evCellPad)...)
			}
		}
		n = max(n, len(lines[c]))
	}
	h := float64(n)*evSmallH + 1.6
	if !head && e.need(h) {
		return true
	}
	if head {
		e.need(h + evSmallH*3) // a header never ends a page
		e.pdf.SetFillColor(240, 236, 236)
		e.pdf.Rect(evX, e.y, evW, h, "F")
	}
	e.pdf.SetDrawColor(190, 190, 190)
	e.pdf.SetLineWidth(0.15)
	x := evX
	for c, colW := range cols {
		e.pdf.Rect(x, e.y, colW, h, "D")
		ly := e.y + 0.8
		for _, line := range lines[c] {
			if _, ok := mono[c]; ok {
				e.pdf.SetFont(fontMono, "", evCellHash)
				e.pdf.Text(x+evCellPad, baseline(ly, evSmallH, evCellHash), line)
			} else {
				e.w.text(x+evCellPad, baseline(ly, evSmallH, size), line, size)
			}
			ly += evSmallH
		}
		x += colW
	}
	e.pdf.SetDrawColor(0, 0, 0)
	e.y += h
	return false
}

func (e *evidencePDF) signers(ctx context.Context, signers []ports.EvidenceSigner) error {
	e.heading("三、签署人", 4*evLineH)
	if len(signers) == 0 {
		e.field("", "（无签署人）", 0, false)
	}
	const labelW = 34
	for i, s := range signers {
		if err := ctx.Err(); err != nil {
			return err
		}
		title := fmt.Sprintf("签署人 %d：%s（%s）", i+1, orDash(s.Name), named(evSignerKind, s.Kind))
		if s.Kind == "organization" {
			title = fmt.Sprintf("签署人 %d：%s（%s）", i+1, orDash(cmpOr(s.Enterprise, s.Name)), named(evSignerKind, s.Kind))
		}
		checks := "-"
		if len(s.IdentityChecks) > 0 {
			checks = strings.Join(s.IdentityChecks, "；")
		}
		fields := []letterField{{"状态", named(evSignerStatus, s.Status)}}
		if s.Kind == "organization" {
			fields = append(fields, letterField{"印章", orDash(s.Seal)}, letterField{"经办人", orDash(s.Member)})
			if s.Name != "" && s.Name != s.Enterprise {
				fields = append(fields, letterField{"签署人", s.Name})
			}
		}
		fields = append(fields,
			letterField{"手机号", orDash(s.Phone)},
			letterField{"身份核验", checks},
			letterField{"签署时间", evTime(s.SignedAt)},
			letterField{"签署 IP", orDash(s.IP)},
		)
		hashes := []letterField{
			{"证书序列号", orDash(hexOnly(s.CertificateSerial))},
			{"签署前 SHA-256", orDash(hexOnly(s.HashBefore))},
			{"签署后 SHA-256", orDash(hexOnly(s.HashAfter))},
		}
		// Keep a signer on one page: its title, its fields and its hashes.
		e.need(evLineH*float64(len(fields)+len(hashes)+2) + 4)
		e.y += 1
		e.pdf.SetFillColor(246, 243, 243)
		e.pdf.Rect(evX, e.y, evW, evLineH+1, "F")
		e.w.text(evX+1.5, baseline(e.y, evLineH+1, evBody), e.clean(title), evBody)
		e.y += evLineH + 2
		for _, f := range fields {
			e.field("  "+f.label, f.value, labelW, false)
		}
		for _, f := range hashes {
			e.field("  "+f.label, f.value, labelW, true)
		}
		e.y += 1
	}
	return nil
}

func cmpOr(a, b string) string {
	if strings.TrimSpace(a) != "" {
		return a
	}
	return b
}

// Columns of the events' table (millimetres).
var evEventCols = []float64{9, 22, 26, 20, evW - 9 - 22 - 26 - 20 - 2*27, 27, 27}

func (e *evidencePDF) events(ctx context.Context, events []ports.EvidenceEvent) error {
	e.heading("四、事件哈希链", 8*evSmallH)
	intro := "每条事件的哈希 Hash = SHA-256(前一哈希 || 事件规范字节)，首条事件的前一哈希为空；表中哈希只显示首尾各 8 位，链头哈希全文见第五部分。"
	for _, line := range e.w.wrap(intro, evSmall, evW, evW) {
		e.need(evSmallH)
		e.w.text(evX, baseline(e.y, evSmallH, evSmall), line, evSmall)
		e.y += evSmallH
	}
	e.y += 1
	header := func() {
		e.row(evEventCols, []string{"序号", "时间 (UTC+8)", "类型", "操作人", "说明", "前一哈希", "本条哈希"}, nil, true)
	}
	header()
	for i, ev := range events {
		if i%64 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		at := "-"
		if !ev.At.IsZero() {
			at = ev.At.In(chinaTime).Format("2006-01-02\n15:04:05")
		}
		cells := []string{fmt.Sprint(ev.Seq), at, ev.Type, orDash(ev.Actor), orDash(ev.Detail), "", ""}
		mono := map[int][]string{5: {abbrev(hexOnly(ev.PrevHash))}, 6: {abbrev(hexOnly(ev.Hash))}}
		if e.row(evEventCols, cells, mono, false) {
			header()
			e.row(evEventCols, cells, mono, false)
		}
	}
	if len(events) == 0 {
		e.field("", "（无事件）", 0, false)
	}
	e.y += 2
	return nil
}

func (e *evidencePDF) head(rep ports.EvidenceReport) {
	e.heading("五、链头哈希与时间戳", 3*evLineH)
	const labelW = 40
	e.field("链头哈希", orDash(hexOnly(rep.HeadHash)), labelW, true)
	if len(rep.HeadTimestamp) == 0 {
		e.field("时间戳", "链头尚未加盖时间戳", labelW, false)
	} else {
		sum := sha256.Sum256(rep.HeadTimestamp)
		e.field("时间戳时间", evTime(rep.HeadTimestampTime), labelW, false)
		e.field("时间戳令牌 SHA-256", hex.EncodeToString(sum[:]), labelW, true)
		e.field("时间戳标准", "RFC 3161 可信时间戳，签发对象为链头哈希", labelW, false)
	}
	e.y += 3
	note := "说明：本报告由数信签平台根据签署流程的事件记录生成，姓名与手机号已脱敏显示。核验方法：按序号重算各事件的哈希并与链头哈希比对，" +
		"再以时间戳服务的证书核验时间戳令牌；文件哈希可与下载的签署文件逐一比对。"
	e.pdf.SetTextColor(100, 100, 100)
	for _, line := range e.w.wrap(note, evSmall, evW, evW) {
		e.need(evSmallH)
		e.w.text(evX, baseline(e.y, evSmallH, evSmall), line, evSmall)
		e.y += evSmallH
	}
	e.pdf.SetTextColor(0, 0, 0)
}
