// Command load is the load harness of `make load`: it builds and starts the real server binary on
// SQLite and on Postgres, seeds a realistic data set in bulk, drives the mixed load at a
// fixed rate with vegeta, runs the floor programs of ../shared/bench in the same run, and prints
// every ratio of the performance table with min/median/max over repeated A/B pairs and its goal.
//
// Environment (all optional):
//
//	LOAD_DURATION=30s      length of each mixed-load run
//	LOAD_RATE=300          requests per second of the mixed load
//	LOAD_PAIRS=3           repetitions (A/B pairs) of every measurement
//	LOAD_MEMBERS=5000      members of the seeded enterprise
//	LOAD_ORDERS=50000      seeded orders
//	LOAD_NOTIFY_N=400      notifications per notification run (and floor operations)
//	LOAD_RATIO_DURATION=3s length of each closed-loop run of GET /me, barehttp and httpfloor
//	LOAD_EXCLUDE=          routes left out of the mix, e.g. "members list" (shown in the table)
//	LOAD_BACKENDS=sqlite,postgres
//	LOAD_PHASES=mixed,me,approvals,heap,cold,notify
//	                       the measurements to run (all by default); a partial run prints only
//	                       their rows, e.g. LOAD_PHASES=approvals while working on one path
//	LOAD_KEEP_SCHEMA=      non-empty: the Postgres schema is left in place for inspection
//	LOAD_BENCH_DIR=../shared/bench
//	TEST_DATABASE_URL      Postgres (a fresh schema per run, dropped at the end); without it
//	                       only SQLite runs
package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/shuxinqian/server/adapters/sqlstore"
)

type options struct {
	Duration, RatioDuration time.Duration
	Rate, Pairs             int
	Sizes                   sizes
	NotifyN                 int
	HeapEvents              int
	Backends                []string
	BenchDir                string
	PostgresDSN             string
	Exclude                 []string
	Phases                  map[string]bool
}

// phases are the measurements of a run, in the order they run.
var phases = []string{"mixed", "me", "approvals", "heap", "cold", "notify"}

func (o options) run(phase string) bool { return o.Phases[phase] }

func envInt(k string, def int) int {
	if v := os.Getenv(k); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			fatal(fmt.Errorf("%s must be a positive integer", k))
		}
		return n
	}
	return def
}

func envDur(k string, def time.Duration) time.Duration {
	if v := os.Getenv(k); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			fatal(fmt.Errorf("%s must be a positive duration such as 10s", k))
		}
		return d
	}
	return def
}

func loadOptions() options {
	o := options{
		Duration: envDur("LOAD_DURATION", 30*time.Second), RatioDuration: envDur("LOAD_RATIO_DURATION", 3*time.Second),
		Rate: envInt("LOAD_RATE", 300), Pairs: envInt("LOAD_PAIRS", 3), NotifyN: envInt("LOAD_NOTIFY_N", 400),
		HeapEvents: envInt("LOAD_HEAP_EVENTS", 100000),
		Sizes:      sizes{Members: envInt("LOAD_MEMBERS", 5000), Orders: envInt("LOAD_ORDERS", 50000), Sessions: 100},
		BenchDir:   os.Getenv("LOAD_BENCH_DIR"), PostgresDSN: os.Getenv("TEST_DATABASE_URL"),
	}
	if o.BenchDir == "" {
		o.BenchDir = filepath.Join("..", "shared", "bench")
	}
	o.Sizes.Sessions = min(o.Sizes.Sessions, o.Sizes.Members)
	for _, r := range strings.Split(os.Getenv("LOAD_EXCLUDE"), ",") {
		if r = strings.TrimSpace(r); r != "" {
			o.Exclude = append(o.Exclude, r)
		}
	}
	o.Phases = map[string]bool{}
	ps := os.Getenv("LOAD_PHASES")
	if ps == "" {
		ps = strings.Join(phases, ",")
	}
	for _, p := range strings.Split(ps, ",") {
		p = strings.TrimSpace(p)
		if !slices.Contains(phases, p) {
			fatal(fmt.Errorf("LOAD_PHASES: unknown phase %q (known: %s)", p, strings.Join(phases, ",")))
		}
		o.Phases[p] = true
	}
	o.Sizes.Applicants = o.Pairs * (batchApprovals*approvalBatch + singleApprovals)
	bs := os.Getenv("LOAD_BACKENDS")
	if bs == "" {
		bs = "sqlite,postgres"
	}
	for _, b := range strings.Split(bs, ",") {
		switch b = strings.TrimSpace(b); b {
		case "sqlite":
			o.Backends = append(o.Backends, b)
		case "postgres":
			if o.PostgresDSN == "" {
				fmt.Println("note: TEST_DATABASE_URL is not set: Postgres is skipped")
				continue
			}
			o.Backends = append(o.Backends, b)
		default:
			fatal(fmt.Errorf("LOAD_BACKENDS: unknown backend %q", b))
		}
	}
	return o
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "load:", err)
	os.Exit(1)
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

func main() {
	o := loadOptions()
	tmp, err := os.MkdirTemp("", "shuxinqian-load-")
	if err != nil {
		fatal(err)
	}
	defer func() { _ = os.RemoveAll(tmp) }()
	logf("building the server and the floor programs (%s) in %s", o.BenchDir, tmp)
	serverBin := filepath.Join(tmp, "bin", "shuxinqian")
	if b, err := exec.Command("go", "build", "-o", serverBin, "./bootstrap/cmd/shuxinqian").CombinedOutput(); err != nil { //nolint:gosec // fixed arguments
		fatal(fmt.Errorf("building the server: %w\n%s", err, b))
	}
	floors, err := buildFloors(o.BenchDir, tmp)
	if err != nil {
		fatal(err)
	}
	var goals []goal
	for _, be := range o.Backends {
		gs, err := runBackend(context.Background(), o, be, serverBin, floors, filepath.Join(tmp, be))
		if err != nil {
			fatal(fmt.Errorf("%s: %w", be, err))
		}
		goals = append(goals, gs...)
	}
	fmt.Printf("\n## Performance table (%d pairs, mixed load %d req/s for %s, %d members, %d orders; %s, %d CPUs)\n\n",
		o.Pairs, o.Rate, o.Duration, o.Sizes.Members, o.Sizes.Orders, time.Now().UTC().Format(time.RFC3339), numCPU())
	printGoals(os.Stdout, goals)
	failed := 0
	for _, g := range goals {
		if !g.Pass {
			failed++
		}
	}
	fmt.Printf("\n%d of %d goals met.\n", len(goals)-failed, len(goals))
}

// backendEnv is how the server, the floors and the harness reach one database.
type backendEnv struct {
	Name      string
	DSN       string // postgres DSN with its own search_path, or "" for SQLite
	DataDir   string
	SQLite    string // the server's SQLite file
	FloorDB   string // the floor's SQLite file
	MasterKey []byte
	masterB64 string
	dropPG    func()
}

func prepareBackend(ctx context.Context, o options, name, dir string) (*backendEnv, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	raw, b64 := newMasterKey()
	be := &backendEnv{Name: name, DataDir: filepath.Join(dir, "data"), MasterKey: raw, masterB64: b64, dropPG: func() {}}
	if name == "sqlite" {
		be.SQLite = filepath.Join(be.DataDir, "shuxinqian.db")
		be.FloorDB = filepath.Join(dir, "floor.db")
		return be, nil
	}
	dsn, drop, err := freshSchema(ctx, o.PostgresDSN)
	if err != nil {
		return nil, err
	}
	be.DSN, be.dropPG = dsn, drop
	return be, nil
}

// freshSchema creates a schema of its own and returns a DSN using it, and its drop.
func freshSchema(ctx context.Context, dsn string) (string, func(), error) {
	admin, err := sqlstore.Open(dsn, "")
	if err != nil {
		return "", nil, err
	}
	schema := fmt.Sprintf("load_%d", time.Now().UnixNano())
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		_ = admin.Close()
		return "", nil, fmt.Errorf("create schema: %w", err)
	}
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	return dsn + sep + "search_path=" + schema, func() {
		if os.Getenv("LOAD_KEEP_SCHEMA") != "" {
			logf("keeping the Postgres schema %s (LOAD_KEEP_SCHEMA)", schema)
			_ = admin.Close()
			return
		}
		_, _ = admin.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
		_ = admin.Close()
	}, nil
}

func (be *backendEnv) serverEnv(port, adminPort int) []string {
	env := []string{"APP_MODE=sandbox", "HTTP_ADDR=127.0.0.1:" + strconv.Itoa(port), "DATA_DIR=" + be.DataDir,
		"ADMIN_ADDR=127.0.0.1:" + strconv.Itoa(adminPort),
		"MASTER_KEY=" + be.masterB64, "LOG_LEVEL=warn", "PUBLIC_BASE_URL=http://127.0.0.1:" + strconv.Itoa(port)}
	if be.DSN != "" {
		env = append(env, "DATABASE_URL="+be.DSN)
	}
	return env
}

func (be *backendEnv) startServer(bin, logPath string) (*process, time.Duration, error) {
	port, err := freePort()
	if err != nil {
		return nil, 0, err
	}
	adminPort, err := freePort()
	if err != nil {
		return nil, 0, err
	}
	t0 := time.Now()
	p, err := start(bin, []string{"serve"}, be.serverEnv(port, adminPort), logPath)
	if err != nil {
		return nil, 0, err
	}
	p.Admin = "127.0.0.1:" + strconv.Itoa(adminPort)
	p.Addr = "127.0.0.1:" + strconv.Itoa(port)
	p.Base = "http://" + p.Addr
	if _, err := p.waitHTTP(p.Base+"/readyz", 60*time.Second); err != nil {
		p.Stop()
		b, _ := os.ReadFile(logPath) //nolint:gosec // the harness's log
		return nil, 0, fmt.Errorf("%w\n%s", err, b)
	}
	return p, time.Since(t0), nil
}

func numCPU() int {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return 0
	}
	return strings.Count(string(b), "processor\t:")
}
