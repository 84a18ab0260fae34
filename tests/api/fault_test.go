package api

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shuxinqian/server/adapters/sqlstore"
	"github.com/shuxinqian/server/tests/testdb"
)

// The fault test: the real binary, ten concurrent clients paying orders, requesting invoices and
// approving members, kill -9 of the server at random moments in three rounds, restart, wait for
// the consumers; then every acknowledged payment is paid and granted exactly once, every accepted
// invoice issued exactly once, every verified enterprise has its organisation certificate and no
// SMS was sent twice. Run on SQLite and Postgres with the SQL queue and on Postgres with NATS.
func TestFaultKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("fault test: builds and kills the real binary")
	}
	bin := buildBinary(t)
	t.Run("sqlite/sql", func(t *testing.T) { runFault(t, bin, "", "sql") })
	t.Run("postgres/sql", func(t *testing.T) { runFault(t, bin, testdb.PostgresSchemaDSN(t), "sql") })
	t.Run("postgres/nats", func(t *testing.T) {
		testdb.NATSURL(t)
		runFault(t, bin, testdb.PostgresSchemaDSN(t), "nats")
	})
}

// Two serve instances on different ports and one consume process, on one Postgres and NATS:
// clients spread over both instances; every event is handled once (grants, invoices, SMS).
func TestTwoInstancesAndAConsumer(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the real binary")
	}
	dsn := testdb.PostgresSchemaDSN(t)
	testdb.NATSURL(t)
	runFaultMode(t, buildBinary(t), dsn, "nats", faultMode{instances: 2, consume: true})
}

func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "shuxinqian")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/shuxinqian/server/bootstrap/cmd/shuxinqian")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// proc is one running server process.
type proc struct {
	cmd  *exec.Cmd
	base string
	done chan struct{}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ln.Close() }()
	return ln.Addr().String()
}

// startProc runs `bin command` with env and, for serve, waits until /readyz answers 200.
func startProc(t *testing.T, bin, command string, env map[string]string) *proc {
	t.Helper()
	cmd := exec.Command(bin, command)
	cmd.Env = os.Environ()
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() { p.kill() })
	if command != "serve" {
		return p
	}
	p.base = "http://" + env["HTTP_ADDR"]
	s := &server{t: t, base: p.base}
	for deadline := time.Now().Add(60 * time.Second); ; {
		if st, _, _ := s.try("GET", "/readyz", "", nil); st == 200 {
			return p
		}
		select {
		case <-p.done:
			t.Fatalf("%s exited: %s", command, logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready: %s", command, logs.String())
		}
		time.Sleep(50 * time.Millisecond) // polling readiness with a deadline
	}
}

// kill sends SIGKILL: no shutdown, no flushing, like a crashed machine.
func (p *proc) kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

// faultEnv is the environment of every process of one deployment.
func faultEnv(t *testing.T, dataDir, dbURL, broker string) map[string]string {
	env := map[string]string{
		"DATA_DIR": dataDir, "DATABASE_URL": dbURL, "LOG_LEVEL": "error",
		"MASTER_KEY":              base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32)),
		"FORWARDER_POLL_INTERVAL": "50ms", "DELIVERY_LEASE": "4s", "SWEEP_INTERVAL": "1s", "SWEEP_AFTER": "10s",
		"EVENTS_BROKER": broker,
	}
	if broker == "nats" {
		env["NATS_URL"] = testdb.NATSURL(t)
		env["EVENTS_TOPIC_PREFIX"] = testdb.UniquePrefix()
	}
	return env
}

func withAddr(env map[string]string, addr string) map[string]string {
	out := map[string]string{}
	for k, v := range env {
		out[k] = v
	}
	out["HTTP_ADDR"], out["PUBLIC_BASE_URL"] = addr, "http://"+addr
	return out
}

// tenant is an enterprise with its admin and the applicants waiting for approval.
type tenant struct {
	eid, admin string
	applicants []string // membership ids
	phones     map[string]string
}

// faultTally is what the clients were told.
type faultTally struct {
	mu       sync.Mutex
	paid     map[string]string // order id → enterprise id
	invoices map[string]string // invoice id → order id
	approved map[string]string // membership id → applicant phone
}

func (ft *faultTally) add(m map[string]string, k, v string) {
	ft.mu.Lock()
	m[k] = v
	ft.mu.Unlock()
}

// faultMode shapes a run: how many serve instances (clients spread over them), whether a
// separate consume process runs, and how many kill -9 rounds (0: one round of load, no kill).
type faultMode struct {
	instances int
	consume   bool
	kills     int
}

func runFault(t *testing.T, bin, dbURL, broker string) {
	runFaultMode(t, bin, dbURL, broker, faultMode{instances: 1, kills: 3})
}

func runFaultMode(t *testing.T, bin, dbURL, broker string, mode faultMode) {
	dataDir := t.TempDir()
	env := faultEnv(t, dataDir, dbURL, broker)
	addr := freeAddr(t)
	p := startProc(t, bin, "serve", withAddr(env, addr))
	s := &server{t: t, base: p.base}

	// Setup on a healthy server: verified enterprises, each with applicants waiting.
	fx := s.fixtures()[:3] // three enterprises keep the setup short
	tenants := make([]*tenant, len(fx))
	for i := range fx {
		admin, eid := s.orderSetup(i, fmt.Sprintf("1330000%04d", i), "管理员", fmt.Sprintf("%03d", 300+i))
		tn := &tenant{eid: eid, admin: admin, phones: map[string]string{}}
		names := map[string]string{}
		for j := range 2 {
			phone := fmt.Sprintf("1340%02d%05d", i, j)
			name := "申请" + string([]rune("甲乙丙丁戊己庚辛壬癸")[i]) + string([]rune("子丑")[j])
			tok := s.verifiedUser(phone, name, idNumber(t, "440106", "19850101", fmt.Sprintf("%03d", 400+10*i+j)))
			s.do("POST", "/api/v1/enterprises/"+eid+"/join-requests", tok, nil).expect(t, 201, "")
			names[name] = phone
		}
		for name, id := range s.memberIDs(admin, eid, "pending") {
			tn.applicants = append(tn.applicants, id)
			tn.phones[id] = names[name]
		}
		tenants[i] = tn
	}

	// Verifications completed DURING the kill rounds (the remittance by the consumer, the amount
	// read from the durable sandbox bank, the confirmation, the certificate by the consumer).
	var pending []*pendingVerification
	for i, f := range s.fixtures()[len(fx):min(len(fx)+2, len(s.fixtures()))] {
		op := s.verifiedUser(fmt.Sprintf("1350000%04d", i), "经办"+string([]rune("甲乙")[i]), idNumber(t, "440106", "19860101", fmt.Sprintf("%03d", 600+i)))
		pv := &pendingVerification{op: op, id: s.startVerification(op, f, f.repPhone).expect(t, 201, "").str("id"),
			scan: s.upload(op, "authorization_letter_scan", "l.gif", gifBytes(t)).expect(t, 201, "").str("file_id")}
		pending = append(pending, pv)
	}

	tally := &faultTally{paid: map[string]string{}, invoices: map[string]string{}, approved: map[string]string{}}
	var attempts atomic.Int64
	// More instances and a consumer on the same database (and broker), after the first one
	// migrated the database and created the CA.
	procs := []*proc{p}
	for range mode.instances - 1 {
		procs = append(procs, startProc(t, bin, "serve", withAddr(env, freeAddr(t))))
	}
	if mode.consume {
		startProc(t, bin, "consume", withAddr(env, freeAddr(t)))
	}
	var baseMu sync.RWMutex
	bases := make([]string, len(procs))
	for i, p := range procs {
		bases[i] = p.base
	}
	client := func(ctx context.Context, c int) {
		tn := tenants[c%len(tenants)]
		cs := func() *server {
			baseMu.RLock()
			defer baseMu.RUnlock()
			return &server{t: t, base: bases[c%len(bases)]}
		}
		for n := 0; ctx.Err() == nil; n++ {
			attempts.Add(1)
			s := cs()
			st, _, raw := s.try("POST", "/api/v1/enterprises/"+tn.eid+"/orders", tn.admin,
				map[string]any{"items": []map[string]any{{"sku": "pkg-sign-50", "quantity": 1}}})
			if st != 201 {
				time.Sleep(20 * time.Millisecond) // the server is down: retry shortly
				continue
			}
			oid := jsonField(raw, "id")
			if st, _, _ := s.try("POST", "/api/v1/orders/"+oid+"/wechat-pay", tn.admin, map[string]string{"trade_type": "app"}); st != 200 {
				continue
			}
			if st, _, _ := s.try("POST", "/api/v1/sandbox/wechat-pay/orders/"+oid+"/pay", "", nil); st != 200 {
				continue
			}
			tally.add(tally.paid, oid, tn.eid)
			st, _, raw = s.try("POST", "/api/v1/orders/"+oid+"/invoice", tn.admin, map[string]any{
				"type": "vat_ordinary_digital", "title_type": "personal", "title": "测试"})
			if st == 202 {
				tally.add(tally.invoices, jsonField(raw, "id"), oid)
			}
			if n%3 == 0 && len(tn.applicants) > 0 {
				for _, mid := range tn.applicants {
					if st, _, _ := s.try("POST", "/api/v1/enterprises/"+tn.eid+"/members/"+mid+"/approve", tn.admin, nil); st == 200 {
						tally.add(tally.approved, mid, tn.phones[mid])
					}
				}
			}
		}
	}

	// Rounds: load, kill -9 of an instance at a random moment, restart it.
	for round := range max(mode.kills, 1) {
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		for c := range 10 {
			wg.Add(1)
			go func() { defer wg.Done(); client(ctx, c) }()
		}
		for i, pv := range pending {
			wg.Add(1)
			go func() {
				defer wg.Done()
				baseMu.RLock()
				cs := &server{t: t, base: bases[i%len(bases)]}
				baseMu.RUnlock()
				pv.advance(ctx, cs)
			}()
		}
		time.Sleep(time.Duration(800+rand.IntN(1500)) * time.Millisecond) // the random moment of the crash
		if mode.kills == 0 {
			cancel()
			wg.Wait()
			break
		}
		k := rand.IntN(len(procs))
		procs[k].kill()
		cancel()
		wg.Wait()
		t.Logf("round %d: killed -9; so far %d paid, %d invoices accepted, %d approvals", round+1, len(tally.paid), len(tally.invoices), len(tally.approved))
		procs[k] = startProc(t, bin, "serve", withAddr(env, freeAddr(t)))
		baseMu.Lock()
		bases[k] = procs[k].base
		baseMu.Unlock()
	}
	p = procs[0]
	s = &server{t: t, base: p.base}
	verifiedDuringKills := 0
	for _, pv := range pending {
		if pv.eid != "" {
			verifiedDuringKills++
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second) // finish on the healthy server
		pv.advance(ctx, s)
		cancel()
		if pv.eid == "" {
			t.Errorf("verification %s did not complete", pv.id)
		}
	}

	// Wait for the consumers (and the sweeper) to finish everything, then check against what the
	// server holds: a payment or invoice may have been accepted without its answer reaching the
	// client before the kill; it must be complete too.
	type state struct {
		paid, granted, invoices, issued int
		paidIDs, invoiceIDs             map[string]bool
	}
	check := func() state {
		st := state{paidIDs: map[string]bool{}, invoiceIDs: map[string]bool{}}
		for _, tn := range tenants {
			n := 0
			for before := ""; ; {
				r := s.do("GET", "/api/v1/orders?enterprise_id="+tn.eid+"&status=paid&limit=100&before="+before, tn.admin, nil).expect(t, 200, "")
				for _, it := range r.body["items"].([]any) {
					o := it.(map[string]any)
					n++
					st.paidIDs[fmtAny(o["id"])] = true
					if iid, _ := o["invoice_id"].(string); iid != "" {
						st.invoices++
						st.invoiceIDs[iid] = true
						if o["invoice_status"] == "issued" {
							st.issued++
						}
					}
				}
				if before = r.str("next_before"); before == "" {
					break
				}
			}
			st.paid += n
			q, _ := s.do("GET", "/api/v1/enterprises/"+tn.eid, tn.admin, nil).expect(t, 200, "").body["quota"].(map[string]any)
			got := int(q["signatures"].(float64))
			if got > 50*n {
				t.Fatalf("enterprise %s granted %d signatures for %d paid orders: a grant happened twice", tn.eid, got, n)
			}
			if got == 50*n {
				st.granted += n
			}
		}
		return st
	}
	var st state
	for deadline := time.Now().Add(60 * time.Second); ; {
		st = check()
		if (st.granted == st.paid && st.issued == st.invoices) || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond) // polling the consumers' progress with a deadline
	}
	for oid := range tally.paid {
		if !st.paidIDs[oid] {
			t.Errorf("acknowledged payment of order %s is not paid", oid)
		}
	}
	for iid := range tally.invoices {
		if !st.invoiceIDs[iid] {
			t.Errorf("accepted invoice %s is gone", iid)
		}
	}
	granted, issued := st.granted, st.issued
	files, _ := filepath.Glob(filepath.Join(dataDir, "invoices", "*.json"))
	// No SMS twice: each applicant got at most one approval text, and each acknowledged approval one.
	smsTwice, approvedTexted := 0, 0
	for _, tn := range tenants {
		for mid, phone := range tn.phones {
			r := s.do("GET", "/api/v1/sandbox/sms?phone="+phone, "", nil).expect(t, 200, "")
			n := 0
			for _, it := range r.body["items"].([]any) {
				if strings.Contains(fmtAny(it.(map[string]any)["text"]), "申请已通过") {
					n++
				}
			}
			if n > 1 {
				smsTwice++
			}
			if _, ok := tally.approved[mid]; ok && n == 1 {
				approvedTexted++
			}
		}
	}
	certs := 0
	for _, tn := range tenants {
		if st, _, _ := s.get("/api/v1/enterprises/"+tn.eid+"/certificate", tn.admin, "application/x-pem-file"); st == 200 {
			certs++
		}
	}
	// The enterprises verified during the kills get their certificate (the consumer may still be
	// at it: poll with a deadline).
	for _, pv := range pending {
		if pv.eid == "" {
			continue
		}
		var pemBytes []byte
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			var st int
			if st, _, pemBytes = s.get("/api/v1/enterprises/"+pv.eid+"/certificate", pv.op, "application/x-pem-file"); st == 200 {
				break
			}
			pemBytes = nil
		}
		if pemBytes == nil {
			t.Errorf("enterprise %s verified during the kills has no organisation certificate", pv.eid)
			continue
		}
		certs++
	}
	t.Logf("verifications: %d pending, %d completed during the kill rounds", len(pending), verifiedDuringKills)
	// Exactly one certificate request per enterprise verified during the kills: its effect is done
	// and one request (key and time) was noted, which the CA answers with one certificate.
	if db, err := sqlstore.Open(dbURL, dataDir); err != nil {
		t.Error(err)
	} else {
		for _, pv := range pending {
			if pv.eid == "" {
				continue
			}
			key := "org-certificate/" + pv.eid
			done, err1 := db.NewSelect().Table("effects").Where("effect_key = ? AND done_at IS NOT NULL", key).Count(context.Background())
			notes, err2 := db.NewSelect().Table("effect_notes").Where("effect_key = ?", key).Count(context.Background())
			// The done mark is written after the certificate is saved, in its own transaction: a
			// kill between the two leaves it unmarked while the certificate (checked above) is
			// installed, and the redelivery then finds the certificate and issues nothing. What
			// must hold is one noted request and never two done marks.
			if err1 != nil || err2 != nil || done > 1 || notes != 1 {
				t.Errorf("enterprise %s: certificate effect done %d, requests noted %d (%v %v)", pv.eid, done, notes, err1, err2)
			}
		}
		_ = db.Close()
	}
	t.Logf("%s/%s: %d client iterations; acknowledged payments %d, paid %d, granted %d; invoices acknowledged %d, requested %d, issued %d (issuer records %d); approvals %d texted once %d, texted twice %d; enterprises %d with certificate %d",
		map[bool]string{true: "postgres", false: "sqlite"}[dbURL != ""], broker, attempts.Load(), len(tally.paid), st.paid, granted,
		len(tally.invoices), st.invoices, issued, len(files), len(tally.approved), approvedTexted, smsTwice, len(tenants)+len(pending), certs)
	if granted != st.paid {
		t.Errorf("%d paid orders, %d granted", st.paid, granted)
	}
	if issued != st.invoices || len(files) != st.invoices {
		t.Errorf("%d invoices requested, %d issued, %d issued by the issuer", st.invoices, issued, len(files))
	}
	if smsTwice != 0 || approvedTexted != len(tally.approved) {
		t.Errorf("approval SMS: %d phones texted twice, %d approvals texted of %d", smsTwice, approvedTexted, len(tally.approved))
	}
	if certs != len(tenants)+len(pending) {
		t.Errorf("%d of %d enterprises have their organisation certificate", certs, len(tenants)+len(pending))
	}
}

// pendingVerification is an enterprise verification by bank transfer that the fault test drives
// on through the kills: request the transfer, wait for the consumer's remittance, read the amount
// from the sandbox bank, confirm. Every step is retried until the server answers; the state is
// read back from the server, so an answer lost to a kill is not repeated blindly.
type pendingVerification struct {
	op, id, scan string
	eid          string // set once verified
}

func (pv *pendingVerification) advance(ctx context.Context, s *server) {
	for ctx.Err() == nil && pv.eid == "" {
		st, _, raw := s.try("GET", "/api/v1/enterprise-verifications/"+pv.id, pv.op, nil)
		if st != 200 {
			time.Sleep(20 * time.Millisecond) // the server is down: retry shortly
			continue
		}
		var v struct {
			Status       string `json:"status"`
			EnterpriseID string `json:"enterprise_id"`
			Transfer     *struct {
				Status string `json:"status"`
			} `json:"transfer"`
		}
		if err := jsonUnmarshal(raw, &v); err != nil {
			s.t.Errorf("verification %s: %v", pv.id, err)
			return
		}
		switch {
		case v.Status == "verified":
			pv.eid = v.EnterpriseID
		case v.Transfer == nil: // requested once: a lost answer shows as the transfer here
			s.try("POST", "/api/v1/enterprise-verifications/"+pv.id+"/bank-transfer", pv.op, map[string]string{
				"account_number": "6222021234567890", "bank_name": "中国银行", "bank_province": "广东省"})
		case v.Transfer.Status != "remitted":
			time.Sleep(50 * time.Millisecond) // polling the consumer's remittance
		default:
			st, _, raw := s.try("GET", "/api/v1/sandbox/bank-transfers?verification_id="+pv.id, "", nil)
			var list struct {
				Items []struct {
					AmountFen int64 `json:"amount_fen"`
				} `json:"items"`
			}
			if st != 200 || jsonUnmarshal(raw, &list) != nil || len(list.Items) == 0 {
				if st == 200 {
					s.t.Errorf("verification %s: remitted, but the sandbox bank has no transfer: %s", pv.id, raw)
					return
				}
				continue
			}
			s.try("POST", "/api/v1/enterprise-verifications/"+pv.id+"/bank-transfer/confirm", pv.op,
				map[string]any{"amount_fen": list.Items[0].AmountFen, "authorization_letter_file_id": pv.scan})
		}
	}
}

func jsonField(raw []byte, key string) string {
	var m map[string]any
	if err := jsonUnmarshal(raw, &m); err != nil {
		return ""
	}
	return fmtAny(m[key])
}
