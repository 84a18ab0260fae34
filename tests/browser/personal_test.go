package browser

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
)

// §1.1 login by SMS code, §4 切换渠道 (by name, code, a photo of the QR code, the /join link),
// §3 实名认证 with the face channel's liveness page, 【设置签署密码】, the certificate, 签名外观.
func TestPersonalRealNameAndChannels(t *testing.T) {
	s := startServer(t)
	b := s.browser(t, "person")
	phone := newPhone()

	b.login(phone)
	// The pop-up after login: 【立即认证】 (not yet: the face channel first).
	b.see("为保障签署的法律效力")
	b.shot("popup-realname")
	b.click("稍后")

	// §4: switch to the face channel by its name.
	b.click("当前渠道")
	b.at("/channels")
	b.fill("渠道名称", "深圳公共资源")
	b.click("搜索")
	b.see("深圳公共资源交易示范渠道")
	b.shot("channel-by-name")
	b.click("切换")
	b.at("/")
	b.see("深圳公共资源交易示范渠道")

	// §3 from the list: 【立即认证】 → name + ID → 【开始认证】 → the face check page → back.
	b.click("立即认证")
	b.at("/realname")
	b.fill("姓名", "张三")
	b.fill("身份证号", idNumber())
	b.click("我同意数信签收集并核验我的姓名、身份证号码用于实名认证")
	b.shot("realname-form")
	b.click("开始认证")
	b.at("/sandbox/liveness/")
	b.shot("liveness-page")
	b.click("校验通过")
	b.at("/realname")
	b.see("已完成实名认证")
	b.shot("realname-verified")

	// §4 by code, then by a photo of the channel's QR code (q86804 offers the personal certificate).
	b.open("/channels")
	b.tab("渠道号")
	b.fill("渠道号", "q86804")
	b.click("搜索")
	b.see("东莞交易专家评标项目")
	b.shot("channel-by-code")
	b.open("/channels")
	b.tab("扫码加入")
	qr := filepath.Join(t.TempDir(), "qr.png")
	download(t, s.base+"/api/v1/channels/q86804/qr.png", qr)
	b.shot("channel-scan")
	b.upload("选择二维码图片", qr)
	b.at("/")
	b.see("东莞交易专家评标项目")
	b.shot("channel-by-qr")

	// 【设置签署密码】 twice → the personal certificate.
	b.open("/realname")
	b.click("设置签署密码")
	b.shot("signing-password")
	b.setSigningPassword("Sign2026pass")
	b.at("/certificate")
	b.see("个人证书")
	b.see("有效")
	b.shot("certificate")

	// 签名外观: draw, generate, default.
	b.click("签名外观")
	b.at("/signatures")
	b.click("+ 添加签名")
	b.draw()
	b.shot("signature-draw")
	b.click("保存签名")
	b.at("/signatures")
	b.see("默认签名")
	b.click("+ 添加签名")
	b.click("生成签名")
	b.click("保存签名")
	b.at("/signatures")
	b.poll("two signatures", `document.querySelectorAll('img.sig-img').length === 2 ? 'ok' : 'wait'`)
	b.click("+ 添加签名")
	b.tab("上传图片")
	b.upload("选择签名图片", writePNG(t, 400, 160))
	b.poll("the picked image's preview", `document.querySelector('img[alt="待上传的签名图片"]') ? 'ok' : 'wait'`)
	b.shot("signature-upload")
	b.click("保存签名")
	b.at("/signatures")
	b.poll("three signatures", `document.querySelectorAll('img.sig-img').length === 3 ? 'ok' : 'wait'`)
	b.click("设为默认")
	b.shot("signatures")

	// The channel QR's /join link switches the channel after login.
	ch := s.api("GET", "/api/v1/channels/q10001", nil)
	join, _ := ch["join_url"].(string)
	if join == "" {
		t.Fatalf("channel answers no join_url: %v", ch)
	}
	b.open(join)
	b.at("/")
	b.see("深圳公共资源交易示范渠道")
	b.shot("joined-by-link")
}

// §1.1 password login: 我的 → 设置登录密码 (with an SMS code), 退出登录, then 密码登录; a wrong
// password is refused in plain Chinese next to the field.
func TestPasswordLogin(t *testing.T) {
	s := startServer(t)
	b := s.browser(t, "password")
	phone := newPhone()
	b.login(phone)
	b.click("稍后")
	b.click("我的")
	b.click("设置登录密码")
	b.at("/me/password")
	b.fill("手机号", phone)
	n := s.smsCount(phone)
	b.click("获取验证码")
	b.fill("验证码", s.smsCode(phone, n))
	b.fill("登录密码", "Login2026pass")
	b.shot("set-password")
	b.click("确定")
	b.see("已设置")
	b.click("退出登录")
	b.at("/login")
	b.click("密码登录")
	b.fill("手机号", phone)
	b.fill("密码", "Wrong2026pass")
	b.click("登录")
	b.poll("error next to the field", `document.querySelector('.van-field__error-message') ? 'ok' : 'wait'`)
	b.shot("password-error")
	b.fill("密码", "Login2026pass")
	b.click("登录")
	b.at("/")
	b.see("账户")
	b.shot("password-login")
}

func download(t *testing.T, url, path string) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = res.Body.Close() }()
	if res.StatusCode != 200 {
		t.Fatalf("GET %s: %d", url, res.StatusCode)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	if _, err := io.Copy(f, res.Body); err != nil {
		t.Fatal(err)
	}
}
