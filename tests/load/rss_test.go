// These tests hold measurements against the real binary that are too slow or too heavy for
// every test run. Run with SXQ_LOAD=1 go test ./tests/load/ -v.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestUploadRSS measures the server's peak RSS (VmHWM) while eight clients upload the worst image
// the limits still accept at once: a 16-bit RGBA PNG just under the per-image decode bound, and
// the former worst case (a 6300×6300 16-bit RGBA, now refused from its header).
func TestUploadRSS(t *testing.T) {
	if os.Getenv("SXQ_LOAD") == "" {
		t.Skip("set SXQ_LOAD=1 to measure")
	}
	bin := filepath.Join(t.TempDir(), "shuxinqian")
	if out, err := exec.Command("go", "build", "-o", bin, "../../bootstrap/cmd/shuxinqian").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	_ = ln.Close()
	base := "http://" + addr
	srv := exec.Command(bin, "serve")
	srv.Env = append(os.Environ(), "HTTP_ADDR="+addr, "DATA_DIR="+t.TempDir(), "LOG_LEVEL=error", "PUBLIC_BASE_URL="+base)
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = srv.Process.Kill(); _, _ = srv.Process.Wait() }()
	for deadline := time.Now().Add(60 * time.Second); ; {
		if r, err := http.Get(base + "/readyz"); err == nil && r.StatusCode == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("not ready")
		}
		time.Sleep(50 * time.Millisecond)
	}
	post := func(path, token, body string) map[string]any {
		req, _ := http.NewRequest("POST", base+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = res.Body.Close() }()
		var m map[string]any
		_ = json.NewDecoder(res.Body).Decode(&m)
		return m
	}
	post("/api/v1/sms-codes", "", `{"phone":"13800000077","purpose":"login"}`)
	res, _ := http.Get(base + "/api/v1/sandbox/sms?phone=13800000077")
	raw, _ := io.ReadAll(res.Body)
	code := regexp.MustCompile(`验证码为(\d{6})`).FindStringSubmatch(string(raw))[1]
	token, _ := post("/api/v1/sessions", "", `{"phone":"13800000077","code":"`+code+`"}`)["token"].(string)

	encode := func(img image.Image) []byte {
		var b bytes.Buffer
		if err := png.Encode(&b, img); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"2800x2800 16-bit RGBA (62.7 MB decoded, accepted)", encode(image.NewRGBA64(image.Rect(0, 0, 2800, 2800)))},
		{"6300x6300 16-bit RGBA (317 MB decoded, refused)", encode(image.NewRGBA64(image.Rect(0, 0, 6300, 6300)))},
	} {
		var wg sync.WaitGroup
		statuses := make([]int, 8)
		start := time.Now()
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var body bytes.Buffer
				mw := multipart.NewWriter(&body)
				_ = mw.WriteField("purpose", "business_licence")
				fw, _ := mw.CreateFormFile("file", "l.png")
				_, _ = fw.Write(tc.data)
				_ = mw.Close()
				req, _ := http.NewRequest("POST", base+"/api/v1/files", &body)
				req.Header.Set("Content-Type", mw.FormDataContentType())
				req.Header.Set("Authorization", "Bearer "+token)
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, res.Body)
				_ = res.Body.Close()
				statuses[i] = res.StatusCode
			}()
		}
		wg.Wait()
		t.Logf("%s: %d bytes each, statuses %v in %v, server VmHWM %s", tc.name, len(tc.data), statuses, time.Since(start), hwm(t, srv.Process.Pid))
	}
}

func hwm(t *testing.T, pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`VmHWM:\s+(\d+) kB`).FindStringSubmatch(string(b))
	kb, _ := strconv.Atoi(m[1])
	return fmt.Sprintf("%d MB", kb/1024)
}
