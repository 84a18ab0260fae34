package application

import (
	"context"
	"time"

	"github.com/shuxinqian/server/domain/channel"
	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/user"
	"github.com/shuxinqian/server/ports"
)

// StartRealName is the request of POST /me/real-name.
type StartRealName struct {
	Name     string
	IDNumber string
	Consent  bool
	ClientIP string
}

// LivenessView is a face-check session the client must open.
type LivenessView struct {
	SessionID string
	URL       string
}

// RealNameView is the state of the caller's real-name verification, masked.
type RealNameView struct {
	Status         user.RealNameStatus
	Name           string // the verified (or claimed, while verifying) name; shown to its owner only
	IDNumberMasked string
	Method         string
	VerifiedAt     time.Time
	Liveness       *LivenessView
	FailureReason  string
	AttemptsLeft   int
}

func realNameView(u *user.User, now time.Time) RealNameView {
	id := u.Identity()
	v := RealNameView{Status: u.RealNameStatus(), Method: id.Method, VerifiedAt: id.VerifiedAt,
		FailureReason: u.Attempt().FailureReason, AttemptsLeft: u.FailuresLeft(now)}
	if !id.IDNumber.IsZero() {
		v.Name, v.IDNumberMasked = id.Name, id.IDNumber.Masked()
	}
	if u.RealNameStatus() == user.RealNameVerifying {
		v.Liveness = &LivenessView{SessionID: u.Attempt().LivenessSessionID, URL: u.Attempt().LivenessURL}
	}
	return v
}

// ErrIDNumberTaken: one real identity has one account.
var ErrIDNumberTaken = kernel.Conflict("id-number-taken", "this ID number is already verified by another account")

// StartRealName verifies the caller's identity by the current channel's method: id2/id3 answer
// at once; face starts a liveness session and the account stays verifying until it ends.
func (a *App) StartRealName(ctx context.Context, actor Actor, in StartRealName) (RealNameView, error) {
	if !in.Consent {
		return RealNameView{}, kernel.Invalid("consent-required",
			"consent to the processing of your ID number and face is required (consent: true)")
	}
	now := a.clock.Now()
	name, err := user.ValidateRealName(in.Name)
	if err != nil {
		return RealNameView{}, err
	}
	idn, err := kernel.ParseIDNumber(in.IDNumber, now)
	if err != nil {
		return RealNameView{}, err
	}
	uid := kernel.UserID(actor.UserID)
	var u *user.User
	var method channel.RealNameMethod
	err = a.uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
		if u, err = tx.Users().Get(ctx, uid); err != nil {
			return err
		}
		c, p, err := currentChannel(ctx, tx, u)
		if err != nil {
			return err
		}
		method = p.DefaultMethod
		if c != nil {
			method = c.Method()
		}
		if err := u.CanAttemptRealName(now); err != nil {
			return err
		}
		taken, err := tx.Users().IDNumberTaken(ctx, idn, uid)
		if err != nil {
			return err
		}
		if taken {
			return ErrIDNumberTaken
		}
		return nil
	})
	if err != nil {
		return RealNameView{}, err
	}
	claim := user.Identity{Name: name, IDNumber: idn, Method: string(method)}

	if method == channel.MethodFace {
		sess, err := a.liveness.Start(ctx, ports.LivenessRequest{Name: name, IDNumber: idn,
			RedirectURL: a.settings.PublicBaseURL + "/realname", Reference: "user:" + actor.UserID})
		if err != nil {
			return RealNameView{}, providerError(err, "liveness-unavailable", "the face check service is unavailable; try again later")
		}
		var view RealNameView
		err = a.uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
			if err := a.recordConsent(ctx, tx, uid, in.ClientIP, now); err != nil {
				return err
			}
			return tx.Users().Update(ctx, uid, func(u *user.User) error {
				if err := u.StartRealName(claim, now); err != nil {
					return err
				}
				if err := u.AwaitLiveness(sess.ID, sess.URL, now); err != nil {
					return err
				}
				view = realNameView(u, now)
				return nil
			})
		})
		return view, err
	}

	// id2 / id3: ask the authority outside any transaction, then record the outcome.
	var check ports.IdentityCheck
	if method == channel.MethodID3 {
		check, err = a.identity.VerifyID3(ctx, name, idn, u.Phone())
	} else {
		check, err = a.identity.VerifyID2(ctx, name, idn)
	}
	if err != nil {
		return RealNameView{}, providerError(err, "identity-unavailable", "the identity check service is unavailable; try again later")
	}
	var view RealNameView
	var verdict error
	err = a.uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
		if err := a.recordConsent(ctx, tx, uid, in.ClientIP, now); err != nil {
			return err
		}
		return tx.Users().Update(ctx, uid, func(u *user.User) error {
			if err := u.StartRealName(claim, now); err != nil {
				return err
			}
			if check.Match {
				if err := u.RealNameSucceeded(now); err != nil {
					return err
				}
			} else {
				u.RealNameFailed(check.Reason, now)
				verdict = kernel.Precondition("real-name-mismatch", "the name and ID number were not confirmed: "+check.Reason).
					WithDetail("attempts_left", u.FailuresLeft(now))
			}
			view = realNameView(u, now)
			return nil
		})
	})
	if err != nil {
		return RealNameView{}, err
	}
	return view, verdict
}

func (a *App) recordConsent(ctx context.Context, tx ports.Tx, uid kernel.UserID, ip string, now time.Time) error {
	return tx.Consents().Append(ctx, ports.Consent{ID: a.ids.NewID(), UserID: uid, Scope: "real_name",
		Version: user.ConsentVersion, ClientIP: ip, At: now})
}

// providerError turns a provider failure into Unavailable, keeping the platform's own errors.
func providerError(err error, code, msg string) error {
	if isInfrastructure(err) {
		return kernel.Unavailable(code, msg, err)
	}
	return err
}

// RealName returns the caller's real-name state. While a face check runs, it asks the provider
// and settles the attempt when the session has ended: passed and the verified identity is the
// claimed one → verified; anything else → a failed attempt.
func (a *App) RealName(ctx context.Context, actor Actor) (RealNameView, error) {
	now := a.clock.Now()
	uid := kernel.UserID(actor.UserID)
	u, err := a.loadUser(ctx, uid)
	if err != nil {
		return RealNameView{}, err
	}
	if u.RealNameStatus() != user.RealNameVerifying {
		return realNameView(u, now), nil
	}
	sessionID := u.Attempt().LivenessSessionID
	res, err := a.liveness.Result(ctx, sessionID)
	if kernel.KindOf(err) == kernel.KindNotFound {
		// The provider lost the session (expired and forgotten): settle it as failed so the
		// user can start again, instead of staying verifying for ever.
		res, err = ports.LivenessResult{Status: ports.LivenessFailed, Reason: "the face check session was lost"}, nil
	}
	if err != nil {
		return RealNameView{}, providerError(err, "liveness-unavailable", "the face check service is unavailable; try again later")
	}
	if res.Status == ports.LivenessPending {
		return realNameView(u, now), nil
	}
	var view RealNameView
	err = a.uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
		return tx.Users().Update(ctx, uid, func(u *user.User) error {
			if u.RealNameStatus() != user.RealNameVerifying || u.Attempt().LivenessSessionID != sessionID {
				view = realNameView(u, now) // settled meanwhile by another request
				return nil
			}
			claim := u.Identity()
			switch {
			case res.Status == ports.LivenessPassed && res.Name == claim.Name && res.IDNumber == claim.IDNumber:
				if err := u.RealNameSucceeded(now); err != nil {
					return err
				}
			case res.Status == ports.LivenessPassed:
				u.RealNameFailed("the face check verified another person", now)
			default:
				reason := res.Reason
				if reason == "" {
					reason = "the face check failed"
				}
				u.RealNameFailed(reason, now)
			}
			view = realNameView(u, now)
			return nil
		})
	})
	return view, err
}
