package crypto

import (
	gocrypto "crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/shuxinqian/server/ports"
)

// KeyGen implements ports.KeyGenerator: ECDSA P-256 keys from crypto/rand, stored as PKCS#8 DER.
type KeyGen struct{}

var _ ports.KeyGenerator = KeyGen{}

// NewKey returns a fresh ECDSA P-256 key and its PKIX (SubjectPublicKeyInfo) public key DER.
func (KeyGen) NewKey() (gocrypto.Signer, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("crypto: generate key: %w", err)
	}
	pub, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		return nil, nil, fmt.Errorf("crypto: marshal public key: %w", err)
	}
	return key, pub, nil
}

// MarshalKey returns the key as PKCS#8 DER (seal it before storing it).
func (KeyGen) MarshalKey(key gocrypto.Signer) ([]byte, error) {
	if key == nil {
		return nil, errors.New("crypto: no key to marshal")
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("crypto: marshal key: %w", err)
	}
	return der, nil
}

// UnmarshalKey parses PKCS#8 DER back into a signing key.
func (KeyGen) UnmarshalKey(der []byte) (gocrypto.Signer, error) {
	key, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("crypto: parse key: %w", err)
	}
	signer, ok := key.(gocrypto.Signer)
	if !ok {
		return nil, fmt.Errorf("crypto: a %T key cannot sign", key)
	}
	return signer, nil
}
