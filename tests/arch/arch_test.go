// Package arch enforces the dependency rule of the hexagon (DESIGN.md §2) on the real import
// graph, as `go list` reports it.
package arch

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/shuxinqian/server"

type pkg struct {
	ImportPath string
	Imports    []string
	Deps       []string
	Standard   bool
}

func list(t *testing.T, pattern string) []pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-json=ImportPath,Imports,Deps,Standard", pattern)
	cmd.Dir = "../.."
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var pkgs []pkg
	dec := json.NewDecoder(out)
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("go list %s: %v", pattern, err)
	}
	if len(pkgs) == 0 {
		t.Fatalf("go list %s found no packages", pattern)
	}
	return pkgs
}

// std reports whether an import path is in the standard library (no dot in the first element).
func std(path string) bool {
	first, _, _ := strings.Cut(path, "/")
	return !strings.Contains(first, ".")
}

func allowedOnly(t *testing.T, pattern string, allowed ...string) {
	t.Helper()
	for _, p := range list(t, pattern) {
		for _, d := range p.Deps {
			if std(d) {
				continue
			}
			ok := false
			for _, a := range allowed {
				if d == module+"/"+a || strings.HasPrefix(d, module+"/"+a+"/") {
					ok = true
				}
			}
			if !ok {
				t.Errorf("%s depends on %s: %s may depend only on the standard library and %v", p.ImportPath, d, pattern, allowed)
			}
		}
	}
}

func TestDomainImportsOnlyTheStandardLibrary(t *testing.T) {
	allowedOnly(t, "./domain/...", "domain")
}

func TestPortsImportOnlyTheDomain(t *testing.T) {
	for _, p := range list(t, "./ports") {
		for _, d := range p.Deps {
			if !std(d) && !strings.HasPrefix(d, module+"/domain") {
				t.Errorf("ports depends on %s", d)
			}
		}
	}
}

func TestApplicationImportsOnlyDomainAndPorts(t *testing.T) {
	allowedOnly(t, "./application/...", "domain", "ports", "application")
}

func TestAdaptersDoNotImportEachOther(t *testing.T) {
	for _, p := range list(t, "./adapters/...") {
		self := strings.TrimPrefix(p.ImportPath, module+"/adapters/")
		self, _, _ = strings.Cut(self, "/")
		for _, imp := range p.Imports {
			if !strings.HasPrefix(imp, module+"/adapters/") {
				continue
			}
			other := strings.TrimPrefix(imp, module+"/adapters/")
			other, _, _ = strings.Cut(other, "/")
			if other != self {
				t.Errorf("adapter %s imports adapter %s: adapters meet only in bootstrap", p.ImportPath, imp)
			}
		}
	}
}

func TestStdDetection(t *testing.T) {
	for path, want := range map[string]bool{"fmt": true, "net/http": true, "github.com/x/y": false, module + "/domain": false} {
		if std(path) != want {
			t.Errorf("std(%q) = %v", path, !want)
		}
	}
}
