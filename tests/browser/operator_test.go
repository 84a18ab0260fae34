package browser

import (
	"fmt"
	"strings"
	"testing"
)

// §5.2 an operator starts the verification and shares the link (copy, QR, 【发送签署链接】,
// 【修改】 the phone); §5.2.1 the legal rep, who has only the SMS and no account, signs on a
// phone-sized browser: 【签署授权书】 → code → face check → 【签名】 → 【签署】.
func TestOperatorAndLegalRepLink(t *testing.T) {
	s := startServer(t)
	f := s.fixtures()[1]
	op := s.browser(t, "operator")
	op.login(newPhone())
	var tok string
	op.eval(`localStorage.getItem('sxq.token')`, &tok)
	s.call("POST", "/api/v1/me/real-name", tok, map[string]any{"name": "周经办", "id_number": idNumber(), "consent": true})

	op.open("/")
	op.click("企业")
	op.at("/enterprises")
	op.click("添加企业")
	op.fill("企业名称", f.name)
	op.click("确定")
	op.see(f.code)
	op.fill("法人身份证", f.repID)
	wrong := newPhone() // a typo in the legal rep's phone, corrected below with 【修改】
	op.fill("法人手机号", wrong)
	op.upload("上传营业执照照片", writePNG(t, 800, 600))
	op.click("我已阅读并同意《数信签企业认证服务协议》")
	op.click("下一步")
	op.at("/verifications/")
	op.see("已向法人手机号")
	op.poll("the link's QR code", `document.querySelector('img.qr') ? 'ok' : 'wait'`)
	var shown string
	op.eval(`document.querySelector('[data-testid=link-url]').innerText`, &shown)
	if !strings.Contains(shown, "/a/") {
		t.Fatalf("the operator sees link %q, want an /a/ link", shown)
	}
	op.shot("share-link")
	op.click("复制链接")
	op.see("链接已复制")
	first := s.smsLink(wrong)
	if strings.TrimSpace(shown) != first {
		t.Fatalf("the page shows %q, the SMS carries %q", shown, first)
	}

	// 【发送签署链接】 → 【修改】 the phone → a new SMS; the old link dies.
	op.click("发送签署链接")
	op.click("修改")
	op.fill("手机号", f.repPhone)
	op.shot("change-phone")
	op.click("确定")
	op.see("已向新手机号发送签署短信")
	link := s.smsLink(f.repPhone)
	if link == first {
		t.Fatal("the corrected phone got the old link")
	}

	// The legal rep: a fresh browser, no account, only the SMS.
	rep := s.browser(t, "legal-rep-link")
	rep.open(first)
	rep.see("签署链接已失效")
	rep.shot("old-link")
	rep.open(link)
	rep.see(f.name)
	rep.shot("link-page")
	rep.click("签署授权书")
	rep.see("签署验证")
	n := s.smsCount(f.repPhone)
	rep.click("获取验证码")
	rep.fill("验证码", s.smsCode(f.repPhone, n))
	rep.click("确定")
	rep.at("/sandbox/liveness/")
	rep.shot("face-check")
	rep.click("校验通过")
	rep.at("/a/")
	rep.click("签名")
	rep.click("手写新签名")
	rep.draw()
	rep.shot("draw")
	rep.click("使用此签名")
	rep.poll("signature placed", `document.querySelector('img.placed-sig') ? 'ok' : 'wait'`)
	rep.shot("placed")
	rep.click("签署")
	rep.codeSheet(f.repPhone)
	rep.see("授权书签署成功")
	rep.shot("signed")
	var hasToken string
	rep.eval(`String(localStorage.getItem('sxq.token'))`, &hasToken)
	if hasToken != "null" {
		t.Fatalf("the legal rep's browser holds a session: %s", hasToken)
	}

	// The operator sees the enterprise verified.
	op.click("分享签署链接")
	op.click("刷新认证状态")
	op.see("企业认证成功")
	op.shot("verified")
}

// §5.2.2 对公打款认证: account, bank, province → 【确认】 → 打款核验: amount + a GIF scan → 【确定】;
// the template; the details in the 企业 tab.
func TestBankTransferVerification(t *testing.T) {
	s := startServer(t)
	f := s.fixtures()[2]
	b := s.browser(t, "bank-transfer")
	b.login(newPhone())
	var tok string
	b.eval(`localStorage.getItem('sxq.token')`, &tok)
	s.call("POST", "/api/v1/me/real-name", tok, map[string]any{"name": "吴经办", "id_number": idNumber(), "consent": true})

	b.open("/enterprises/new")
	b.fill("企业名称", f.name)
	b.click("确定")
	b.see(f.code)
	b.fill("法人身份证", f.repID)
	b.fill("法人手机号", f.repPhone)
	b.upload("上传营业执照照片", writePNG(t, 640, 480))
	b.click("我已阅读并同意《数信签企业认证服务协议》")
	b.click("下一步")
	b.at("/verifications/")
	id := b.poll("verification id", `location.pathname.split('/')[2] || 'wait'`)
	b.clickCSS(`[role=radio][aria-checked=false]`)
	b.shot("choose-bank-transfer")
	b.click("对公打款认证")
	b.at("/verifications/" + id + "/bank-transfer")
	b.fill("对公账号", "6222020200112233445")
	b.fill("开户银行", "中国工商银行")
	b.fill("开户省份", "广东省")
	b.shot("bank-form")
	b.click("确认")
	b.see("打款核验")
	b.poll("template link", `document.querySelector('a[href="/api/v1/authorization-letter-template.pdf"]') ? 'ok' : 'wait'`)
	b.shot("confirm-form")
	var amount string
	items := s.api("GET", "/api/v1/sandbox/bank-transfers?verification_id="+id, nil)["items"].([]any)
	fen := int64(items[0].(map[string]any)["amount_fen"].(float64))
	amount = fmt.Sprintf("%d.%02d", fen/100, fen%100)
	b.fill("打款金额", amount)
	b.upload("上传《数信签授权书》扫描件", writeGIF(t))
	b.click("确定")
	b.see("企业认证成功")
	b.click("查看企业")
	b.see(f.code)
	b.see("对公打款认证")
	b.shot("enterprise-details")
}
