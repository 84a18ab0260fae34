package browser

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// Lighthouse-style basics on the main pages: every form field has a label, tap targets are at
// least 44 px, no Content-Security-Policy violation, no horizontal scrolling at 360x640, 375x812 and
// desktop width; the first page's load time is reported (the bundle budget is asserted in
// adapters/h5, without a browser).
func TestBasics(t *testing.T) {
	s := startServer(t)

	for _, p := range []string{"/", "/login", "/a/x", "/join?channel=q86804&t=x", "/realname"} {
		res, err := http.Get(s.base + p)
		if err != nil {
			t.Fatal(err)
		}
		_ = res.Body.Close()
		csp := res.Header.Get("Content-Security-Policy")
		if res.StatusCode != 200 || !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") ||
			strings.Contains(csp, "unsafe-inline") || res.Header.Get("X-Content-Type-Options") != "nosniff" ||
			res.Header.Get("Referrer-Policy") == "" || res.Header.Get("Cache-Control") != "no-cache" {
			t.Errorf("GET %s: %d, headers %v", p, res.StatusCode, res.Header)
		}
	}
	if res, err := http.Get(s.base + "/api/v1/no-such"); err != nil || res.StatusCode != 404 || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		t.Errorf("an unknown API path must stay a JSON 404, got %v %v", res, err)
	}

	b := s.browser(t, "basics")
	// Record CSP violations from the first script on.
	b.run(chromedp.ActionFunc(func(ctx context.Context) error {
		_, err := page.AddScriptToEvaluateOnNewDocument(`window.__csp = []; document.addEventListener('securitypolicyviolation', e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));`).Do(ctx)
		return err
	}))
	b.open("/login")
	b.see("验证码登录")
	var loadMS float64
	b.eval(`(function(){ const n = performance.getEntriesByType('navigation')[0]; return n.loadEventEnd > 0 ? n.loadEventEnd - n.startTime : n.domContentLoadedEventEnd - n.startTime; })()`, &loadMS)
	t.Logf("first page (/login) loaded in %.0f ms on loopback (Navigation Timing)", loadMS)
	b.check("login")
	b.login(newPhone())
	b.click("稍后")
	for _, p := range []string{"/", "/realname", "/channels", "/enterprises", "/enterprises/new", "/me", "/signatures/new", "/purchase", "/orders"} {
		b.open(p)
		b.poll("page "+p, `document.querySelector('.van-nav-bar__title') && !document.querySelector('.van-loading') ? 'ok' : 'wait'`)
		b.check(p)
	}
	for _, size := range [][2]int64{{360, 640}, {1280, 800}} {
		b.run(emulation.SetDeviceMetricsOverride(size[0], size[1], 1, size[0] < 600))
		for _, p := range []string{"/", "/enterprises/new", "/channels"} {
			b.open(p)
			b.poll("page "+p, `document.querySelector('.van-nav-bar__title') && !document.querySelector('.van-loading') ? 'ok' : 'wait'`)
			var overflow bool
			b.eval(`document.documentElement.scrollWidth > window.innerWidth + 1`, &overflow)
			if overflow {
				t.Errorf("%s scrolls sideways at %dx%d", p, size[0], size[1])
			}
			b.shot(strings.Trim(strings.ReplaceAll(p, "/", "-"), "-") + "-" + strings.Join([]string{itoa(size[0]), itoa(size[1])}, "x"))
		}
	}
}

// check asserts the basics on the current page.
func (b *browser) check(name string) {
	b.t.Helper()
	var problems []string
	b.eval(`(function(){
	  const out = [];
	  const vis = e => { const r = e.getBoundingClientRect(); return r.width > 0 && r.height > 0 && getComputedStyle(e).visibility !== 'hidden'; };
	  for (const e of document.querySelectorAll('input, textarea, select')) {
	    if (e.type === 'hidden' || !(vis(e) || e.type === 'file')) continue;
	    const labelled = (e.labels && e.labels.length > 0 && [...e.labels].some(l => l.innerText.trim())) || e.getAttribute('aria-label') || e.getAttribute('aria-labelledby');
	    if (!labelled) out.push('unlabelled field ' + (e.name || e.id || e.outerHTML.slice(0, 80)));
	  }
	  const targets = 'button, a, [role=button], [role=tab], [role=radio], [role=checkbox], .van-tabbar-item, .van-nav-bar__left, .van-field, label.file-label';
	  for (const e of document.querySelectorAll(targets)) {
	    if (!vis(e) || e.closest('.van-tabs__nav') && !e.matches('[role=tab]')) continue;
	    const r = e.getBoundingClientRect();
	    if (r.height < 43.5 || r.width < 43.5) out.push('small tap target ' + Math.round(r.width) + 'x' + Math.round(r.height) + ' ' + (e.innerText || e.getAttribute('aria-label') || e.className).slice(0, 30));
	  }
	  for (const v of (window.__csp || [])) out.push('CSP violation ' + v);
	  return out;
	})()`, &problems)
	for _, p := range problems {
		b.t.Errorf("%s: %s", name, p)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
