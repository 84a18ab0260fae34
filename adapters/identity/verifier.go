// Package identity holds the sandbox identity adapters: an identity verifier (id2/id3) that
// simulates the authority's answers from fixture lists, and a liveness verifier whose sessions are
// decided by hand through the sandbox endpoint (or by tests). They are the embedded default; the
// real adapters (Tencent Cloud FaceID) live in adapters/tencentcloud.
package identity

import (
	"context"
	"crypto/rand"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/ports"
)

// Reasons the sandbox gives when Match is false. They are short and never contain personal data;
// the Tencent Cloud adapter answers with the same texts for the same provider outcomes.
const (
	ReasonMismatch        = "name and ID number do not match"
	ReasonNoRecord        = "no record of this ID number"
	ReasonInvalidID       = "ID number is invalid"
	ReasonInvalidName     = "name is invalid"
	ReasonPhoneNotOwned   = "phone not registered to this person"
	ReasonPhoneNoRealName = "phone has no real-name record"
	ReasonInvalidPhone    = "phone number is invalid"
)

// SandboxIdentity is a fixture the sandbox authority rejects: its name fails with any ID number
// and its ID number fails with any name, with Reason.
type SandboxIdentity struct {
	Name     string
	IDNumber kernel.IDNumber
	Reason   string
}

// SandboxRejected lists the identities the sandbox rejects. Every ID number here is checksum
// valid, so the rejection comes from the "authority", not from parsing. Besides these, any name
// containing 假 ("fake") fails with ReasonMismatch.
var SandboxRejected = []SandboxIdentity{
	{Name: "王不符", IDNumber: "110101199003070011", Reason: ReasonMismatch},
	{Name: "李冒名", IDNumber: "310104198511200021", Reason: ReasonMismatch},
	{Name: "张错号", IDNumber: "440305197806150035", Reason: ReasonMismatch},
	{Name: "赵无档", IDNumber: "510107199202280049", Reason: ReasonNoRecord},
}

// SandboxPhone is a phone whose carrier record fails id3 checks, with Reason.
type SandboxPhone struct {
	Phone  kernel.Phone
	Reason string
}

// SandboxPhoneRejected lists the phones that fail VerifyID3 for everybody; any other phone is
// taken to be registered to the person checked.
var SandboxPhoneRejected = []SandboxPhone{
	{Phone: "13000000000", Reason: ReasonPhoneNotOwned},
	{Phone: "13000000001", Reason: ReasonPhoneNoRealName},
}

// maxNameRunes is the longest name the authority accepts (Tencent Cloud allows 32 characters).
const maxNameRunes = 32

// SandboxVerifier simulates the identity authority. An ID number that parses (region, birth date,
// checksum) matches any valid name except the fixture rejections. It keeps no state and is safe
// for concurrent use.
type SandboxVerifier struct {
	now func() time.Time
}

// NewSandboxVerifier makes a sandbox identity verifier.
func NewSandboxVerifier() *SandboxVerifier {
	return &SandboxVerifier{now: time.Now}
}

var _ ports.IdentityVerifier = (*SandboxVerifier)(nil)

// VerifyID2 checks a name against an ID number.
func (v *SandboxVerifier) VerifyID2(ctx context.Context, name string, id kernel.IDNumber) (ports.IdentityCheck, error) {
	if err := ctx.Err(); err != nil {
		return ports.IdentityCheck{}, err
	}
	return v.check(name, id), nil
}

// VerifyID3 checks a name and an ID number against the phone's carrier record: the identity must
// pass VerifyID2 and the phone must not be in SandboxPhoneRejected.
func (v *SandboxVerifier) VerifyID3(ctx context.Context, name string, id kernel.IDNumber, phone kernel.Phone) (ports.IdentityCheck, error) {
	if err := ctx.Err(); err != nil {
		return ports.IdentityCheck{}, err
	}
	res := v.check(name, id)
	if !res.Match {
		return res, nil
	}
	if !validPhone(phone) {
		return ports.IdentityCheck{Reason: ReasonInvalidPhone, Reference: res.Reference}, nil
	}
	for _, f := range SandboxPhoneRejected {
		if f.Phone == phone {
			return ports.IdentityCheck{Reason: f.Reason, Reference: res.Reference}, nil
		}
	}
	return res, nil
}

func (v *SandboxVerifier) check(name string, id kernel.IDNumber) ports.IdentityCheck {
	res := ports.IdentityCheck{Reference: requestID()}
	if parsed, err := kernel.ParseIDNumber(string(id), v.now()); err != nil || parsed != id {
		res.Reason = ReasonInvalidID
		return res
	}
	name = strings.TrimSpace(name)
	if !validName(name) {
		res.Reason = ReasonInvalidName
		return res
	}
	for _, f := range SandboxRejected {
		if f.Name == name || f.IDNumber == id {
			res.Reason = f.Reason
			return res
		}
	}
	if strings.Contains(name, "假") {
		res.Reason = ReasonMismatch
		return res
	}
	res.Match = true
	return res
}

// validPhone reports whether phone is a mainland mobile number in canonical form.
func validPhone(phone kernel.Phone) bool {
	p, err := kernel.ParsePhone(string(phone))
	return err == nil && p == phone
}

// validName accepts 1 to 32 characters without digits or control characters.
func validName(name string) bool {
	if name == "" || utf8.RuneCountInString(name) > maxNameRunes {
		return false
	}
	for _, r := range name {
		if unicode.IsDigit(r) || unicode.IsControl(r) {
			return false
		}
	}
	return true
}

// requestID returns a random UUID-shaped id, like the provider's request ids.
func requestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand crashes the program instead)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
