package ca_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shuxinqian/server/adapters/ca"
	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/ports"
	"github.com/shuxinqian/server/tests/fakes"
)

var now = time.Date(2026, 11, 26, 8, 30, 15, 0, time.UTC)

func openDir(t *testing.T, dir string, clock ports.Clock) *ca.CA {
	t.Helper()
	c, err := ca.Open(ca.Config{Dir: dir, Clock: clock, Organization: "数信签 Shuxinqian"})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func pubDER(t *testing.T, pub crypto.PublicKey) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func ecKey(t *testing.T, curve elliptic.Curve) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(curve, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func personal(t *testing.T) ports.CertificateRequest {
	return ports.CertificateRequest{PublicKeyDER: pubDER(t, ecKey(t, elliptic.P256()).Public()),
		CommonName: "张三", SubjectSerial: "P-3f9a1c0d2b7e4a51"}
}

func parse(t *testing.T, ic ports.IssuedCertificate) *x509.Certificate {
	t.Helper()
	c, err := x509.ParseCertificate(ic.DER)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func wantInvalid(t *testing.T, err error, what string) {
	t.Helper()
	if kernel.KindOf(err) != kernel.KindInvalid || kernel.CodeOf(err) != ca.CodeRequestInvalid {
		t.Fatalf("%s: err = %v, want invalid %s", what, err, ca.CodeRequestInvalid)
	}
}

func TestOpenCreatesRoot(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ca")
	c := openDir(t, dir, fakes.NewClock(now))
	root := c.Root()
	if root.Subject.CommonName != ca.RootCommonName || root.Subject.Organization[0] != "数信签 Shuxinqian" ||
		root.Subject.Country[0] != "CN" {
		t.Fatalf("root subject %s", root.Subject)
	}
	if !root.IsCA || root.MaxPathLen != 1 || root.KeyUsage&x509.KeyUsageCertSign == 0 {
		t.Fatalf("root constraints: CA %v, pathlen %d, usage %v", root.IsCA, root.MaxPathLen, root.KeyUsage)
	}
	if pk, ok := root.PublicKey.(*ecdsa.PublicKey); !ok || pk.Curve != elliptic.P384() {
		t.Fatalf("root key %T", root.PublicKey)
	}
	if root.SignatureAlgorithm != x509.ECDSAWithSHA384 || len(root.SubjectKeyId) == 0 {
		t.Fatalf("root signature %v, ski %x", root.SignatureAlgorithm, root.SubjectKeyId)
	}
	if !root.NotBefore.Equal(now.Add(-5*time.Minute)) || !root.NotAfter.Equal(root.NotBefore.AddDate(20, 0, 0)) {
		t.Fatalf("root validity %s – %s", root.NotBefore, root.NotAfter)
	}
	if err := root.CheckSignatureFrom(root); err != nil {
		t.Fatalf("root is not self-signed: %v", err)
	}
	// The root signs only the issuing CA, which signs the holders' certificates.
	issuing := c.Certificate()
	if issuing == root || issuing.Subject.CommonName != ca.IssuingCommonName || !issuing.IsCA || issuing.MaxPathLen != 0 ||
		!issuing.MaxPathLenZero || issuing.CheckSignatureFrom(root) != nil || !bytes.Equal(issuing.AuthorityKeyId, root.SubjectKeyId) {
		t.Fatalf("issuing CA %s: pathlen %d", issuing.Subject, issuing.MaxPathLen)
	}
	b1, rest := pem.Decode(c.ChainPEM())
	b2, _ := pem.Decode(rest)
	if b1 == nil || b2 == nil || !bytes.Equal(b1.Bytes, issuing.Raw) || !bytes.Equal(b2.Bytes, root.Raw) {
		t.Fatal("ChainPEM is not issuing CA then root")
	}

	for name, want := range map[string]os.FileMode{"": 0o700, "ca-root.key": 0o600, "ca-root.pem": 0o644, "issuing.key": 0o600, "issuing.pem": 0o644} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != want {
			t.Fatalf("%q mode %v, want %v", name, fi.Mode().Perm(), want)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 4 {
		t.Fatalf("dir holds %d entries, want the root's and the issuing CA's certificate and key only", len(entries))
	}

	again := openDir(t, dir, fakes.NewClock(now.Add(time.Hour)))
	if !bytes.Equal(again.Root().Raw, root.Raw) {
		t.Fatal("reopening made another root")
	}
}

func TestOpenConcurrentStartsAgreeOnOneRoot(t *testing.T) {
	for range 5 {
		dir := filepath.Join(t.TempDir(), "ca")
		const n = 8
		roots := make([][]byte, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				c, err := ca.Open(ca.Config{Dir: dir, Clock: fakes.NewClock(now)})
				errs[i] = err
				if err == nil {
					roots[i] = c.Root().Raw
				}
			})
		}
		wg.Wait()
		for i := range n {
			if errs[i] != nil {
				t.Fatal(errs[i])
			}
			if !bytes.Equal(roots[i], roots[0]) {
				t.Fatal("concurrent starts created different roots")
			}
		}
		onDisk := openDir(t, dir, fakes.NewClock(now))
		if !bytes.Equal(onDisk.Root().Raw, roots[0]) {
			t.Fatal("the root on disk is not the one the processes use")
		}
	}
}

func TestOpenCompletesAfterCrash(t *testing.T) {
	dir := t.TempDir()
	first := openDir(t, dir, fakes.NewClock(now))
	// A crash after the key was published but before the certificate: the next start makes a
	// certificate for the same key.
	if err := os.Remove(filepath.Join(dir, "ca-root.pem")); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "issuing.pem")); err != nil {
		t.Fatal(err)
	}
	second := openDir(t, dir, fakes.NewClock(now))
	if !first.Root().PublicKey.(*ecdsa.PublicKey).Equal(second.Root().PublicKey) ||
		!first.Certificate().PublicKey.(*ecdsa.PublicKey).Equal(second.Certificate().PublicKey) {
		t.Fatal("the completed CA has another key")
	}

	// A certificate whose key went missing is an error, never silently replaced.
	if err := os.Remove(filepath.Join(dir, "ca-root.key")); err != nil {
		t.Fatal(err)
	}
	if _, err := ca.Open(ca.Config{Dir: dir, Clock: fakes.NewClock(now)}); err == nil {
		t.Fatal("opened a root without its key")
	}
	if _, err := os.Stat(filepath.Join(dir, "ca-root.key")); err == nil {
		t.Fatal("a new key was written next to the old certificate")
	}
}

func TestOpenRemovesStaleTemporaryFiles(t *testing.T) {
	dir := t.TempDir()
	stale, fresh := filepath.Join(dir, ".tmp-root-1"), filepath.Join(dir, ".tmp-root-2")
	for _, p := range []string{stale, fresh} {
		if err := os.WriteFile(p, []byte("key"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chtimes(stale, now.Add(-time.Hour), now.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(fresh, now, now); err != nil {
		t.Fatal(err)
	}
	openDir(t, dir, fakes.NewClock(now))
	if _, err := os.Stat(stale); err == nil {
		t.Fatal("stale temporary file kept")
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Fatal("a recent temporary file was removed")
	}
}

// operatorCA writes a CA certificate and key, returning the paths.
type operatorCA struct {
	template *x509.Certificate
	key      crypto.Signer
	parent   *x509.Certificate // nil: self-signed
	parentK  crypto.Signer
	keyPEM   func(t *testing.T, k crypto.Signer) []byte
}

func pkcs8PEM(t *testing.T, k crypto.Signer) []byte {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

func sec1PEM(t *testing.T, k crypto.Signer) []byte {
	der, err := x509.MarshalECPrivateKey(k.(*ecdsa.PrivateKey))
	if err != nil {
		t.Fatal(err)
	}
	// As `openssl ecparam -genkey` writes it: parameters first.
	return append([]byte("-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n"),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})...)
}

func caTemplate(cn string) *x509.Certificate {
	return &x509.Certificate{
		SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: cn, Organization: []string{"Operator"}},
		NotBefore: now.Add(-24 * time.Hour), NotAfter: now.AddDate(10, 0, 0),
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign, BasicConstraintsValid: true, IsCA: true,
	}
}

func (o operatorCA) write(t *testing.T, extra ...*x509.Certificate) (certFile, keyFile string, cert *x509.Certificate) {
	t.Helper()
	parent, parentK := o.parent, o.parentK
	if parent == nil {
		parent, parentK = o.template, o.key
	}
	der, err := x509.CreateCertificate(rand.Reader, o.template, parent, o.key.Public(), parentK)
	if err != nil {
		t.Fatal(err)
	}
	cert, err = x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "ca.pem"), filepath.Join(dir, "ca.key")
	certs := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	for _, c := range extra {
		certs = append(certs, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	keyPEM := o.keyPEM
	if keyPEM == nil {
		keyPEM = pkcs8PEM
	}
	if err := os.WriteFile(certFile, certs, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, keyPEM(t, o.key), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile, cert
}

func TestOpenOperatorFiles(t *testing.T) {
	clock := fakes.NewClock(now)
	p256 := ecKey(t, elliptic.P256())
	for _, tc := range []struct {
		name string
		o    operatorCA
	}{
		{"pkcs8 ecdsa", operatorCA{template: caTemplate("Op Root"), key: ecKey(t, elliptic.P384())}},
		{"sec1 ecdsa with parameters", operatorCA{template: caTemplate("Op Root"), key: p256, keyPEM: sec1PEM}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			certFile, keyFile, cert := tc.o.write(t)
			dir := t.TempDir()
			c, err := ca.Open(ca.Config{CertFile: certFile, KeyFile: keyFile, Dir: dir, Clock: clock})
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(c.Root().Raw, cert.Raw) {
				t.Fatal("not the operator's certificate")
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Fatal("Dir used although operator files are configured")
			}
			ic, err := c.IssuePersonal(context.Background(), personal(t))
			if err != nil {
				t.Fatal(err)
			}
			if err := parse(t, ic).CheckSignatureFrom(cert); err != nil {
				t.Fatal(err)
			}
		})
	}

	t.Run("refused", func(t *testing.T) {
		good := operatorCA{template: caTemplate("Op Root"), key: ecKey(t, elliptic.P256())}
		certFile, _, _ := good.write(t)
		_, otherKey, _ := operatorCA{template: caTemplate("Other"), key: ecKey(t, elliptic.P256())}.write(t)
		notCA := caTemplate("Leaf")
		notCA.IsCA = false
		notCA.KeyUsage = x509.KeyUsageDigitalSignature
		noCertSign := caTemplate("No certsign")
		noCertSign.KeyUsage = x509.KeyUsageCRLSign
		expired := caTemplate("Expired")
		expired.NotBefore, expired.NotAfter = now.AddDate(-3, 0, 0), now.Add(-time.Minute)
		future := caTemplate("Future")
		future.NotBefore = now.Add(time.Hour)
		rsaSmall, err := rsa.GenerateKey(rand.Reader, 1024)
		if err != nil {
			t.Fatal(err)
		}
		cases := map[string][2]string{
			"key of another certificate": {certFile, otherKey},
			"cert without key":           {certFile, ""},
			"key without cert":           {"", otherKey},
			"missing files":              {certFile + ".missing", otherKey},
			"key file is a certificate":  {certFile, certFile},
		}
		for name, tmpl := range map[string]*x509.Certificate{"not a CA": notCA, "no keyCertSign": noCertSign,
			"expired": expired, "not yet valid": future} {
			cf, kf, _ := operatorCA{template: tmpl, key: ecKey(t, elliptic.P256())}.write(t)
			cases[name] = [2]string{cf, kf}
		}
		cf, kf, _ := operatorCA{template: caTemplate("Weak"), key: rsaSmall}.write(t)
		cases["rsa 1024"] = [2]string{cf, kf}
		for name, files := range cases {
			if _, err := ca.Open(ca.Config{CertFile: files[0], KeyFile: files[1], Clock: clock}); err == nil {
				t.Errorf("%s: opened", name)
			} else {
				t.Logf("%s: %v", name, err)
			}
		}
		if _, err := ca.Open(ca.Config{Clock: clock}); err == nil {
			t.Error("opened without Dir or files")
		}
	})

	t.Run("intermediate with chain", func(t *testing.T) {
		rootKey := ecKey(t, elliptic.P384())
		rootTmpl := caTemplate("Op Root")
		_, _, rootCert := operatorCA{template: rootTmpl, key: rootKey}.write(t)
		inter := caTemplate("Op Issuing CA")
		inter.SerialNumber = big.NewInt(8)
		inter.MaxPathLenZero = true
		certFile, keyFile, interCert := operatorCA{template: inter, key: ecKey(t, elliptic.P256()),
			parent: rootCert, parentK: rootKey}.write(t, rootCert)
		c, err := ca.Open(ca.Config{CertFile: certFile, KeyFile: keyFile, Clock: clock})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(c.Root().Raw, rootCert.Raw) || !bytes.Equal(c.Certificate().Raw, interCert.Raw) {
			t.Fatal("chain not kept in order")
		}
		if n := bytes.Count(c.ChainPEM(), []byte("BEGIN CERTIFICATE")); n != 2 {
			t.Fatalf("ChainPEM holds %d certificates", n)
		}
		ic, err := c.IssuePersonal(context.Background(), personal(t))
		if err != nil {
			t.Fatal(err)
		}
		roots, inters := x509.NewCertPool(), x509.NewCertPool()
		roots.AddCert(rootCert)
		inters.AddCert(interCert)
		if _, err := parse(t, ic).Verify(x509.VerifyOptions{Roots: roots, Intermediates: inters, CurrentTime: now,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
			t.Fatal(err)
		}

		// An intermediate followed by a root that did not sign it is refused.
		_, _, strangerRoot := operatorCA{template: caTemplate("Stranger"), key: ecKey(t, elliptic.P256())}.write(t)
		cf, kf, _ := operatorCA{template: inter, key: ecKey(t, elliptic.P256()), parent: rootCert, parentK: rootKey}.write(t, strangerRoot)
		if _, err := ca.Open(ca.Config{CertFile: cf, KeyFile: kf, Clock: clock}); err == nil {
			t.Fatal("opened a broken chain")
		}
	})
}

func TestIssuePersonal(t *testing.T) {
	clock := fakes.NewClock(now)
	c := openDir(t, t.TempDir(), clock)
	req := personal(t)
	ic, err := c.IssuePersonal(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	cert := parse(t, ic)
	if cert.Subject.CommonName != "张三" || cert.Subject.SerialNumber != "P-3f9a1c0d2b7e4a51" ||
		len(cert.Subject.Organization) != 0 || len(cert.Subject.Country) != 1 || cert.Subject.Country[0] != "CN" {
		t.Fatalf("subject %s", cert.Subject)
	}
	if ic.Subject != cert.Subject.String() || !strings.Contains(ic.Subject, "CN=张三") {
		t.Fatalf("Subject %q", ic.Subject)
	}
	if cert.SerialNumber.Sign() <= 0 || cert.SerialNumber.BitLen() > 128 || cert.SerialNumber.BitLen() < 100 ||
		ic.SerialHex != fmt.Sprintf("%032x", cert.SerialNumber) {
		t.Fatalf("serial %s (%d bits), SerialHex %s", cert.SerialNumber, cert.SerialNumber.BitLen(), ic.SerialHex)
	}
	if !ic.NotBefore.Equal(now.Add(-5*time.Minute)) || !ic.NotAfter.Equal(ic.NotBefore.Add(ca.DefaultValidity)) ||
		!cert.NotBefore.Equal(ic.NotBefore) || !cert.NotAfter.Equal(ic.NotAfter) {
		t.Fatalf("validity %s – %s", ic.NotBefore, ic.NotAfter)
	}
	if cert.IsCA || cert.KeyUsage != x509.KeyUsageDigitalSignature|x509.KeyUsageContentCommitment {
		t.Fatalf("CA %v, key usage %v", cert.IsCA, cert.KeyUsage)
	}
	if len(cert.ExtKeyUsage) != 1 || cert.ExtKeyUsage[0] != x509.ExtKeyUsageEmailProtection ||
		len(cert.UnknownExtKeyUsage) != 1 || cert.UnknownExtKeyUsage[0].String() != "1.3.6.1.5.5.7.3.36" {
		t.Fatalf("ext key usage %v %v", cert.ExtKeyUsage, cert.UnknownExtKeyUsage)
	}
	if len(cert.SubjectKeyId) != 20 || !bytes.Equal(cert.AuthorityKeyId, c.Certificate().SubjectKeyId) {
		t.Fatalf("ski %x, aki %x", cert.SubjectKeyId, cert.AuthorityKeyId)
	}
	if !bytes.Equal(pubDER(t, cert.PublicKey), req.PublicKeyDER) {
		t.Fatal("certified another key")
	}
	if cert.SignatureAlgorithm != x509.ECDSAWithSHA384 {
		t.Fatalf("signature %v", cert.SignatureAlgorithm)
	}

	second, err := c.IssuePersonal(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if second.SerialHex == ic.SerialHex {
		t.Fatal("two certificates share a serial")
	}
}

func TestIssueValidity(t *testing.T) {
	clock := fakes.NewClock(now)
	c := openDir(t, t.TempDir(), clock)
	for _, tc := range []struct {
		ask, want time.Duration
	}{
		{0, ca.DefaultValidity},
		{time.Hour, time.Hour},
		{365 * 24 * time.Hour, 365 * 24 * time.Hour},
		{50 * 365 * 24 * time.Hour, ca.MaxValidity},
	} {
		req := personal(t)
		req.Validity = tc.ask
		ic, err := c.IssuePersonal(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		if got := ic.NotAfter.Sub(ic.NotBefore); got != tc.want {
			t.Errorf("asked %v: got %v, want %v", tc.ask, got, tc.want)
		}
	}
	for _, bad := range []time.Duration{-time.Hour, time.Minute} {
		req := personal(t)
		req.Validity = bad
		_, err := c.IssuePersonal(context.Background(), req)
		wantInvalid(t, err, bad.String())
	}

	// Near the end of the issuing CA's life, certificates end with it.
	clock.Advance(9*365*24*time.Hour + 200*24*time.Hour)
	ic, err := c.IssuePersonal(context.Background(), personal(t))
	if err != nil {
		t.Fatal(err)
	}
	if !ic.NotAfter.Equal(c.Certificate().NotAfter) {
		t.Fatalf("NotAfter %s beyond the issuing CA's %s", ic.NotAfter, c.Certificate().NotAfter)
	}
	clock.Advance(2 * 365 * 24 * time.Hour)
	if _, err := c.IssuePersonal(context.Background(), personal(t)); err == nil {
		t.Fatal("issued under an expired root")
	}
}

func TestIssueOrganization(t *testing.T) {
	c := openDir(t, t.TempDir(), fakes.NewClock(now))
	req := ports.CertificateRequest{PublicKeyDER: pubDER(t, ecKey(t, elliptic.P256()).Public()),
		CommonName: "福州数信科技有限公司", Organization: "福州数信科技有限公司", SubjectSerial: "91350100m000100y43"}
	ic, err := c.IssueOrganization(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	cert := parse(t, ic)
	if cert.Subject.Organization[0] != "福州数信科技有限公司" || cert.Subject.CommonName != "福州数信科技有限公司" ||
		cert.Subject.SerialNumber != "91350100M000100Y43" {
		t.Fatalf("subject %s", cert.Subject)
	}
	for name, mut := range map[string]func(r *ports.CertificateRequest){
		"no organization":     func(r *ports.CertificateRequest) { r.Organization = " " },
		"bad credit code":     func(r *ports.CertificateRequest) { r.SubjectSerial = "91350100M000100Y44" },
		"no credit code":      func(r *ports.CertificateRequest) { r.SubjectSerial = "" },
		"long organization":   func(r *ports.CertificateRequest) { r.Organization = strings.Repeat("企", 65) },
		"empty common name":   func(r *ports.CertificateRequest) { r.CommonName = "" },
		"missing public key":  func(r *ports.CertificateRequest) { r.PublicKeyDER = nil },
		"control character":   func(r *ports.CertificateRequest) { r.Organization = "福州\n数信" },
		"invalid utf-8":       func(r *ports.CertificateRequest) { r.CommonName = "\xff\xfe" },
		"id number in a name": func(r *ports.CertificateRequest) { r.CommonName = "张三 11010519491231002X" },
	} {
		r := req
		mut(&r)
		_, err := c.IssueOrganization(context.Background(), r)
		wantInvalid(t, err, name)
	}
}

func TestIssueRefusesBadRequests(t *testing.T) {
	c := openDir(t, t.TempDir(), fakes.NewClock(now))
	rsa1024, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	edPub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	good := personal(t)
	p256 := good.PublicKeyDER
	for name, mut := range map[string]func(r *ports.CertificateRequest){
		"empty common name":        func(r *ports.CertificateRequest) { r.CommonName = "  " },
		"long common name":         func(r *ports.CertificateRequest) { r.CommonName = strings.Repeat("张", 65) },
		"garbage public key":       func(r *ports.CertificateRequest) { r.PublicKeyDER = []byte("not a key") },
		"trailing data":            func(r *ports.CertificateRequest) { r.PublicKeyDER = append(bytes.Clone(p256), 0) },
		"rsa 1024":                 func(r *ports.CertificateRequest) { r.PublicKeyDER = pubDER(t, rsa1024.Public()) },
		"p-224":                    func(r *ports.CertificateRequest) { r.PublicKeyDER = pubDER(t, ecKey(t, elliptic.P224()).Public()) },
		"ed25519":                  func(r *ports.CertificateRequest) { r.PublicKeyDER = pubDER(t, edPub) },
		"id number as serial":      func(r *ports.CertificateRequest) { r.SubjectSerial = "11010519491231002X" },
		"id number lower-case x":   func(r *ports.CertificateRequest) { r.SubjectSerial = " 11010519491231002x " },
		"no serial":                func(r *ports.CertificateRequest) { r.SubjectSerial = "" },
		"non-printable serial":     func(r *ports.CertificateRequest) { r.SubjectSerial = "张三" },
		"long serial":              func(r *ports.CertificateRequest) { r.SubjectSerial = strings.Repeat("a", 65) },
		"organization on a person": func(r *ports.CertificateRequest) { r.Organization = "某公司" },
	} {
		r := good
		mut(&r)
		_, err := c.IssuePersonal(context.Background(), r)
		wantInvalid(t, err, name)
	}

	// Exactly 64 characters and RSA-2048 are fine; so is a pseudonym holding a run of digits.
	r := good
	r.CommonName = strings.Repeat("张", 64)
	r.SubjectSerial = "h-123456789012345678901234"
	rsa2048, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	r.PublicKeyDER = pubDER(t, rsa2048.Public())
	if _, err := c.IssuePersonal(context.Background(), r); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.IssuePersonal(ctx, good); err == nil {
		t.Fatal("issued with a cancelled context")
	}
}

// A data directory of the old scheme (root.pem signed holders' certificates directly) keeps its
// root as a trust anchor in the chain, so certificates it issued still verify; it never signs
// again: the new hierarchy issues.
func TestOpenKeepsLegacyRoot(t *testing.T) {
	dir := t.TempDir()
	legacyKey := ecKey(t, elliptic.P384())
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "数信签 Sandbox Root CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(20, 0, 0), IsCA: true, BasicConstraintsValid: true,
		MaxPathLenZero: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	legacyDER, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, legacyKey.Public(), legacyKey)
	if err != nil {
		t.Fatal(err)
	}
	legacy, _ := x509.ParseCertificate(legacyDER)
	leafKey := ecKey(t, elliptic.P256())
	leafDER, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{SerialNumber: big.NewInt(8), Subject: pkix.Name{CommonName: "张三"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(1, 0, 0), KeyUsage: x509.KeyUsageDigitalSignature}, legacy, leafKey.Public(), legacyKey)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(leafDER)
	if err := os.WriteFile(filepath.Join(dir, "root.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: legacyDER}), 0o644); err != nil {
		t.Fatal(err)
	}
	c := openDir(t, dir, fakes.NewClock(now))
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(c.ChainPEM()) || !strings.Contains(string(c.ChainPEM()), string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: legacyDER}))) {
		t.Fatal("the legacy root is not in the chain")
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, CurrentTime: now}); err != nil {
		t.Fatalf("a certificate of the old scheme no longer verifies: %v", err)
	}
	ic, err := c.IssuePersonal(context.Background(), personal(t))
	if err != nil {
		t.Fatal(err)
	}
	if parse(t, ic).CheckSignatureFrom(legacy) == nil || parse(t, ic).CheckSignatureFrom(c.Certificate()) != nil {
		t.Fatal("the new certificate is not issued by the issuing CA")
	}
}
