package browser

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// uploadFile posts a file for a purpose over the API and returns its id.
func (s *server) uploadFile(token, purpose, name string, data []byte) string {
	s.t.Helper()
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	_ = w.WriteField("purpose", purpose)
	fw, _ := w.CreateFormFile("file", name)
	_, _ = fw.Write(data)
	_ = w.Close()
	req, _ := http.NewRequest("POST", s.base+"/api/v1/files", &body)
	req.Header.Set("Content-Type", w.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer func() { _ = res.Body.Close() }()
	raw, _ := io.ReadAll(res.Body)
	if res.StatusCode != 201 {
		s.t.Fatalf("upload %s: %d %s", purpose, res.StatusCode, raw)
	}
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return fmt.Sprint(out["file_id"])
}

// verifiedEnterprise has the verified person behind token verify fixture f by bank transfer
// over the API (§5.2.2, walked in the browser by TestBankTransferVerification) and returns the
// enterprise id; that person becomes its admin.
func (s *server) verifiedEnterprise(token string, f fixture) string {
	s.t.Helper()
	lic, _ := os.ReadFile(writePNG(s.t, 640, 480))
	v := s.call("POST", "/api/v1/enterprise-verifications", token, map[string]any{"enterprise_name": f.name,
		"legal_rep_id_number": f.repID, "legal_rep_phone": f.repPhone, "agreement_accepted": true,
		"business_licence_file_id": s.uploadFile(token, "business_licence", "licence.png", lic)})
	id := fmt.Sprint(v["id"])
	s.call("POST", "/api/v1/enterprise-verifications/"+id+"/bank-transfer", token, map[string]string{
		"account_number": "6222021234567890", "bank_name": "中国银行", "bank_province": "广东省"})
	var fen float64
	for deadline := time.Now().Add(patience); ; time.Sleep(50 * time.Millisecond) {
		items, _ := s.api("GET", "/api/v1/sandbox/bank-transfers?verification_id="+id, nil)["items"].([]any)
		if len(items) > 0 {
			if amount, ok := items[0].(map[string]any)["amount_fen"].(float64); ok && amount > 0 {
				fen = amount
				break
			}
		}
		if time.Now().After(deadline) {
			s.t.Fatal("no remittance")
		}
	}
	scan, _ := os.ReadFile(writeGIF(s.t))
	r := s.call("POST", "/api/v1/enterprise-verifications/"+id+"/bank-transfer/confirm", token, map[string]any{"amount_fen": int64(fen),
		"authorization_letter_file_id": s.uploadFile(token, "authorization_letter_scan", "letter.gif", scan)})
	return fmt.Sprint(r["enterprise_id"])
}

// member has a new verified person join the enterprise (approved by the admin) and returns
// the person's token and membership id.
func (s *server) member(admin, eid, ename, phone, name string) (string, string) {
	s.t.Helper()
	tok := s.verifiedPerson(phone, name)
	s.applyToJoin(tok, ename)
	for _, it := range s.call("GET", "/api/v1/enterprises/"+eid+"/members?status=pending", admin, nil)["items"].([]any) {
		m := it.(map[string]any)
		if m["name"] == name {
			s.call("POST", "/api/v1/enterprises/"+eid+"/members/"+fmt.Sprint(m["id"])+"/approve", admin, map[string]any{})
			return tok, fmt.Sprint(m["id"])
		}
	}
	s.t.Fatalf("no pending request of %s", name)
	return "", ""
}

// officialSeal waits for the seal the platform draws for a newly verified enterprise.
func (s *server) officialSeal(token, eid string) string {
	s.t.Helper()
	for deadline := time.Now().Add(patience); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		for _, it := range s.call("GET", "/api/v1/enterprises/"+eid+"/seals", token, nil)["items"].([]any) {
			if m := it.(map[string]any); m["automatic"] == true {
				return fmt.Sprint(m["id"])
			}
		}
	}
	s.t.Fatal("no automatic official seal")
	return ""
}

// sealPNG writes a red ring, on a transparent background or (opaque) on white.
func sealPNG(t *testing.T, opaque bool) string {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, 300, 300))
	for y := 0; y < 300; y++ {
		for x := 0; x < 300; x++ {
			dx, dy := x-150, y-150
			switch d := dx*dx + dy*dy; {
			case d < 140*140 && d > 120*120:
				img.Set(x, y, color.NRGBA{220, 20, 20, 255})
			case opaque:
				img.Set(x, y, color.White)
			}
		}
	}
	p := filepath.Join(t.TempDir(), fmt.Sprintf("seal-%v.png", opaque))
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
	return p
}

// signedIn puts a session made over the API into the browser (the login page itself is walked
// by TestPersonalRealNameAndChannels; a second code for the same phone would be too soon).
func (b *browser) signedIn(token string) {
	b.t.Helper()
	b.open("/login")
	b.see("验证码登录")
	b.eval(`localStorage.setItem('sxq.token', `+jsString(token)+`); 'ok'`, nil)
}

// imageShown waits until the seal image on the page has loaded (a decoded PNG, not a spinner).
func (b *browser) imageShown(sel string) {
	b.t.Helper()
	b.poll("image "+sel, `(function(){ const i=document.querySelector(`+jsString(sel)+`); return i && i.complete && i.naturalWidth > 0 ? 'ok' : 'wait'; })()`)
}

// 印章管理 from the enterprise page: the automatic official seal, a template seal (oval
// contract seal), an uploaded PNG (refused when opaque, beside the field), a grant to a member
// for three months, its revocation, disabling and enabling, deleting an unused seal.
func TestSealManagement(t *testing.T) {
	s := startServer(t)
	f := s.fixtures()[0]
	adminPhone := newPhone()
	admin := s.verifiedPerson(adminPhone, "甲管理")
	eid := s.verifiedEnterprise(admin, f)
	_, mid := s.member(admin, eid, f.name, newPhone(), "丙成员")
	official := s.officialSeal(admin, eid)

	b := s.browser(t, "seals")
	b.signedIn(admin)
	b.open("/enterprises/" + eid)
	b.click("印章管理")
	b.at("/enterprises/" + eid + "/seals")
	b.see("公章")
	b.see("已使用 0 次")
	b.imageShown("img.seal-thumb")
	b.check("seals")
	b.shot("seal-list")

	// A template seal: 合同专用章, 椭圆形.
	b.click("新建印章")
	b.at("/enterprises/" + eid + "/seals/new")
	b.click("合同专用章")
	b.click("椭圆形")
	b.check("seal-new")
	b.shot("seal-new-template")
	b.click("创建印章")
	b.see("印章已创建")
	b.see("模板生成（椭圆形）")
	b.imageShown("img.seal-big")
	b.shot("seal-contract")
	contract := b.poll("seal id", `location.pathname.split('/')[4] || 'wait'`)
	if contract == "new" || contract == official {
		t.Fatalf("at %s after creating", b.url())
	}

	// An uploaded image: an opaque PNG is refused beside the field, a transparent one is taken.
	b.open("/enterprises/" + eid + "/seals/new")
	b.click("上传图片")
	b.click("财务专用章")
	b.click("创建印章")
	b.see("请选择印章图片")
	b.upload("选择印章图片", sealPNG(t, true))
	b.click("创建印章")
	b.see("印章图片须为透明背景")
	b.shot("seal-upload-opaque")
	b.upload("选择印章图片", sealPNG(t, false))
	b.fill("印章名称", "财务章（上传）")
	b.click("创建印章")
	b.see("印章已创建")
	b.see("上传图片")
	b.see("财务章（上传）")
	b.imageShown("img.seal-big")

	// Grants on the contract seal: 添加授权 → the member → 三个月 → 确定授权; then 撤销授权.
	b.open("/enterprises/" + eid + "/seals/" + contract)
	b.see("尚未授权任何成员")
	b.click("添加授权")
	b.see("选择成员")
	b.click("确定授权")
	b.see("请选择成员")
	b.click("丙成员")
	b.click("三个月")
	b.check("grant")
	b.shot("grant")
	b.click("确定授权")
	b.see("已授权")
	b.see("有效期至")
	b.shot("granted")
	grants := s.call("GET", "/api/v1/enterprises/"+eid+"/seals/"+contract+"/grants", admin, nil)["items"].([]any)
	if len(grants) != 1 {
		t.Fatalf("grants %v", grants)
	}
	g := grants[0].(map[string]any)
	exp, _ := time.Parse(time.RFC3339, fmt.Sprint(g["expires_at"]))
	if g["member_id"] != mid || g["state"] != "active" || time.Until(exp) < 89*24*time.Hour || time.Until(exp) > 91*24*time.Hour {
		t.Fatalf("grant %v", g)
	}
	b.click("撤销授权")
	b.see("确定撤销「丙成员」")
	b.click("确定")
	b.see("已撤销授权")
	b.see("已撤销")
	b.shot("revoked")
	if g := s.call("GET", "/api/v1/enterprises/"+eid+"/seals/"+contract+"/grants", admin, nil)["items"].([]any)[0].(map[string]any); g["state"] != "revoked" {
		t.Fatalf("after revoking: %v", g)
	}

	// 停用印章 → 启用印章, then 删除印章 (never used).
	b.click("停用印章")
	b.click("确定")
	b.see("印章已停用")
	b.see("已停用")
	if st := s.call("GET", "/api/v1/enterprises/"+eid+"/seals/"+contract, admin, nil)["status"]; st != "disabled" {
		t.Fatalf("status %v", st)
	}
	b.click("启用印章")
	b.see("印章已启用")
	b.click("删除印章")
	b.click("确定")
	b.see("印章已删除")
	b.at("/enterprises/" + eid + "/seals")
	b.poll("the list without the deleted seal", `document.querySelectorAll('.van-cell').length === 2 ? 'ok' : 'wait'`)
	var names string
	b.eval(`[...document.querySelectorAll('.van-cell__title span')].map(e=>e.innerText).join(',')`, &names)
	if strings.Contains(names, "合同专用章") || !strings.Contains(names, "公章") {
		t.Fatalf("seals listed after deleting: %s", names)
	}
	b.shot("after-delete")
}
