package user

import (
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/shuxinqian/server/domain/kernel"
)

// Real-name figures (DESIGN.md §3): at most MaxRealNameFailures failed attempts per day; the day
// is the calendar day in China Standard Time.
const MaxRealNameFailures = 5

// ConsentVersion is the version of the text the user consents to (processing of the ID number
// and face under PIPL). Bump it when the text changes.
const ConsentVersion = "pipl-identity-2026-11"

var cst = time.FixedZone("CST", 8*3600)

// Identity is the person behind the account: the claimed identity while verifying, the verified
// one afterwards.
type Identity struct {
	Name       string
	IDNumber   kernel.IDNumber
	Method     string // id2, id3, face
	VerifiedAt time.Time
}

// Attempt is the state of the current or last real-name attempt.
type Attempt struct {
	LivenessSessionID string
	LivenessURL       string
	FailureReason     string
	FailuresDay       string // YYYY-MM-DD (CST) of the counted failures
	Failures          int
}

// ValidateRealName checks a person's name: 2–30 characters, letters (Han or Latin), with the
// middle dot of transliterated names.
func ValidateRealName(name string) (string, error) {
	name = strings.TrimSpace(name)
	n := utf8.RuneCountInString(name)
	if n < 2 || n > 30 {
		return "", kernel.Invalid("real-name-invalid", "the name is 2 to 30 characters")
	}
	sep := true // a name starts with a letter; separators never follow one another
	for _, r := range name {
		switch {
		case unicode.IsLetter(r):
			sep = false
		case (r == '·' || r == '•' || r == ' ') && !sep:
			sep = true
		default:
			return "", kernel.Invalid("real-name-invalid", "the name may contain letters and the middle dot only")
		}
	}
	if sep { // ends with a separator
		return "", kernel.Invalid("real-name-invalid", "the name may contain letters and the middle dot only")
	}
	return name, nil
}

// Identity returns the claimed or verified identity.
func (u *User) Identity() Identity { return u.identity }

// Attempt returns the real-name attempt state.
func (u *User) Attempt() Attempt { return u.attempt }

func day(t time.Time) string { return t.In(cst).Format("2006-01-02") }

// CanAttemptRealName refuses a verified account and one with too many failures today.
func (u *User) CanAttemptRealName(now time.Time) error {
	if u.realName == RealNameVerified {
		return kernel.Conflict("real-name-already-verified", "the real name is verified and cannot be changed")
	}
	if u.attempt.FailuresDay == day(now) && u.attempt.Failures >= MaxRealNameFailures {
		y, m, d := now.In(cst).Date()
		midnight := time.Date(y, m, d+1, 0, 0, 0, 0, cst)
		return kernel.RateLimited("real-name-attempts-exceeded", "too many failed real-name attempts today; try again tomorrow", midnight.Sub(now))
	}
	return nil
}

// StartRealName records the claimed identity of an attempt.
func (u *User) StartRealName(id Identity, now time.Time) error {
	if err := u.CanAttemptRealName(now); err != nil {
		return err
	}
	name, err := ValidateRealName(id.Name)
	if err != nil {
		return err
	}
	if id.IDNumber.IsZero() {
		return kernel.Invalid("id-number-format", "the ID number is required")
	}
	u.identity = Identity{Name: name, IDNumber: id.IDNumber, Method: id.Method}
	u.realName = RealNameUnverified // a new attempt abandons a running face check
	u.attempt.LivenessSessionID, u.attempt.LivenessURL, u.attempt.FailureReason = "", "", ""
	u.updatedAt = kernel.OccurredAt(now)
	return nil
}

// AwaitLiveness moves the attempt to verifying until the face check ends.
func (u *User) AwaitLiveness(sessionID, url string, now time.Time) error {
	if u.realName == RealNameVerified {
		return kernel.Conflict("real-name-already-verified", "the real name is verified and cannot be changed")
	}
	if u.identity.IDNumber.IsZero() {
		return kernel.Precondition("real-name-not-started", "start real-name verification first")
	}
	u.realName = RealNameVerifying
	u.attempt.LivenessSessionID, u.attempt.LivenessURL = sessionID, url
	u.updatedAt = kernel.OccurredAt(now)
	return nil
}

// RealNameSucceeded marks the claimed identity verified.
func (u *User) RealNameSucceeded(now time.Time) error {
	if u.realName == RealNameVerified {
		return kernel.Conflict("real-name-already-verified", "the real name is verified and cannot be changed")
	}
	if u.identity.IDNumber.IsZero() {
		return kernel.Precondition("real-name-not-started", "start real-name verification first")
	}
	now = kernel.OccurredAt(now)
	u.realName = RealNameVerified
	u.identity.VerifiedAt = now
	u.attempt = Attempt{}
	u.updatedAt = now
	// No personal data in the event: it travels through the outbox and the broker.
	u.Record(RealNameWasVerified{UserID: u.id, Method: u.identity.Method, At: now})
	return nil
}

// RealNameFailed counts a failed attempt and returns the account to unverified.
func (u *User) RealNameFailed(reason string, now time.Time) {
	if u.realName == RealNameVerified {
		return
	}
	now = kernel.OccurredAt(now)
	if u.attempt.FailuresDay != day(now) {
		u.attempt.FailuresDay, u.attempt.Failures = day(now), 0
	}
	u.attempt.Failures++
	u.attempt.FailureReason = reason
	u.attempt.LivenessSessionID, u.attempt.LivenessURL = "", ""
	u.realName = RealNameUnverified
	u.identity = Identity{}
	u.updatedAt = now
	u.Record(RealNameWasRejected{UserID: u.id, Reason: reason, At: now})
}

// FailuresLeft is how many failed attempts remain today.
func (u *User) FailuresLeft(now time.Time) int {
	if u.attempt.FailuresDay != day(now) {
		return MaxRealNameFailures
	}
	return max(0, MaxRealNameFailures-u.attempt.Failures)
}

// ChannelCode is the user's current channel ("" for none).
func (u *User) ChannelCode() string { return u.channelCode }

// SwitchChannel sets the current channel (the caller checked that it exists and is open).
func (u *User) SwitchChannel(code string, now time.Time) {
	if code == u.channelCode {
		return
	}
	now = kernel.OccurredAt(now)
	u.channelCode = code
	u.updatedAt = now
	u.Record(ChannelSwitched{UserID: u.id, ChannelCode: code, At: now})
}
