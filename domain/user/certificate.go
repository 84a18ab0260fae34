package user

import (
	"bytes"
	"time"

	"github.com/shuxinqian/server/domain/kernel"
)

// Signing-password lockout (DESIGN.md §3): 5 wrong tries lock signing for 30 minutes.
const (
	MaxSigningFailures = 5
	SigningLockout     = 30 * time.Minute
)

// SigningState counts wrong signing passwords.
type SigningState struct {
	Failures    int
	LockedUntil time.Time
}

// CertificateStatus is the state of a personal certificate.
type CertificateStatus string

// Certificate states.
const (
	CertificateActive  CertificateStatus = "active"
	CertificateRevoked CertificateStatus = "revoked"
)

// Certificate is the personal certificate with its key, wrapped under the signing password.
type Certificate struct {
	Serial       string
	Subject      string
	NotBefore    time.Time
	NotAfter     time.Time
	Status       CertificateStatus
	DER          []byte
	PublicKeyDER []byte
	WrappedKey   []byte // opens with the signing password only; the platform keeps no other copy
	IssuedAt     time.Time
}

// Certificate returns the personal certificate, or nil.
func (u *User) Certificate() *Certificate {
	return u.cert.clone()
}

// clone deep-copies a certificate so that no caller shares its byte slices with the aggregate.
func (c *Certificate) clone() *Certificate {
	if c == nil {
		return nil
	}
	d := *c
	d.DER, d.PublicKeyDER = bytes.Clone(c.DER), bytes.Clone(c.PublicKeyDER)
	d.WrappedKey = bytes.Clone(c.WrappedKey)
	return &d
}

// CanSetSigningPassword checks the rules of manual §3.1: a verified real name, and either
// charging is off for the platform or the current channel offers the personal certificate.
func (u *User) CanSetSigningPassword(chargingEnabled, channelOffersCert bool) error {
	if u.realName != RealNameVerified {
		return kernel.Precondition("real-name-required", "verify your real name before setting a signing password")
	}
	if u.cert != nil && u.cert.Status == CertificateActive {
		return kernel.Conflict("signing-password-already-set", "a signing password is set; change it with the old password, or reset it with an SMS code (a new certificate)")
	}
	if chargingEnabled && !channelOffersCert {
		return kernel.Precondition("personal-certificate-not-offered",
			"your current channel does not offer the personal certificate service; switch channel first")
	}
	return nil
}

// ValidateSigningPassword checks the twice-entered signing password.
func ValidateSigningPassword(password, confirmation string) error {
	if password != confirmation {
		return kernel.Invalid("signing-password-mismatch", "the two passwords differ")
	}
	if err := ValidatePassword(password); err != nil {
		if e, ok := err.(*kernel.Error); ok && e.Code == "password-too-weak" {
			return kernel.Invalid("signing-password-too-weak", e.Message)
		}
		return err
	}
	return nil
}

// IssueCertificate installs a newly issued personal certificate.
func (u *User) IssueCertificate(c Certificate, now time.Time) error {
	if u.realName != RealNameVerified {
		return kernel.Precondition("real-name-required", "verify your real name first")
	}
	if u.cert != nil && u.cert.Status == CertificateActive {
		return kernel.Conflict("signing-password-already-set", "a personal certificate already exists")
	}
	if c.Serial == "" || len(c.DER) == 0 || len(c.WrappedKey) == 0 {
		return kernel.Invalid("certificate-incomplete", "certificate needs a serial, DER and a wrapped key")
	}
	now = kernel.OccurredAt(now)
	c.Status, c.IssuedAt = CertificateActive, now
	u.cert = c.clone()
	u.signing = SigningState{}
	u.updatedAt = now
	u.Record(CertificateIssued{UserID: u.id, Serial: c.Serial, NotAfter: c.NotAfter, At: now})
	return nil
}

// CanUseSigningKey refuses while signing is locked or without a certificate.
func (u *User) CanUseSigningKey(now time.Time) error {
	if u.cert == nil || u.cert.Status != CertificateActive {
		return kernel.Precondition("certificate-missing", "set a signing password to get a personal certificate first")
	}
	if now.Before(u.signing.LockedUntil) {
		return kernel.RateLimited("signing-locked", "too many wrong signing passwords; signing is locked", u.signing.LockedUntil.Sub(now))
	}
	return nil
}

// SigningPasswordFailed counts a wrong signing password; the fifth locks signing for 30 minutes.
// It returns the tries left before the lock (0 when it just locked).
func (u *User) SigningPasswordFailed(now time.Time) int {
	now = kernel.OccurredAt(now)
	u.signing.Failures++
	u.updatedAt = now
	if u.signing.Failures >= MaxSigningFailures {
		u.signing = SigningState{LockedUntil: now.Add(SigningLockout)}
		u.Record(SigningLocked{UserID: u.id, Until: u.signing.LockedUntil, At: now})
		return 0
	}
	return MaxSigningFailures - u.signing.Failures
}

// SigningPasswordAccepted clears the failure count.
func (u *User) SigningPasswordAccepted(now time.Time) {
	if u.signing.Failures == 0 {
		return
	}
	u.signing.Failures = 0
	u.updatedAt = kernel.OccurredAt(now)
}

// RewrapSigningKey stores the key wrapped under a new signing password.
func (u *User) RewrapSigningKey(wrapped []byte, byCode bool, now time.Time) error {
	if u.cert == nil || u.cert.Status != CertificateActive {
		return kernel.Precondition("certificate-missing", "no personal certificate to protect")
	}
	if len(wrapped) == 0 {
		return kernel.Invalid("certificate-incomplete", "wrapped key is empty")
	}
	now = kernel.OccurredAt(now)
	u.cert.WrappedKey = bytes.Clone(wrapped)
	u.signing = SigningState{}
	u.updatedAt = now
	u.Record(SigningPasswordChanged{UserID: u.id, BySMSCode: byCode, At: now})
	return nil
}

// ReissueCertificate replaces the personal certificate with a new one (a new key under a new
// signing password), after a forgotten signing password was reset or on re-issue: the old
// certificate is revoked (the caller records the revocation with the CA). It returns the old
// certificate's serial.
func (u *User) ReissueCertificate(c Certificate, reason string, now time.Time) (string, error) {
	if u.realName != RealNameVerified {
		return "", kernel.Precondition("real-name-required", "verify your real name first")
	}
	if u.cert == nil {
		return "", kernel.Precondition("certificate-missing", "no personal certificate to replace; set a signing password")
	}
	if c.Serial == "" || len(c.DER) == 0 || len(c.WrappedKey) == 0 || c.Serial == u.cert.Serial {
		return "", kernel.Invalid("certificate-incomplete", "a new certificate needs its own serial, DER and a wrapped key")
	}
	now = kernel.OccurredAt(now)
	old := u.cert.Serial
	if u.cert.Status == CertificateActive {
		u.Record(PersonalCertificateRevoked{UserID: u.id, Serial: old, Reason: reason, At: now})
	}
	c.Status, c.IssuedAt = CertificateActive, now
	u.cert = c.clone()
	u.signing = SigningState{}
	u.updatedAt = now
	u.Record(CertificateIssued{UserID: u.id, Serial: c.Serial, NotAfter: c.NotAfter, At: now})
	u.Record(SigningPasswordChanged{UserID: u.id, BySMSCode: true, At: now})
	return old, nil
}

// RevokeCertificate revokes the personal certificate (its key can no longer sign here).
func (u *User) RevokeCertificate(reason string, now time.Time) (string, error) {
	if u.cert == nil || u.cert.Status != CertificateActive {
		return "", kernel.Precondition("certificate-missing", "no active personal certificate")
	}
	now = kernel.OccurredAt(now)
	u.cert.Status = CertificateRevoked
	u.updatedAt = now
	u.Record(PersonalCertificateRevoked{UserID: u.id, Serial: u.cert.Serial, Reason: reason, At: now})
	return u.cert.Serial, nil
}

// UpgradeWrappedKey stores the same key re-wrapped in the current envelope format (bound to its
// owner) after the holder opened it with the signing password; nothing else changes.
func (u *User) UpgradeWrappedKey(serial string, wrapped []byte, now time.Time) {
	if u.cert == nil || u.cert.Serial != serial || len(wrapped) == 0 {
		return
	}
	u.cert.WrappedKey = bytes.Clone(wrapped)
	u.updatedAt = kernel.OccurredAt(now)
}
