package contract

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/digitorus/timestamp"

	"github.com/shuxinqian/server/adapters/ca"
	"github.com/shuxinqian/server/adapters/crypto"
	"github.com/shuxinqian/server/adapters/sqlstore"
	"github.com/shuxinqian/server/adapters/tsa"
	"github.com/shuxinqian/server/ports"
	"github.com/shuxinqian/server/tests/fakes"
)

// The revocation records, on SQLite and Postgres: first record wins, Get and List.
func TestRevocationRepositoryContract(t *testing.T) {
	forEachBackend(t, func(t *testing.T, _ *sqlstore.DB, uow ports.UnitOfWork) {
		ctx := context.Background()
		add := func(r ports.Revocation) {
			t.Helper()
			if err := uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error { return tx.Revocations().Add(ctx, r) }); err != nil {
				t.Fatal(err)
			}
		}
		add(ports.Revocation{SerialHex: "0a", Reason: ports.ReasonKeyCompromise, RevokedAt: t0, Kind: "personal", Owner: "u1"})
		add(ports.Revocation{SerialHex: "0b", Reason: ports.ReasonSuperseded, RevokedAt: t0.Add(time.Minute), Kind: "organization", Owner: "e1"})
		add(ports.Revocation{SerialHex: "0a", Reason: ports.ReasonSuperseded, RevokedAt: t0.Add(time.Hour), Kind: "personal", Owner: "u1"}) // again: kept as first
		_ = uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
			r, ok, err := tx.Revocations().Get(ctx, "0a")
			if err != nil || !ok || r.Reason != ports.ReasonKeyCompromise || !r.RevokedAt.Equal(t0) || r.Kind != "personal" || r.Owner != "u1" {
				t.Fatalf("get: %+v %v %v", r, ok, err)
			}
			if _, ok, err := tx.Revocations().Get(ctx, "0c"); ok || err != nil {
				t.Fatalf("unknown serial: %v %v", ok, err)
			}
			list, err := tx.Revocations().List(ctx)
			if err != nil || len(list) != 2 || list[0].SerialHex != "0a" || list[1].SerialHex != "0b" {
				t.Fatalf("list %+v %v", list, err)
			}
			return nil
		})
		// A read-only unit of work cannot revoke.
		if err := uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
			return tx.Revocations().Add(ctx, ports.Revocation{SerialHex: "0d", RevokedAt: t0})
		}); err == nil {
			t.Fatal("revoked through a read")
		}
	})
}

// Both TSA adapters (the sandbox in process, and the HTTP client, here against the sandbox
// served over HTTP) give tokens over the digest asked for, signed by a certificate with the
// critical time-stamping usage, that openssl verifies against the chain.
func TestTimeStampAuthorityContract(t *testing.T) {
	clock := fakes.NewClock(time.Now())
	c, err := ca.Open(ca.Config{Dir: t.TempDir(), Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	key, chain, err := c.TimeStampingIdentity()
	if err != nil {
		t.Fatal(err)
	}
	leaf := chain[0]
	critical := false
	for _, e := range leaf.Extensions {
		if e.Id.String() == "2.5.29.37" {
			critical = e.Critical
		}
	}
	if !critical || len(leaf.ExtKeyUsage) != 1 {
		t.Fatalf("TSA certificate EKU %v critical %v", leaf.ExtKeyUsage, critical)
	}
	local, err := tsa.NewLocal(key, chain, ca.OIDTSAPolicy, clock)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q, _ := io.ReadAll(r.Body)
		if r.Header.Get("Content-Type") != "application/timestamp-query" {
			http.Error(w, "type", http.StatusUnsupportedMediaType)
			return
		}
		resp, err := local.Respond(r.Context(), q)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		w.Header().Set("Content-Type", "application/timestamp-reply")
		_, _ = w.Write(resp)
	}))
	defer srv.Close()
	remote, err := tsa.NewRemote(srv.URL, local.ChainPEM(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, a := range map[string]ports.TimeStampAuthority{"sandbox": local, "remote": remote} {
		t.Run(name, func(t *testing.T) {
			data := []byte("the signature value")
			digest := sha256.Sum256(data)
			token, err := a.Timestamp(context.Background(), digest[:])
			if err != nil {
				t.Fatal(err)
			}
			ts, err := timestamp.Parse(token)
			if err != nil || !bytes.Equal(ts.HashedMessage, digest[:]) || ts.Time.Sub(clock.Now()).Abs() > 2*time.Second ||
				!ts.Policy.Equal(ca.OIDTSAPolicy) {
				t.Fatalf("token %+v %v", ts, err)
			}
			if _, err := a.Timestamp(context.Background(), []byte("short")); err == nil {
				t.Fatal("stamped a non-SHA-256 digest")
			}
			if _, err := exec.LookPath("openssl"); err != nil {
				if os.Getenv("CI") == "true" {
					t.Fatal("openssl is needed in CI")
				}
				t.Skip("openssl not installed")
			}
			dir := t.TempDir()
			for f, b := range map[string][]byte{"token.der": token, "data.bin": data, "chain.pem": a.ChainPEM(), "other.bin": []byte("other")} {
				if err := os.WriteFile(filepath.Join(dir, f), b, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			verify := func(file string) (string, error) {
				out, err := exec.Command("openssl", "ts", "-verify", "-in", filepath.Join(dir, "token.der"), "-token_in",
					"-data", filepath.Join(dir, file), "-CAfile", filepath.Join(dir, "chain.pem")).CombinedOutput()
				return string(out), err
			}
			if out, err := verify("data.bin"); err != nil || !strings.Contains(out, "Verification: OK") {
				t.Fatalf("openssl ts -verify: %v\n%s", err, out)
			}
			if out, err := verify("other.bin"); err == nil {
				t.Fatalf("openssl verified the token over other data:\n%s", out)
			}
		})
	}
	// A malformed query is a rejection, not an error.
	resp, err := local.Respond(context.Background(), []byte("garbage"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := timestamp.ParseResponse(resp); err == nil {
		t.Fatal("garbage was time-stamped")
	}
}

// No code path opens a personal key without its signing password: every method of the port
// that yields key material takes the password, and the escrow (Recover) is gone.
func TestNoPersonalKeyWithoutPassword(t *testing.T) {
	port := reflect.TypeOf((*ports.SigningKeys)(nil)).Elem()
	for i := range port.NumMethod() {
		m := port.Method(i)
		if m.Name == "Generate" {
			continue
		}
		strings := 0
		for j := range m.Type.NumIn() {
			if m.Type.In(j).Kind() == reflect.String {
				strings++
			}
		}
		if strings < 2 { // the owner and at least one password
			t.Errorf("SigningKeys.%s takes no password", m.Name)
		}
	}
	impl := reflect.TypeOf(crypto.NewSigningKeys())
	for _, name := range []string{"Recover", "Escrow"} {
		if _, ok := impl.MethodByName(name); ok {
			t.Errorf("the signing keys still have %s", name)
		}
	}
	if _, ok := reflect.TypeOf(ports.KeyMaterial{}).FieldByName("Escrow"); ok {
		t.Error("key material still carries an escrow copy")
	}
}

// BenchmarkTimestampedSignature measures one detached CMS signature with its RFC 3161 token from
// the sandbox TSA (ECDSA P-256 signer, P-384 TSA key), the cost every platform signature pays.
func BenchmarkTimestampedSignature(b *testing.B) {
	clock := fakes.NewClock(time.Now())
	c, err := ca.Open(ca.Config{Dir: b.TempDir(), Clock: clock})
	if err != nil {
		b.Fatal(err)
	}
	key, chain, err := c.TimeStampingIdentity()
	if err != nil {
		b.Fatal(err)
	}
	local, err := tsa.NewLocal(key, chain, ca.OIDTSAPolicy, clock)
	if err != nil {
		b.Fatal(err)
	}
	signer, pub, err := crypto.KeyGen{}.NewKey()
	if err != nil {
		b.Fatal(err)
	}
	ic, err := c.IssuePersonal(context.Background(), ports.CertificateRequest{PublicKeyDER: pub, CommonName: "张三", SubjectSerial: "SXQ-bench"})
	if err != nil {
		b.Fatal(err)
	}
	cms := crypto.CMS{TSA: local}
	doc := bytes.Repeat([]byte("%PDF-1.7 letter "), 4096) // 64 KiB, the size of an authorization letter
	b.ReportAllocs()
	for b.Loop() {
		if _, err := cms.SignDetached(context.Background(), doc, signer, ic.DER, c.ChainPEM()); err != nil {
			b.Fatal(err)
		}
	}
}
