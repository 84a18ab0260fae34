package crypto

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"fmt"
	"slices"
	"time"

	"github.com/digitorus/timestamp"
	"github.com/smallstep/pkcs7"

	"github.com/shuxinqian/server/ports"
)

// oidDocumentHash is the event certificate's document-hash extension (see adapters/ca).
var oidDocumentHash = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 61399, 2, 1}

var _ ports.SignatureInspector = CMS{}

// InspectDetached reports on a detached CMS signature over content: integrity (digest and
// signature value), the signer's certificate, the signature time-stamp token (verified against
// tsaChainPEM and over this signature value) and whether the certificate chained to caChainPEM
// and was valid at the trusted time (the token's genTime; without a token, the claimed signing
// time). A bad signature is a report with problems, never an error.
func (CMS) InspectDetached(content, signature []byte, caChainPEM, tsaChainPEM []byte) (rep ports.SignatureReport, err error) {
	caCerts, err := parseCertsPEM(caChainPEM)
	if err != nil || len(caCerts) == 0 {
		return rep, fmt.Errorf("crypto: cms: no CA chain: %w", err)
	}
	tsaCerts, err := parseCertsPEM(tsaChainPEM)
	if err != nil {
		return rep, err
	}
	rep.CoversWholeDocument = true // a detached signature covers every byte of content
	defer func() {
		if p := recover(); p != nil {
			rep = ports.SignatureReport{Problems: []string{"the signature is malformed"}}
			err = nil
		}
	}()
	if err := checkDER(signature); err != nil {
		rep.Problems = append(rep.Problems, "the signature is not a DER CMS SignedData over data")
		return rep, nil
	}
	p7, perr := pkcs7.Parse(signature)
	if perr != nil || len(p7.Signers) != 1 {
		rep.Problems = append(rep.Problems, "the signature is not a CMS SignedData with one signer")
		return rep, nil
	}
	signer := p7.GetOnlySigner()
	if signer == nil {
		rep.Problems = append(rep.Problems, "the signature does not carry its signer's certificate")
		return rep, nil
	}
	rep.Signer, rep.CertificateSerial, rep.CertificateDER = signer.Subject.String(), fmt.Sprintf("%032x", signer.SerialNumber), signer.Raw
	var claimed time.Time
	if err := p7.UnmarshalSignedAttribute(pkcs7.OIDAttributeSigningTime, &claimed); err == nil {
		rep.SignedAt = claimed.UTC()
	}
	p7.Content = content
	if err := p7.Verify(); err != nil {
		rep.Problems = append(rep.Problems, "the content or the signature value was changed: "+err.Error())
	} else {
		rep.Intact = true
	}
	// The signature time-stamp token.
	si := p7.Signers[0]
	for _, a := range si.UnauthenticatedAttributes {
		if !a.Type.Equal(OIDSignatureTimeStampToken) {
			continue
		}
		genTime, terr := checkToken(a.Value.Bytes, si.EncryptedDigest, tsaCerts)
		if terr != nil {
			rep.Problems = append(rep.Problems, "the time-stamp token does not verify: "+terr.Error())
			break
		}
		rep.Timestamped, rep.SignedAt = true, genTime
		break
	}
	if rep.SignedAt.IsZero() {
		rep.Problems = append(rep.Problems, "the signature has no signing time")
		return rep, nil
	}
	// The chain, at the trusted time.
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	for _, c := range caCerts {
		roots.AddCert(c)
	}
	for _, c := range p7.Certificates {
		inter.AddCert(c)
	}
	if _, err := signer.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: rep.SignedAt,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		rep.Problems = append(rep.Problems, "the certificate does not chain to the platform CA at the signing time: "+err.Error())
	} else if err := checkSigningUsage(signer); err != nil {
		rep.Problems = append(rep.Problems, err.Error())
	} else {
		rep.ChainValid = true
	}
	// An event certificate signs one document only.
	for _, e := range signer.Extensions {
		if !e.Id.Equal(oidDocumentHash) {
			continue
		}
		var d struct {
			Algorithm pkix.AlgorithmIdentifier
			Hash      []byte
		}
		if _, err := asn1.Unmarshal(e.Value, &d); err == nil {
			rep.DocumentSHA256 = hex.EncodeToString(d.Hash)
			sum := sha256.Sum256(content)
			rep.DocumentBound = bytes.Equal(d.Hash, sum[:])
			if !rep.DocumentBound {
				rep.Problems = append(rep.Problems, "the event certificate was issued for another document")
			}
		}
	}
	return rep, nil
}

// checkToken verifies an RFC 3161 token: its signature, that it is over the SHA-256 of
// signatureValue, and that the TSA's certificate (critical id-kp-timeStamping) chains to one of
// tsaCerts at genTime. It returns genTime.
func checkToken(token, signatureValue []byte, tsaCerts []*x509.Certificate) (time.Time, error) {
	ts, err := timestamp.Parse(token) // verifies the token's signature with its embedded certificate
	if err != nil {
		return time.Time{}, err
	}
	h := ts.HashAlgorithm.New()
	h.Write(signatureValue)
	if !bytes.Equal(h.Sum(nil), ts.HashedMessage) {
		return time.Time{}, fmt.Errorf("the token is over another signature value")
	}
	if len(ts.Certificates) == 0 || len(tsaCerts) == 0 {
		return time.Time{}, fmt.Errorf("no TSA certificate to check the token against")
	}
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	for _, c := range tsaCerts {
		roots.AddCert(c)
	}
	for _, c := range ts.Certificates {
		inter.AddCert(c)
	}
	// The token's signer is the certificate with the time-stamping usage.
	idx := slices.IndexFunc(ts.Certificates, func(c *x509.Certificate) bool {
		return slices.Contains(c.ExtKeyUsage, x509.ExtKeyUsageTimeStamping)
	})
	if idx < 0 {
		return time.Time{}, fmt.Errorf("the token carries no time-stamping certificate")
	}
	if _, err := ts.Certificates[idx].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: ts.Time,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping}}); err != nil {
		return time.Time{}, err
	}
	return ts.Time.UTC(), nil
}
