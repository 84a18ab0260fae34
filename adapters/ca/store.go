package ca

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// CA material in Config.Dir: a root that signs only the issuing CA, and the issuing CA that
// signs the holders' certificates, CRLs and OCSP answers. root.pem (without "ca-") is the root of
// the old scheme, which signed holders' certificates directly: it is kept as a trust anchor so
// that those certificates still verify, and never signs again.
const (
	rootCertName    = "ca-root.pem"
	rootKeyName     = "ca-root.key"
	issuingCertName = "issuing.pem"
	issuingKeyName  = "issuing.key"
	legacyRootName  = "root.pem"
	rootYears       = 20
	issuingYears    = 10
	tmpPrefix       = ".tmp-root-"
	staleTmpAge     = 10 * time.Minute
)

// IssuingCommonName is the common name of an issuing CA created on first start.
const IssuingCommonName = "数信签 Sandbox Issuing CA"

// loadFiles reads an operator-provided CA certificate (with its optional chain) and key.
func loadFiles(certFile, keyFile string) ([]*x509.Certificate, crypto.Signer, error) {
	chain, err := readCerts(certFile)
	if err != nil {
		return nil, nil, err
	}
	key, err := readKey(keyFile)
	if err != nil {
		return nil, nil, err
	}
	return chain, key, nil
}

// openDir loads the root and the issuing CA from dir, creating them on first start; it returns
// the chain (issuing CA, root), the issuing key, and the legacy root if there is one.
//
// Creation is safe against concurrent starts and crashes: each file is written to a temporary
// file and published with link(2), which fails if the name exists. A key is published before its
// certificate and is the commit point; whoever loses the race reads the winner's key. A
// certificate is then made for that key if none is published yet, and again the first to be
// linked wins. A crash between the steps leaves a key without a certificate, which the next start
// completes (nothing can have been issued under a certificate that was never published).
func openDir(dir string, now time.Time, org string) ([]*x509.Certificate, crypto.Signer, []*x509.Certificate, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, nil, fmt.Errorf("ca: %w", err)
	}
	removeStaleTemps(dir, now)
	rootKey, err := openKey(dir, rootKeyName, rootCertName)
	if err != nil {
		return nil, nil, nil, err
	}
	root, err := openCert(dir, rootCertName, func() ([]byte, error) { return rootTemplate(rootKey, now, org) })
	if err != nil {
		return nil, nil, nil, err
	}
	issuingKey, err := openKey(dir, issuingKeyName, issuingCertName)
	if err != nil {
		return nil, nil, nil, err
	}
	issuing, err := openCert(dir, issuingCertName, func() ([]byte, error) {
		return issuingTemplate(issuingKey.Public(), root, rootKey, now, org)
	})
	if err != nil {
		return nil, nil, nil, err
	}
	var legacy []*x509.Certificate
	if l, err := readCerts(filepath.Join(dir, legacyRootName)); err == nil {
		legacy = l
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil, err
	}
	return []*x509.Certificate{issuing, root}, issuingKey, legacy, nil
}

// openKey reads dir/keyName, creating it when missing (unless its certificate exists).
func openKey(dir, keyName, certName string) (crypto.Signer, error) {
	keyPath := filepath.Join(dir, keyName)
	key, err := readKey(keyPath)
	if errors.Is(err, fs.ErrNotExist) {
		if _, serr := os.Stat(filepath.Join(dir, certName)); serr == nil {
			// A concurrent start may have published the key and then the certificate between our
			// read and this look (keys are always linked before their certificates): a key that
			// is still missing once its certificate is seen is missing for good.
			if key, err = readKey(keyPath); errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("ca: %s exists but its key %s is missing", filepath.Join(dir, certName), keyPath)
			}
			return key, err
		}
		key, err = createKey(dir, keyPath)
	}
	return key, err
}

// openCert reads dir/certName (exactly one certificate), creating it with make when missing.
func openCert(dir, certName string, make func() ([]byte, error)) (*x509.Certificate, error) {
	certPath := filepath.Join(dir, certName)
	chain, err := readCerts(certPath)
	if errors.Is(err, fs.ErrNotExist) {
		der, merr := make()
		if merr != nil {
			return nil, merr
		}
		published, perr := publish(dir, certPath, certPEM(der), 0o644)
		if perr != nil {
			return nil, perr
		}
		if published {
			c, perr := x509.ParseCertificate(der)
			if perr != nil {
				return nil, fmt.Errorf("ca: %w", perr)
			}
			return c, nil
		}
		chain, err = readCerts(certPath)
	}
	if err != nil {
		return nil, err
	}
	if len(chain) != 1 {
		return nil, fmt.Errorf("ca: %s must hold exactly one certificate", certPath)
	}
	return chain[0], nil
}

func createKey(dir, keyPath string) (crypto.Signer, error) {
	k, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("ca: generate key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, fmt.Errorf("ca: marshal key: %w", err)
	}
	data := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	clear(der)
	published, err := publish(dir, keyPath, data, 0o600)
	clear(data)
	if err != nil {
		return nil, err
	}
	if !published { // another process was first: use its key
		return readKey(keyPath)
	}
	return k, nil
}

// rootTemplate makes the self-signed root: it certifies CAs only (path length 1: the issuing CA).
func rootTemplate(key crypto.Signer, now time.Time, org string) ([]byte, error) {
	tmpl, err := caTemplate(key.Public(), now, pkix.Name{Country: []string{"CN"}, Organization: []string{org}, CommonName: RootCommonName}, rootYears)
	if err != nil {
		return nil, err
	}
	tmpl.MaxPathLen = 1
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("ca: create root certificate: %w", err)
	}
	return der, nil
}

// issuingTemplate makes the issuing CA's certificate, signed by the root (path length 0: it
// signs end-entity certificates only).
func issuingTemplate(pub crypto.PublicKey, root *x509.Certificate, rootKey crypto.Signer, now time.Time, org string) ([]byte, error) {
	tmpl, err := caTemplate(pub, now, pkix.Name{Country: []string{"CN"}, Organization: []string{org}, CommonName: IssuingCommonName}, issuingYears)
	if err != nil {
		return nil, err
	}
	tmpl.MaxPathLen, tmpl.MaxPathLenZero = 0, true
	tmpl.AuthorityKeyId = root.SubjectKeyId
	if tmpl.NotAfter.After(root.NotAfter) {
		tmpl.NotAfter = root.NotAfter
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, root, pub, rootKey)
	if err != nil {
		return nil, fmt.Errorf("ca: create issuing certificate: %w", err)
	}
	return der, nil
}

func caTemplate(pub crypto.PublicKey, now time.Time, subject pkix.Name, years int) (*x509.Certificate, error) {
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	spki, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("ca: %w", err)
	}
	ski, err := subjectKeyID(spki)
	if err != nil {
		return nil, err
	}
	notBefore := now.UTC().Add(-backdate).Truncate(time.Second)
	return &x509.Certificate{
		SerialNumber:          serial,
		Subject:               subject,
		NotBefore:             notBefore,
		NotAfter:              notBefore.AddDate(years, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		SubjectKeyId:          ski,
	}, nil
}

// publish writes data to a temporary file in dir, syncs it, and links it to path. It reports
// false (and no error) when path already exists: someone else published first.
func publish(dir, path string, data []byte, mode os.FileMode) (bool, error) {
	f, err := os.CreateTemp(dir, tmpPrefix+"*")
	if err != nil {
		return false, fmt.Errorf("ca: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) //nolint:errcheck // best effort: the link, if made, keeps the data
	if err := f.Chmod(mode); err != nil {
		_ = f.Close()
		return false, fmt.Errorf("ca: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		_ = f.Close()
		return false, fmt.Errorf("ca: write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return false, fmt.Errorf("ca: sync %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return false, fmt.Errorf("ca: %w", err)
	}
	if err := os.Link(tmp, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return false, nil
		}
		return false, fmt.Errorf("ca: publish %s: %w", path, err)
	}
	syncDir(dir)
	return true, nil
}

// syncDir makes a new directory entry durable (best effort).
func syncDir(dir string) {
	d, err := os.Open(dir) //nolint:gosec // the configured data directory
	if err != nil {
		return
	}
	_ = d.Sync()
	_ = d.Close()
}

// removeStaleTemps deletes temporary files left by a crash (they may hold a private key). Recent
// ones may belong to a process creating the root right now and are left alone.
func removeStaleTemps(dir string, now time.Time) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), tmpPrefix) || !e.Type().IsRegular() {
			continue
		}
		if info, err := e.Info(); err == nil && now.Sub(info.ModTime()) > staleTmpAge {
			_ = os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}

// readCerts reads every CERTIFICATE block of a PEM file, in order.
func readCerts(path string) ([]*x509.Certificate, error) {
	data, err := os.ReadFile(path) //nolint:gosec // a configured path
	if err != nil {
		return nil, fmt.Errorf("ca: read certificate: %w", err)
	}
	var chain []*x509.Certificate
	for rest := data; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("ca: parse certificate in %s: %w", path, err)
		}
		chain = append(chain, c)
	}
	if len(chain) == 0 {
		return nil, fmt.Errorf("ca: no PEM certificate in %s", path)
	}
	return chain, nil
}

// readKey reads the first private key of a PEM file: PKCS#8, SEC 1 or PKCS#1, unencrypted.
func readKey(path string) (crypto.Signer, error) {
	data, err := os.ReadFile(path) //nolint:gosec // a configured path
	if err != nil {
		return nil, fmt.Errorf("ca: read key: %w", err)
	}
	defer clear(data)
	for rest := data; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			return nil, fmt.Errorf("ca: no PEM private key in %s", path)
		}
		var (
			k   any
			err error
		)
		switch b.Type {
		case "PRIVATE KEY":
			k, err = x509.ParsePKCS8PrivateKey(b.Bytes)
		case "EC PRIVATE KEY":
			k, err = x509.ParseECPrivateKey(b.Bytes)
		case "RSA PRIVATE KEY":
			k, err = x509.ParsePKCS1PrivateKey(b.Bytes)
		case "ENCRYPTED PRIVATE KEY":
			return nil, fmt.Errorf("ca: the key in %s is encrypted; provide it unencrypted", path)
		default:
			continue // e.g. "EC PARAMETERS" before the key
		}
		clear(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("ca: parse key in %s: %w", path, err)
		}
		s, ok := k.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("ca: unsupported key type %T in %s", k, path)
		}
		return s, nil
	}
}

func certPEM(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}
