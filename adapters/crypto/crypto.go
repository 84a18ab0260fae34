// Package crypto implements the cryptographic ports: argon2id password hashing, AES-256-GCM field
// encryption, HMAC-SHA256 digests (SMS codes, blind indexes) and secure randomness.
package crypto

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Argon2id parameters of DESIGN.md §7 (OWASP's minimum: m=19 MiB, t=2, p=1).
const (
	argonMemory  = 19456
	argonTime    = 2
	argonThreads = 1
	argonKeyLen  = 32
	argonSaltLen = 16
)

// Argon2id implements ports.PasswordHasher.
type Argon2id struct{}

// Hash returns a PHC-format argon2id hash.
func (Argon2id) Hash(plain string) (string, error) {
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(plain), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// ErrMalformedHash is returned for a hash that is not argon2id PHC.
var ErrMalformedHash = errors.New("crypto: malformed argon2id hash")

// Verify checks plain against hash in constant time, with the parameters stored in the hash.
func (Argon2id) Verify(hash, plain string) (bool, error) {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false, ErrMalformedHash
	}
	var v int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return false, ErrMalformedHash
	}
	var m, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || m == 0 || m > 1<<21 || t == 0 || t > 10 || p == 0 {
		return false, ErrMalformedHash
	}
	b64 := base64.RawStdEncoding
	salt, err := b64.DecodeString(parts[4])
	if err != nil {
		return false, ErrMalformedHash
	}
	want, err := b64.DecodeString(parts[5])
	if err != nil || len(want) == 0 || len(want) > 64 {
		return false, ErrMalformedHash
	}
	keyLen := uint32(len(want)) //nolint:gosec // 1..64, checked above
	got := argon2.IDKey([]byte(plain), salt, t, m, p, keyLen)
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// Keys derives the platform's working keys from one master secret (32 random bytes).
type Keys struct {
	aead      cipher.AEAD
	digestKey []byte
}

// NewKeys derives the field-encryption and digest keys from master with HKDF-SHA256.
func NewKeys(master []byte) (*Keys, error) {
	if len(master) < 32 {
		return nil, errors.New("crypto: master key must be at least 32 bytes")
	}
	encKey, err := hkdf.Key(sha256.New, master, nil, "shuxinqian field encryption v1", 32)
	if err != nil {
		return nil, err
	}
	digestKey, err := hkdf.Key(sha256.New, master, nil, "shuxinqian digest v1", 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(encKey)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Keys{aead: aead, digestKey: digestKey}, nil
}

// Seal encrypts with a random nonce; the output is nonce || ciphertext || tag.
func (k *Keys) Seal(plaintext []byte, aad string) ([]byte, error) {
	nonce := make([]byte, k.aead.NonceSize(), k.aead.NonceSize()+len(plaintext)+k.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return k.aead.Seal(nonce, nonce, plaintext, []byte(aad)), nil
}

// ErrCiphertext is returned when a ciphertext does not open (wrong key, aad, or tampering).
var ErrCiphertext = errors.New("crypto: ciphertext does not open")

// Open decrypts what Seal produced.
func (k *Keys) Open(ciphertext []byte, aad string) ([]byte, error) {
	n := k.aead.NonceSize()
	if len(ciphertext) < n+k.aead.Overhead() {
		return nil, ErrCiphertext
	}
	out, err := k.aead.Open(nil, ciphertext[:n], ciphertext[n:], []byte(aad))
	if err != nil {
		return nil, ErrCiphertext
	}
	return out, nil
}

// Digest is a hex HMAC-SHA256 of value under a key separated per domain.
func (k *Keys) Digest(domain, value string) string {
	m := hmac.New(sha256.New, k.digestKey)
	m.Write([]byte(domain))
	m.Write([]byte{0})
	m.Write([]byte(value))
	return hex.EncodeToString(m.Sum(nil))
}

// Random implements ports.Random with crypto/rand.
type Random struct{}

// Digits returns n uniformly random decimal digits.
func (Random) Digits(n int) (string, error) {
	b := make([]byte, n)
	ten := big.NewInt(10)
	for i := range b {
		d, err := rand.Int(rand.Reader, ten)
		if err != nil {
			return "", err
		}
		b[i] = "0123456789"[d.Int64()]
	}
	return string(b), nil
}

// IntN returns a uniform integer in [0, n).
func (Random) IntN(n int) (int, error) {
	if n <= 0 {
		return 0, errors.New("crypto: IntN needs n > 0")
	}
	v, err := rand.Int(rand.Reader, big.NewInt(int64(n)))
	if err != nil {
		return 0, err
	}
	return int(v.Int64()), nil
}

// Token returns base64url(n random bytes) without padding.
func (Random) Token(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}
