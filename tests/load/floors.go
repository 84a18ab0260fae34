package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// buildFloors copies the floor programs of benchDir (../shared/bench: floor, httpfloor,
// barehttp, each its own module) into tmp and builds them there, so their code never enters this
// repository. It returns the paths of the binaries by name.
func buildFloors(benchDir, tmp string) (map[string]string, error) {
	out := map[string]string{}
	for _, name := range []string{"floor", "httpfloor", "barehttp"} {
		src := filepath.Join(benchDir, name)
		if _, err := os.Stat(filepath.Join(src, "go.mod")); err != nil {
			return nil, fmt.Errorf("floor program %s not found (set LOAD_BENCH_DIR): %w", src, err)
		}
		dst := filepath.Join(tmp, "bench-src", name)
		if err := copyDir(src, dst); err != nil {
			return nil, err
		}
		if name == "barehttp" {
			if err := adaptBareHTTP(dst); err != nil {
				return nil, err
			}
		}
		bin := filepath.Join(tmp, "bin", name)
		cmd := exec.Command("go", "build", "-o", bin, ".") //nolint:gosec // go build of a copied floor program
		cmd.Dir = dst
		cmd.Env = append(os.Environ(), "GOWORK=off")
		if b, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("building %s: %w\n%s", name, err, b)
		}
		out[name] = bin
	}
	return out, nil
}

// adaptBareHTTP keeps barehttp's SELECTs the server's: its certificate query names the
// escrow_key column, which migration 20261204030001 (issue 12: no escrow) dropped, so every
// request of the copy would fail. The copy leaves that one column out; nothing else changes.
func adaptBareHTTP(dir string) error {
	p := filepath.Join(dir, "main.go")
	b, err := os.ReadFile(p) //nolint:gosec // the copied floor program
	if err != nil {
		return err
	}
	return os.WriteFile(p, bytes.ReplaceAll(b, []byte(`, "cert_row"."escrow_key"`), nil), 0o600)
}

func copyDir(src, dst string) error {
	return filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if info.IsDir() {
			return os.MkdirAll(target, 0o750)
		}
		b, err := os.ReadFile(p) //nolint:gosec // the floor programs' sources
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o600)
	})
}

var floorLine = regexp.MustCompile(`^(.+?)\s+([0-9.]+) ops/s\s+\((\d+) ops, (\d+) errors, c=(\d+)\)`)

// floorResult is the throughput (ops/s) of each line the floor program prints.
type floorResult map[string]float64

// parseFloor reads the floor program's output: "<name>  <n> ops/s  (<n> ops, <e> errors, c=<c>)".
// A line with errors is an error: a floor that failed is no floor.
func parseFloor(out []byte) (floorResult, error) {
	res := floorResult{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		m := floorLine.FindStringSubmatch(strings.TrimSpace(sc.Text()))
		if m == nil {
			continue
		}
		if m[4] != "0" {
			return nil, fmt.Errorf("floor %q had %s errors", m[1], m[4])
		}
		v, err := strconv.ParseFloat(m[2], 64)
		if err != nil {
			return nil, err
		}
		res[strings.TrimSpace(m[1])] = v
	}
	if len(res) == 0 {
		return nil, fmt.Errorf("no result in the floor's output:\n%s", out)
	}
	return res, nil
}

// floorNotification is the floor's name for crypto + transaction in one operation.
const floorNotification = "combined (notification floor)"

// runFloor runs the floor program with n operations at concurrency c on Postgres (dsn) or SQLite
// (sqlitePath) and returns the notification floor in ops/s.
func runFloor(bin, dsn, sqlitePath string, n, c int) (float64, error) {
	args := []string{"-n", strconv.Itoa(n), "-c", strconv.Itoa(c)}
	if sqlitePath != "" {
		args = append(args, "-sqlite", sqlitePath)
	} else {
		args = append(args, "-dsn", dsn)
	}
	b, err := exec.Command(bin, args...).CombinedOutput() //nolint:gosec // the floor program the harness built
	if err != nil {
		return 0, fmt.Errorf("floor: %w\n%s", err, b)
	}
	res, err := parseFloor(b)
	if err != nil {
		return 0, err
	}
	v, ok := res[floorNotification]
	if !ok {
		return 0, fmt.Errorf("floor printed no %q line:\n%s", floorNotification, b)
	}
	return v, nil
}
