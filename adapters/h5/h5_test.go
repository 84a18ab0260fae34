package h5

import (
	"bytes"
	"compress/gzip"
	"io/fs"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"
)

func TestHandlerServesClientRoutesAssetsAndNeverTheAPI(t *testing.T) {
	h := NewHandler(fstest.MapFS{
		"index.html":          {Data: []byte("<!doctype html><script type=module src=/assets/index-abc.js></script>")},
		"assets/index-abc.js": {Data: []byte("console.log(1)")},
		"favicon.svg":         {Data: []byte("<svg/>")},
	})
	for _, tc := range []struct {
		method, path string
		status       int
		cache, body  string
		csp          bool
	}{
		{"GET", "/", 200, "no-cache", "<!doctype html>", true},
		{"GET", "/a/0123456789abcdef0123456789abcdef", 200, "no-cache", "<!doctype html>", true},
		{"GET", "/join?channel=q86804&t=x", 200, "no-cache", "<!doctype html>", true},
		{"GET", "/enterprises/42/members", 200, "no-cache", "<!doctype html>", true},
		{"HEAD", "/realname", 200, "no-cache", "", true},
		{"GET", "/assets/index-abc.js", 200, "public, max-age=31536000, immutable", "console.log(1)", false},
		{"GET", "/favicon.svg", 200, "public, max-age=3600", "<svg/>", false},
		{"GET", "/assets/index-old.js", 404, "", "", false},
		{"GET", "/robots.txt", 404, "", "", false},
		{"GET", "/debug/pprof/", 404, "no-cache", "<!doctype html>", true},
		{"GET", "/metrics", 404, "no-cache", "<!doctype html>", true},
		{"GET", "/no/such/page", 404, "no-cache", "<!doctype html>", true},
		{"GET", "/api/v1/anything", 404, "", "", false},
		{"GET", "/api", 404, "", "", false},
		{"POST", "/", 405, "", "", false},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
		if rec.Code != tc.status {
			t.Errorf("%s %s: %d, want %d", tc.method, tc.path, rec.Code, tc.status)
			continue
		}
		if tc.cache != "" && rec.Header().Get("Cache-Control") != tc.cache {
			t.Errorf("%s %s: Cache-Control %q, want %q", tc.method, tc.path, rec.Header().Get("Cache-Control"), tc.cache)
		}
		if tc.body != "" && !strings.HasPrefix(rec.Body.String(), tc.body) {
			t.Errorf("%s %s: body %q", tc.method, tc.path, rec.Body.String())
		}
		if tc.csp && (rec.Header().Get("Content-Security-Policy") != CSP || rec.Header().Get("X-Content-Type-Options") != "nosniff" ||
			rec.Header().Get("Referrer-Policy") != "no-referrer" || rec.Header().Get("Content-Type") != "text/html; charset=utf-8") {
			t.Errorf("%s %s: headers %v", tc.method, tc.path, rec.Header())
		}
		if tc.method == "HEAD" && rec.Body.Len() != 0 {
			t.Errorf("HEAD answered a body")
		}
	}
	if !strings.Contains(CSP, "script-src 'self'") || strings.Contains(CSP, "unsafe") || !strings.Contains(CSP, "frame-ancestors 'none'") {
		t.Errorf("CSP %q is not strict", CSP)
	}
}

// The committed bundle: the first page's scripts stay under 300 KB gzipped, and the pages are
// separate chunks loaded when needed (dynamic import), not part of the entry.
func TestBundleBudget(t *testing.T) {
	root, err := fs.Sub(dist, "dist")
	if err != nil {
		t.Fatal(err)
	}
	index, err := fs.ReadFile(root, "index.html")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(index, []byte("<script>")) || regexp.MustCompile(`<script(?:\s[^>]*)?>[^<]`).Match(index) {
		t.Error("index.html has an inline script")
	}
	refs := regexp.MustCompile(`(?:src|href)="/(assets/[^"]+\.js)"`).FindAllSubmatch(index, -1)
	if len(refs) == 0 {
		t.Fatal("index.html loads no script")
	}
	total := 0
	var entry []byte
	for _, m := range refs {
		b, err := fs.ReadFile(root, string(m[1]))
		if err != nil {
			t.Fatal(err)
		}
		entry = append(entry, b...)
		var z bytes.Buffer
		w, _ := gzip.NewWriterLevel(&z, gzip.BestCompression)
		_, _ = w.Write(b)
		_ = w.Close()
		total += z.Len()
	}
	t.Logf("initial scripts: %d files, %d bytes gzipped", len(refs), total)
	if total > 300*1024 {
		t.Errorf("initial scripts are %d bytes gzipped, budget 300 KB", total)
	}
	chunks, _ := fs.Glob(root, "assets/*.js")
	for _, page := range []string{"Login", "LinkSign", "Verification", "Members", "Pay", "Invoice"} {
		found := false
		for _, c := range chunks {
			found = found || strings.HasPrefix(c, "assets/"+page+"-")
		}
		if !found {
			t.Errorf("no lazy chunk for page %s in %v", page, chunks)
		}
	}
	for _, pageText := range []string{"签署授权书", "批量通过", "复制发票链接", "jsQR"} {
		if bytes.Contains(entry, []byte(pageText)) {
			t.Errorf("the entry script contains %q: that page is not lazy-loaded", pageText)
		}
	}
}

// Every route of the client (web/src/router.ts) is a section the server answers 200 for.
func TestClientSectionsMatchTheRouter(t *testing.T) {
	src, err := os.ReadFile("web/src/router.ts")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, m := range regexp.MustCompile(`path: '(/[^']*)'`).FindAllStringSubmatch(string(src), -1) {
		p := strings.TrimPrefix(m[1], "/")
		if strings.HasPrefix(p, ":rest") {
			continue // the client's own 未找到 page
		}
		first, _, _ := strings.Cut(p, "/")
		if !clientSections[first] {
			t.Errorf("route %s: section %q missing from clientSections", m[1], first)
		}
		n++
	}
	if n < 20 {
		t.Fatalf("found only %d routes in router.ts", n)
	}
}

// The operator console: admin.html (no-cache, the CSP) for /admin/ and its routes, an honest
// 404 for other paths under /admin/, /admin redirected to /admin/, the H5 untouched.
func TestHandlerServesTheConsole(t *testing.T) {
	h := NewHandler(fstest.MapFS{
		"index.html":          {Data: []byte("<!doctype html><title>h5</title>")},
		"admin.html":          {Data: []byte("<!doctype html><title>console</title>")},
		"assets/admin-abc.js": {Data: []byte("console.log(2)")},
	})
	for _, tc := range []struct {
		method, path string
		status       int
		body         string
	}{
		{"GET", "/admin/", 200, "<title>console</title>"},
		{"GET", "/admin/login", 200, "<title>console</title>"},
		{"GET", "/admin/channels/q86804", 200, "<title>console</title>"},
		{"GET", "/admin/orders/01abc/refund", 200, "<title>console</title>"},
		{"GET", "/admin/dead-letters", 200, "<title>console</title>"},
		{"GET", "/admin/audit?action=order.refund", 200, "<title>console</title>"},
		{"GET", "/admin/operators", 200, "<title>console</title>"},
		{"GET", "/admin.html", 200, "<title>console</title>"},
		{"HEAD", "/admin/settings", 200, ""},
		{"GET", "/admin/no-such-section", 404, "<title>console</title>"},
		{"GET", "/admin/debug/pprof/", 404, "<title>console</title>"},
		{"GET", "/", 200, "<title>h5</title>"},
		{"GET", "/administrator", 404, "<title>h5</title>"},
		{"POST", "/admin/", 405, ""},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
		if rec.Code != tc.status {
			t.Errorf("%s %s: %d, want %d", tc.method, tc.path, rec.Code, tc.status)
			continue
		}
		if tc.status == 405 {
			continue
		}
		if got := rec.Body.String(); (tc.body == "" && got != "") || !strings.Contains(got, tc.body) {
			t.Errorf("%s %s: body %q, want %q", tc.method, tc.path, got, tc.body)
		}
		if rec.Header().Get("Content-Security-Policy") != CSP || rec.Header().Get("Cache-Control") != "no-cache" ||
			rec.Header().Get("Content-Type") != "text/html; charset=utf-8" || rec.Header().Get("X-Frame-Options") != "DENY" {
			t.Errorf("%s %s: headers %v", tc.method, tc.path, rec.Header())
		}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/admin", nil))
	if rec.Code != 301 || rec.Header().Get("Location") != "/admin/" {
		t.Errorf("/admin: %d %q, want a redirect to /admin/", rec.Code, rec.Header().Get("Location"))
	}
}

// Every route of the console (web/src/admin/router.ts) is a section the server answers 200 for.
func TestConsoleSectionsMatchTheRouter(t *testing.T) {
	src, err := os.ReadFile("web/src/admin/router.ts")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, m := range regexp.MustCompile(`path: '([^']*)'`).FindAllStringSubmatch(string(src), -1) {
		p := strings.TrimPrefix(m[1], "/")
		if strings.HasPrefix(p, ":rest") {
			continue // the console's own 未找到 page
		}
		first, _, _ := strings.Cut(p, "/")
		if !consoleSections[first] {
			t.Errorf("console route %s: section %q missing from consoleSections", m[1], first)
		}
		n++
	}
	if n < 12 {
		t.Fatalf("found only %d routes in the console's router.ts", n)
	}
}

// The committed console page loads only files of the bundle (no inline script or style) and its
// router is based at /admin/.
func TestCommittedConsoleBundle(t *testing.T) {
	root, err := fs.Sub(dist, "dist")
	if err != nil {
		t.Fatal(err)
	}
	page, err := fs.ReadFile(root, "admin.html")
	if err != nil {
		t.Fatal("dist/admin.html is missing: run make web")
	}
	if regexp.MustCompile(`<script(?:\s[^>]*)?>[^<]`).Match(page) || bytes.Contains(page, []byte("<style")) || bytes.Contains(page, []byte(" style=")) {
		t.Error("admin.html has an inline script or style")
	}
	refs := regexp.MustCompile(`(?:src|href)="/(assets/[^"]+)"`).FindAllSubmatch(page, -1)
	if len(refs) < 2 {
		t.Fatalf("admin.html loads %d files", len(refs))
	}
	for _, m := range refs {
		if _, err := fs.Stat(root, string(m[1])); err != nil {
			t.Errorf("admin.html loads %s, which is not in the bundle", m[1])
		}
	}
}
