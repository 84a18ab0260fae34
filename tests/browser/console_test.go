package browser

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/shuxinqian/server/domain/operator"
)

// createOperator runs `shuxinqian operator create` against the server's database and returns
// the operator's TOTP secret (the codes are computed from it, like an authenticator app).
func (s *server) createOperator(username, role, password string) []byte {
	s.t.Helper()
	cmd := exec.Command(binPath, "operator", "create", "--username", username, "--role", role, "--password-stdin")
	cmd.Env = s.env
	cmd.Stdin = strings.NewReader(password + "\n")
	out, err := cmd.CombinedOutput()
	if err != nil {
		s.t.Fatalf("operator create: %v\n%s", err, out)
	}
	m := secretRe.FindSubmatch(out)
	if m == nil {
		s.t.Fatalf("no TOTP secret printed:\n%s", out)
	}
	secret, err := operator.DecodeSecret(string(m[1]))
	if err != nil {
		s.t.Fatal(err)
	}
	return secret
}

// eventually polls cond until it holds (patience).
func (s *server) eventually(what string, cond func() bool) {
	s.t.Helper()
	for deadline := time.Now().Add(patience); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if cond() {
			return
		}
	}
	s.t.Fatalf("timed out waiting for %s", what)
}

// noCSPViolations fails the test for any violation the current page recorded.
func (b *browser) noCSPViolations(where string) {
	b.t.Helper()
	var v []string
	b.eval(`window.__csp || []`, &v)
	for _, x := range v {
		b.t.Errorf("%s: CSP violation %s", where, x)
	}
}

// menu clicks an entry of the console's side menu.
func (b *browser) menu(label string) {
	b.t.Helper()
	b.clickCSS(`.el-menu-item[data-label=` + jsString(label) + `]`)
}

// consoleLogin signs an operator in on the console's login page.
func (b *browser) consoleLogin(username, password, code string) {
	b.t.Helper()
	b.at("/admin/login")
	b.fill("用户名", username)
	b.fill("密码", password)
	b.fill("动态验证码", code)
	b.click("登录")
}

// Issue 16, the operator console in a desktop Chromium: login with TOTP (a wrong code refused
// with the message), a channel and a catalog item created; an app user switches to the channel,
// buys and pays in the sandbox; the operator finds the order, refunds half and sees 部分退款;
// the audit log lists the steps; a banner uploaded and created shows on the H5 home; a support
// operator sees no refund menu or button and the server's 403 message when forcing it.
func TestConsole(t *testing.T) {
	s := startServer(t)
	const pw = "console-operator-password"
	adminSecret := s.createOperator("console-admin", "admin", pw)
	supportSecret := s.createOperator("console-support", "support", pw)
	apiOp := s.adminToken() // another operator, for what the test reads besides the pages

	b := s.desktop(t, "console")
	b.recordCSP()
	b.open("/admin/")
	right := operator.Code(adminSecret, operator.Step(time.Now()))
	wrong := fmt.Sprintf("%06d", (mustAtoi(t, right)+1)%1000000)
	b.consoleLogin("console-admin", pw, wrong)
	b.see("用户名、密码或动态验证码错误")
	b.shot("login-wrong-totp")
	b.fill("动态验证码", operator.Code(adminSecret, operator.Step(time.Now())))
	b.click("登录")
	b.at("/admin/channels")
	b.see("console-admin")
	b.see("管理员")
	b.see("东莞交易专家评标项目")
	b.shot("channels")

	// A channel and a catalog item.
	b.click("新建渠道")
	b.fill("渠道码", "k16c01")
	b.fill("渠道名称", "控制台测试渠道")
	b.shot("channel-new")
	b.click("创建")
	b.at("/admin/channels/k16c01")
	b.see("渠道：控制台测试渠道")
	b.click("新增商品")
	b.fill("商品编码", "pkg-console-10")
	b.fill("商品名称", "控制台套餐")
	b.fill("描述", "十次签署")
	b.fill("单价（元）", "100.00")
	b.fill("签署次数", "10")
	b.fill("税率（%）", "6")
	b.shot("catalog-item")
	b.click("保存商品")
	b.see("¥100.00")
	b.see("签署10次")
	b.shot("catalog")
	ch := s.call("GET", "/api/v1/channels/k16c01", "", nil)
	if cat, _ := ch["catalog"].([]any); len(cat) != 1 || cat[0].(map[string]any)["unit_price_fen"] != float64(10000) ||
		cat[0].(map[string]any)["tax_rate_bp"] != float64(600) {
		t.Fatalf("the channel's catalog: %v", ch)
	}

	// An app user switches to the channel, buys the item for an enterprise and pays in the sandbox.
	user := s.verifiedPerson(newPhone(), "控制台买家")
	s.call("PUT", "/api/v1/me/channel", user, map[string]string{"code": "k16c01"})
	eid := s.verifiedEnterprise(user, s.fixtures()[0])
	o := s.call("POST", "/api/v1/enterprises/"+eid+"/orders", user, map[string]any{"items": []map[string]any{{"sku": "pkg-console-10", "quantity": 1}}})
	oid, outTradeNo := o["id"].(string), o["out_trade_no"].(string)
	s.call("POST", "/api/v1/orders/"+oid+"/wechat-pay", user, map[string]string{"trade_type": "app"})
	s.call("POST", "/api/v1/sandbox/wechat-pay/orders/"+oid+"/pay", "", nil)
	s.eventually("the order paid", func() bool { return s.call("GET", "/api/v1/orders/"+oid, user, nil)["status"] == "paid" })

	// The operator finds the order by its out_trade_no and refunds half.
	b.menu("订单与退款")
	b.at("/admin/orders")
	b.fill("商户订单号", outTradeNo)
	b.click("查询")
	b.poll("the order row", `location.search.includes(`+jsString(outTradeNo)+`) && document.querySelectorAll('.el-table__body tr').length === 1 ? 'ok' : 'wait'`)
	b.see("已支付")
	b.shot("orders")
	b.click("详情")
	b.at("/admin/orders/" + oid)
	b.see("控制台套餐")
	b.click("退款")
	b.at("/admin/orders/" + oid + "/refund")
	b.fill("退款金额（元）", "50.00")
	b.fill("退款原因", "客户申请退一半")
	b.shot("refund")
	b.click("确认退款")
	b.see("处理中")
	b.see("退款中")
	detail := s.call("GET", "/api/v1/admin/orders/"+oid, apiOp, nil)
	refunds, _ := detail["refunds"].([]any)
	if len(refunds) != 1 || refunds[0].(map[string]any)["amount_fen"] != float64(5000) {
		t.Fatalf("refunds after the console's refund: %v", detail)
	}
	// WeChat Pay (the simulator) settles the refund and notifies: 部分退款.
	s.call("POST", "/api/v1/sandbox/wechat-pay/refunds/"+refunds[0].(map[string]any)["refund_no"].(string)+"/settle", "", map[string]string{"status": "SUCCESS"})
	s.eventually("partially refunded", func() bool { return s.call("GET", "/api/v1/orders/"+oid, user, nil)["status"] == "partially_refunded" })
	b.click("刷新")
	b.poll("部分退款", `(document.querySelector('[data-testid=order-status]')||{}).innerText === '部分退款' ? 'ok' : 'wait'`)
	b.see("退款成功")
	b.shot("partially-refunded")

	// The audit log lists the steps.
	b.menu("操作日志")
	b.at("/admin/audit")
	for _, a := range []string{"channel.create", "catalog.put", "order.refund"} {
		b.see(a)
	}
	b.fill("操作", "order.refund")
	b.click("筛选")
	b.poll("the filtered audit", `document.querySelectorAll('.el-table__body tr').length === 1 && !document.body.innerText.includes('channel.create') ? 'ok' : 'wait'`)
	b.shot("audit")

	// A banner: image upload, create; it shows on the H5 home.
	b.menu("广告图")
	b.at("/admin/banners")
	b.click("新增广告图")
	b.upload("上传图片", writePNG(t, 750, 300))
	b.poll("the uploaded image", `document.querySelector('.el-dialog img.banner-thumb') ? 'ok' : 'wait'`)
	b.fill("标题", "控制台广告")
	b.fill("渠道码", "k16c01")
	b.shot("banner-new")
	b.click("保存广告图")
	b.poll("the banner row", `[...document.querySelectorAll('.el-table__body tr')].some(r => r.innerText.includes('控制台广告')) ? 'ok' : 'wait'`)
	b.shot("banners")
	var bannerID string
	for _, it := range s.call("GET", "/api/v1/banners", "", nil)["items"].([]any) {
		if m := it.(map[string]any); m["title"] == "控制台广告" {
			bannerID = m["id"].(string)
		}
	}
	if bannerID == "" {
		t.Fatal("the console's banner is not among the public banners")
	}
	h5 := s.browser(t, "console-h5")
	h5.login(newPhone())
	h5.click("稍后")
	h5.open("/")
	h5.poll("the console's banner on the home page", `[...document.querySelectorAll('.banner-swipe img')].some(i => i.getAttribute('src').includes(`+jsString(bannerID)+`) && i.complete && i.naturalWidth === 750) ? 'ok' : 'wait'`)
	h5.shot("home-banner")

	// Dead letters: the page lists what is parked (nothing here).
	b.menu("死信队列")
	b.at("/admin/dead-letters")
	b.see("暂无死信")
	b.noCSPViolations("admin console")

	// 操作员管理: a second admin (created on the server) is in the list; the console demotes it to
	// support, disables it (its session ends at once), enables it again, unlocks it after five
	// failed logins, resets its TOTP (QR code and secret shown once) and its password (shown
	// once), and the shown password with a code of the shown secret logs in over the API.
	secondSecret := s.createOperator("console-second", "admin", pw)
	code, second := s.operatorLogin("console-second", pw, operator.Code(secondSecret, operator.Step(time.Now())))
	if code != 201 {
		t.Fatalf("the second operator's login: %d", code)
	}
	b.menu("操作员管理")
	b.at("/admin/operators")
	b.see("console-second")
	b.see("当前账号")
	b.shot("operators")
	row := func(username string) string { return `[data-username=` + jsString(username) + `] button` }
	b.clickCSS(`.role-cell[data-username="console-second"] .el-select__wrapper`)
	b.clickIn("客服", ".el-select-dropdown__item")
	b.see("修改角色")
	b.click("确认修改")
	s.eventually("console-second demoted", func() bool { return s.operatorRow(apiOp, "console-second")["role"] == "support" })
	b.see("角色已修改")

	b.clickIn("停用", row("console-second"))
	b.see("停用账号")
	b.shot("operator-disable")
	b.click("确认停用")
	s.eventually("console-second disabled", func() bool { return s.operatorRow(apiOp, "console-second")["active"] == false })
	if st := s.status("GET", "/api/v1/admin/me", second); st != 401 {
		t.Fatalf("the disabled operator's session answers %d, want 401", st)
	}
	// Disabling oneself is refused with the API's message (422 operator-self-change).
	b.clickIn("停用", row("console-admin"))
	b.click("确认停用")
	b.see("you cannot disable or demote your own operator account")
	if s.operatorRow(apiOp, "console-admin")["active"] != true {
		t.Fatal("the console disabled its own operator")
	}
	b.shot("operator-self-change")
	b.clickIn("启用", row("console-second"))
	s.eventually("console-second enabled", func() bool { return s.operatorRow(apiOp, "console-second")["active"] == true })

	// Five wrong passwords lock the account; 解锁 clears the lock.
	for i := 0; i < operator.MaxFailures; i++ {
		s.operatorLogin("console-second", "wrong-password-"+fmt.Sprint(i), operator.Code(secondSecret, operator.Step(time.Now())))
	}
	if s.operatorRow(apiOp, "console-second")["locked_until"] == nil {
		t.Fatal("five failed logins did not lock console-second")
	}
	b.click("刷新")
	b.clickIn("解锁", row("console-second")) // enabled once the list shows the lock
	s.eventually("console-second unlocked", func() bool {
		r := s.operatorRow(apiOp, "console-second")
		return r["locked_until"] == nil && r["failed_count"] == float64(0)
	})
	b.see("已解锁")

	b.clickIn("重置动态口令", row("console-second"))
	b.click("确认重置")
	b.see("只显示这一次")
	b.poll("the TOTP QR code", `(function(){ const i=document.querySelector('[data-testid=totp-qr]'); return i && i.src.startsWith('data:image/png') && i.complete && i.naturalWidth > 0 ? 'ok' : 'wait'; })()`)
	var shownSecret string
	b.eval(`document.querySelector('[data-testid=totp-secret]').innerText.trim()`, &shownSecret)
	newSecret, err := operator.DecodeSecret(shownSecret)
	if err != nil || string(newSecret) == string(secondSecret) {
		t.Fatalf("the shown TOTP secret %q: %v", shownSecret, err)
	}
	b.shot("operator-totp")
	b.click("我已保存")
	b.poll("the secret gone from the page", `document.body.innerText.includes(`+jsString(shownSecret)+`) ? 'wait' : 'ok'`)

	b.clickIn("重置密码", row("console-second"))
	b.click("确认重置")
	b.see("新的密码")
	shownPassword := b.poll("the new password", `(document.querySelector('[data-testid=new-password]')||{}).innerText || 'wait'`)
	b.shot("operator-password")
	b.click("我已保存")
	b.poll("the password gone from the page", `document.body.innerText.includes(`+jsString(shownPassword)+`) ? 'wait' : 'ok'`)
	if code, _ := s.operatorLogin("console-second", pw, operator.Code(newSecret, operator.Step(time.Now())+1)); code == 201 {
		t.Fatal("the old password still logs in")
	}
	code, second = s.operatorLogin("console-second", shownPassword, operator.Code(newSecret, operator.Step(time.Now())+1))
	if code != 201 {
		t.Fatalf("the shown password and secret log in: %d", code)
	}
	if me := s.call("GET", "/api/v1/admin/me", second, nil); me["role"] != "support" {
		t.Fatalf("console-second after the walk: %v", me)
	}
	b.noCSPViolations("operators page")

	// 退出, then a support operator: no audit menu, no refund button; forcing the refund page
	// shows the server's 403 message.
	b.click("退出")
	b.at("/admin/login")
	var tok string
	b.eval(`sessionStorage.getItem('sxq.op') || ''`, &tok)
	if tok != "" {
		t.Fatal("the operator token survived 退出")
	}
	b.consoleLogin("console-support", pw, operator.Code(supportSecret, operator.Step(time.Now())))
	b.at("/admin/channels")
	b.see("客服")
	var menus string
	b.eval(`[...document.querySelectorAll('.el-menu-item')].map(e => e.innerText.trim()).join(',')`, &menus)
	if strings.Contains(menus, "操作日志") || strings.Contains(menus, "操作员管理") || !strings.Contains(menus, "订单与退款") {
		t.Fatalf("support's menus: %s", menus)
	}
	b.open("/admin/operators") // not the support's: the console goes to its first menu
	b.at("/admin/channels")
	b.open("/admin/orders/" + oid)
	b.see("部分退款")
	var refundButtons int
	b.eval(`[...document.querySelectorAll('button')].filter(e => e.innerText.trim() === '退款').length`, &refundButtons)
	if refundButtons != 0 {
		t.Fatal("a support operator sees a refund button")
	}
	b.shot("support-order")
	b.open("/admin/orders/" + oid + "/refund")
	b.see("当前角色没有退款权限")
	b.fill("退款金额（元）", "1.00")
	b.fill("退款原因", "客服强行退款")
	b.click("确认退款")
	b.poll("the server's 403 message", `(document.querySelector('[data-testid=refund-error]')||{}).innerText ? 'ok' : 'wait'`)
	var shown string
	b.eval(`document.querySelector('[data-testid=refund-error]').innerText`, &shown)
	if !strings.Contains(shown, "your operator role does not allow this action") {
		t.Fatalf("support's forced refund shows %q, want the API's 403 message", shown)
	}
	b.shot("support-refund-403")
	if got := s.call("GET", "/api/v1/orders/"+oid, user, nil); got["refunded_fen"] != float64(5000) || got["refunding_fen"] != float64(0) {
		t.Fatalf("the support operator's refund changed the order: %v", got)
	}
	b.noCSPViolations("admin console (support)")
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	var n int
	if _, err := fmt.Sscanf(s, "%d", &n); err != nil {
		t.Fatal(err)
	}
	return n
}

// operatorLogin posts a console login over the API; it returns the status and the token.
func (s *server) operatorLogin(username, password, code string) (int, string) {
	s.t.Helper()
	body, _ := json.Marshal(map[string]string{"username": username, "password": password, "totp": code})
	res, err := http.Post(s.base+"/api/v1/admin/sessions", "application/json", bytes.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	defer func() { _ = res.Body.Close() }()
	var got struct{ Token string }
	_ = json.NewDecoder(res.Body).Decode(&got)
	return res.StatusCode, got.Token
}

// status is an API call's status code.
func (s *server) status(method, path, token string) int {
	s.t.Helper()
	req, _ := http.NewRequest(method, s.base+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	_ = res.Body.Close()
	return res.StatusCode
}

// operatorRow is the account username in GET /api/v1/admin/operators.
func (s *server) operatorRow(token, username string) map[string]any {
	s.t.Helper()
	for _, it := range s.call("GET", "/api/v1/admin/operators?limit=100", token, nil)["items"].([]any) {
		if m := it.(map[string]any); m["username"] == username {
			return m
		}
	}
	s.t.Fatalf("operator %s not listed", username)
	return nil
}
