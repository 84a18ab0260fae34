package crypto

import (
	"bytes"
	gocrypto "crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"testing"

	"github.com/shuxinqian/server/domain/kernel"
)

func newTestSigningKeys(t testing.TB) *SigningKeys {
	t.Helper()
	keys, err := NewKeys(bytes.Repeat([]byte{1}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return NewSigningKeys(keys)
}

// checkSigner asserts that signer is the private key of the PKIX public key pubDER.
func checkSigner(t *testing.T, signer gocrypto.Signer, pubDER []byte) {
	t.Helper()
	pub, err := x509.ParsePKIXPublicKey(pubDER)
	if err != nil {
		t.Fatal(err)
	}
	ek, ok := pub.(*ecdsa.PublicKey)
	if !ok {
		t.Fatalf("public key is %T", pub)
	}
	if !ek.Equal(signer.Public()) {
		t.Fatal("the unwrapped key does not match the public key")
	}
	digest := sha256.Sum256([]byte("document"))
	sig, err := signer.Sign(rand.Reader, digest[:], gocrypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	if !ecdsa.VerifyASN1(ek, digest[:], sig) {
		t.Fatal("signature does not verify")
	}
}

func wantWrongPassword(t *testing.T, err error) {
	t.Helper()
	if kernel.KindOf(err) != kernel.KindInvalid || kernel.CodeOf(err) != "signing-password-wrong" {
		t.Fatalf("err = %v, want invalid signing-password-wrong", err)
	}
}

func TestSigningKeysRoundTrip(t *testing.T) {
	sk := newTestSigningKeys(t)
	m, err := sk.Generate("Signing123")
	if err != nil {
		t.Fatal(err)
	}
	signer, err := sk.Unwrap(m.Wrapped, "Signing123")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := signer.(*ecdsa.PrivateKey); !ok {
		t.Fatalf("signer is %T, want *ecdsa.PrivateKey", signer)
	}
	checkSigner(t, signer, m.PublicKeyDER)

	// The envelope names the parameters of DESIGN.md §7.
	if m.Wrapped[0] != 1 || !bytes.Equal(m.Wrapped[1:10], []byte{0, 0, 0x4c, 0, 0, 0, 0, 2, 1}) {
		t.Fatalf("header % x, want version 1, m=19456, t=2, p=1", m.Wrapped[:10])
	}

	// Neither the envelope nor the escrow holds the private key in clear.
	der, err := x509.MarshalPKCS8PrivateKey(signer)
	if err != nil {
		t.Fatal(err)
	}
	d, err := signer.(*ecdsa.PrivateKey).Bytes()
	if err != nil {
		t.Fatal(err)
	}
	for name, blob := range map[string][]byte{"wrapped": m.Wrapped, "escrow": m.Escrow} {
		if bytes.Contains(blob, der) || bytes.Contains(blob, d) {
			t.Fatalf("%s contains the private key in clear", name)
		}
	}
}

func TestSigningKeysWrongPassword(t *testing.T) {
	sk := newTestSigningKeys(t)
	m, err := sk.Generate("Signing123")
	if err != nil {
		t.Fatal(err)
	}
	for _, pw := range []string{"signing123", "Signing1234", ""} {
		_, err := sk.Unwrap(m.Wrapped, pw)
		wantWrongPassword(t, err)
	}
	if _, err := sk.Rewrap(m.Wrapped, "wrong", "NewSigning456"); err == nil {
		t.Fatal("rewrap with the wrong old password succeeded")
	} else {
		wantWrongPassword(t, err)
	}
}

func TestSigningKeysFreshSalt(t *testing.T) {
	sk := newTestSigningKeys(t)
	a, err := sk.Generate("Signing123")
	if err != nil {
		t.Fatal(err)
	}
	b, err := sk.Generate("Signing123")
	if err != nil {
		t.Fatal(err)
	}
	saltA, saltB := a.Wrapped[10:26], b.Wrapped[10:26]
	if bytes.Equal(saltA, saltB) {
		t.Fatal("two keys wrapped under one password share a salt")
	}
	if bytes.Equal(a.PublicKeyDER, b.PublicKeyDER) {
		t.Fatal("two Generate calls made the same key")
	}
}

func TestSigningKeysRewrap(t *testing.T) {
	sk := newTestSigningKeys(t)
	m, err := sk.Generate("Signing123")
	if err != nil {
		t.Fatal(err)
	}
	re, err := sk.Rewrap(m.Wrapped, "Signing123", "NewSigning456")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(re[10:26], m.Wrapped[10:26]) {
		t.Fatal("rewrap kept the salt")
	}
	_, err = sk.Unwrap(re, "Signing123")
	wantWrongPassword(t, err)
	signer, err := sk.Unwrap(re, "NewSigning456")
	if err != nil {
		t.Fatal(err)
	}
	checkSigner(t, signer, m.PublicKeyDER)
}

func TestSigningKeysRecover(t *testing.T) {
	sk := newTestSigningKeys(t)
	m, err := sk.Generate("Signing123")
	if err != nil {
		t.Fatal(err)
	}
	re, err := sk.Recover(m.Escrow, "Recovered789")
	if err != nil {
		t.Fatal(err)
	}
	signer, err := sk.Unwrap(re, "Recovered789")
	if err != nil {
		t.Fatal(err)
	}
	checkSigner(t, signer, m.PublicKeyDER)
	_, err = sk.Unwrap(re, "Signing123")
	wantWrongPassword(t, err)

	// Another platform key cannot open the escrow; nor can the wrapped key pass for an escrow.
	otherKeys, err := NewKeys(bytes.Repeat([]byte{2}, 32))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewSigningKeys(otherKeys).Recover(m.Escrow, "Recovered789"); err == nil {
		t.Fatal("escrow opened under another platform key")
	}
	if _, err := sk.Recover(m.Wrapped, "Recovered789"); err == nil {
		t.Fatal("a wrapped key was accepted as an escrow")
	}
}

func TestSigningKeysTamperedEnvelope(t *testing.T) {
	sk := newTestSigningKeys(t)
	m, err := sk.Generate("Signing123")
	if err != nil {
		t.Fatal(err)
	}
	flip := func(i int) []byte {
		b := bytes.Clone(m.Wrapped)
		b[i] ^= 0x01
		return b
	}
	// Any changed byte of salt, nonce, ciphertext or tag refuses to open.
	for _, i := range []int{10, 26, 38, len(m.Wrapped) / 2, len(m.Wrapped) - 1} {
		if _, err := sk.Unwrap(flip(i), "Signing123"); err == nil {
			t.Fatalf("byte %d flipped: opened", i)
		}
	}
	// A changed header, a truncated or empty envelope is malformed.
	huge := bytes.Clone(m.Wrapped)
	huge[1] = 0xff // m ≈ 4 TiB: refused before argon2 runs
	for name, b := range map[string][]byte{
		"version":   flip(0),
		"memory":    huge,
		"threads":   func() []byte { b := bytes.Clone(m.Wrapped); b[9] = 0; return b }(),
		"truncated": m.Wrapped[:30],
		"empty":     nil,
	} {
		_, err := sk.Unwrap(b, "Signing123")
		if !errors.Is(err, ErrMalformedWrappedKey) {
			t.Fatalf("%s: err = %v, want ErrMalformedWrappedKey", name, err)
		}
	}
	// Lowering t (a header field) changes the key and the additional data: refused.
	weak := bytes.Clone(m.Wrapped)
	weak[8] = 1
	if _, err := sk.Unwrap(weak, "Signing123"); err == nil {
		t.Fatal("header with t=1 opened")
	}
}

func TestSigningKeysEmptyPassword(t *testing.T) {
	sk := newTestSigningKeys(t)
	if _, err := sk.Generate(""); err == nil {
		t.Fatal("generated a key under an empty password")
	}
	m, err := sk.Generate("Signing123")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sk.Rewrap(m.Wrapped, "Signing123", ""); err == nil {
		t.Fatal("rewrapped under an empty password")
	}
	if _, err := sk.Recover(m.Escrow, ""); err == nil {
		t.Fatal("recovered under an empty password")
	}
}

// BenchmarkSigningKeysUnwrap measures one signing-password check: argon2id at m=19456 KiB, t=2,
// p=1, then AES-GCM and PKCS#8 parsing (the argon2 part dominates).
func BenchmarkSigningKeysUnwrap(b *testing.B) {
	sk := newTestSigningKeys(b)
	m, err := sk.Generate("Signing123")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := sk.Unwrap(m.Wrapped, "Signing123"); err != nil {
			b.Fatal(err)
		}
	}
	// After the loop: b.Loop's first call resets the timer, which drops reported metrics.
	b.ReportMetric(argonMemory, "argon2-KiB")
	b.ReportMetric(argonTime, "argon2-passes")
}
