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

// Wrapped signing key envelope, version 1:
//
//	version(1) | argon2 memory KiB (4, big endian) | time (4) | threads (1) | salt (16) | nonce (12) | AES-256-GCM(PKCS#8 DER)
//
// The key is argon2id(password, salt) with the parameters written in the envelope; the header
// (everything before the ciphertext) is the GCM additional data.
const (
	wrapVersion1  = 1
	wrapNonceLen  = 12
	wrapHeaderLen = 1 + 4 + 4 + 1 + argonSaltLen + wrapNonceLen
	wrapTagLen    = 16

	// Bounds on the parameters an envelope may name, so a forged one cannot exhaust memory.
	wrapMaxMemory  = 1 << 20 // KiB (1 GiB)
	wrapMaxTime    = 16
	wrapMaxThreads = 16
)

// escrowAAD binds escrow ciphertexts to their purpose.
const escrowAAD = "signing-key-escrow"

// CodeSigningPasswordWrong is the kernel error code of a wrong signing password.
const CodeSigningPasswordWrong = "signing-password-wrong" //nolint:gosec // an error code, not a credential

// ErrMalformedWrappedKey is returned for bytes that are not a wrapped signing key.
var ErrMalformedWrappedKey = errors.New("crypto: malformed wrapped signing key")

// SigningKeys implements ports.SigningKeys: ECDSA P-256 keys whose private key is kept
// AES-256-GCM encrypted under an argon2id key derived from the holder's signing password, with an
// escrow copy sealed by the platform's cipher for password resets.
type SigningKeys struct {
	escrow ports.Cipher
}

var _ ports.SigningKeys = (*SigningKeys)(nil)

// NewSigningKeys makes the signing key service; escrow seals the escrow copies.
func NewSigningKeys(escrow ports.Cipher) *SigningKeys {
	return &SigningKeys{escrow: escrow}
}

// Generate makes a new P-256 key pair wrapped under password, with its escrow copy.
func (s *SigningKeys) Generate(password string) (ports.KeyMaterial, error) {
	if password == "" {
		return ports.KeyMaterial{}, errors.New("crypto: empty signing password")
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
	wrapped, err := wrapKey(der, password)
	if err != nil {
		return ports.KeyMaterial{}, err
	}
	escrow, err := s.escrow.Seal(der, escrowAAD)
	if err != nil {
		return ports.KeyMaterial{}, fmt.Errorf("crypto: seal escrow: %w", err)
	}
	return ports.KeyMaterial{PublicKeyDER: pub, Wrapped: wrapped, Escrow: escrow}, nil
}

// Unwrap opens the private key with the signing password. A wrong password is the kernel invalid
// error "signing-password-wrong"; bytes that are no envelope are ErrMalformedWrappedKey.
func (s *SigningKeys) Unwrap(wrapped []byte, password string) (gocrypto.Signer, error) {
	der, err := unwrapKey(wrapped, password)
	if err != nil {
		return nil, err
	}
	defer clear(der)
	return parseSigningKey(der)
}

// Rewrap re-encrypts the private key under newPassword (with a new salt), proving oldPassword.
func (s *SigningKeys) Rewrap(wrapped []byte, oldPassword, newPassword string) ([]byte, error) {
	if newPassword == "" {
		return nil, errors.New("crypto: empty signing password")
	}
	der, err := unwrapKey(wrapped, oldPassword)
	if err != nil {
		return nil, err
	}
	defer clear(der)
	if _, err := parseSigningKey(der); err != nil {
		return nil, err
	}
	return wrapKey(der, newPassword)
}

// Recover wraps the escrowed private key under newPassword.
func (s *SigningKeys) Recover(escrow []byte, newPassword string) ([]byte, error) {
	if newPassword == "" {
		return nil, errors.New("crypto: empty signing password")
	}
	der, err := s.escrow.Open(escrow, escrowAAD)
	if err != nil {
		return nil, fmt.Errorf("crypto: open escrow: %w", err)
	}
	defer clear(der)
	if _, err := parseSigningKey(der); err != nil {
		return nil, err
	}
	return wrapKey(der, newPassword)
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
func wrapKey(plaintext []byte, password string) ([]byte, error) {
	out := make([]byte, wrapHeaderLen, wrapHeaderLen+len(plaintext)+wrapTagLen)
	out[0] = wrapVersion1
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
	header := out[:wrapHeaderLen:wrapHeaderLen]
	return aead.Seal(out, nonce, plaintext, header), nil
}

// unwrapKey parses an envelope and decrypts it with password.
func unwrapKey(wrapped []byte, password string) ([]byte, error) {
	if len(wrapped) < wrapHeaderLen+wrapTagLen || wrapped[0] != wrapVersion1 {
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
	der, err := aead.Open(nil, nonce, wrapped[wrapHeaderLen:], wrapped[:wrapHeaderLen])
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
