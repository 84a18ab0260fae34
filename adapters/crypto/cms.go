package crypto

import (
	"context"
	gocrypto "crypto"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/smallstep/pkcs7"

	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/ports"
)

// CodeSignatureInvalid is the kernel error code of a signature that does not verify.
const CodeSignatureInvalid = "signature-invalid"

// oidDocumentSigning is id-kp-documentSigning (RFC 9336), which the platform CA puts in its leaves.
var oidDocumentSigning = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 36}

// CMS implements ports.DocumentSigner: detached CMS (PKCS#7) SignedData with SHA-256, the signer's
// certificate and its chain embedded, a signing-time attribute and, with a TSA, an RFC 3161
// signature time-stamp token (unsigned attribute id-aa-signatureTimeStampToken over the signature
// value), as `openssl cms -verify` and PDF tools read them. It is safe for concurrent use.
type CMS struct {
	// TSA time-stamps every signature made (nil: no time-stamp, for tests of the bare CMS).
	TSA ports.TimeStampAuthority
}

var _ ports.DocumentSigner = CMS{}

// OIDSignatureTimeStampToken is id-aa-signatureTimeStampToken (RFC 3161 appendix A).
var OIDSignatureTimeStampToken = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 14}

// SignDetached signs content with key and returns the DER of a detached SignedData carrying
// certDER (the key's certificate) and the certificates of chainPEM. The certificate must be for
// key, valid now, and (when chainPEM is given) chain up to chainPEM's root: a signature that could
// not verify is never made.
func (c CMS) SignDetached(ctx context.Context, content []byte, key gocrypto.Signer, certDER []byte, chainPEM []byte) ([]byte, error) {
	if key == nil {
		return nil, errors.New("crypto: cms: no signing key")
	}
	cert, err := x509.ParseCertificate(certDER)
	if err != nil {
		return nil, fmt.Errorf("crypto: cms: signer certificate: %w", err)
	}
	pub, ok := cert.PublicKey.(interface{ Equal(gocrypto.PublicKey) bool })
	if !ok || !pub.Equal(key.Public()) {
		return nil, errors.New("crypto: cms: the certificate is not for the signing key")
	}
	chain, err := parseCertsPEM(chainPEM)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	if now.Before(cert.NotBefore) || now.After(cert.NotAfter) {
		return nil, fmt.Errorf("crypto: cms: the signer certificate is not valid now (%s to %s)",
			cert.NotBefore.UTC().Format(time.RFC3339), cert.NotAfter.UTC().Format(time.RFC3339))
	}
	if len(chain) > 0 {
		if err := verifyLeaf(cert, chain, chain, now); err != nil {
			return nil, fmt.Errorf("crypto: cms: the signer certificate does not chain to the CA: %w", err)
		}
	}

	sd, err := pkcs7.NewSignedData(content)
	if err != nil {
		return nil, fmt.Errorf("crypto: cms: %w", err)
	}
	sd.SetDigestAlgorithm(pkcs7.OIDDigestAlgorithmSHA256)
	// AddSigner adds the content-type, message-digest and signing-time (now) signed attributes.
	if err := sd.AddSigner(cert, key, pkcs7.SignerInfoConfig{}); err != nil {
		return nil, fmt.Errorf("crypto: cms: sign: %w", err)
	}
	for _, c := range chain {
		if !c.Equal(cert) {
			sd.AddCertificate(c)
		}
	}
	if c.TSA != nil {
		si := &sd.GetSignedData().SignerInfos[0]
		digest := sha256.Sum256(si.EncryptedDigest)
		token, err := c.TSA.Timestamp(ctx, digest[:])
		if err != nil {
			return nil, kernel.Unavailable("tsa-unavailable", "the time-stamping authority is unavailable; try again later", err)
		}
		if err := si.SetUnauthenticatedAttributes([]pkcs7.Attribute{{Type: OIDSignatureTimeStampToken,
			Value: asn1.RawValue{FullBytes: token}}}); err != nil {
			return nil, fmt.Errorf("crypto: cms: time-stamp attribute: %w", err)
		}
	}
	sd.Detach()
	der, err := sd.Finish()
	if err != nil {
		return nil, fmt.Errorf("crypto: cms: encode: %w", err)
	}
	return der, nil
}

func invalidSignature(msg string, cause error) error {
	e := kernel.Invalid(CodeSignatureInvalid, msg)
	e.Err = cause
	return e
}

// VerifyDetached checks a detached CMS signature over content: a DER SignedData (version 1, over
// id-data) with exactly one signer, a SHA-2 digest, whose certificate (embedded in the signature)
// chains to a certificate of chainPEM and was valid at the signing time, allows signing (key
// usage digitalSignature or nonRepudiation; extended key usage, if any, emailProtection,
// documentSigning or any), and whose signature covers content; every embedded certificate must
// be on that chain. Anything else is kernel invalid "signature-invalid". An empty or unreadable chainPEM is an
// internal error: it is the platform's configuration, not the caller's input.
func (CMS) VerifyDetached(content, signature []byte, chainPEM []byte) (err error) {
	roots, err := parseCertsPEM(chainPEM)
	if err != nil {
		return err
	}
	if len(roots) == 0 {
		return errors.New("crypto: cms: no CA certificate to verify against")
	}
	pool := x509.NewCertPool()
	for _, c := range roots {
		pool.AddCert(c)
	}
	// The signature is untrusted input to an ASN.1 parser: a panic in it is a bad signature.
	defer func() {
		if p := recover(); p != nil {
			err = invalidSignature("the signature is malformed", fmt.Errorf("pkcs7 panic: %v", p))
		}
	}()
	if err := checkDER(signature); err != nil {
		return invalidSignature("the signature is not a DER CMS SignedData over data", err)
	}
	p7, err := pkcs7.Parse(signature)
	if err != nil {
		return invalidSignature("the signature is not a CMS SignedData", err)
	}
	if len(p7.Signers) != 1 {
		return invalidSignature(fmt.Sprintf("the signature has %d signers, want 1", len(p7.Signers)), nil)
	}
	signer := p7.GetOnlySigner()
	if signer == nil {
		return invalidSignature("the signature does not carry its signer's certificate", nil)
	}
	if h := p7.Signers[0].DigestAlgorithm.Algorithm; !h.Equal(pkcs7.OIDDigestAlgorithmSHA256) &&
		!h.Equal(pkcs7.OIDDigestAlgorithmSHA384) && !h.Equal(pkcs7.OIDDigestAlgorithmSHA512) {
		return invalidSignature("the signature's digest algorithm is not accepted (SHA-256, SHA-384 or SHA-512)", nil)
	}
	if len(p7.Signers[0].AuthenticatedAttributes) > 0 {
		var ct asn1.ObjectIdentifier
		if err := p7.UnmarshalSignedAttribute(pkcs7.OIDAttributeContentType, &ct); err != nil || !ct.Equal(pkcs7.OIDData) {
			return invalidSignature("the signed content type is not data", err)
		}
	}
	p7.Content = content
	// VerifyWithChain checks the message digest and the signature, that the signing time lies in
	// the certificate's validity, and the chain to the pool at the signing time.
	if err := p7.VerifyWithChain(pool); err != nil {
		return invalidSignature("the signature does not verify", err)
	}
	if err := checkEmbedded(p7, signer, pool); err != nil {
		return invalidSignature("the signature carries a certificate outside the signer's chain", err)
	}
	if err := checkSigningUsage(signer); err != nil {
		return invalidSignature(err.Error(), nil)
	}
	return nil
}

// DER shapes of RFC 5652 ContentInfo and SignedData, to check a signature's encoding before the
// (lenient, BER-accepting) pkcs7 parser reads it.
type (
	derContentInfo struct {
		ContentType asn1.ObjectIdentifier
		Content     asn1.RawValue `asn1:"explicit,tag:0"`
	}
	derEncapContentInfo struct {
		EContentType asn1.ObjectIdentifier
		EContent     asn1.RawValue `asn1:"explicit,optional,tag:0"`
	}
	derSignedData struct {
		Version          int
		DigestAlgorithms []pkix.AlgorithmIdentifier `asn1:"set"`
		EncapContentInfo derEncapContentInfo
		Certificates     asn1.RawValue   `asn1:"optional,tag:0"`
		CRLs             asn1.RawValue   `asn1:"optional,tag:1"`
		SignerInfos      []asn1.RawValue `asn1:"set"`
	}
	derAttribute struct {
		Type   asn1.ObjectIdentifier
		Values asn1.RawValue `asn1:"set"`
	}
	derSignerInfo struct {
		Version            int
		IssuerAndSerial    asn1.RawValue
		DigestAlgorithm    pkix.AlgorithmIdentifier
		SignedAttrs        []derAttribute `asn1:"optional,omitempty,tag:0"`
		SignatureAlgorithm pkix.AlgorithmIdentifier
		Signature          []byte
		UnsignedAttrs      []derAttribute `asn1:"optional,omitempty,tag:1"`
	}
)

// checkDER refuses anything but a DER-encoded SignedData over id-data with nothing after it (the
// platform's signatures are DER; indefinite-length BER is not accepted).
func checkDER(signature []byte) error {
	var ci derContentInfo
	rest, err := asn1.Unmarshal(signature, &ci)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return errors.New("trailing data after the signature")
	}
	if !ci.ContentType.Equal(pkcs7.OIDSignedData) {
		return fmt.Errorf("content type %v is not signedData", ci.ContentType)
	}
	var sd derSignedData
	rest, err = asn1.Unmarshal(ci.Content.Bytes, &sd)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return errors.New("trailing data after the SignedData")
	}
	if !sd.EncapContentInfo.EContentType.Equal(pkcs7.OIDData) {
		return fmt.Errorf("encapsulated content type %v is not data", sd.EncapContentInfo.EContentType)
	}
	// Version 1: signers named by issuer and serial number, over id-data (RFC 5652 §5.1).
	if sd.Version != 1 {
		return fmt.Errorf("SignedData version %d, want 1", sd.Version)
	}
	for _, raw := range sd.SignerInfos {
		var si derSignerInfo
		rest, err := asn1.Unmarshal(raw.FullBytes, &si)
		if err != nil {
			return fmt.Errorf("signer info: %w", err)
		}
		if len(rest) > 0 {
			return errors.New("trailing data after a signer info")
		}
		if si.Version != 1 {
			return fmt.Errorf("SignerInfo version %d, want 1", si.Version)
		}
		if !slices.ContainsFunc(sd.DigestAlgorithms, func(a pkix.AlgorithmIdentifier) bool {
			return a.Algorithm.Equal(si.DigestAlgorithm.Algorithm)
		}) {
			return errors.New("the signer's digest algorithm is not among the SignedData's")
		}
	}
	return nil
}

// checkEmbedded refuses a signature carrying a certificate that is not on the signer's
// verified path to the pool (a changed or foreign certificate, even if unused).
func checkEmbedded(p7 *pkcs7.PKCS7, signer *x509.Certificate, pool *x509.CertPool) error {
	at := time.Now()
	var signingTime time.Time
	if err := p7.UnmarshalSignedAttribute(pkcs7.OIDAttributeSigningTime, &signingTime); err == nil {
		at = signingTime
	}
	inter := x509.NewCertPool()
	for _, c := range p7.Certificates {
		inter.AddCert(c)
	}
	chains, err := signer.Verify(x509.VerifyOptions{Roots: pool, Intermediates: inter, CurrentTime: at,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	if err != nil {
		return err
	}
	for _, c := range p7.Certificates {
		if !slices.ContainsFunc(chains, func(chain []*x509.Certificate) bool { return slices.ContainsFunc(chain, c.Equal) }) {
			return fmt.Errorf("the certificate %q is not on the signer's chain", c.Subject.String())
		}
	}
	return nil
}

// checkSigningUsage refuses certificates whose key usages do not allow signing documents.
func checkSigningUsage(c *x509.Certificate) error {
	if c.KeyUsage != 0 && c.KeyUsage&(x509.KeyUsageDigitalSignature|x509.KeyUsageContentCommitment) == 0 {
		return errors.New("the signer certificate's key usage does not allow signing")
	}
	if len(c.ExtKeyUsage) == 0 && len(c.UnknownExtKeyUsage) == 0 {
		return nil
	}
	if slices.Contains(c.ExtKeyUsage, x509.ExtKeyUsageAny) || slices.Contains(c.ExtKeyUsage, x509.ExtKeyUsageEmailProtection) ||
		slices.ContainsFunc(c.UnknownExtKeyUsage, oidDocumentSigning.Equal) {
		return nil
	}
	return errors.New("the signer certificate's extended key usage does not allow signing documents")
}

// verifyLeaf checks that leaf chains to one of roots at t, through any of intermediates.
func verifyLeaf(leaf *x509.Certificate, roots, intermediates []*x509.Certificate, t time.Time) error {
	rootPool, interPool := x509.NewCertPool(), x509.NewCertPool()
	for _, c := range roots {
		rootPool.AddCert(c)
	}
	for _, c := range intermediates {
		interPool.AddCert(c)
	}
	_, err := leaf.Verify(x509.VerifyOptions{Roots: rootPool, Intermediates: interPool, CurrentTime: t,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	return err
}

// parseCertsPEM reads the CERTIFICATE blocks of a PEM bundle (other blocks are refused).
func parseCertsPEM(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return certs, nil
		}
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("crypto: cms: unexpected PEM block %q in the chain", block.Type)
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("crypto: cms: chain certificate: %w", err)
		}
		certs = append(certs, c)
	}
}
