package crypto

import (
	"bytes"
	"context"
	gocrypto "crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/smallstep/pkcs7"

	"github.com/shuxinqian/server/domain/kernel"
)

// cmsIssuer is a throwaway certificate authority certificate and its key.
type cmsIssuer struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

var cmsSerial = big.NewInt(100)

func cmsKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func cmsCreate(t *testing.T, tmpl *x509.Certificate, parent *cmsIssuer, pub gocrypto.PublicKey, self *ecdsa.PrivateKey) *x509.Certificate {
	t.Helper()
	cmsSerial = new(big.Int).Add(cmsSerial, big.NewInt(1))
	tmpl.SerialNumber = cmsSerial
	parentCert, signer := tmpl, self
	if parent != nil {
		parentCert, signer = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parentCert, pub, signer)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// cmsRoot makes a self-signed root CA.
func cmsRoot(t *testing.T, name string) *cmsIssuer {
	t.Helper()
	key := cmsKey(t)
	now := time.Now()
	c := cmsCreate(t, &x509.Certificate{
		Subject:   pkix.Name{CommonName: name, Organization: []string{"数信签 Test"}},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true, IsCA: true,
	}, nil, key.Public(), key)
	return &cmsIssuer{cert: c, key: key}
}

// cmsIntermediate makes a CA certificate issued by parent.
func cmsIntermediate(t *testing.T, parent *cmsIssuer) *cmsIssuer {
	t.Helper()
	key := cmsKey(t)
	now := time.Now()
	c := cmsCreate(t, &x509.Certificate{
		Subject:   pkix.Name{CommonName: "Test Issuing CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true, IsCA: true,
	}, parent, key.Public(), nil)
	return &cmsIssuer{cert: c, key: key}
}

// cmsLeaf issues a document signing certificate like the platform CA's: digitalSignature +
// contentCommitment, emailProtection. mut may change the template.
func cmsLeaf(t *testing.T, issuer *cmsIssuer, mut func(*x509.Certificate)) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key := cmsKey(t)
	now := time.Now()
	tmpl := &x509.Certificate{
		Subject:   pkix.Name{CommonName: "张三", SerialNumber: "SXQ-test", Country: []string{"CN"}},
		NotBefore: now.Add(-5 * time.Minute), NotAfter: now.Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection},
		BasicConstraintsValid: true,
	}
	if mut != nil {
		mut(tmpl)
	}
	return cmsCreate(t, tmpl, issuer, key.Public(), nil), key
}

func cmsPEM(certs ...*x509.Certificate) []byte {
	var out []byte
	for _, c := range certs {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return out
}

// cmsDocument is binary content, like a PDF: CR LF, NUL and non-UTF-8 bytes must survive.
var cmsDocument = []byte("%PDF-1.4\r\n%\xe2\xe3\xcf\xd3\r\n1 0 obj\n<< /Title (数信签授权书) >>\x00\xff\nendobj\n%%EOF\n")

func cmsWantInvalid(t *testing.T, err error, what string) {
	t.Helper()
	if kernel.KindOf(err) != kernel.KindInvalid || kernel.CodeOf(err) != CodeSignatureInvalid {
		t.Fatalf("%s: err = %v, want invalid %s", what, err, CodeSignatureInvalid)
	}
}

func TestCMSSignVerify(t *testing.T) {
	root := cmsRoot(t, "Test Root CA")
	inter := cmsIntermediate(t, root)
	for _, tc := range []struct {
		name   string
		issuer *cmsIssuer
		chain  []*x509.Certificate
	}{
		{"root only", root, []*x509.Certificate{root.cert}},
		{"intermediate and root", inter, []*x509.Certificate{inter.cert, root.cert}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			leaf, key := cmsLeaf(t, tc.issuer, nil)
			chainPEM := cmsPEM(tc.chain...)
			before := time.Now().Add(-time.Second)
			sig, err := CMS{}.SignDetached(context.Background(), cmsDocument, key, leaf.Raw, chainPEM)
			if err != nil {
				t.Fatal(err)
			}
			if err := (CMS{}).VerifyDetached(cmsDocument, sig, chainPEM); err != nil {
				t.Fatalf("VerifyDetached: %v", err)
			}

			// The structure: detached, SHA-256, the leaf and the chain embedded, a signing time.
			p7, err := pkcs7.Parse(sig)
			if err != nil {
				t.Fatal(err)
			}
			if len(p7.Content) != 0 {
				t.Fatal("the signature carries the content: not detached")
			}
			if len(p7.Signers) != 1 || !p7.Signers[0].DigestAlgorithm.Algorithm.Equal(pkcs7.OIDDigestAlgorithmSHA256) {
				t.Fatalf("signers %d, digest %v", len(p7.Signers), p7.Signers[0].DigestAlgorithm.Algorithm)
			}
			if len(p7.Certificates) != 1+len(tc.chain) || !p7.Certificates[0].Equal(leaf) {
				t.Fatalf("%d certificates embedded, want the leaf and the chain (%d)", len(p7.Certificates), 1+len(tc.chain))
			}
			var signingTime time.Time
			if err := p7.UnmarshalSignedAttribute(pkcs7.OIDAttributeSigningTime, &signingTime); err != nil {
				t.Fatal("no signing time:", err)
			}
			if signingTime.Before(before.Truncate(time.Second)) || signingTime.After(time.Now()) {
				t.Fatalf("signing time %v", signingTime)
			}

			// One changed byte of content.
			tampered := bytes.Clone(cmsDocument)
			tampered[len(tampered)/2] ^= 0x01
			cmsWantInvalid(t, CMS{}.VerifyDetached(tampered, sig, chainPEM), "tampered content")
			cmsWantInvalid(t, CMS{}.VerifyDetached(append(bytes.Clone(cmsDocument), '\n'), sig, chainPEM), "appended content")
			cmsWantInvalid(t, CMS{}.VerifyDetached(nil, sig, chainPEM), "no content")
			// A changed signature value (the last bytes of the DER).
			badSig := bytes.Clone(sig)
			badSig[len(badSig)-1] ^= 0x01
			cmsWantInvalid(t, CMS{}.VerifyDetached(cmsDocument, badSig, chainPEM), "tampered signature")
			cmsWantInvalid(t, CMS{}.VerifyDetached(cmsDocument, sig[:len(sig)/2], chainPEM), "truncated signature")
			cmsWantInvalid(t, CMS{}.VerifyDetached(cmsDocument, nil, chainPEM), "empty signature")
			cmsWantInvalid(t, CMS{}.VerifyDetached(cmsDocument, []byte("not a signature"), chainPEM), "garbage signature")
			// Another CA's root is refused.
			other := cmsRoot(t, "Test Root CA") // same name, other key
			cmsWantInvalid(t, CMS{}.VerifyDetached(cmsDocument, sig, cmsPEM(other.cert)), "another root")

			t.Run("openssl", func(t *testing.T) { cmsOpenSSL(t, sig, chainPEM, leaf, key) })
		})
	}
}

// Flipping any byte of a signature never panics and always makes it fail: the encoding, the
// versions, the algorithms and every embedded certificate are checked, not only the signed bytes.
func TestCMSVerifyEveryByteFlipped(t *testing.T) {
	root := cmsRoot(t, "Test Root CA")
	leaf, key := cmsLeaf(t, root, nil)
	chainPEM := cmsPEM(root.cert)
	sig, err := CMS{}.SignDetached(context.Background(), cmsDocument, key, leaf.Raw, chainPEM)
	if err != nil {
		t.Fatal(err)
	}
	accepted := 0
	for i := range sig {
		bad := bytes.Clone(sig)
		bad[i] ^= 0x5a
		if err := (CMS{}).VerifyDetached(cmsDocument, bad, chainPEM); err == nil {
			accepted++
		} else if kernel.CodeOf(err) != CodeSignatureInvalid {
			t.Fatalf("byte %d: err = %v", i, err)
		}
	}
	if accepted > 0 {
		t.Fatalf("%d of %d single-byte changes still verify", accepted, len(sig))
	}
}

func TestCMSVerifyUsages(t *testing.T) {
	root := cmsRoot(t, "Test Root CA")
	chainPEM := cmsPEM(root.cert)
	for name, tc := range map[string]struct {
		mut func(*x509.Certificate)
		ok  bool
	}{
		"document signing EKU only": {func(c *x509.Certificate) {
			c.ExtKeyUsage, c.UnknownExtKeyUsage = nil, append(c.UnknownExtKeyUsage, oidDocumentSigning)
		}, true},
		"no EKU":          {func(c *x509.Certificate) { c.ExtKeyUsage = nil }, true},
		"server auth EKU": {func(c *x509.Certificate) { c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth} }, false},
		"key agreement only": {func(c *x509.Certificate) {
			c.KeyUsage = x509.KeyUsageKeyAgreement
		}, false},
	} {
		leaf, key := cmsLeaf(t, root, tc.mut)
		sig, err := CMS{}.SignDetached(context.Background(), cmsDocument, key, leaf.Raw, chainPEM)
		if err != nil {
			t.Fatal(name, err)
		}
		err = CMS{}.VerifyDetached(cmsDocument, sig, chainPEM)
		if tc.ok && err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if !tc.ok && kernel.CodeOf(err) != CodeSignatureInvalid {
			t.Errorf("%s: err = %v, want %s", name, err, CodeSignatureInvalid)
		}
	}
}

// SignDetached refuses to make a signature that could not verify.
func TestCMSSignRefused(t *testing.T) {
	root := cmsRoot(t, "Test Root CA")
	chainPEM := cmsPEM(root.cert)
	leaf, key := cmsLeaf(t, root, nil)
	expired, expiredKey := cmsLeaf(t, root, func(c *x509.Certificate) {
		c.NotBefore, c.NotAfter = time.Now().Add(-3*time.Hour), time.Now().Add(-2*time.Hour)
	})
	for name, call := range map[string]func() ([]byte, error){
		"key not the certificate's": func() ([]byte, error) {
			return CMS{}.SignDetached(context.Background(), cmsDocument, cmsKey(t), leaf.Raw, chainPEM)
		},
		"no key": func() ([]byte, error) {
			return CMS{}.SignDetached(context.Background(), cmsDocument, nil, leaf.Raw, chainPEM)
		},
		"garbage certificate": func() ([]byte, error) {
			return CMS{}.SignDetached(context.Background(), cmsDocument, key, []byte{1, 2, 3}, chainPEM)
		},
		"expired certificate": func() ([]byte, error) {
			return CMS{}.SignDetached(context.Background(), cmsDocument, expiredKey, expired.Raw, chainPEM)
		},
		"another CA's chain": func() ([]byte, error) {
			return CMS{}.SignDetached(context.Background(), cmsDocument, key, leaf.Raw, cmsPEM(cmsRoot(t, "Other").cert))
		},
		"a key in the chain": func() ([]byte, error) {
			return CMS{}.SignDetached(context.Background(), cmsDocument, key, leaf.Raw, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1}}))
		},
	} {
		if sig, err := call(); err == nil || sig != nil {
			t.Errorf("%s: signed", name)
		}
	}
	// Without a chain, the leaf alone is embedded.
	sig, err := CMS{}.SignDetached(context.Background(), cmsDocument, key, leaf.Raw, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := (CMS{}).VerifyDetached(cmsDocument, sig, chainPEM); err != nil {
		t.Fatal(err)
	}
	// Verifying needs a CA: none is the platform's fault, not a bad signature.
	if err := (CMS{}).VerifyDetached(cmsDocument, sig, nil); err == nil || kernel.KindOf(err) != kernel.KindInternal {
		t.Fatalf("no chain: err = %v", err)
	}
}

// cmsOpenSSL verifies the signature with OpenSSL, as the platform documents it: first with the
// default S/MIME signing purpose (which checks the leaf's key usages), then with -purpose any;
// and a signature OpenSSL makes with the same key verifies with CMS.
func cmsOpenSSL(t *testing.T, sig, chainPEM []byte, leaf *x509.Certificate, key *ecdsa.PrivateKey) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl not on PATH")
	}
	dir := t.TempDir()
	path := func(name string) string { return filepath.Join(dir, name) }
	for name, data := range map[string][]byte{"sig.p7s": sig, "doc.pdf": cmsDocument, "ca.pem": chainPEM} {
		if err := os.WriteFile(path(name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	verify := func(extra ...string) (string, error) {
		args := append([]string{"cms", "-verify", "-binary", "-inform", "DER", "-in", path("sig.p7s"),
			"-content", path("doc.pdf"), "-CAfile", path("ca.pem")}, extra...)
		args = append(args, "-out", os.DevNull)
		out, err := exec.CommandContext(context.Background(), openssl, args...).CombinedOutput()
		return string(out), err
	}
	for _, extra := range [][]string{nil, {"-purpose", "any"}} {
		out, err := verify(extra...)
		if err != nil || !strings.Contains(out, "Verification successful") {
			t.Fatalf("openssl cms -verify %v: %v\n%s", extra, err, out)
		}
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"leaf.pem": cmsPEM(leaf),
		"leaf.key": pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})} {
		if err := os.WriteFile(path(name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := exec.CommandContext(context.Background(), openssl, "cms", "-sign", "-binary", "-in", path("doc.pdf"),
		"-signer", path("leaf.pem"), "-inkey", path("leaf.key"), "-certfile", path("ca.pem"), "-md", "sha256",
		"-outform", "DER", "-out", path("openssl.p7s")).CombinedOutput(); err != nil {
		t.Fatalf("openssl cms -sign: %v\n%s", err, out)
	}
	osslSig, err := os.ReadFile(path("openssl.p7s"))
	if err != nil {
		t.Fatal(err)
	}
	if err := (CMS{}).VerifyDetached(cmsDocument, osslSig, chainPEM); err != nil {
		t.Fatalf("OpenSSL's signature does not verify: %v", err)
	}

	// A changed document fails under OpenSSL too.
	if err := os.WriteFile(path("doc.pdf"), append(bytes.Clone(cmsDocument), ' '), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := verify(); err == nil {
		t.Fatalf("openssl verified a changed document: %s", out)
	}
}

func TestKeyGen(t *testing.T) {
	kg := KeyGen{}
	key, pubDER, err := kg.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	ec, ok := key.(*ecdsa.PrivateKey)
	if !ok || ec.Curve != elliptic.P256() {
		t.Fatalf("key %T, want ECDSA P-256", key)
	}
	pub, err := x509.ParsePKIXPublicKey(pubDER)
	if err != nil {
		t.Fatal(err)
	}
	if !ec.PublicKey.Equal(pub) {
		t.Fatal("the public key DER is not the key's")
	}
	other, _, err := kg.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	if ec.Equal(other) {
		t.Fatal("two keys are the same")
	}

	der, err := kg.MarshalKey(key)
	if err != nil {
		t.Fatal(err)
	}
	back, err := kg.UnmarshalKey(der)
	if err != nil {
		t.Fatal(err)
	}
	if !ec.Equal(back) {
		t.Fatal("the key did not survive PKCS#8")
	}
	digest := sha256.Sum256([]byte("数信签"))
	sig, err := back.Sign(rand.Reader, digest[:], gocrypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	if !ecdsa.VerifyASN1(&ec.PublicKey, digest[:], sig) {
		t.Fatal("the unmarshalled key does not sign for the public key")
	}

	if _, err := kg.UnmarshalKey([]byte("garbage")); err == nil {
		t.Fatal("garbage parsed as a key")
	}
	if _, err := kg.MarshalKey(nil); err == nil {
		t.Fatal("marshalled no key")
	}
	// Any PKCS#8 key that can sign comes back as a signer.
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	edDER, err := kg.MarshalKey(edKey)
	if err != nil {
		t.Fatal(err)
	}
	if s, err := kg.UnmarshalKey(edDER); err != nil || s == nil {
		t.Fatalf("ed25519: %v", err)
	}
}
