package crypto

import (
	"bytes"
	"strings"
	"testing"
)

func TestArgon2idRoundTrip(t *testing.T) {
	h, err := Argon2id{}.Hash("Secret123")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("unexpected parameters: %s", h)
	}
	for _, tc := range []struct {
		plain string
		want  bool
	}{{"Secret123", true}, {"secret123", false}, {"", false}} {
		got, err := Argon2id{}.Verify(h, tc.plain)
		if err != nil || got != tc.want {
			t.Errorf("Verify(%q) = %v, %v; want %v", tc.plain, got, err, tc.want)
		}
	}
	h2, _ := Argon2id{}.Hash("Secret123")
	if h2 == h {
		t.Fatal("two hashes of one password must differ (salt)")
	}
	for _, bad := range []string{"", "$argon2i$v=19$m=1,t=1,p=1$AA$AA", "$argon2id$v=19$m=99999999,t=2,p=1$AA$AA", "plain"} {
		if _, err := (Argon2id{}).Verify(bad, "x"); err == nil {
			t.Errorf("Verify accepted malformed hash %q", bad)
		}
	}
}

func TestKeysSealOpenDigest(t *testing.T) {
	k, err := NewKeys(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	ct, err := k.Seal([]byte("13800138000"), "users.phone")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(ct, []byte("13800138000")) {
		t.Fatal("ciphertext contains the plaintext")
	}
	pt, err := k.Open(ct, "users.phone")
	if err != nil || string(pt) != "13800138000" {
		t.Fatalf("Open = %q, %v", pt, err)
	}
	if _, err := k.Open(ct, "other.column"); err == nil {
		t.Fatal("opened with another aad")
	}
	ct[len(ct)-1] ^= 1
	if _, err := k.Open(ct, "users.phone"); err == nil {
		t.Fatal("opened a tampered ciphertext")
	}
	if _, err := k.Open([]byte{1, 2}, "users.phone"); err == nil {
		t.Fatal("opened a short ciphertext")
	}
	if k.Digest("phone", "1") == k.Digest("ip", "1") {
		t.Fatal("digest domains are not separated")
	}
	other, _ := NewKeys(bytes.Repeat([]byte{8}, 32))
	if k.Digest("phone", "1") == other.Digest("phone", "1") {
		t.Fatal("digest does not depend on the key")
	}
	if _, err := NewKeys([]byte("short")); err == nil {
		t.Fatal("accepted a short master key")
	}
}

func TestRandom(t *testing.T) {
	d, err := Random{}.Digits(6)
	if err != nil || len(d) != 6 || strings.Trim(d, "0123456789") != "" {
		t.Fatalf("Digits = %q, %v", d, err)
	}
	tok, err := Random{}.Token(32)
	if err != nil || len(tok) != 43 {
		t.Fatalf("Token = %q (%d), %v", tok, len(tok), err)
	}
	tok2, _ := Random{}.Token(32)
	if tok == tok2 {
		t.Fatal("tokens repeat")
	}
}

func BenchmarkArgon2idVerify(b *testing.B) {
	h, _ := Argon2id{}.Hash("Secret123")
	for b.Loop() {
		_, _ = Argon2id{}.Verify(h, "Secret123")
	}
}
