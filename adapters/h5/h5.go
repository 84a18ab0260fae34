// Package h5 serves the H5 client (adapters/h5/web, built into dist by `make web`) from the
// binary: hashed assets with long cache lifetimes, index.html (no-cache) for every client route,
// admin.html (the operator console, no-cache) for /admin/ and its routes, and a strict
// Content-Security-Policy on every HTML answer.
package h5

import (
	"embed"
	"io/fs"
	"net/http"
	"path"
	"strings"
)

//go:embed all:dist
var dist embed.FS

// CSP is the Content-Security-Policy of the H5 pages: scripts and styles only from the bundle's
// own files (Vant's CSS is a file; Vue sets dynamic styles through the CSSOM, which style-src does
// not govern), images also as data:/blob: URLs (QR codes, drawn signatures, previews), nothing framed.
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; " +
	"font-src 'self' data:; connect-src 'self'; media-src 'self' blob:; object-src 'none'; base-uri 'none'; " +
	"form-action 'self'; frame-ancestors 'none'"

// Handler serves the embedded bundle. Paths under /api/ are never answered with the client.
func Handler() http.Handler {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		panic(err) // the embed directive guarantees dist exists
	}
	return NewHandler(sub)
}

// NewHandler serves a built bundle from root (index.html and assets/).
func NewHandler(root fs.FS) http.Handler {
	index, _ := fs.ReadFile(root, "index.html")
	admin, _ := fs.ReadFile(root, "admin.html")
	files := http.FileServerFS(root)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		p := path.Clean("/" + r.URL.Path)
		if p == "/api" || strings.HasPrefix(p, "/api/") {
			http.NotFound(w, r)
			return
		}
		if r.URL.Path == "/admin" {
			// The console's router lives under /admin/.
			http.Redirect(w, r, "/admin/", http.StatusMovedPermanently)
			return
		}
		name := strings.TrimPrefix(p, "/")
		if name == "admin" || name == "admin.html" || strings.HasPrefix(name, "admin/") {
			rest := "" // "/admin/" and "/admin.html" are the console's start page
			if strings.HasPrefix(name, "admin/") {
				rest = strings.TrimPrefix(name, "admin/")
			}
			serveConsole(w, r, admin, rest)
			return
		}
		if name != "" && name != "index.html" {
			if st, err := fs.Stat(root, name); err == nil && !st.IsDir() {
				if strings.HasPrefix(name, "assets/") {
					// Vite names every asset by its content hash.
					w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
				} else {
					w.Header().Set("Cache-Control", "public, max-age=3600")
				}
				setSecurityHeaders(w)
				files.ServeHTTP(w, r)
				return
			}
			if strings.HasPrefix(name, "assets/") || path.Ext(name) != "" {
				// A missing file is a 404, not the client (a stale hashed name must not get HTML).
				http.NotFound(w, r)
				return
			}
		}
		// Not a page of the client: the client still renders its 未找到 page, but the status is
		// honest (no 200 for /debug/pprof/, /metrics or a mistyped path).
		first, _, _ := strings.Cut(name, "/")
		servePage(w, r, index, "the H5 bundle", clientSections[first])
	})
}

// serveConsole answers a page of the operator console (web/admin.html, router base /admin/):
// 200 for the console's sections and 404 for any other path (the console renders its 未找到 page).
func serveConsole(w http.ResponseWriter, r *http.Request, admin []byte, rest string) {
	first, _, _ := strings.Cut(rest, "/")
	servePage(w, r, admin, "the console bundle", consoleSections[first])
}

// servePage answers an HTML entry page of a bundle (no-cache, the CSP): 200 for a known section
// of its client router, else 404 with the same page.
func servePage(w http.ResponseWriter, r *http.Request, page []byte, what string, known bool) {
	if page == nil {
		http.Error(w, what+" is not built: run make web", http.StatusNotFound)
		return
	}
	status := http.StatusOK
	if !known {
		status = http.StatusNotFound
	}
	setSecurityHeaders(w)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(status)
	if r.Method == http.MethodGet {
		_, _ = w.Write(page)
	}
}

// consoleSections are the first path segments (after /admin/) of the console's routes
// (web/src/admin/router.ts).
var consoleSections = map[string]bool{
	"": true, "login": true, "channels": true, "settings": true, "banners": true, "enterprises": true, "verifications": true,
	"orders": true, "anomalies": true, "dead-letters": true, "audit": true, "operators": true,
}

// clientSections are the first path segments of the client's routes (web/src/router.ts).
var clientSections = map[string]bool{
	"": true, "index.html": true, "login": true, "realname": true, "signing-password": true, "certificate": true,
	"signatures": true, "channels": true, "join": true, "enterprises": true, "verifications": true,
	"purchase": true, "orders": true, "invoices": true, "me": true, "a": true, "sandbox": true, "verify": true, "flows": true,
}

func setSecurityHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Security-Policy", CSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Permissions-Policy", "camera=(self), microphone=(), geolocation=()")
}
