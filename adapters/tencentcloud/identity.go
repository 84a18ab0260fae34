package tencentcloud

import (
	"context"

	faceid "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/faceid/v20180301"

	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/ports"
)

const codeIdentityUnavailable = "identity-unavailable"

// Reasons given when Match is false; the sandbox verifier (adapters/identity) uses the same texts.
const (
	reasonMismatch        = "name and ID number do not match"
	reasonNoRecord        = "no record of this ID number"
	reasonInvalidID       = "ID number is invalid"
	reasonInvalidName     = "name is invalid"
	reasonInvalidPhone    = "phone number is invalid"
	reasonPhoneNotOwned   = "phone not registered to this person"
	reasonPhoneNoRealName = "phone has no real-name record"
	reasonPhoneNoRecord   = "no carrier record for this person"
	reasonNotPassed       = "identity check did not pass"
)

// id2Reasons maps IdCardVerification result codes (other than "0", a match) to reasons. "-4"
// (the ID database is down) is missing on purpose: it is an error, not an answer.
var id2Reasons = map[string]string{
	"-1": reasonMismatch,
	"-2": reasonInvalidID,
	"-3": reasonInvalidName,
	"-5": reasonNoRecord,
}

// id3Reasons maps PhoneVerification result codes (other than "0", a match) to reasons. "-11"
// (the verification centre is busy) is missing on purpose: it is an error, not an answer.
var id3Reasons = map[string]string{
	"-4":  reasonPhoneNotOwned,   // the phone is real-named, but to another name and ID number
	"-5":  reasonPhoneNoRealName, // the phone has no real-name record
	"-6":  reasonInvalidPhone,
	"-7":  reasonInvalidID,
	"-8":  reasonInvalidName,
	"-9":  reasonPhoneNoRecord,
	"-10": reasonNotPassed,
}

// IdentityVerifier checks identities with Tencent Cloud FaceID: id2 with IdCardVerification and
// id3 with PhoneVerification (API 2018-03-01). It is safe for concurrent use.
type IdentityVerifier struct {
	api *api
}

var _ ports.IdentityVerifier = (*IdentityVerifier)(nil)

// NewIdentityVerifier makes an identity verifier.
func NewIdentityVerifier(cfg Config) (*IdentityVerifier, error) {
	a, err := newAPI(cfg)
	if err != nil {
		return nil, err
	}
	return &IdentityVerifier{api: a}, nil
}

// VerifyID2 checks a name against an ID number.
func (v *IdentityVerifier) VerifyID2(ctx context.Context, name string, id kernel.IDNumber) (ports.IdentityCheck, error) {
	req := faceid.NewIdCardVerificationRequest()
	req.Name = &name
	req.IdCard = ptr(id.String())
	var resp *faceid.IdCardVerificationResponse
	err := v.api.call(ctx, "IdCardVerification", func(ctx context.Context) error {
		c, err := newClient(ctx, v.api, faceid.NewClient)
		if err != nil {
			return err
		}
		resp, err = c.IdCardVerification(req)
		return err
	})
	if err != nil {
		return ports.IdentityCheck{}, errIdentity(err)
	}
	if resp.Response == nil {
		return ports.IdentityCheck{}, errIdentity(&callError{Action: "IdCardVerification", Code: codeUnexpectedResponse})
	}
	return answer("IdCardVerification", str(resp.Response.Result), str(resp.Response.RequestId), id2Reasons, "-4")
}

// VerifyID3 checks a name and an ID number against the carrier's real-name record of the phone.
func (v *IdentityVerifier) VerifyID3(ctx context.Context, name string, id kernel.IDNumber, phone kernel.Phone) (ports.IdentityCheck, error) {
	req := faceid.NewPhoneVerificationRequest()
	req.Name = &name
	req.IdCard = ptr(id.String())
	req.Phone = ptr(phone.String())
	var resp *faceid.PhoneVerificationResponse
	err := v.api.call(ctx, "PhoneVerification", func(ctx context.Context) error {
		c, err := newClient(ctx, v.api, faceid.NewClient)
		if err != nil {
			return err
		}
		resp, err = c.PhoneVerification(req)
		return err
	})
	if err != nil {
		return ports.IdentityCheck{}, errIdentity(err)
	}
	if resp.Response == nil {
		return ports.IdentityCheck{}, errIdentity(&callError{Action: "PhoneVerification", Code: codeUnexpectedResponse})
	}
	return answer("PhoneVerification", str(resp.Response.Result), str(resp.Response.RequestId), id3Reasons, "-11")
}

// answer turns a result code into a check. The provider's Description is not used: reasons are
// ours, short and free of personal data. The codes that say the provider's database is down
// ("-4" for id2, "-11" for id3) are errors; a code new to us is a failed check.
func answer(action, result, requestID string, reasons map[string]string, down string) (ports.IdentityCheck, error) {
	switch reason, known := reasons[result]; {
	case result == "0":
		return ports.IdentityCheck{Match: true, Reference: requestID}, nil
	case known:
		return ports.IdentityCheck{Reason: reason, Reference: requestID}, nil
	case result == "" || result == down:
		return ports.IdentityCheck{}, errIdentity(&callError{Action: action, Code: "Result(" + result + ")", RequestID: requestID})
	default:
		return ports.IdentityCheck{Reason: reasonNotPassed + " (code " + result + ")", Reference: requestID}, nil
	}
}

func errIdentity(cause error) error {
	return kernel.Unavailable(codeIdentityUnavailable, "the identity check could not be run; try again later", cause)
}

func ptr(s string) *string { return &s }
