package application

import "crypto/x509"

// parseCert reads a certificate's validity (x509 is the standard library: allowed here).
func parseCert(der []byte) (*x509.Certificate, error) { return x509.ParseCertificate(der) }

// certificateKind tells an organisation's certificate ("seal": its subject names an
// organisation) from a person's ("personal"), with the name it certifies.
func certificateKind(c *x509.Certificate) (kind, name string) {
	if len(c.Subject.Organization) > 0 && c.Subject.Organization[0] != "" {
		return "seal", c.Subject.Organization[0]
	}
	return "personal", c.Subject.CommonName
}
