package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// process is a started child program (the server or a floor program).
type process struct {
	cmd  *exec.Cmd
	Addr string // host:port
	Base string // http://host:port
	// Admin is the server's ADMIN_ADDR (pprof, /metrics), host:port; empty for other programs.
	Admin string
	done  chan struct{}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// start runs bin with args and env (added to a minimal environment), logging to logPath.
func start(bin string, args, env []string, logPath string) (*process, error) {
	cmd := exec.Command(bin, args...) //nolint:gosec // the harness runs the programs it built
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, env...)
	f, err := os.Create(logPath) //nolint:gosec // a temp file of the harness
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		_ = f.Close()
		return nil, err
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); _ = f.Close(); close(p.done) }()
	return p, nil
}

func (p *process) PID() int { return p.cmd.Process.Pid }

// Stop sends SIGTERM and waits (SIGKILL after 15 s).
func (p *process) Stop() {
	if p == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// waitHTTP polls url until it answers 200, the process exits or the deadline passes.
func (p *process) waitHTTP(url string, deadline time.Duration) (time.Duration, error) {
	t0 := time.Now()
	c := &http.Client{Timeout: time.Second}
	for time.Since(t0) < deadline {
		select {
		case <-p.done:
			return 0, errors.New("the process exited before it was ready")
		default:
		}
		if resp, err := c.Get(url); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return time.Since(t0), nil
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	return 0, fmt.Errorf("%s not ready within %s", url, deadline)
}

// memStatus reads VmRSS and VmHWM (kB → MB) from /proc/PID/status.
func memStatus(pid int) (rss, hwm float64, err error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	defer func() { _ = f.Close() }()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || (k != "VmRSS" && k != "VmHWM") {
			continue
		}
		kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
		if err != nil {
			return 0, 0, err
		}
		if k == "VmRSS" {
			rss = kb / 1024
		} else {
			hwm = kb / 1024
		}
	}
	return rss, hwm, sc.Err()
}

// rssSampler samples VmRSS every interval until stopped.
type rssSampler struct {
	mu      sync.Mutex
	samples []float64
	hwm     float64
	cancel  context.CancelFunc
	done    chan struct{}
}

func sampleRSS(pid int, every time.Duration) *rssSampler {
	ctx, cancel := context.WithCancel(context.Background())
	s := &rssSampler{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			if rss, hwm, err := memStatus(pid); err == nil {
				s.mu.Lock()
				s.samples = append(s.samples, rss)
				s.hwm = hwm
				s.mu.Unlock()
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return s
}

// Stop ends sampling and returns the samples (MB) and the high-water mark.
func (s *rssSampler) Stop() ([]float64, float64) {
	s.cancel()
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.samples, s.hwm
}
