package contract

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shuxinqian/server/adapters/ca"
	"github.com/shuxinqian/server/adapters/crypto"
	"github.com/shuxinqian/server/adapters/document"
	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/ports"
)

// docSignerAdapter is one DocumentSigner under test.
type docSignerAdapter struct {
	name   string
	signer ports.DocumentSigner
}

func docSignerAdapters() []docSignerAdapter {
	return []docSignerAdapter{{name: "cms", signer: crypto.CMS{}}}
}

// docRendererAdapter is one DocumentRenderer under test.
type docRendererAdapter struct {
	name string
	make func(t *testing.T) ports.DocumentRenderer
}

func docRendererAdapters() []docRendererAdapter {
	return []docRendererAdapter{{name: "document", make: func(t *testing.T) ports.DocumentRenderer {
		r, err := document.NewRenderer()
		if err != nil {
			t.Fatal(err)
		}
		return r
	}}}
}

func docLetterData() ports.LetterData {
	return ports.LetterData{
		VerificationID:   "01JQ5Z8K3M4N5P6Q7R8S9T0V1W",
		EnterpriseName:   "福州数信科技有限公司",
		CreditCode:       "91350100M000100Y43",
		LegalRepName:     "张三",
		LegalRepIDMasked: "110***********002X",
		OperatorName:     "李四",
		Date:             time.Date(2026, time.March, 4, 9, 30, 0, 0, time.UTC),
	}
}

// docSignedLetter renders the signed letter, with a signature appearance drawn by the renderer.
func docSignedLetter(t *testing.T) []byte {
	t.Helper()
	r, err := document.NewRenderer()
	if err != nil {
		t.Fatal(err)
	}
	sig, err := r.RenderSignature("张三")
	if err != nil {
		t.Fatal(err)
	}
	d := docLetterData()
	d.SignatureImage, d.SignedAt = sig, d.Date.Add(time.Hour)
	pdf, err := r.AuthorizationLetter(d)
	if err != nil {
		t.Fatal(err)
	}
	return pdf
}

func docWantInvalid(t *testing.T, err error, code, what string) {
	t.Helper()
	if kernel.KindOf(err) != kernel.KindInvalid || kernel.CodeOf(err) != code {
		t.Fatalf("%s: err = %v, want invalid %q", what, err, code)
	}
}

// docOpenSSL verifies sig over content with the command the platform documents:
//
//	openssl cms -verify -binary -inform DER -in sig.p7s -content letter.pdf -CAfile ca.pem -out /dev/null
//
// It returns OpenSSL's output and whether it succeeded. Without openssl the test is skipped
// (failed in CI).
func docOpenSSL(t *testing.T, sig, content, chainPEM []byte) (string, bool) {
	t.Helper()
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("openssl not on PATH")
		}
		t.Skip("openssl not on PATH")
	}
	dir := t.TempDir()
	path := func(name string) string { return filepath.Join(dir, name) }
	for name, data := range map[string][]byte{"sig.p7s": sig, "letter.pdf": content, "ca.pem": chainPEM} {
		if err := os.WriteFile(path(name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	out, err := exec.CommandContext(context.Background(), openssl, "cms", "-verify", "-binary", "-inform", "DER",
		"-in", path("sig.p7s"), "-content", path("letter.pdf"), "-CAfile", path("ca.pem"), "-out", os.DevNull).CombinedOutput()
	return string(out), err == nil && strings.Contains(string(out), "Verification successful")
}

func TestDocumentSignerContract(t *testing.T) {
	ctx := context.Background()
	for _, a := range docSignerAdapters() {
		t.Run(a.name, func(t *testing.T) {
			authority, err := ca.Open(ca.Config{Dir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			chainPEM := authority.ChainPEM()
			keys := crypto.KeyGen{}
			letter := docSignedLetter(t)

			key, pubDER, err := keys.NewKey()
			if err != nil {
				t.Fatal(err)
			}
			personal, err := authority.IssuePersonal(ctx, ports.CertificateRequest{PublicKeyDER: pubDER,
				CommonName: "张三", SubjectSerial: "SXQ-test"})
			if err != nil {
				t.Fatal(err)
			}
			sig, err := a.signer.SignDetached(context.Background(), letter, key, personal.DER, chainPEM)
			if err != nil {
				t.Fatal(err)
			}
			if err := a.signer.VerifyDetached(letter, sig, chainPEM); err != nil {
				t.Fatalf("VerifyDetached: %v", err)
			}
			if out, ok := docOpenSSL(t, sig, letter, chainPEM); !ok {
				t.Fatalf("openssl cms -verify: %s", out)
			}

			// A key kept as PKCS#8 (sealed in the database) signs the same after unmarshalling.
			der, err := keys.MarshalKey(key)
			if err != nil {
				t.Fatal(err)
			}
			again, err := keys.UnmarshalKey(der)
			if err != nil {
				t.Fatal(err)
			}
			sig2, err := a.signer.SignDetached(context.Background(), letter, again, personal.DER, chainPEM)
			if err != nil {
				t.Fatal(err)
			}
			if err := a.signer.VerifyDetached(letter, sig2, chainPEM); err != nil {
				t.Fatalf("the unmarshalled key: %v", err)
			}

			// The organisation certificate signs too.
			orgKey, orgPub, err := keys.NewKey()
			if err != nil {
				t.Fatal(err)
			}
			org, err := authority.IssueOrganization(ctx, ports.CertificateRequest{PublicKeyDER: orgPub,
				CommonName: "福州数信科技有限公司", Organization: "福州数信科技有限公司", SubjectSerial: "91350100M000100Y43"})
			if err != nil {
				t.Fatal(err)
			}
			orgSig, err := a.signer.SignDetached(context.Background(), letter, orgKey, org.DER, chainPEM)
			if err != nil {
				t.Fatal(err)
			}
			if err := a.signer.VerifyDetached(letter, orgSig, chainPEM); err != nil {
				t.Fatalf("organisation signature: %v", err)
			}
			if out, ok := docOpenSSL(t, orgSig, letter, chainPEM); !ok {
				t.Fatalf("openssl cms -verify (organisation): %s", out)
			}

			// A changed document, a changed signature, another CA: refused, by OpenSSL as well.
			tampered := bytes.Clone(letter)
			tampered[len(tampered)/2] ^= 0x01
			docWantInvalid(t, a.signer.VerifyDetached(tampered, sig, chainPEM), "signature-invalid", "changed document")
			if out, ok := docOpenSSL(t, sig, tampered, chainPEM); ok {
				t.Fatalf("openssl verified a changed document: %s", out)
			}
			badSig := bytes.Clone(sig)
			badSig[len(badSig)-2] ^= 0x01
			docWantInvalid(t, a.signer.VerifyDetached(letter, badSig, chainPEM), "signature-invalid", "changed signature")
			docWantInvalid(t, a.signer.VerifyDetached(letter, []byte("%PDF-1.4"), chainPEM), "signature-invalid", "not a signature")
			other, err := ca.Open(ca.Config{Dir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			docWantInvalid(t, a.signer.VerifyDetached(letter, sig, other.ChainPEM()), "signature-invalid", "another CA")
			if out, ok := docOpenSSL(t, sig, letter, other.ChainPEM()); ok {
				t.Fatalf("openssl verified under another CA: %s", out)
			}
			// The signature of another document does not fit this one.
			otherDoc := append(bytes.Clone(letter), []byte("\n% appended\n")...)
			docWantInvalid(t, a.signer.VerifyDetached(otherDoc, sig, chainPEM), "signature-invalid", "appended bytes")

			// A key that is not the certificate's does not sign.
			stranger, _, err := keys.NewKey()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := a.signer.SignDetached(context.Background(), letter, stranger, personal.DER, chainPEM); err == nil {
				t.Fatal("signed with a key that is not the certificate's")
			}
		})
	}
}

func TestDocumentRendererContract(t *testing.T) {
	for _, a := range docRendererAdapters() {
		t.Run(a.name, func(t *testing.T) {
			r := a.make(t)
			isPDF := func(what string, data []byte) {
				t.Helper()
				if len(data) < 1024 || !bytes.HasPrefix(data, []byte("%PDF-")) || !bytes.Contains(data, []byte("%%EOF")) {
					t.Fatalf("%s is not a PDF (%d bytes)", what, len(data))
				}
			}

			tmpl, err := r.AuthorizationLetterTemplate()
			if err != nil {
				t.Fatal(err)
			}
			isPDF("the template", tmpl)
			tmpl2, err := r.AuthorizationLetterTemplate()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(tmpl, tmpl2) {
				t.Fatal("the template is not deterministic")
			}

			letter, err := r.AuthorizationLetter(docLetterData())
			if err != nil {
				t.Fatal(err)
			}
			isPDF("the letter", letter)
			letter2, err := r.AuthorizationLetter(docLetterData())
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(letter, letter2) {
				t.Fatal("the same data gave different letters")
			}
			if bytes.Equal(letter, tmpl) {
				t.Fatal("the letter is the template")
			}
			legalRepInitiated := docLetterData()
			legalRepInitiated.OperatorName = ""
			if l, err := r.AuthorizationLetter(legalRepInitiated); err != nil || bytes.Equal(l, letter) {
				t.Fatalf("letter without operator: %v (same bytes: %v)", err, bytes.Equal(l, letter))
			}

			signed := docSignedLetter(t)
			isPDF("the signed letter", signed)
			if bytes.Equal(signed, letter) {
				t.Fatal("the signed letter is the unsigned one")
			}

			for name, mut := range map[string]func(d *ports.LetterData){
				"no enterprise name": func(d *ports.LetterData) { d.EnterpriseName = "" },
				"no credit code":     func(d *ports.LetterData) { d.CreditCode = "" },
				"no legal rep":       func(d *ports.LetterData) { d.LegalRepName = "" },
				"signature not PNG": func(d *ports.LetterData) {
					d.SignatureImage, d.SignedAt = []byte("GIF89a"), d.Date
				},
			} {
				d := docLetterData()
				mut(&d)
				_, err := r.AuthorizationLetter(d)
				docWantInvalid(t, err, "letter-data-invalid", name)
			}
		})
	}
}
