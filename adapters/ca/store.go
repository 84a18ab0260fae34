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

// Root material in Config.Dir.
const (
	rootCertName = "root.pem"
	rootKeyName  = "root.key"
	rootYears    = 20
	tmpPrefix    = ".tmp-root-"
	staleTmpAge  = 10 * time.Minute
)

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

// openDir loads Dir/root.pem and Dir/root.key, creating them on first start.
//
// Creation is safe against concurrent starts and crashes: each file is written to a temporary
// file and published with link(2), which fails if the name exists. The key is published first
// and is the commit point; whoever loses the race reads the winner's key. A certificate is then
// made for that key if none is published yet, and again the first to be linked wins. A crash
// between the two steps leaves a key without a certificate, which the next start completes (no
// certificate can have been issued under a root that was never published).
func openDir(dir string, now time.Time, org string) ([]*x509.Certificate, crypto.Signer, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("ca: %w", err)
	}
	removeStaleTemps(dir, now)
	certPath, keyPath := filepath.Join(dir, rootCertName), filepath.Join(dir, rootKeyName)

	key, err := readKey(keyPath)
	if errors.Is(err, fs.ErrNotExist) {
		if _, serr := os.Stat(certPath); serr == nil {
			return nil, nil, fmt.Errorf("ca: %s exists but its key %s is missing", certPath, keyPath)
		}
		key, err = createKey(dir, keyPath)
	}
	if err != nil {
		return nil, nil, err
	}

	chain, err := readCerts(certPath)
	if errors.Is(err, fs.ErrNotExist) {
		chain, err = createRoot(dir, certPath, key, now, org)
	}
	if err != nil {
		return nil, nil, err
	}
	if len(chain) != 1 {
		return nil, nil, fmt.Errorf("ca: %s must hold exactly one certificate", certPath)
	}
	return chain, key, nil
}

func createKey(dir, keyPath string) (crypto.Signer, error) {
	k, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("ca: generate root key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, fmt.Errorf("ca: marshal root key: %w", err)
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

func createRoot(dir, certPath string, key crypto.Signer, now time.Time, org string) ([]*x509.Certificate, error) {
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	spki, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		return nil, fmt.Errorf("ca: %w", err)
	}
	ski, err := subjectKeyID(spki)
	if err != nil {
		return nil, err
	}
	notBefore := now.UTC().Add(-backdate).Truncate(time.Second)
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{Country: []string{"CN"}, Organization: []string{org}, CommonName: RootCommonName},
		NotBefore:             notBefore,
		NotAfter:              notBefore.AddDate(rootYears, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            0,
		MaxPathLenZero:        true, // the root signs leaves only
		SubjectKeyId:          ski,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("ca: create root certificate: %w", err)
	}
	published, err := publish(dir, certPath, certPEM(der), 0o644)
	if err != nil {
		return nil, err
	}
	if !published {
		return readCerts(certPath)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("ca: %w", err)
	}
	return []*x509.Certificate{cert}, nil
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
