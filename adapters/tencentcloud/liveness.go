package tencentcloud

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	faceid "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/faceid/v20180301"

	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/ports"
)

// BizTokenTTL is how long a FaceID H5 session (BizToken) can be used after DetectAuth.
const BizTokenTTL = 7200 * time.Second

const (
	codeLivenessUnavailable = "liveness-unavailable"
	codeSessionNotFound     = "liveness-session-not-found"
	codeIdentityRequired    = "liveness-identity-required"

	// FaceID error codes of GetDetectInfoEnhanced for a bad or stale BizToken.
	errBizTokenIllegal = "InvalidParameterValue.BizTokenIllegal"
	errBizTokenExpired = "InvalidParameterValue.BizTokenExpired"
)

// Reasons a session fails; the sandbox (adapters/identity) uses the same texts.
const (
	reasonFaceMismatch   = "face did not match"
	reasonSessionExpired = "session expired"
	reasonLivenessFailed = "liveness detection failed"
)

// LivenessVerifier runs FaceID H5 face liveness sessions (实名核身鉴权): DetectAuth starts one for
// the claimed name and ID number, the person opens its Url, and GetDetectInfoEnhanced reads the
// outcome. It is safe for concurrent use.
type LivenessVerifier struct {
	api    *api
	ruleID string
}

var _ ports.LivenessVerifier = (*LivenessVerifier)(nil)

// NewLivenessVerifier makes a liveness verifier; cfg.FaceIDRuleID is required.
func NewLivenessVerifier(cfg Config) (*LivenessVerifier, error) {
	a, err := newAPI(cfg)
	if err != nil {
		return nil, err
	}
	if cfg.FaceIDRuleID == "" {
		return nil, errors.New("tencentcloud: liveness needs FaceIDRuleID")
	}
	return &LivenessVerifier{api: a, ruleID: cfg.FaceIDRuleID}, nil
}

// Start calls DetectAuth. The session id is the BizToken, its URL the H5 page; Reference goes to
// the provider as Extra and comes back with the result.
func (l *LivenessVerifier) Start(ctx context.Context, req ports.LivenessRequest) (ports.LivenessSession, error) {
	name := strings.TrimSpace(req.Name)
	if name == "" || req.IDNumber.IsZero() {
		return ports.LivenessSession{}, kernel.Invalid(codeIdentityRequired, "a liveness session needs a name and an ID number")
	}
	dr := faceid.NewDetectAuthRequest()
	dr.RuleId = ptr(l.ruleID)
	dr.Name = ptr(name)
	dr.IdCard = ptr(req.IDNumber.String())
	if req.RedirectURL != "" {
		dr.RedirectUrl = ptr(req.RedirectURL)
	}
	if req.Reference != "" {
		dr.Extra = ptr(req.Reference)
	}
	var resp *faceid.DetectAuthResponse
	err := l.api.call(ctx, "DetectAuth", func(ctx context.Context) error {
		c, err := newClient(ctx, l.api, faceid.NewClient)
		if err != nil {
			return err
		}
		resp, err = c.DetectAuth(dr)
		return err
	})
	if err != nil {
		return ports.LivenessSession{}, errLiveness(err)
	}
	r := resp.Response
	if r == nil || str(r.BizToken) == "" || str(r.Url) == "" {
		return ports.LivenessSession{}, errLiveness(&callError{Action: "DetectAuth", Code: codeUnexpectedResponse})
	}
	return ports.LivenessSession{ID: *r.BizToken, URL: *r.Url, ExpiresAt: l.api.clock.Now().UTC().Add(BizTokenTTL)}, nil
}

// Result calls GetDetectInfoEnhanced for the text results only (no photos, no video). No final
// ErrCode yet is pending; ErrCode 0 is passed, with the name and ID number the provider verified;
// any other code, or an expired BizToken, is failed.
func (l *LivenessVerifier) Result(ctx context.Context, sessionID string) (ports.LivenessResult, error) {
	if sessionID == "" {
		return ports.LivenessResult{}, kernel.NotFound(codeSessionNotFound, "no such liveness session")
	}
	gr := faceid.NewGetDetectInfoEnhancedRequest()
	gr.BizToken = ptr(sessionID)
	gr.RuleId = ptr(l.ruleID)
	gr.InfoType = ptr("1") // text only
	var resp *faceid.GetDetectInfoEnhancedResponse
	err := l.api.call(ctx, "GetDetectInfoEnhanced", func(ctx context.Context) error {
		c, err := newClient(ctx, l.api, faceid.NewClient)
		if err != nil {
			return err
		}
		resp, err = c.GetDetectInfoEnhanced(gr)
		return err
	})
	switch callCode(err) {
	case "":
	case errBizTokenIllegal:
		return ports.LivenessResult{}, kernel.NotFound(codeSessionNotFound, "no such liveness session")
	case errBizTokenExpired:
		return ports.LivenessResult{Status: ports.LivenessFailed, Reason: reasonSessionExpired}, nil
	default:
		return ports.LivenessResult{}, errLiveness(err)
	}
	if resp.Response == nil {
		return ports.LivenessResult{}, errLiveness(&callError{Action: "GetDetectInfoEnhanced", Code: codeUnexpectedResponse})
	}
	t := resp.Response.Text
	if t == nil || t.ErrCode == nil {
		res := ports.LivenessResult{Status: ports.LivenessPending}
		if t != nil {
			res.Reference = str(t.Extra)
		}
		return res, nil
	}
	res := ports.LivenessResult{Reference: str(t.Extra)}
	if *t.ErrCode != 0 {
		res.Status = ports.LivenessFailed
		switch {
		case t.LiveStatus != nil && *t.LiveStatus != 0:
			res.Reason = reasonLivenessFailed
		case t.Comparestatus != nil && *t.Comparestatus != 0:
			res.Reason = reasonFaceMismatch
		default:
			res.Reason = "liveness check failed (code " + strconv.FormatInt(*t.ErrCode, 10) + ")"
		}
		return res, nil
	}
	id, perr := kernel.ParseIDNumber(str(t.IdCard), l.api.clock.Now())
	name := strings.TrimSpace(str(t.Name))
	if perr != nil || name == "" {
		return ports.LivenessResult{}, errLiveness(&callError{
			Action: "GetDetectInfoEnhanced", Code: "ClientError.UnverifiableIdentity", RequestID: str(resp.Response.RequestId),
		})
	}
	res.Status, res.Name, res.IDNumber = ports.LivenessPassed, name, id
	return res, nil
}

func errLiveness(cause error) error {
	return kernel.Unavailable(codeLivenessUnavailable, "the liveness service could not be reached; try again later", cause)
}
