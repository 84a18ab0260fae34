package crypto

import (
	"bytes"
	gocrypto "crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"testing"

	"github.com/shuxinqian/server/domain/kernel"
)

func newTestSigningKeys(t testing.TB) *SigningKeys {
	t.Helper()
	return NewSigningKeys()
}

const owner = "user:u1/personal-signing"

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
	m, err := sk.Generate(owner, "Signing123")
	if err != nil {
		t.Fatal(err)
	}
	signer, _, err := sk.Unwrap(owner, m.Wrapped, "Signing123")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := signer.(*ecdsa.PrivateKey); !ok {
		t.Fatalf("signer is %T, want *ecdsa.PrivateKey", signer)
	}
	checkSigner(t, signer, m.PublicKeyDER)

	// The envelope names the parameters of DESIGN.md §7.
	if m.Wrapped[0] != 2 || !bytes.Equal(m.Wrapped[1:10], []byte{0, 0, 0x4c, 0, 0, 0, 0, 2, 1}) {
		t.Fatalf("header % x, want version 2, m=19456, t=2, p=1", m.Wrapped[:10])
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
	for name, blob := range map[string][]byte{"wrapped": m.Wrapped} {
		if bytes.Contains(blob, der) || bytes.Contains(blob, d) {
			t.Fatalf("%s contains the private key in clear", name)
		}
	}
}

func TestSigningKeysWrongPassword(t *testing.T) {
	sk := newTestSigningKeys(t)
	m, err := sk.Generate(owner, "Signing123")
	if err != nil {
		t.Fatal(err)
	}
	for _, pw := range []string{"signing123", "Signing1234", ""} {
		_, _, err := sk.Unwrap(owner, m.Wrapped, pw)
		wantWrongPassword(t, err)
	}
	if _, err := sk.Rewrap(owner, m.Wrapped, "wrong", "NewSigning456"); err == nil {
		t.Fatal("rewrap with the wrong old password succeeded")
	} else {
		wantWrongPassword(t, err)
	}
}

func TestSigningKeysFreshSalt(t *testing.T) {
	sk := newTestSigningKeys(t)
	a, err := sk.Generate(owner, "Signing123")
	if err != nil {
		t.Fatal(err)
	}
	b, err := sk.Generate(owner, "Signing123")
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
	m, err := sk.Generate(owner, "Signing123")
	if err != nil {
		t.Fatal(err)
	}
	re, err := sk.Rewrap(owner, m.Wrapped, "Signing123", "NewSigning456")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(re[10:26], m.Wrapped[10:26]) {
		t.Fatal("rewrap kept the salt")
	}
	_, _, err = sk.Unwrap(owner, re, "Signing123")
	wantWrongPassword(t, err)
	signer, _, err := sk.Unwrap(owner, re, "NewSigning456")
	if err != nil {
		t.Fatal(err)
	}
	checkSigner(t, signer, m.PublicKeyDER)
}

// The envelope is bound to its owner: copied to another holder's row it does not open, even
// with the right password; the old owner-less envelopes (version 1) open once and come back
// upgraded.
func TestSigningKeysOwnerBound(t *testing.T) {
	sk := newTestSigningKeys(t)
	m, err := sk.Generate(owner, "Signing123")
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = sk.Unwrap("user:u2/personal-signing", m.Wrapped, "Signing123")
	wantWrongPassword(t, err)
	if _, err := sk.Rewrap("user:u2/personal-signing", m.Wrapped, "Signing123", "Other1234x"); err == nil {
		t.Fatal("rewrapped for another owner")
	}

	// A version 1 envelope (header as additional data only), as made before owners were bound.
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(k)
	v2, err := wrapKey(der, owner, "Signing123")
	if err != nil {
		t.Fatal(err)
	}
	v1 := bytes.Clone(v2[:wrapHeaderLen])
	v1[0] = wrapVersion1
	aead, err := wrapAEAD("Signing123", v1[10:10+argonSaltLen], argonMemory, argonTime, argonThreads)
	if err != nil {
		t.Fatal(err)
	}
	v1 = aead.Seal(v1, v1[10+argonSaltLen:wrapHeaderLen], der, v1[:wrapHeaderLen])
	signer, upgraded, err := sk.Unwrap(owner, v1, "Signing123")
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
	checkSigner(t, signer, pub)
	if len(upgraded) == 0 || upgraded[0] != wrapVersion2 {
		t.Fatal("a version 1 envelope was not upgraded")
	}
	if _, _, err := sk.Unwrap("user:u2/personal-signing", upgraded, "Signing123"); err == nil {
		t.Fatal("the upgraded envelope is not bound to its owner")
	}
	if _, again, err := sk.Unwrap(owner, upgraded, "Signing123"); err != nil || again != nil {
		t.Fatalf("upgraded envelope: %v, upgraded again %v", err, again != nil)
	}
}

func TestSigningKeysTamperedEnvelope(t *testing.T) {
	sk := newTestSigningKeys(t)
	m, err := sk.Generate(owner, "Signing123")
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
		if _, _, err := sk.Unwrap(owner, flip(i), "Signing123"); err == nil {
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
		_, _, err := sk.Unwrap(owner, b, "Signing123")
		if !errors.Is(err, ErrMalformedWrappedKey) {
			t.Fatalf("%s: err = %v, want ErrMalformedWrappedKey", name, err)
		}
	}
	// Lowering t (a header field) changes the key and the additional data: refused.
	weak := bytes.Clone(m.Wrapped)
	weak[8] = 1
	if _, _, err := sk.Unwrap(owner, weak, "Signing123"); err == nil {
		t.Fatal("header with t=1 opened")
	}
}

func TestSigningKeysEmptyPassword(t *testing.T) {
	sk := newTestSigningKeys(t)
	if _, err := sk.Generate(owner, ""); err == nil {
		t.Fatal("generated a key under an empty password")
	}
	m, err := sk.Generate(owner, "Signing123")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sk.Rewrap(owner, m.Wrapped, "Signing123", ""); err == nil {
		t.Fatal("rewrapped under an empty password")
	}
	if _, err := sk.Generate("", "Signing123"); err == nil {
		t.Fatal("generated a key without an owner")
	}
}

// BenchmarkSigningKeysUnwrap measures one signing-password check: argon2id at m=19456 KiB, t=2,
// p=1, then AES-GCM and PKCS#8 parsing (the argon2 part dominates).
func BenchmarkSigningKeysUnwrap(b *testing.B) {
	sk := newTestSigningKeys(b)
	m, err := sk.Generate(owner, "Signing123")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := sk.Unwrap(owner, m.Wrapped, "Signing123"); err != nil {
			b.Fatal(err)
		}
	}
	// After the loop: b.Loop's first call resets the timer, which drops reported metrics.
	b.ReportMetric(argonMemory, "argon2-KiB")
	b.ReportMetric(argonTime, "argon2-passes")
}
