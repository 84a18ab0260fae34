// Package api holds the component tests: the real wired server over HTTP on a random port, with
// sandbox adapters, walking the manual's flows.
package api

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/shuxinqian/server/bootstrap"
	"github.com/shuxinqian/server/tests/fakes"
)

var testMasterKey = base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{9}, 32))

type server struct {
	t     *testing.T
	base  string
	clock *fakes.Clock
	rt    *bootstrap.Runtime
	// spread is the two-instance deployment behind base (spread mode, spread_test.go), else nil.
	spread *spread
}

// forEachBackend starts a fresh server per database and runs fn against it.
// The two backends run side by side (each its own server, database and DATA_DIR): a test
// costs the longer of the two, not their sum.
func forEachBackend(t *testing.T, fn func(t *testing.T, s *server)) {
	t.Run("sqlite", func(t *testing.T) { t.Parallel(); fn(t, start(t, "")) })
	t.Run("postgres", func(t *testing.T) { t.Parallel(); fn(t, startPostgres(t)) })
}

func start(t *testing.T, databaseURL string) *server {
	t.Helper()
	return startWith(t, map[string]string{"DATABASE_URL": databaseURL})
}

// startWith starts a server with extra environment variables.
func startWith(t *testing.T, extra map[string]string) *server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	env := baseEnv(t, "http://"+ln.Addr().String())
	for k, v := range extra {
		env[k] = v
	}
	cfg, err := bootstrap.LoadConfig(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	clock := fakes.NewClock(time.Now())
	rt, cleanup, err := bootstrap.NewRuntime(cfg, clock)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- rt.ServeListener(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
		cleanup()
	})
	s := &server{t: t, base: "http://" + ln.Addr().String(), clock: clock, rt: rt}
	// Ready once /readyz answers (the listener is open before ServeListener migrates).
	for deadline := time.Now().Add(10 * time.Second); ; {
		if st, _, _ := s.try("GET", "/readyz", "", nil); st == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("server did not become ready")
		}
		time.Sleep(5 * time.Millisecond)
	}
	return s
}

type resp struct {
	status int
	header http.Header
	body   map[string]any
	raw    []byte
}

func (s *server) try(method, path, token string, body any) (int, http.Header, []byte) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req, _ := http.NewRequest(method, s.base+path, rd)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, nil
	}
	defer func() { _ = res.Body.Close() }()
	raw, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, raw
}

func (s *server) do(method, path, token string, body any) resp {
	s.t.Helper()
	st, h, raw := s.try(method, path, token, body)
	if st == 0 {
		s.t.Fatalf("%s %s: no answer", method, path)
	}
	r := resp{status: st, header: h, raw: raw}
	if len(raw) > 0 && strings.HasPrefix(h.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(raw, &r.body); err != nil {
			s.t.Fatalf("%s %s: bad JSON %q", method, path, raw)
		}
	}
	return r
}

// expect asserts the status and, for errors, the stable code.
func (r resp) expect(t *testing.T, status int, code string) resp {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.raw)
	}
	if code != "" {
		e, _ := r.body["error"].(map[string]any)
		if e == nil || e["code"] != code {
			t.Fatalf("error code %v, want %s: %s", e["code"], code, r.raw)
		}
	}
	return r
}

func (r resp) str(key string) string {
	v, _ := r.body[key].(string)
	return v
}

var codeRe = regexp.MustCompile(`验证码为(\d{6})`)

// lastCode reads the newest code texted to phone from the sandbox SMS list.
func (s *server) lastCode(phone string) string {
	s.t.Helper()
	r := s.do("GET", "/api/v1/sandbox/sms?phone="+phone, "", nil).expect(s.t, 200, "")
	items, _ := r.body["items"].([]any)
	for _, it := range items {
		text, _ := it.(map[string]any)["text"].(string)
		if m := codeRe.FindStringSubmatch(text); m != nil {
			return m[1]
		}
	}
	s.t.Fatalf("no code texted to %s", phone)
	return ""
}

func (s *server) requestCode(phone, purpose, token string) resp {
	s.t.Helper()
	return s.do("POST", "/api/v1/sms-codes", token, map[string]string{"phone": phone, "purpose": purpose})
}

// login registers/logs in phone by SMS and returns the token.
func (s *server) login(phone string) string {
	s.t.Helper()
	s.requestCode(phone, "login", "").expect(s.t, 202, "")
	r := s.do("POST", "/api/v1/sessions", "", map[string]string{"phone": phone, "code": s.lastCode(phone)}).expect(s.t, 201, "")
	return r.str("token")
}

// eventually polls cond until it holds (the consumers are asynchronous).
func (s *server) eventually(what string, cond func() bool) {
	s.t.Helper()
	s.within(10*time.Second, what, cond)
}

// within polls cond until it holds or d has passed.
func (s *server) within(d time.Duration, what string, cond func() bool) {
	s.t.Helper()
	for deadline := time.Now().Add(d); !cond(); {
		if time.Now().After(deadline) {
			s.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func fmtAny(v any) string { return fmt.Sprint(v) }

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// send performs a prepared request.
func (s *server) send(req *http.Request) resp {
	s.t.Helper()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer func() { _ = res.Body.Close() }()
	raw, _ := io.ReadAll(res.Body)
	r := resp{status: res.StatusCode, header: res.Header, raw: raw}
	if len(raw) > 0 && strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		_ = json.Unmarshal(raw, &r.body)
	}
	return r
}
