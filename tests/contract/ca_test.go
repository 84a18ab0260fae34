package contract

import (
	"bytes"
	"context"
	gocrypto "crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/shuxinqian/server/adapters/ca"
	"github.com/shuxinqian/server/adapters/crypto"
	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/ports"
	"github.com/shuxinqian/server/tests/fakes"
)

// caAdapter is one CertificateAuthority under test.
type caAdapter struct {
	name  string
	ca    ports.CertificateAuthority
	clock *fakes.Clock
}

// caIDNumber is the holder's (valid) resident ID number: it must never reach a certificate.
const caIDNumber = "11010519491231002X"

var caIDNumberLike = regexp.MustCompile(`[0-9]{17}[0-9Xx]`)

func caAdapters(t *testing.T) []caAdapter {
	t.Helper()
	// The wall clock's time, so that openssl (which uses the real time) agrees on validity.
	clock := fakes.NewClock(time.Now())

	dirCA, err := ca.Open(ca.Config{Dir: filepath.Join(t.TempDir(), "ca"), Clock: clock, Organization: "数信签 Shuxinqian"})
	if err != nil {
		t.Fatal(err)
	}

	certFile, keyFile := caOperatorFiles(t, clock.Now())
	opCA, err := ca.Open(ca.Config{CertFile: certFile, KeyFile: keyFile, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}

	// Reopening a Dir reuses its root: what was issued before a restart verifies after it.
	dir := filepath.Join(t.TempDir(), "ca")
	first, err := ca.Open(ca.Config{Dir: dir, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		t.Fatal(err)
	}
	before, err := first.IssuePersonal(context.Background(), ports.CertificateRequest{PublicKeyDER: pub, CommonName: "李四", SubjectSerial: "P-before-restart"})
	if err != nil {
		t.Fatal(err)
	}
	reopened, err := ca.Open(ca.Config{Dir: dir, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(reopened.Root().Raw, first.Root().Raw) || !bytes.Equal(reopened.ChainPEM(), first.ChainPEM()) {
		t.Fatal("reopening the directory made another root")
	}
	caVerify(t, reopened, before, clock.Now())

	return []caAdapter{
		{name: "dir", ca: dirCA, clock: clock},
		{name: "operator-files", ca: opCA, clock: clock},
		{name: "dir-reopened", ca: reopened, clock: clock},
	}
}

// caOperatorFiles writes an operator's self-signed P-256 CA certificate and PKCS#8 key.
func caOperatorFiles(t *testing.T, now time.Time) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(20261126),
		Subject:      pkix.Name{Country: []string{"CN"}, Organization: []string{"某运营方"}, CommonName: "Operator Root CA"},
		NotBefore:    now.Add(-time.Hour), NotAfter: now.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true, IsCA: true, MaxPathLenZero: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "operator-ca.pem"), filepath.Join(dir, "operator-ca.key")
	caWrite(t, certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	caWrite(t, keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}))
	return certFile, keyFile
}

func caWrite(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// caVerify parses an issued certificate and verifies it against the CA's ChainPEM.
func caVerify(t *testing.T, a ports.CertificateAuthority, ic ports.IssuedCertificate, at time.Time) *x509.Certificate {
	t.Helper()
	cert, err := x509.ParseCertificate(ic.DER)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(a.ChainPEM()) {
		t.Fatal("ChainPEM holds no certificate")
	}
	chains, err := cert.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: at, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	if err != nil {
		t.Fatalf("chain does not verify: %v", err)
	}
	if len(chains) == 0 || len(chains[0]) != 2 {
		t.Fatalf("chains %v, want leaf + root", chains)
	}
	if ic.Subject != cert.Subject.String() || !ic.NotBefore.Equal(cert.NotBefore) || !ic.NotAfter.Equal(cert.NotAfter) ||
		!strings.EqualFold(strings.TrimLeft(ic.SerialHex, "0"), cert.SerialNumber.Text(16)) {
		t.Fatalf("IssuedCertificate %+v does not describe the certificate", ic)
	}
	return cert
}

func caWantInvalid(t *testing.T, err error, what string) {
	t.Helper()
	if kernel.KindOf(err) != kernel.KindInvalid || kernel.CodeOf(err) != "certificate-request-invalid" {
		t.Errorf("%s: err = %v, want invalid certificate-request-invalid", what, err)
	}
}

func TestCertificateAuthorityContract(t *testing.T) {
	keys, err := crypto.NewKeys(bytes.Repeat([]byte{1}, 32))
	if err != nil {
		t.Fatal(err)
	}
	signingKeys := crypto.NewSigningKeys()
	const owner = "user:u1/personal-signing"
	// The subject serial is a pseudonym derived from the ID number, never the number itself.
	pseudonym := "P-" + keys.Digest("certificate-subject", caIDNumber)[:32]

	for _, a := range caAdapters(t) {
		t.Run(a.name, func(t *testing.T) {
			ctx := context.Background()
			now := a.clock.Now()
			material, err := signingKeys.Generate(owner, "Signing123")
			if err != nil {
				t.Fatal(err)
			}

			ic, err := a.ca.IssuePersonal(ctx, ports.CertificateRequest{PublicKeyDER: material.PublicKeyDER,
				CommonName: "张三", SubjectSerial: pseudonym})
			if err != nil {
				t.Fatal(err)
			}
			leaf := caVerify(t, a.ca, ic, now)
			if leaf.Subject.CommonName != "张三" || leaf.Subject.SerialNumber != pseudonym || len(leaf.Subject.Organization) != 0 {
				t.Fatalf("subject %s", leaf.Subject)
			}
			if bytes.Contains(ic.DER, []byte(caIDNumber)) || caIDNumberLike.Match(ic.DER) || caIDNumberLike.MatchString(ic.Subject) {
				t.Fatal("the certificate carries an ID number")
			}
			if leaf.NotBefore.After(now) || !leaf.NotAfter.After(now.AddDate(1, 11, 0)) || leaf.NotAfter.After(now.AddDate(5, 0, 1)) {
				t.Fatalf("validity %s – %s at %s", leaf.NotBefore, leaf.NotAfter, now)
			}
			if leaf.IsCA || leaf.KeyUsage&x509.KeyUsageDigitalSignature == 0 || leaf.KeyUsage&x509.KeyUsageContentCommitment == 0 {
				t.Fatalf("CA %v, key usage %v", leaf.IsCA, leaf.KeyUsage)
			}

			// Only the signing password opens the key the certificate names.
			signer, _, err := signingKeys.Unwrap(owner, material.Wrapped, "Signing123")
			if err != nil {
				t.Fatal(err)
			}
			if !leaf.PublicKey.(*ecdsa.PublicKey).Equal(signer.Public()) {
				t.Fatal("the certificate is for another key")
			}
			doc := []byte("《数信签授权书》")
			digest := sha256.Sum256(doc)
			sig, err := signer.Sign(rand.Reader, digest[:], gocrypto.SHA256)
			if err != nil {
				t.Fatal(err)
			}
			if err := leaf.CheckSignature(x509.ECDSAWithSHA256, doc, sig); err != nil {
				t.Fatalf("signature does not verify under the certificate: %v", err)
			}
			if _, _, err := signingKeys.Unwrap(owner, material.Wrapped, "Wrong1234"); kernel.CodeOf(err) != "signing-password-wrong" {
				t.Fatalf("wrong password: err = %v", err)
			}

			t.Run("openssl", func(t *testing.T) {
				caOpenSSL(t, a.ca, ic, signer)
			})

			// Organisation certificate: O = the enterprise, SERIALNUMBER = its credit code.
			orgKey, err := signingKeys.Generate("enterprise:e1/org", "Org-Signing123")
			if err != nil {
				t.Fatal(err)
			}
			oc, err := a.ca.IssueOrganization(ctx, ports.CertificateRequest{PublicKeyDER: orgKey.PublicKeyDER,
				CommonName: "福州数信科技有限公司", Organization: "福州数信科技有限公司", SubjectSerial: "91350100M000100Y43"})
			if err != nil {
				t.Fatal(err)
			}
			org := caVerify(t, a.ca, oc, now)
			if len(org.Subject.Organization) != 1 || org.Subject.Organization[0] != "福州数信科技有限公司" ||
				org.Subject.SerialNumber != "91350100M000100Y43" || org.Subject.CommonName != "福州数信科技有限公司" {
				t.Fatalf("organisation subject %s", org.Subject)
			}
			if oc.SerialHex == ic.SerialHex {
				t.Fatal("two certificates share a serial")
			}

			// Bad requests.
			rsa1024, err := rsa.GenerateKey(rand.Reader, 1024)
			if err != nil {
				t.Fatal(err)
			}
			rsaDER, err := x509.MarshalPKIXPublicKey(rsa1024.Public())
			if err != nil {
				t.Fatal(err)
			}
			good := ports.CertificateRequest{PublicKeyDER: material.PublicKeyDER, CommonName: "张三", SubjectSerial: pseudonym}
			for name, mut := range map[string]func(r *ports.CertificateRequest){
				"empty common name":  func(r *ports.CertificateRequest) { r.CommonName = "" },
				"garbage public key": func(r *ports.CertificateRequest) { r.PublicKeyDER = []byte{0x30, 0x03, 0x02, 0x01, 0x01} },
				"rsa-1024":           func(r *ports.CertificateRequest) { r.PublicKeyDER = rsaDER },
				"clear ID number":    func(r *ports.CertificateRequest) { r.SubjectSerial = caIDNumber },
			} {
				r := good
				mut(&r)
				_, err := a.ca.IssuePersonal(ctx, r)
				caWantInvalid(t, err, "personal: "+name)
				r.Organization, r.SubjectSerial = "福州数信科技有限公司", "91350100M000100Y43"
				if name == "clear ID number" {
					r.SubjectSerial = caIDNumber // not a credit code
				}
				_, err = a.ca.IssueOrganization(ctx, r)
				caWantInvalid(t, err, "organization: "+name)
			}
		})
	}
}

// caOpenSSL checks the certificate with OpenSSL, when it is installed: the chain verifies, and a
// detached CMS signature made with the key verifies under OpenSSL's S/MIME signing purpose (the
// default of `openssl cms -verify`), which checks the key usages.
func caOpenSSL(t *testing.T, a ports.CertificateAuthority, ic ports.IssuedCertificate, signer gocrypto.Signer) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl not on PATH")
	}
	dir := t.TempDir()
	path := func(name string) string { return filepath.Join(dir, name) }
	keyDER, err := x509.MarshalPKCS8PrivateKey(signer)
	if err != nil {
		t.Fatal(err)
	}
	caWrite(t, path("root.pem"), a.ChainPEM())
	caWrite(t, path("leaf.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ic.DER}))
	caWrite(t, path("leaf.key"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}))
	caWrite(t, path("doc.txt"), []byte("数信签授权书 — document bytes\n"))
	run := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(openssl, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}

	if out := run("verify", "-CAfile", path("root.pem"), path("leaf.pem")); !strings.Contains(out, ": OK") {
		t.Fatalf("openssl verify: %s", out)
	}
	if out := run("x509", "-in", path("leaf.pem"), "-noout", "-text"); caIDNumberLike.MatchString(out) {
		t.Fatalf("the certificate text carries an ID number:\n%s", out)
	}
	run("cms", "-sign", "-binary", "-in", path("doc.txt"), "-signer", path("leaf.pem"), "-inkey", path("leaf.key"),
		"-md", "sha256", "-outform", "DER", "-out", path("doc.p7s"))
	out := run("cms", "-verify", "-binary", "-inform", "DER", "-in", path("doc.p7s"), "-content", path("doc.txt"),
		"-CAfile", path("root.pem"), "-out", path("verified.txt"))
	if !strings.Contains(out, "Verification successful") {
		t.Fatalf("openssl cms -verify: %s", out)
	}
	// A changed document does not verify.
	caWrite(t, path("doc.txt"), []byte("数信签授权书 — changed\n"))
	if out, err := exec.Command(openssl, "cms", "-verify", "-binary", "-inform", "DER", "-in", path("doc.p7s"),
		"-content", path("doc.txt"), "-CAfile", path("root.pem"), "-out", path("verified.txt")).CombinedOutput(); err == nil {
		t.Fatalf("a changed document verified: %s", out)
	}
}
