package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"time"
)

// Headers of a delivery.
const (
	HeaderEventID   = "Shuxinqian-Event-Id"
	HeaderTimestamp = "Shuxinqian-Timestamp"
	HeaderSignature = "Shuxinqian-Signature"
)

// Sign returns the Shuxinqian-Signature value: "v1=" + hex(HMAC-SHA256(secret, timestamp + "." + body)).
func Sign(secret string, timestamp int64, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(strconv.FormatInt(timestamp, 10)))
	m.Write([]byte("."))
	m.Write(body)
	return "v1=" + hex.EncodeToString(m.Sum(nil))
}

// Verify is the receiver's recipe: the signature (any of comma-separated "v1=" values) matches
// the timestamp and body, and the timestamp is within tolerance of now (a replayed old delivery
// fails). It is what the README shows integrators.
func Verify(secret, timestampHeader, signatureHeader string, body []byte, now time.Time, tolerance time.Duration) bool {
	ts, err := strconv.ParseInt(timestampHeader, 10, 64)
	if err != nil {
		return false
	}
	if d := now.Sub(time.Unix(ts, 0)); d > tolerance || d < -tolerance {
		return false
	}
	want := Sign(secret, ts, body)
	ok := false
	for _, s := range strings.Split(signatureHeader, ",") {
		if hmac.Equal([]byte(strings.TrimSpace(s)), []byte(want)) {
			ok = true
		}
	}
	return ok
}
