// Package readme runs the README's walkthroughs: every ```sh block preceded by the line
// <!-- walkthrough --> is run with bash (-e -u -o pipefail) against a freshly built and started
// `shuxinqian serve` (sandbox mode, a temporary DATA_DIR, a random port given as $BASE).
// Each block is self-contained: it runs in its own shell, in its own temporary directory.
package readme

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type block struct {
	line int
	text string
}

// walkthroughs extracts the marked ```sh blocks of the README.
func walkthroughs(t *testing.T, readme string) []block {
	var out []block
	sc := bufio.NewScanner(strings.NewReader(readme))
	var cur *block
	marked := false
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case cur != nil && strings.TrimSpace(line) == "```":
			out = append(out, *cur)
			cur = nil
		case cur != nil:
			cur.text += line + "\n"
		case strings.TrimSpace(line) == "<!-- walkthrough -->":
			marked = true
		case strings.HasPrefix(line, "```sh") && marked:
			cur = &block{line: n}
			marked = false
		case strings.TrimSpace(line) != "":
			marked = false
		}
	}
	if cur != nil {
		t.Fatalf("README line %d: unterminated walkthrough block", cur.line)
	}
	return out
}

func TestReadmeWalkthroughs(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts the server; skipped with -short")
	}
	for _, tool := range []string{"bash", "curl", "jq"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s is needed to run the README walkthroughs", tool)
			}
			t.Skipf("%s not installed", tool)
		}
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := walkthroughs(t, string(readme))
	if len(blocks) < 6 {
		t.Fatalf("only %d walkthrough blocks in the README", len(blocks))
	}
	bin := filepath.Join(t.TempDir(), "shuxinqian")
	build := exec.Command("go", "build", "-o", bin, "../../bootstrap/cmd/shuxinqian")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	base := "http://" + addr
	ctx, cancel := context.WithCancel(context.Background())
	srv := exec.CommandContext(ctx, bin, "serve")
	var logs bytes.Buffer
	srv.Stdout, srv.Stderr = &logs, &logs
	srv.Env = append(os.Environ(), "HTTP_ADDR="+addr, "DATA_DIR="+t.TempDir(), "APP_MODE=sandbox", "DATABASE_URL=",
		"PUBLIC_BASE_URL="+base, "LOG_LEVEL=warn", "FORWARDER_POLL_INTERVAL=50ms")
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = srv.Wait()
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	for deadline := time.Now().Add(60 * time.Second); ; {
		if res, err := http.Get(base + "/readyz"); err == nil {
			_ = res.Body.Close()
			if res.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not become ready:\n%s", logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, b := range blocks {
		t.Run(fmt.Sprintf("README line %d", b.line), func(t *testing.T) {
			cmd := exec.Command("bash", "-euo", "pipefail", "-c", b.text)
			cmd.Dir = t.TempDir()
			cmd.Env = append(os.Environ(), "BASE="+base)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("the walkthrough at README line %d failed: %v\n--- block\n%s--- output\n%s", b.line, err, b.text, out)
			}
		})
	}
}
