// Package browser walks the manual's flows in a real Chromium (chromedp) against the real binary
// in sandbox mode: the H5 client served by the server, clicked by the manual's button labels, at
// a phone-sized viewport, with a screenshot of every step. The tests skip when Chromium is missing
// unless CI=true.
package browser

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
)

// Viewport of the tests: a phone; the operator console's tests use a desktop.
const (
	phoneWidth    = 375
	phoneHeight   = 812
	desktopWidth  = 1440
	desktopHeight = 900
)

var (
	binPath    string
	chromePath string
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	chromePath = findChromium()
	if chromePath == "" {
		if os.Getenv("CI") == "true" {
			fmt.Fprintln(os.Stderr, "browser tests: chromium is required with CI=true (apt-get install -y chromium)")
			return 1
		}
		fmt.Fprintln(os.Stderr, "browser tests: chromium not found, skipping")
		return m.Run() // every test skips
	}
	dir, err := os.MkdirTemp("", "sxq-browser-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = os.RemoveAll(dir) }()
	binPath = filepath.Join(dir, "shuxinqian")
	build := exec.Command("go", "build", "-o", binPath, "github.com/shuxinqian/server/bootstrap/cmd/shuxinqian")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "browser tests: building the server:", err)
		return 1
	}
	return m.Run()
}

func findChromium() string {
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium"
	}
	return ""
}

// server is the real binary on a random loopback port with a fresh data directory.
type server struct {
	t    *testing.T
	base string
	// env is the server's environment (the CLI run beside it uses the same database).
	env []string
}

func startServer(t *testing.T) *server {
	t.Helper()
	if chromePath == "" {
		t.Skip("chromium not found")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	cmd := exec.Command(binPath, "serve")
	env := append(os.Environ(), "HTTP_ADDR="+addr, "PUBLIC_BASE_URL=http://"+addr, "DATA_DIR="+t.TempDir(),
		"APP_MODE=sandbox", "LOG_LEVEL=error", "FORWARDER_POLL_INTERVAL=20ms", "DATABASE_URL=")
	cmd.Env = env
	logf, err := os.Create(filepath.Join(t.TempDir(), "server.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
		}
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("server log:\n%s", b)
		}
	})
	s := &server{t: t, base: "http://" + addr, env: env}
	for deadline := time.Now().Add(30 * time.Second); ; {
		if r, err := http.Get(s.base + "/healthz"); err == nil {
			_ = r.Body.Close()
			if r.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("the server did not start")
		}
		time.Sleep(50 * time.Millisecond)
	}
	return s
}

// api calls the JSON API (for the sandbox's helpers: SMS, registry, transfers).
func (s *server) api(method, path string, body io.Reader) map[string]any {
	s.t.Helper()
	req, _ := http.NewRequest(method, s.base+path, body)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer func() { _ = res.Body.Close() }()
	var out map[string]any
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode >= 300 {
		s.t.Fatalf("%s %s: %d %s", method, path, res.StatusCode, b)
	}
	_ = json.Unmarshal(b, &out)
	return out
}

var codeRe = regexp.MustCompile(`验证码为(\d{6})`)

// smsCode is the newest code texted to phone, waiting for it to arrive.
func (s *server) smsCode(phone string, after int) string {
	s.t.Helper()
	for deadline := time.Now().Add(patience); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		items, _ := s.api("GET", "/api/v1/sandbox/sms?phone="+url.QueryEscape(phone), nil)["items"].([]any)
		if len(items) <= after {
			continue
		}
		text, _ := items[0].(map[string]any)["text"].(string)
		if m := codeRe.FindStringSubmatch(text); m != nil {
			return m[1]
		}
	}
	s.t.Fatalf("no code texted to %s", phone)
	return ""
}

// smsCount is how many messages phone received.
func (s *server) smsCount(phone string) int {
	items, _ := s.api("GET", "/api/v1/sandbox/sms?phone="+url.QueryEscape(phone), nil)["items"].([]any)
	return len(items)
}

// smsLink is the signing link in the newest message to phone.
func (s *server) smsLink(phone string) string {
	s.t.Helper()
	re := regexp.MustCompile(`https?://[^\s，。]+/a/[A-Za-z0-9_-]+`)
	for deadline := time.Now().Add(patience); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		items, _ := s.api("GET", "/api/v1/sandbox/sms?phone="+url.QueryEscape(phone), nil)["items"].([]any)
		for _, it := range items {
			text, _ := it.(map[string]any)["text"].(string)
			if m := re.FindString(text); m != "" {
				return m
			}
		}
	}
	s.t.Fatalf("no signing link texted to %s", phone)
	return ""
}

type fixture struct{ name, code, rep, repID, repPhone string }

func (s *server) fixtures() []fixture {
	var out []fixture
	for _, it := range s.api("GET", "/api/v1/sandbox/business-registry", nil)["items"].([]any) {
		m := it.(map[string]any)
		out = append(out, fixture{fmt.Sprint(m["name"]), fmt.Sprint(m["credit_code"]), fmt.Sprint(m["legal_rep_name"]),
			fmt.Sprint(m["legal_rep_id_number"]), fmt.Sprint(m["legal_rep_phone"])})
	}
	if len(out) < 3 {
		s.t.Fatalf("want 3 registry fixtures, got %d", len(out))
	}
	return out
}

var idSeq atomic.Int32

// idNumber makes a valid resident ID number (GB 11643 check digit).
func idNumber() string {
	body := fmt.Sprintf("11010119900101%03d", 100+idSeq.Add(1))
	weights := []int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
	sum := 0
	for i, c := range body {
		sum += int(c-'0') * weights[i]
	}
	return body + string("10X98765432"[sum%11])
}

var phoneSeq atomic.Int32

func newPhone() string { return "1390000" + strconv.Itoa(1000+int(phoneSeq.Add(1))) }

// browser is one Chromium tab with a fresh profile and a phone viewport.
type browser struct {
	t     *testing.T
	ctx   context.Context
	s     *server
	shots string
	step  int
}

// browser is a Chromium tab with a phone viewport (the H5 client).
func (s *server) browser(t *testing.T, name string) *browser {
	t.Helper()
	return s.newBrowser(t, name, phoneWidth, phoneHeight, 2, true)
}

// desktop is a Chromium tab with a desktop viewport (the operator console).
func (s *server) desktop(t *testing.T, name string) *browser {
	t.Helper()
	return s.newBrowser(t, name, desktopWidth, desktopHeight, 1, false)
}

func (s *server) newBrowser(t *testing.T, name string, width, height int64, scale float64, mobile bool) *browser {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromePath),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(int(width), int(height)),
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelC := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelC(); cancelA() })
	if err := chromedp.Run(ctx, emulation.SetDeviceMetricsOverride(width, height, scale, mobile)); err != nil {
		t.Fatal(err)
	}
	dir := os.Getenv("BROWSER_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join("artifacts")
	}
	dir = filepath.Join(dir, t.Name()+"-"+name)
	_ = os.RemoveAll(dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	abs, _ := filepath.Abs(dir)
	t.Logf("screenshots of %s: %s", name, abs)
	return &browser{t: t, ctx: ctx, s: s, shots: dir}
}

func (b *browser) run(actions ...chromedp.Action) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Run(ctx, actions...); err != nil {
		b.shot("failure")
		b.t.Fatalf("browser: %v (at %s)", err, b.url())
	}
}

func (b *browser) url() string {
	var u string
	ctx, cancel := context.WithTimeout(b.ctx, 2*time.Second)
	defer cancel()
	_ = chromedp.Run(ctx, chromedp.Location(&u))
	return u
}

// open navigates to a path of the server (or an absolute URL).
func (b *browser) open(p string) {
	b.t.Helper()
	if !strings.HasPrefix(p, "http") {
		p = b.s.base + p
	}
	b.run(chromedp.Navigate(p))
}

// shot saves a screenshot of the current step.
func (b *browser) shot(name string) {
	b.step++
	var png []byte
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	if err := chromedp.Run(ctx, chromedp.Sleep(0), chromedp.CaptureScreenshot(&png)); err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
		return
	}
	_ = os.WriteFile(filepath.Join(b.shots, fmt.Sprintf("%02d-%s.png", b.step, name)), png, 0o644)
}

// eval runs JavaScript and decodes its result.
func (b *browser) eval(js string, out any) {
	b.t.Helper()
	b.run(chromedp.Evaluate(js, out))
}

// poll evaluates js until it answers a non-empty string other than "wait", then returns it.
func (b *browser) poll(what, js string) string {
	b.t.Helper()
	var last string
	for deadline := time.Now().Add(patience); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		var r string
		ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
		err := chromedp.Run(ctx, chromedp.Evaluate(js, &r))
		cancel()
		if err == nil && r != "" && r != "wait" {
			return r
		}
		last = r
	}
	b.shot("failure")
	var text string
	b.eval(`document.body.innerText`, &text)
	b.t.Fatalf("timed out waiting for %s (%q) at %s; page:\n%s", what, last, b.url(), text)
	return ""
}

const findJS = `(function(label, kinds){
  const sel = kinds || 'button, a, [role=button], [role=tab], [role=radio], [role=checkbox], .van-cell--clickable, .van-tabbar-item, .van-cell, .van-tab, .van-action-sheet__item, .van-dialog__confirm, .van-dialog__cancel';
  const vis = (e) => { const r = e.getBoundingClientRect(); const st = getComputedStyle(e); return r.width > 0 && r.height > 0 && st.visibility !== 'hidden' && st.display !== 'none' && !e.closest('[aria-hidden=true]'); };
  const txt = (e) => (e.innerText || e.getAttribute('aria-label') || '').replace(/\s+/g, '').trim();
  const want = label.replace(/\s+/g, '');
  const title = (e) => { const t = e.querySelector(':scope > .van-cell__title > span') || e.querySelector(':scope > .van-cell__title'); return t ? t.innerText.replace(/\s+/g, '') : null; };
  let found = [...document.querySelectorAll(sel)].filter(e => vis(e) && (txt(e) === want || e.getAttribute('aria-label') === label || (e.classList.contains('van-cell--clickable') && title(e) === want)));
  // The innermost match, topmost (dialogs and popups last in the DOM).
  found = found.filter(e => !found.some(o => o !== e && e.contains(o)));
  if (!found.length) return null;
  const e = found[found.length - 1];
  e.scrollIntoView({block: 'center'});
  const r = e.getBoundingClientRect();
  const x = r.left + r.width / 2, y = r.top + r.height / 2;
  const hit = document.elementFromPoint(x, y);
  // Not yet clickable: something (a closing dialog's overlay, a toast) covers it.
  if (!hit || !(e === hit || e.contains(hit) || hit.contains(e))) return null;
  return {x: x, y: y, disabled: !!(e.disabled || e.classList.contains('van-button--disabled'))};
})`

// click clicks the visible element whose text is label (the manual's 【label】), with a real
// mouse event at its centre.
func (b *browser) click(label string) {
	b.t.Helper()
	b.clickIn(label, "")
}

// clickIn is click among the elements matching the CSS selector kinds (all clickable kinds when
// empty): a button in one table row, an option of a drop-down.
//
// The document counts the clicks that reach it. A mouse click the page never received (seen on a
// loaded CI machine: the press and release dispatched, no click event, the form never sent) is
// made again at the element's new place, up to three clicks; a click the page did receive,
// wherever it landed, is not repeated (it may have started what the test waits for), and neither
// is one after which the document is another (a navigation).
func (b *browser) clickIn(label, kinds string) {
	b.t.Helper()
	for try := 1; ; try++ {
		x, y := b.locate(label, kinds)
		if b.clickReached(x, y) {
			return
		}
		if try == 3 {
			b.shot("failure")
			b.t.Fatalf("three clicks on 【%s】 at %s reached no element", label, b.url())
		}
		b.t.Logf("the click on 【%s】 at %s reached no element: clicking again", label, b.url())
	}
}

// locate waits for the enabled element labelled label among kinds to stay put, and returns its
// centre.
func (b *browser) locate(label, kinds string) (x, y float64) {
	b.t.Helper()
	var ok bool
	for deadline := time.Now().Add(patience); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		var res map[string]any
		ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
		err := chromedp.Run(ctx, chromedp.Evaluate(findJS+"("+jsString(label)+","+jsString(kinds)+")", &res))
		cancel()
		if err == nil && res != nil && res["disabled"] != true {
			nx, ny := res["x"].(float64), res["y"].(float64)
			// Click once the target stays put (pages grow while their data arrives).
			if ok && nx == x && ny == y {
				return x, y
			}
			x, y, ok = nx, ny, true
			continue
		}
		ok = false
	}
	b.shot("failure")
	var text string
	b.eval(`document.body.innerText`, &text)
	b.t.Fatalf("no enabled 【%s】 at %s; page:\n%s", label, b.url(), text)
	return 0, 0
}

// clickReached clicks at (x, y) and reports whether a click event reached the document, or the
// document went away (a navigation).
func (b *browser) clickReached(x, y float64) bool {
	b.run(chromedp.Evaluate(`(function(){ window.__clicks = 0; if (!window.__clickProbe) { window.__clickProbe = true; window.addEventListener('click', () => { window.__clicks++ }, {capture: true}); } })()`, nil))
	b.run(chromedp.MouseClickXY(x, y))
	var reached string
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	err := chromedp.Run(ctx, chromedp.Evaluate(`window.__clickProbe === undefined || window.__clicks > 0 ? 'yes' : 'no'`, &reached))
	return err != nil || reached != "no" // an error: the document is going away
}

// patience is how long a wait for the page or the server lasts: 10 s, 30 s on CI, where the
// browser suites share two cores with every other package's tests (a step there took four times
// as long as on an idle machine).
var patience = func() time.Duration {
	if os.Getenv("CI") == "true" {
		return 30 * time.Second
	}
	return 10 * time.Second
}()

func jsString(s string) string {
	j, _ := json.Marshal(s)
	return string(j)
}

// fill types value into the form field labelled label (its <label for>), replacing what is there.
func (b *browser) fill(label, value string) {
	b.t.Helper()
	id := b.poll("field "+label, `(function(){
      const ls = [...document.querySelectorAll('label')].filter(l => l.innerText.trim() === `+jsString(label)+` && l.getBoundingClientRect().height > 0);
      const l = ls[ls.length - 1];
      if (!l) return 'wait';
      const c = l.control || document.getElementById(l.htmlFor);
      if (!c) return 'wait';
      c.value = ''; c.dispatchEvent(new Event('input', {bubbles: true}));
      c.scrollIntoView({block: 'center'});
      return c.id;
    })()`)
	// Input.insertText types like an IME commit, so Chinese text arrives as the user would type it.
	// The text goes to the focused element: when a re-render took the focus away before it
	// arrived (seen once in a refund dialog: the field stayed empty), it is typed again.
	for try := 0; ; try++ {
		b.run(chromedp.Focus("#"+id, chromedp.ByQuery), input.InsertText(value))
		var got string
		b.eval(`(document.getElementById(`+jsString(id)+`)||{}).value || ''`, &got)
		if got == value || try == 2 {
			return
		}
		b.run(chromedp.Evaluate(`(function(){ const c = document.getElementById(`+jsString(id)+`); if (c) { c.value = ''; c.dispatchEvent(new Event('input', {bubbles: true})); } })()`, nil))
	}
}

// upload sets the file of the <input type=file> inside the label whose text starts with label.
func (b *browser) upload(label, path string) {
	b.t.Helper()
	b.poll("file input "+label, `(function(){
      const l = [...document.querySelectorAll('label.file-label')].find(l => l.innerText.trim().startsWith(`+jsString(label)+`) && l.getBoundingClientRect().height > 0);
      if (!l) return 'wait';
      document.querySelectorAll('[data-upload]').forEach(e => e.removeAttribute('data-upload'));
      l.querySelector('input[type=file]').setAttribute('data-upload', '1');
      return 'ok';
    })()`)
	b.run(chromedp.SetUploadFiles(`input[data-upload="1"]`, []string{path}, chromedp.ByQuery))
}

// tab selects the Vant tab labelled label and waits until it is the active one. A tap that lands
// while the page is still settling (a fresh navigation replacing the previous document) is not
// seen by the tabs, so the tap is repeated until the tab reports itself active.
func (b *browser) tab(label string) {
	b.t.Helper()
	active := `(function(){ const t=[...document.querySelectorAll('.van-tab--active')].find(e=>e.innerText.replace(/\s+/g,'')===` + jsString(strings.Join(strings.Fields(label), "")) + `); return t ? 'ok' : 'wait'; })()`
	for deadline := time.Now().Add(patience); ; {
		b.click(label)
		for settle := time.Now().Add(time.Second); time.Now().Before(settle); time.Sleep(50 * time.Millisecond) {
			var r string
			ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
			err := chromedp.Run(ctx, chromedp.Evaluate(active, &r))
			cancel()
			if err == nil && r == "ok" {
				return
			}
		}
		if time.Now().After(deadline) {
			b.poll("tab "+label+" active", active)
			return
		}
	}
}

// see waits until the page shows text.
func (b *browser) see(text string) {
	b.t.Helper()
	b.poll("text "+text, `document.body.innerText.replace(/\s+/g,'').includes(`+jsString(strings.Join(strings.Fields(text), ""))+`) ? 'ok' : 'wait'`)
}

// at waits until the location's path starts with prefix.
func (b *browser) at(prefix string) {
	b.t.Helper()
	b.poll("path "+prefix, `location.pathname.startsWith(`+jsString(prefix)+`) ? 'ok' : 'wait'`)
}

// draw drags a signature stroke across the visible canvas.
func (b *browser) draw() {
	b.t.Helper()
	// Wait until the canvas is laid out and stays put (pop-ups slide in).
	rectJS := `(function(){ const c=[...document.querySelectorAll('canvas.sig-canvas')].filter(c=>c.getBoundingClientRect().height>0).pop(); if(!c) return 'wait'; c.scrollIntoView({block:'center'}); const r=c.getBoundingClientRect(); return [r.left,r.top,r.width,r.height,c.width].map(Math.round).join(','); })()`
	for prev := ""; ; time.Sleep(100 * time.Millisecond) {
		cur := b.poll("signature canvas", rectJS)
		if cur == prev {
			break
		}
		prev = cur
	}
	var r map[string]float64
	b.eval(`(function(){ const c=[...document.querySelectorAll('canvas.sig-canvas')].filter(c=>c.getBoundingClientRect().height>0).pop(); c.scrollIntoView({block:'center'}); const r=c.getBoundingClientRect(); return {x:r.left,y:r.top,w:r.width,h:r.height}; })()`, &r)
	x, y, w, h := r["x"], r["y"], r["w"], r["h"]
	// Pointer moves carry buttons=1 (signature_pad ignores moves without a pressed button).
	pressed := func(p *input.DispatchMouseEventParams) *input.DispatchMouseEventParams { return p.WithButtons(1) }
	acts := []chromedp.Action{chromedp.MouseEvent("mousePressed", x+w*0.15, y+h*0.5, chromedp.ButtonLeft, pressed)}
	for i := 1; i <= 20; i++ {
		f := float64(i) / 20
		acts = append(acts, chromedp.MouseEvent("mouseMoved", x+w*(0.15+0.7*f), y+h*(0.5+0.25*float64(i%4-2)/2), chromedp.ButtonLeft, pressed))
	}
	acts = append(acts, chromedp.MouseEvent("mouseReleased", x+w*0.85, y+h*0.5, chromedp.ButtonLeft))
	b.run(acts...)
}

// login walks §1.1: phone, 获取验证码 (the 60-second countdown starts), code, 登录.
func (b *browser) login(phone string) {
	b.t.Helper()
	b.open("/login")
	b.see("验证码登录")
	b.fill("手机号", phone)
	before := b.s.smsCount(phone)
	b.click("获取验证码")
	b.poll("countdown", `/\d+秒后重新获取/.test(document.body.innerText) ? 'ok' : 'wait'`)
	b.fill("验证码", b.s.smsCode(phone, before))
	b.shot("login")
	b.click("登录")
	b.poll("logged in", `location.pathname !== '/login' ? 'ok' : 'wait'`)
}
