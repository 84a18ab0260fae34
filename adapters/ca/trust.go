package ca

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/shuxinqian/server/ports"
)

// Object identifiers of the platform's certificates. 1.3.6.1.4.1.61399 is the arc the platform
// uses for its private identifiers (a private enterprise number must be registered before
// production; the README says so).
var (
	// OIDPolicy is the certificate policy every end-entity certificate names.
	OIDPolicy = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 61399, 1, 1}
	// OIDEventPolicy is the policy of event certificates (事件证书), in addition to OIDPolicy.
	OIDEventPolicy = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 61399, 1, 2}
	// OIDDocumentHash is the non-critical extension of an event certificate holding the SHA-256
	// of the one document it may sign: SEQUENCE { hashAlgorithm AlgorithmIdentifier, hash OCTET STRING }.
	OIDDocumentHash = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 61399, 2, 1}
	// OIDTSAPolicy is the sandbox TSA's time-stamp policy.
	OIDTSAPolicy = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 61399, 3, 1}

	oidPolicy, _    = x509.OIDFromInts([]uint64{1, 3, 6, 1, 4, 1, 61399, 1, 1})
	oidSHA256       = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	oidExtKeyUsage  = asn1.ObjectIdentifier{2, 5, 29, 37}
	oidTimeStamping = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 8}
)

// EventCertValidity is the life of an event certificate: the signing happens within minutes;
// the signature's time-stamp keeps it verifiable afterwards.
const EventCertValidity = time.Hour

type documentHash struct {
	Algorithm pkix.AlgorithmIdentifier
	Hash      []byte
}

// DocumentHashOf returns the SHA-256 an event certificate binds, or nil when it binds none.
func DocumentHashOf(c *x509.Certificate) []byte {
	for _, e := range c.Extensions {
		if e.Id.Equal(OIDDocumentHash) {
			var d documentHash
			if rest, err := asn1.Unmarshal(e.Value, &d); err == nil && len(rest) == 0 && d.Algorithm.Algorithm.Equal(oidSHA256) && len(d.Hash) == 32 {
				return d.Hash
			}
		}
	}
	return nil
}

// locate adds the CRL distribution point and the OCSP responder to an end-entity template.
func (ca *CA) locate(tmpl *x509.Certificate) {
	if ca.baseURL == "" {
		return
	}
	tmpl.CRLDistributionPoints = []string{ca.baseURL + "/api/v1/ca/crl"}
	tmpl.OCSPServer = []string{ca.baseURL + "/api/v1/ca/ocsp"}
}

var _ ports.EventCertificateAuthority = (*CA)(nil)

// IssueEvent issues an event certificate (事件证书): subject as a personal certificate, valid for
// EventCertValidity, binding the SHA-256 of the one document its key signs.
func (ca *CA) IssueEvent(ctx context.Context, req ports.EventCertificateRequest) (ports.IssuedCertificate, error) {
	if err := ctx.Err(); err != nil {
		return ports.IssuedCertificate{}, err
	}
	if len(req.DocumentSHA256) != 32 {
		return ports.IssuedCertificate{}, invalid("document_sha256", "an event certificate binds a SHA-256 document hash")
	}
	if isIDNumberLike.MatchString(req.SubjectSerial) {
		return ports.IssuedCertificate{}, invalid("subject_serial", "the subject serial must be a pseudonym, not an ID number")
	}
	val, err := asn1.Marshal(documentHash{Algorithm: pkix.AlgorithmIdentifier{Algorithm: oidSHA256, Parameters: asn1.NullRawValue}, Hash: req.DocumentSHA256})
	if err != nil {
		return ports.IssuedCertificate{}, err
	}
	r := req.CertificateRequest
	r.Validity = EventCertValidity
	out, err := ca.issue(r, "", []pkix.Extension{{Id: OIDDocumentHash, Value: val}})
	return out, err
}

// TimeStampingIdentity returns the sandbox TSA's key and certificate chain (TSA certificate
// first): a key in Dir (tsa.key) and a certificate issued by the issuing CA with the critical
// id-kp-timeStamping extended key usage (tsa.pem), created on first use like the CA's.
func (ca *CA) TimeStampingIdentity() (crypto.Signer, []*x509.Certificate, error) {
	if ca.dir == "" {
		return nil, nil, errors.New("ca: the sandbox TSA needs the CA directory")
	}
	key, err := openKey(ca.dir, "tsa.key", "tsa.pem")
	if err != nil {
		return nil, nil, err
	}
	cert, err := openCert(ca.dir, "tsa.pem", func() ([]byte, error) { return ca.tsaCertificate(key.Public()) })
	if err != nil {
		return nil, nil, err
	}
	if pub, ok := cert.PublicKey.(interface{ Equal(crypto.PublicKey) bool }); !ok || !pub.Equal(key.Public()) {
		return nil, nil, errors.New("ca: tsa.pem is not for tsa.key")
	}
	if err := cert.CheckSignatureFrom(ca.cert); err != nil {
		return nil, nil, fmt.Errorf("ca: tsa.pem is not issued by the issuing CA: %w", err)
	}
	return key, append([]*x509.Certificate{cert}, ca.chain...), nil
}

func (ca *CA) tsaCertificate(pub crypto.PublicKey) ([]byte, error) {
	spki, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	ski, err := subjectKeyID(spki)
	if err != nil {
		return nil, err
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	eku, err := asn1.Marshal([]asn1.ObjectIdentifier{oidTimeStamping})
	if err != nil {
		return nil, err
	}
	notBefore := ca.clock.Now().UTC().Add(-backdate).Truncate(time.Second)
	notAfter := notBefore.AddDate(5, 0, 0)
	if notAfter.After(ca.cert.NotAfter) {
		notAfter = ca.cert.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{Country: []string{"CN"}, Organization: ca.cert.Subject.Organization, CommonName: "数信签 Sandbox TSA"},
		NotBefore:    notBefore, NotAfter: notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
		BasicConstraintsValid: true,
		SubjectKeyId:          ski,
		AuthorityKeyId:        ca.cert.SubjectKeyId,
		Policies:              []x509.OID{oidPolicy},
		// RFC 3161 §2.3: the extended key usage is id-kp-timeStamping only, and critical.
		ExtraExtensions: []pkix.Extension{{Id: oidExtKeyUsage, Critical: true, Value: eku}},
	}
	ca.locate(tmpl)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, pub, ca.key)
	if err != nil {
		return nil, fmt.Errorf("ca: create TSA certificate: %w", err)
	}
	return der, nil
}

var _ ports.RevocationSigner = (*CA)(nil)

// CRL signs a CRL of revoked (with their reason codes) with the issuing CA key. Its number is
// thisUpdate in Unix seconds, so it grows across instances and regenerations.
func (ca *CA) CRL(revoked []ports.Revocation, now, nextUpdate time.Time) ([]byte, error) {
	entries := make([]x509.RevocationListEntry, 0, len(revoked))
	for _, r := range revoked {
		serial, ok := parseSerial(r.SerialHex)
		if !ok {
			return nil, fmt.Errorf("ca: crl: bad serial %q", r.SerialHex)
		}
		entries = append(entries, x509.RevocationListEntry{SerialNumber: serial, RevocationTime: r.RevokedAt.UTC(), ReasonCode: r.Reason})
	}
	tmpl := &x509.RevocationList{
		RevokedCertificateEntries: entries,
		Number:                    big.NewInt(now.Unix()),
		ThisUpdate:                now.UTC(),
		NextUpdate:                nextUpdate.UTC(),
	}
	return x509.CreateRevocationList(rand.Reader, tmpl, ca.cert, ca.key)
}

// OCSP answers an OCSP request about a certificate of the issuing CA.
func (ca *CA) OCSP(request []byte, status func(serialHex string) (ports.Revocation, bool, error), now time.Time) ([]byte, error) {
	req, err := ocsp.ParseRequest(request)
	if err != nil {
		return ocsp.MalformedRequestErrorResponse, nil //nolint:nilerr // a malformed request is answered, not an error
	}
	h := req.HashAlgorithm.New()
	h.Write(ca.cert.RawSubject)
	nameHash := h.Sum(nil)
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(ca.cert.RawSubjectPublicKeyInfo, &spki); err != nil {
		return nil, err
	}
	h = req.HashAlgorithm.New()
	h.Write(spki.PublicKey.RightAlign())
	keyHash := h.Sum(nil)
	if hex.EncodeToString(nameHash) != hex.EncodeToString(req.IssuerNameHash) || hex.EncodeToString(keyHash) != hex.EncodeToString(req.IssuerKeyHash) {
		return ocsp.UnauthorizedErrorResponse, nil
	}
	serialHex := fmt.Sprintf("%032x", req.SerialNumber)
	r, revoked, err := status(serialHex)
	if err != nil {
		return nil, err
	}
	tmpl := ocsp.Response{
		Status:       ocsp.Good,
		SerialNumber: req.SerialNumber,
		ThisUpdate:   now.UTC().Truncate(time.Second),
		NextUpdate:   now.UTC().Truncate(time.Second).Add(time.Hour),
		IssuerHash:   req.HashAlgorithm,
	}
	if revoked {
		tmpl.Status, tmpl.RevokedAt, tmpl.RevocationReason = ocsp.Revoked, r.RevokedAt.UTC(), r.Reason
	}
	return ocsp.CreateResponse(ca.cert, ca.cert, tmpl, ca.key)
}

// TSAChainPEM is the sandbox TSA's chain (TSA certificate, issuing CA, root), PEM.
func (ca *CA) TSAChainPEM() ([]byte, error) {
	_, chain, err := ca.TimeStampingIdentity()
	if err != nil {
		return nil, err
	}
	var out []byte
	for _, c := range chain {
		out = append(out, certPEM(c.Raw)...)
	}
	return out, nil
}

func parseSerial(h string) (*big.Int, bool) {
	n, ok := new(big.Int).SetString(h, 16)
	return n, ok && n.Sign() > 0
}
