// Package ca implements ports.CertificateAuthority with an embedded X.509 certificate authority
// (standard library only). Its root lives in the data directory, created on first start, or is
// provided by the operator as a certificate and key in PEM files. The CA certificate issues the
// holders' certificates directly: personal certificates (subject: real name and a pseudonym, never
// an ID number) and organisation certificates (subject: name and unified social credit code).
package ca

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/ports"
)

// Validity of issued certificates.
const (
	// DefaultValidity applies when a request gives none.
	DefaultValidity = 2 * 365 * 24 * time.Hour
	// MaxValidity caps what a request may ask for (longer requests are shortened to it).
	MaxValidity = 5 * 365 * 24 * time.Hour
	// MinValidity is the shortest validity a request may ask for.
	MinValidity = time.Hour
	// backdate moves NotBefore into the past to tolerate clock skew between verifiers.
	backdate = 5 * time.Minute
)

// CodeRequestInvalid is the kernel error code of a request the CA refuses to certify.
const CodeRequestInvalid = "certificate-request-invalid"

// Subject limits (X.520 upper bounds).
const (
	maxNameRunes   = 64
	maxSerialChars = 64
)

// DefaultOrganization names the organisation of a root created on first start when the
// configuration gives none.
const DefaultOrganization = "数信签 Shuxinqian"

// RootCommonName is the common name of a root created on first start.
const RootCommonName = "数信签 Sandbox Root CA"

// oidDocumentSigning is id-kp-documentSigning (RFC 9336).
var oidDocumentSigning = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 36}

// idNumberLike finds what looks like an 18-character resident ID number in a name; isIDNumberLike
// tells whether a whole subject serial has that shape (a pseudonym may contain runs of digits).
var (
	idNumberLike   = regexp.MustCompile(`[0-9]{17}[0-9Xx]`)
	isIDNumberLike = regexp.MustCompile(`^[0-9]{17}[0-9Xx]$`)
)

// Config configures the CA.
type Config struct {
	// Dir is where the root material lives (root.pem, root.key), e.g. DATA_DIR/ca. A root is
	// created there on first start.
	Dir string
	// CertFile and KeyFile are an operator-provided CA certificate and private key (PEM; the key in
	// PKCS#8, SEC 1 "EC PRIVATE KEY" or PKCS#1 form, unencrypted). When set, Dir is not used.
	// CertFile may hold further certificates after the CA's own (its chain up to the root).
	CertFile, KeyFile string
	// Clock tells the time (the wall clock when nil).
	Clock ports.Clock
	// Organization is the O of a root created on first start (DefaultOrganization when empty).
	Organization string
	// BaseURL is the public base URL of the server (PUBLIC_BASE_URL): every end-entity
	// certificate names BaseURL/api/v1/ca/crl as its CRL distribution point and
	// BaseURL/api/v1/ca/ocsp as its OCSP responder. Empty leaves them out (tests only).
	BaseURL string
}

// CA is an embedded certificate authority. It is safe for concurrent use.
type CA struct {
	cert     *x509.Certificate   // the issuing CA: signs leaves, CRLs and OCSP answers
	chain    []*x509.Certificate // cert first, root last
	legacy   []*x509.Certificate // roots of the old direct-root scheme, trusted, never signing
	key      crypto.Signer
	chainPEM []byte
	clock    ports.Clock
	dir      string
	baseURL  string
}

var _ ports.CertificateAuthority = (*CA)(nil)

type wallClock struct{}

func (wallClock) Now() time.Time { return time.Now().UTC() }

// Open loads the CA's certificate and key: the operator's files when CertFile/KeyFile are set,
// else Dir/root.pem and Dir/root.key, creating a self-signed root there on first start. Several
// processes may open the same Dir at once: they all end up with the same root.
func Open(cfg Config) (*CA, error) {
	clock := cfg.Clock
	if clock == nil {
		clock = wallClock{}
	}
	var (
		chain  []*x509.Certificate
		legacy []*x509.Certificate
		key    crypto.Signer
		err    error
	)
	switch {
	case cfg.CertFile != "" || cfg.KeyFile != "":
		if cfg.CertFile == "" || cfg.KeyFile == "" {
			return nil, errors.New("ca: CertFile and KeyFile must be set together")
		}
		chain, key, err = loadFiles(cfg.CertFile, cfg.KeyFile)
	case cfg.Dir != "":
		org := cfg.Organization
		if org == "" {
			org = DefaultOrganization
		}
		chain, key, legacy, err = openDir(cfg.Dir, clock.Now(), org)
	default:
		return nil, errors.New("ca: neither Dir nor CertFile/KeyFile configured")
	}
	if err != nil {
		return nil, err
	}
	if err := checkCA(chain, key, clock.Now()); err != nil {
		return nil, err
	}
	var pemChain []byte
	for _, c := range append(slices.Clone(chain), legacy...) {
		pemChain = append(pemChain, certPEM(c.Raw)...)
	}
	return &CA{cert: chain[0], chain: chain, legacy: legacy, key: key, chainPEM: pemChain, clock: clock, dir: cfg.Dir,
		baseURL: strings.TrimRight(cfg.BaseURL, "/")}, nil
}

// checkCA verifies that chain[0] is a usable CA certificate for key at now, and that the rest of
// the chain (if any) certifies it.
func checkCA(chain []*x509.Certificate, key crypto.Signer, now time.Time) error {
	c := chain[0]
	pub, ok := c.PublicKey.(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(key.Public()) {
		return errors.New("ca: the private key does not match the CA certificate")
	}
	if err := checkKeyType(key.Public()); err != nil {
		return fmt.Errorf("ca: CA key: %w", err)
	}
	if !c.BasicConstraintsValid || !c.IsCA {
		return errors.New("ca: the certificate is not a CA certificate (basic constraints)")
	}
	if c.KeyUsage&x509.KeyUsageCertSign == 0 {
		return errors.New("ca: the CA certificate lacks the keyCertSign key usage")
	}
	if now.Before(c.NotBefore) {
		return fmt.Errorf("ca: the CA certificate is not valid before %s", c.NotBefore.UTC().Format(time.RFC3339))
	}
	if !now.Before(c.NotAfter) {
		return fmt.Errorf("ca: the CA certificate expired at %s", c.NotAfter.UTC().Format(time.RFC3339))
	}
	if len(chain) > 1 {
		roots, inter := x509.NewCertPool(), x509.NewCertPool()
		roots.AddCert(chain[len(chain)-1])
		for _, ic := range chain[1 : len(chain)-1] {
			inter.AddCert(ic)
		}
		if _, err := c.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: now,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
			return fmt.Errorf("ca: the CA certificate does not chain to the certificates after it: %w", err)
		}
	}
	return nil
}

// checkKeyType accepts ECDSA P-256/P-384/P-521 and RSA keys of at least 2048 bits.
func checkKeyType(pub crypto.PublicKey) error {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256(), elliptic.P384(), elliptic.P521():
			return nil
		}
		return errors.New("unsupported elliptic curve")
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return fmt.Errorf("RSA key of %d bits is too short (2048 at least)", k.N.BitLen())
		}
		return nil
	}
	return fmt.Errorf("unsupported key type %T", pub)
}

// ChainPEM returns the CA's certificate chain (the issuing certificate first, then the root), PEM
// encoded, followed by the root of the old direct-root scheme when one is kept in Dir.
func (ca *CA) ChainPEM() []byte { return slices.Clone(ca.chainPEM) }

// Root returns the chain's last certificate: the root (the issuing certificate itself unless the
// operator provided an intermediate with its chain).
func (ca *CA) Root() *x509.Certificate { return ca.chain[len(ca.chain)-1] }

// Certificate returns the CA certificate that signs the issued certificates.
func (ca *CA) Certificate() *x509.Certificate { return ca.cert }

// IssuePersonal issues a certificate for a person: subject CN = the real name, SERIALNUMBER = a
// pseudonymous identifier (anything shaped like an ID number is refused), C = CN.
func (ca *CA) IssuePersonal(ctx context.Context, req ports.CertificateRequest) (ports.IssuedCertificate, error) {
	if err := ctx.Err(); err != nil {
		return ports.IssuedCertificate{}, err
	}
	if req.Organization != "" {
		return ports.IssuedCertificate{}, invalid("organization", "a personal certificate has no organization")
	}
	if isIDNumberLike.MatchString(strings.TrimSpace(req.SubjectSerial)) {
		return ports.IssuedCertificate{}, invalid("subject_serial", "the subject serial must be a pseudonym, not an ID number")
	}
	return ca.issue(req, "", nil)
}

// IssueOrganization issues a certificate for an organisation: O = the organisation's name,
// CN = req.CommonName, SERIALNUMBER = its unified social credit code, C = CN.
func (ca *CA) IssueOrganization(ctx context.Context, req ports.CertificateRequest) (ports.IssuedCertificate, error) {
	if err := ctx.Err(); err != nil {
		return ports.IssuedCertificate{}, err
	}
	org, err := checkName("organization", req.Organization)
	if err != nil {
		return ports.IssuedCertificate{}, err
	}
	code, err := kernel.ParseCreditCode(req.SubjectSerial)
	if err != nil {
		return ports.IssuedCertificate{}, invalid("subject_serial", "the subject serial must be a unified social credit code")
	}
	req.SubjectSerial = code.String()
	return ca.issue(req, org, nil)
}

func invalid(field, msg string) error {
	return kernel.Invalid(CodeRequestInvalid, msg).WithDetail("field", field)
}

// checkName validates a directory string: non-empty, at most 64 characters, printable UTF-8,
// nothing shaped like an ID number.
func checkName(field, s string) (string, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return "", invalid(field, field+" is required")
	case !utf8.ValidString(s):
		return "", invalid(field, field+" is not valid UTF-8")
	case utf8.RuneCountInString(s) > maxNameRunes:
		return "", invalid(field, fmt.Sprintf("%s is longer than %d characters", field, maxNameRunes))
	case strings.IndexFunc(s, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0:
		return "", invalid(field, field+" contains control characters")
	case idNumberLike.MatchString(s):
		return "", invalid(field, field+" must not contain an ID number")
	}
	return s, nil
}

// checkSerial validates the subject serial: 1-64 characters of the PrintableString set.
func checkSerial(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", invalid("subject_serial", "subject_serial is required")
	}
	if len(s) > maxSerialChars {
		return "", invalid("subject_serial", fmt.Sprintf("subject_serial is longer than %d characters", maxSerialChars))
	}
	for i := 0; i < len(s); i++ {
		if !printable(s[i]) {
			return "", invalid("subject_serial", "subject_serial may use only letters, digits, space and '()+,-./:=?")
		}
	}
	return s, nil
}

func printable(b byte) bool {
	return 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' ||
		strings.IndexByte(" '()+,-./:=?", b) >= 0
}

// checkPublicKey parses a PKIX public key and accepts ECDSA P-256/P-384 and RSA ≥ 2048 bits.
func checkPublicKey(der []byte) (crypto.PublicKey, error) {
	if len(der) == 0 {
		return nil, invalid("public_key", "the public key is missing")
	}
	pub, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, invalid("public_key", "the public key is not a valid PKIX public key")
	}
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if k.Curve == elliptic.P256() || k.Curve == elliptic.P384() {
			return pub, nil
		}
	case *rsa.PublicKey:
		if k.N.BitLen() >= 2048 && k.N.BitLen() <= 8192 {
			return pub, nil
		}
	}
	return nil, invalid("public_key", "the public key must be ECDSA P-256/P-384 or RSA of 2048 to 8192 bits")
}

func (ca *CA) issue(req ports.CertificateRequest, org string, extra []pkix.Extension) (ports.IssuedCertificate, error) {
	cn, err := checkName("common_name", req.CommonName)
	if err != nil {
		return ports.IssuedCertificate{}, err
	}
	serialName, err := checkSerial(req.SubjectSerial)
	if err != nil {
		return ports.IssuedCertificate{}, err
	}
	pub, err := checkPublicKey(req.PublicKeyDER)
	if err != nil {
		return ports.IssuedCertificate{}, err
	}
	validity := req.Validity
	switch {
	case validity == 0:
		validity = DefaultValidity
	case validity < MinValidity:
		return ports.IssuedCertificate{}, invalid("validity", "the validity must be at least one hour")
	case validity > MaxValidity:
		validity = MaxValidity
	}

	issueAt := ca.clock.Now().UTC()
	if req.RequestID != "" && !req.RequestedAt.IsZero() {
		issueAt = req.RequestedAt.UTC() // the same validity for a retried request
	}
	notBefore := issueAt.Add(-backdate).Truncate(time.Second)
	notAfter := notBefore.Add(validity)
	if notAfter.After(ca.cert.NotAfter) {
		notAfter = ca.cert.NotAfter // a certificate never outlives its issuer
	}
	if !notAfter.After(notBefore.Add(backdate)) {
		return ports.IssuedCertificate{}, errors.New("ca: the CA certificate has expired or is about to")
	}
	serial, err := randomSerial()
	if req.RequestID != "" {
		serial = ca.requestSerial(req)
	}
	if err != nil {
		return ports.IssuedCertificate{}, err
	}
	ski, err := subjectKeyID(req.PublicKeyDER)
	if err != nil {
		return ports.IssuedCertificate{}, err
	}
	subject := pkix.Name{Country: []string{"CN"}, CommonName: cn, SerialNumber: serialName}
	if org != "" {
		subject.Organization = []string{org}
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      subject,
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		// Document signing: digitalSignature + nonRepudiation (contentCommitment). emailProtection
		// is what OpenSSL's S/MIME purpose (used by `openssl cms -verify`) and PDF readers accept
		// for CMS signatures; id-kp-documentSigning (RFC 9336) states the intent.
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection},
		UnknownExtKeyUsage:    []asn1.ObjectIdentifier{oidDocumentSigning},
		BasicConstraintsValid: true,
		SubjectKeyId:          ski,
		AuthorityKeyId:        ca.cert.SubjectKeyId,
		Policies:              []x509.OID{oidPolicy},
		ExtraExtensions:       extra,
	}
	ca.locate(tmpl)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, pub, ca.key)
	if err != nil {
		return ports.IssuedCertificate{}, fmt.Errorf("ca: create certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return ports.IssuedCertificate{}, fmt.Errorf("ca: parse issued certificate: %w", err)
	}
	return ports.IssuedCertificate{
		SerialHex: fmt.Sprintf("%032x", cert.SerialNumber),
		Subject:   cert.Subject.String(),
		NotBefore: cert.NotBefore.UTC(),
		NotAfter:  cert.NotAfter.UTC(),
		DER:       der,
	}, nil
}

// requestSerial derives the serial number of an idempotent request from the CA certificate,
// the request ID and the key to certify: a retried request gets the serial of the first
// answer (one certificate identity, issuer + serial, so a revocation covers both), distinct
// requests distinct serials. Positive, non-zero, 127 bits.
func (ca *CA) requestSerial(req ports.CertificateRequest) *big.Int {
	h := sha256.New()
	h.Write([]byte("shuxinqian-ca-request-serial\x00"))
	h.Write(ca.cert.Raw)
	h.Write([]byte{0})
	h.Write([]byte(req.RequestID))
	h.Write([]byte{0})
	h.Write(req.PublicKeyDER)
	b := h.Sum(nil)[:16]
	b[0] &= 0x7f
	b[0] |= 0x40 // non-zero and of a fixed length
	return new(big.Int).SetBytes(b)
}

// randomSerial returns a positive, non-zero 128-bit random serial number.
func randomSerial() (*big.Int, error) {
	b := make([]byte, 16)
	for {
		if _, err := rand.Read(b); err != nil {
			return nil, err
		}
		if n := new(big.Int).SetBytes(b); n.Sign() > 0 {
			return n, nil
		}
	}
}

// subjectKeyID is the leftmost 160 bits of the SHA-256 of the subjectPublicKey BIT STRING
// (RFC 7093, method 1).
func subjectKeyID(spkiDER []byte) ([]byte, error) {
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(spkiDER, &spki); err != nil {
		return nil, fmt.Errorf("ca: subject key id: %w", err)
	}
	sum := sha256.Sum256(spki.PublicKey.Bytes)
	return sum[:20], nil
}
