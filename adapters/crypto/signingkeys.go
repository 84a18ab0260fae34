package crypto

import (
	gocrypto "crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"

	"golang.org/x/crypto/argon2"

	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/ports"
)

// Wrapped signing key envelope:
//
//	version(1) | argon2 memory KiB (4, big endian) | time (4) | threads (1) | salt (16) | nonce (12) | AES-256-GCM(PKCS#8 DER)
//
// The key is argon2id(password, salt) with the parameters written in the envelope. The GCM
// additional data is the header (everything before the ciphertext); in version 2 it is followed
// by the owner the key belongs to ("user:<id>/personal-signing"), so an envelope copied to another
// holder's row does not open even with the right password. Version 1 envelopes (made before the
// owner was bound) still open and are re-wrapped as version 2 on their first use.
const (
	wrapVersion1  = 1
	wrapVersion2  = 2
	wrapNonceLen  = 12
	wrapHeaderLen = 1 + 4 + 4 + 1 + argonSaltLen + wrapNonceLen
	wrapTagLen    = 16

	// Bounds on the parameters an envelope may name, so a forged one cannot exhaust memory.
	wrapMaxMemory  = 1 << 20 // KiB (1 GiB)
	wrapMaxTime    = 16
	wrapMaxThreads = 16
)

// CodeSigningPasswordWrong is the kernel error code of a wrong signing password.
const CodeSigningPasswordWrong = "signing-password-wrong" //nolint:gosec // an error code, not a credential

// ErrMalformedWrappedKey is returned for bytes that are not a wrapped signing key.
var ErrMalformedWrappedKey = errors.New("crypto: malformed wrapped signing key")

// SigningKeys implements ports.SigningKeys: ECDSA P-256 keys whose private key is kept only
// AES-256-GCM encrypted under an argon2id key derived from the holder's signing password, bound to
// its owner. There is no other copy: a forgotten password means a new key (the platform cannot
// sign as the holder).
type SigningKeys struct{}

var _ ports.SigningKeys = (*SigningKeys)(nil)

// NewSigningKeys makes the signing key service.
func NewSigningKeys() *SigningKeys { return &SigningKeys{} }

// Generate makes a new P-256 key pair wrapped under password and bound to owner.
func (s *SigningKeys) Generate(owner, password string) (ports.KeyMaterial, error) {
	if password == "" || owner == "" {
		return ports.KeyMaterial{}, errors.New("crypto: empty signing password or owner")
	}
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return ports.KeyMaterial{}, err
	}
	pub, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		return ports.KeyMaterial{}, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return ports.KeyMaterial{}, err
	}
	defer clear(der)
	wrapped, err := wrapKey(der, owner, password)
	if err != nil {
		return ports.KeyMaterial{}, err
	}
	return ports.KeyMaterial{PublicKeyDER: pub, Wrapped: wrapped}, nil
}

// Unwrap opens the private key of owner with the signing password, for one operation. A wrong
// password (or an envelope of another owner) is the kernel invalid error "signing-password-wrong";
// bytes that are no envelope are ErrMalformedWrappedKey. When the envelope is of the old,
// owner-less version, upgraded is the same key wrapped as version 2 (store it).
func (s *SigningKeys) Unwrap(owner string, wrapped []byte, password string) (gocrypto.Signer, []byte, error) {
	der, err := unwrapKey(wrapped, owner, password)
	if err != nil {
		return nil, nil, err
	}
	defer clear(der)
	k, err := parseSigningKey(der)
	if err != nil {
		return nil, nil, err
	}
	var upgraded []byte
	if wrapped[0] == wrapVersion1 {
		if upgraded, err = wrapKey(der, owner, password); err != nil {
			return nil, nil, err
		}
	}
	return k, upgraded, nil
}

// Rewrap re-encrypts owner's private key under newPassword (with a new salt), proving oldPassword.
func (s *SigningKeys) Rewrap(owner string, wrapped []byte, oldPassword, newPassword string) ([]byte, error) {
	if newPassword == "" {
		return nil, errors.New("crypto: empty signing password")
	}
	der, err := unwrapKey(wrapped, owner, oldPassword)
	if err != nil {
		return nil, err
	}
	defer clear(der)
	if _, err := parseSigningKey(der); err != nil {
		return nil, err
	}
	return wrapKey(der, owner, newPassword)
}

func parseSigningKey(der []byte) (*ecdsa.PrivateKey, error) {
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("crypto: parse signing key: %w", err)
	}
	ek, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("crypto: signing key is %T, want ECDSA", k)
	}
	return ek, nil
}

// wrapKey encrypts plaintext under argon2id(password, fresh salt) with the default parameters.
func wrapKey(plaintext []byte, owner, password string) ([]byte, error) {
	if owner == "" {
		return nil, errors.New("crypto: a wrapped key needs its owner")
	}
	out := make([]byte, wrapHeaderLen, wrapHeaderLen+len(plaintext)+wrapTagLen)
	out[0] = wrapVersion2
	binary.BigEndian.PutUint32(out[1:5], argonMemory)
	binary.BigEndian.PutUint32(out[5:9], argonTime)
	out[9] = argonThreads
	if _, err := rand.Read(out[10:wrapHeaderLen]); err != nil { // salt and nonce
		return nil, err
	}
	salt := out[10 : 10+argonSaltLen]
	nonce := out[10+argonSaltLen : wrapHeaderLen]
	aead, err := wrapAEAD(password, salt, argonMemory, argonTime, argonThreads)
	if err != nil {
		return nil, err
	}
	return aead.Seal(out, nonce, plaintext, wrapAAD(out[:wrapHeaderLen], owner)), nil
}

// unwrapKey parses an envelope and decrypts it with password.
func unwrapKey(wrapped []byte, owner, password string) ([]byte, error) {
	if len(wrapped) < wrapHeaderLen+wrapTagLen || (wrapped[0] != wrapVersion1 && wrapped[0] != wrapVersion2) {
		return nil, ErrMalformedWrappedKey
	}
	memory := binary.BigEndian.Uint32(wrapped[1:5])
	iterations := binary.BigEndian.Uint32(wrapped[5:9])
	threads := wrapped[9]
	if memory < 8*uint32(threads) || memory > wrapMaxMemory || iterations == 0 || iterations > wrapMaxTime ||
		threads == 0 || threads > wrapMaxThreads {
		return nil, ErrMalformedWrappedKey
	}
	salt := wrapped[10 : 10+argonSaltLen]
	nonce := wrapped[10+argonSaltLen : wrapHeaderLen]
	aead, err := wrapAEAD(password, salt, memory, iterations, threads)
	if err != nil {
		return nil, err
	}
	aad := wrapped[:wrapHeaderLen:wrapHeaderLen]
	if wrapped[0] == wrapVersion2 {
		aad = wrapAAD(aad, owner)
	}
	der, err := aead.Open(nil, nonce, wrapped[wrapHeaderLen:], aad)
	if err != nil {
		return nil, kernel.Invalid(CodeSigningPasswordWrong, "the signing password is wrong")
	}
	return der, nil
}

func wrapAEAD(password string, salt []byte, memory, iterations uint32, threads uint8) (cipher.AEAD, error) {
	pw := []byte(password)
	key := argon2.IDKey(pw, salt, iterations, memory, threads, 32)
	clear(pw)
	defer clear(key)
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// wrapAAD is a version 2 envelope's additional data: its header, then its owner.
func wrapAAD(header []byte, owner string) []byte {
	aad := make([]byte, 0, len(header)+len(owner))
	return append(append(aad, header...), owner...)
}
