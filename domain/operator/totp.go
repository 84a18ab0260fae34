package operator

import (
	"crypto/hmac"
	"crypto/sha1" //nolint:gosec // RFC 6238 TOTP with HMAC-SHA1 is what authenticator apps implement
	"crypto/subtle"
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// TOTP figures (RFC 6238 with the authenticator-app defaults): HMAC-SHA1, 30 s steps, 6 digits,
// and one step of clock skew accepted either side.
const (
	TOTPPeriod = 30 * time.Second
	TOTPDigits = 6
	TOTPSkew   = 1
	// SecretBytes is the length of a TOTP secret (160 bits, RFC 4226 §4 recommends it).
	SecretBytes = 20
)

// Step is the TOTP time step of t.
func Step(t time.Time) int64 { return t.Unix() / int64(TOTPPeriod/time.Second) }

// Code computes the TOTP code of secret at a time step (RFC 4226 §5.3 dynamic truncation).
func Code(secret []byte, step int64) string {
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], uint64(step)) //nolint:gosec // steps since 1970 are positive
	m := hmac.New(sha1.New, secret)
	m.Write(msg[:])
	sum := m.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	bin := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	return fmt.Sprintf("%06d", bin%1_000_000)
}

// MatchStep returns the step within ±TOTPSkew of now whose code is code, comparing in constant
// time; ok is false when none matches.
func MatchStep(secret []byte, code string, now time.Time) (step int64, ok bool) {
	if len(code) != TOTPDigits {
		return 0, false
	}
	cur := Step(now)
	found := int64(0)
	for s := cur - TOTPSkew; s <= cur+TOTPSkew; s++ {
		if subtle.ConstantTimeCompare([]byte(Code(secret, s)), []byte(code)) == 1 && !ok {
			found, ok = s, true
		}
	}
	return found, ok
}

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// EncodeSecret is the base32 form authenticator apps read (no padding).
func EncodeSecret(secret []byte) string { return b32.EncodeToString(secret) }

// DecodeSecret reads a base32 secret (spaces and case ignored).
func DecodeSecret(s string) ([]byte, error) {
	return b32.DecodeString(strings.ToUpper(strings.ReplaceAll(strings.TrimRight(s, "="), " ", "")))
}

// OTPAuthURL is the otpauth:// URL an authenticator app scans (Key Uri Format).
func OTPAuthURL(issuer, username string, secret []byte) string {
	q := url.Values{"secret": {EncodeSecret(secret)}, "issuer": {issuer}, "algorithm": {"SHA1"},
		"digits": {fmt.Sprint(TOTPDigits)}, "period": {fmt.Sprint(int(TOTPPeriod / time.Second))}}
	return "otpauth://totp/" + url.PathEscape(issuer+":"+username) + "?" + q.Encode()
}
