package application

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/otp"
	"github.com/shuxinqian/server/domain/session"
	"github.com/shuxinqian/server/domain/user"
	"github.com/shuxinqian/server/ports"
)

// RequestCode asks for an SMS code.
type RequestCode struct {
	Phone    string
	Purpose  string
	ClientIP string
	// Actor is set when the caller is logged in; purposes other than login and reset_password
	// need it, and then the code goes to the caller's own phone.
	Actor *Actor
}

// CodeSent answers RequestCode.
type CodeSent struct {
	ExpiresIn   time.Duration
	ResendAfter time.Duration
	// DocumentSHA256 is the document a sign code is bound to (signing links).
	DocumentSHA256 string
}

// RequestCode issues a code under the sending limits, stores only its keyed hash, then sends it.
func (a *App) RequestCode(ctx context.Context, in RequestCode) (CodeSent, error) {
	purpose, err := otp.ParsePurpose(in.Purpose)
	if err != nil {
		return CodeSent{}, err
	}
	var phone kernel.Phone
	switch purpose {
	case otp.PurposeLogin, otp.PurposeResetPassword:
		if phone, err = kernel.ParsePhone(in.Phone); err != nil {
			return CodeSent{}, err
		}
	default:
		if in.Actor == nil {
			return CodeSent{}, kernel.Unauthenticated("login-required", "log in to request a code for this purpose")
		}
		if err := a.uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
			u, err := tx.Users().Get(ctx, kernel.UserID(in.Actor.UserID))
			if err != nil {
				return err
			}
			phone = u.Phone()
			return nil
		}); err != nil {
			return CodeSent{}, err
		}
	}
	return a.issueCode(ctx, phone, purpose, in.ClientIP)
}

// issueCode issues a code under the sending limits, stores only its keyed hash, commits, then
// texts it (no external call holds a database lock). A failed send leaves a dead code behind
// that counts towards the limits, which errs on the safe side.
func (a *App) issueCode(ctx context.Context, phone kernel.Phone, purpose otp.Purpose, clientIP string) (CodeSent, error) {
	return a.issueBoundCode(ctx, phone, purpose, "", clientIP)
}

// issueBoundCode issues a code bound to phone, purpose and, when bind is not empty, to what it
// confirms (e.g. "sha256:<document hash>"): it verifies only with the same binding.
func (a *App) issueBoundCode(ctx context.Context, phone kernel.Phone, purpose otp.Purpose, bind, clientIP string) (CodeSent, error) {
	code, err := a.random.Digits(otp.Digits)
	if err != nil {
		return CodeSent{}, kernel.Internal(err)
	}
	now := a.clock.Now()
	err = a.uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
		if err := tx.Codes().LockPhone(ctx, phone); err != nil {
			return err
		}
		h, err := tx.Codes().History(ctx, phone, clientIP, now.Add(-24*time.Hour))
		if err != nil {
			return err
		}
		if err := otp.CheckSend(h, purpose, now); err != nil {
			return err
		}
		c, err := otp.Issue(a.ids.NewID(), phone, purpose, a.boundCodeHash(phone, purpose, code, bind), now)
		if err != nil {
			return err
		}
		return tx.Codes().Add(ctx, c, clientIP)
	})
	if err != nil {
		return CodeSent{}, err
	}
	msg := ports.SMS{
		Phone: phone, Template: "code", Params: map[string]string{"code": code, "purpose": string(purpose)},
		Text: fmt.Sprintf("【数信签】您的验证码为%s，用于%s，%d分钟内有效。请勿泄露给他人。", code, purposeText(purpose), int(otp.TTL/time.Minute)),
	}
	if err := a.sms.Send(ctx, msg); err != nil {
		a.log.WarnContext(ctx, "sms send failed", "purpose", purpose, "err", err)
		return CodeSent{}, kernel.Unavailable("sms-unavailable", "the SMS could not be sent; try again later", err)
	}
	return CodeSent{ExpiresIn: otp.TTL, ResendAfter: otp.ResendInterval}, nil
}

func purposeText(p otp.Purpose) string {
	switch p {
	case otp.PurposeLogin:
		return "登录"
	case otp.PurposeResetPassword:
		return "设置密码"
	case otp.PurposeSign:
		return "签署"
	case otp.PurposeResetSigningPassword:
		return "重置签署密码"
	default:
		return "验证手机号"
	}
}

func (a *App) codeHash(phone kernel.Phone, purpose otp.Purpose, code string) string {
	return a.secrets.Digest("otp", string(phone)+"|"+string(purpose)+"|"+code)
}

func (a *App) boundCodeHash(phone kernel.Phone, purpose otp.Purpose, code, bind string) string {
	if bind == "" {
		return a.codeHash(phone, purpose, code)
	}
	return a.secrets.Digest("otp", string(phone)+"|"+string(purpose)+"|"+code+"|"+bind)
}

// verifyBoundCode consumes a code issued with issueBoundCode for the same binding; a code bound
// to something else is a wrong code (and counts as a wrong try).
func (a *App) verifyBoundCode(ctx context.Context, phone kernel.Phone, purpose otp.Purpose, code, bind string, now time.Time) error {
	var verr error
	err := a.uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
		verr = a.consumeBoundCode(ctx, tx, phone, purpose, code, bind, now)
		if isInfrastructure(verr) {
			return verr
		}
		return nil //nolint:nilerr // a refused code is committed so that the wrong try counts
	})
	if err != nil {
		return err
	}
	return verr
}

// consumeCode checks and uses the latest code for phone and purpose inside tx. The wrong-try
// count must survive the failed request, so callers commit it: see verifyCode.
func (a *App) consumeCode(ctx context.Context, tx ports.Tx, phone kernel.Phone, purpose otp.Purpose, code string, now time.Time) error {
	return a.consumeBoundCode(ctx, tx, phone, purpose, code, "", now)
}

func (a *App) consumeBoundCode(ctx context.Context, tx ports.Tx, phone kernel.Phone, purpose otp.Purpose, code, bind string, now time.Time) error {
	if len(code) != otp.Digits {
		return kernel.Invalid("sms-code-format", "the code is 6 digits")
	}
	if err := tx.Codes().LockPhone(ctx, phone); err != nil {
		return err
	}
	c, err := tx.Codes().Latest(ctx, phone, purpose)
	if err != nil {
		return err
	}
	verr := c.Verify(a.boundCodeHash(phone, purpose, code, bind), now)
	if err := tx.Codes().Save(ctx, c); err != nil {
		return err
	}
	return verr
}

// verifyCode consumes a code in its own transaction, so that a wrong try is counted even though
// the request fails.
func (a *App) verifyCode(ctx context.Context, phone kernel.Phone, purpose otp.Purpose, code string, now time.Time) error {
	var verr error
	err := a.uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
		verr = a.consumeCode(ctx, tx, phone, purpose, code, now)
		if isInfrastructure(verr) {
			return verr // roll back
		}
		return nil //nolint:nilerr // a refused code is committed so that the wrong try counts
	})
	if err != nil {
		return err
	}
	return verr
}

// isInfrastructure reports an error that is not one of the platform's own (a database failure).
func isInfrastructure(err error) bool {
	var ke *kernel.Error
	return err != nil && !errors.As(err, &ke)
}

// Login opens a session by SMS code (registering the phone on first use) or by password.
type Login struct {
	Phone    string
	Code     string
	Password string
	// ClientIP counts password attempts per address.
	ClientIP string
}

// LoginResult answers Login. Token is shown once; only its hash is stored.
type LoginResult struct {
	Token      string
	ExpiresAt  time.Time
	User       *user.User
	Registered bool
}

// Login authenticates and opens a session.
func (a *App) Login(ctx context.Context, in Login) (LoginResult, error) {
	phone, err := kernel.ParsePhone(in.Phone)
	if err != nil {
		return LoginResult{}, err
	}
	switch {
	case in.Code != "" && in.Password != "":
		return LoginResult{}, kernel.Invalid("login-ambiguous", "give either code or password, not both")
	case in.Code != "":
		return a.loginByCode(ctx, phone, in.Code)
	case in.Password != "":
		return a.loginByPassword(ctx, phone, in.Password, in.ClientIP)
	default:
		return LoginResult{}, kernel.Invalid("login-credentials-missing", "give a code or a password")
	}
}

func (a *App) loginByCode(ctx context.Context, phone kernel.Phone, code string) (LoginResult, error) {
	now := a.clock.Now()
	var res LoginResult
	// One transaction: the code is consumed and the session opened together (one commit). A
	// refused code commits only its wrong try, as verifyCode does.
	var verr error
	err := a.uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
		verr = a.consumeCode(ctx, tx, phone, otp.PurposeLogin, code, now)
		if isInfrastructure(verr) {
			return verr // roll back
		}
		if verr != nil {
			return nil //nolint:nilerr // commit the wrong try; verr is answered after the commit
		}
		u, err := tx.Users().GetByPhone(ctx, phone)
		switch {
		case kernel.CodeOf(err) == "user-not-found":
			if u, err = user.Register(kernel.UserID(a.ids.NewID()), phone, now); err != nil {
				return err
			}
			u.LoggedIn("sms", now)
			if err := tx.Users().Add(ctx, u); err != nil {
				return err
			}
			res.Registered = true
		case err != nil:
			return err
		default:
			if err := tx.Users().Update(ctx, u.ID(), func(u *user.User) error { u.LoggedIn("sms", now); return nil }); err != nil {
				return err
			}
		}
		res.User = u
		return a.openSession(ctx, tx, u.ID(), now, &res)
	})
	if err != nil {
		return LoginResult{}, err
	}
	if verr != nil {
		return LoginResult{}, verr
	}
	return res, nil
}

// errBadPassword is deliberately the same for an unknown phone and a wrong password.
var errBadPassword = kernel.Unauthenticated("credentials-invalid", "phone or password is wrong")

func (a *App) loginByPassword(ctx context.Context, phone kernel.Phone, password, clientIP string) (LoginResult, error) {
	if len(password) > 256 {
		return LoginResult{}, errBadPassword
	}
	now := a.clock.Now()
	if err := a.countLoginAttempt(ctx, phone, clientIP, now); err != nil {
		return LoginResult{}, err
	}
	var u *user.User
	if err := a.uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
		var err error
		u, err = tx.Users().GetByPhone(ctx, phone)
		return err
	}); err != nil {
		if kernel.CodeOf(err) == "user-not-found" {
			// Spend the same time as a real check, so timing does not tell which phones exist.
			if err := a.equaliseTiming(ctx, password); err != nil {
				return LoginResult{}, err
			}
			return LoginResult{}, errBadPassword
		}
		return LoginResult{}, err
	}
	if err := u.CanTryPassword(now); err != nil {
		if kernel.CodeOf(err) == "password-not-set" {
			if err := a.equaliseTiming(ctx, password); err != nil {
				return LoginResult{}, err
			}
			return LoginResult{}, errBadPassword
		}
		return LoginResult{}, err
	}
	// The slow hash runs outside any transaction, in one of the bounded hashing slots.
	var ok bool
	var err error
	if herr := withHashSlot(ctx, func() { ok, err = a.passwords.Verify(u.PasswordHash(), password) }); herr != nil {
		return LoginResult{}, herr
	}
	if err != nil {
		return LoginResult{}, kernel.Internal(err)
	}
	var res LoginResult
	var verdict error
	err = a.uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
		return tx.Users().Update(ctx, u.ID(), func(cur *user.User) error {
			// Re-check under the row lock: a concurrent request may have locked it or changed it.
			if err := cur.CanTryPassword(now); err != nil {
				verdict = err
				return nil //nolint:nilerr // the refusal is the answer, not a failed transaction
			}
			if !ok || cur.PasswordHash() != u.PasswordHash() {
				cur.PasswordFailed(now)
				verdict = errBadPassword
				return nil
			}
			cur.LoggedIn("password", now)
			res.User = cur
			return a.openSession(ctx, tx, cur.ID(), now, &res)
		})
	})
	if err != nil {
		return LoginResult{}, err
	}
	if verdict != nil {
		return LoginResult{}, verdict
	}
	return res, nil
}

// equaliseTiming spends the time of one password check against a hash made once, so that an
// unknown phone and a wrong password answer alike.
func (a *App) equaliseTiming(ctx context.Context, password string) error {
	return withHashSlot(ctx, func() {
		a.dummyOnce.Do(func() { a.dummyHash, _ = a.passwords.Hash("timing-equaliser") })
		if a.dummyHash != "" {
			_, _ = a.passwords.Verify(a.dummyHash, password)
		}
	})
}

func (a *App) openSession(ctx context.Context, tx ports.Tx, uid kernel.UserID, now time.Time, res *LoginResult) error {
	token, err := a.random.Token(32)
	if err != nil {
		return kernel.Internal(err)
	}
	s, err := session.Open(kernel.SessionID(a.ids.NewID()), uid, HashToken(token), now)
	if err != nil {
		return err
	}
	if err := tx.Sessions().Add(ctx, s); err != nil {
		return err
	}
	res.Token, res.ExpiresAt = token, s.ExpiresAt()
	return nil
}

// HashToken is how bearer tokens are stored: SHA-256 (the token has 256 bits of entropy, so no
// slow hash is needed).
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// Authenticate resolves a bearer token to an actor, sliding the session's expiry.
func (a *App) Authenticate(ctx context.Context, token string) (Actor, error) {
	if token == "" || len(token) > 128 {
		return Actor{}, session.ErrInvalid
	}
	now := a.clock.Now()
	h := HashToken(token)
	var s *session.Session
	if err := a.uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
		var err error
		s, err = tx.Sessions().GetByTokenHash(ctx, h)
		return err
	}); err != nil {
		return Actor{}, err
	}
	if err := s.Check(now); err != nil {
		return Actor{}, err
	}
	if s.Touch(now) {
		if err := a.uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
			cur, err := tx.Sessions().GetByTokenHash(ctx, h)
			if err != nil {
				return err
			}
			if err := cur.Check(now); err != nil {
				return err
			}
			cur.Touch(now)
			return tx.Sessions().Save(ctx, cur)
		}); err != nil {
			return Actor{}, err
		}
	}
	return Actor{UserID: string(s.UserID()), SessionID: string(s.ID())}, nil
}

// Logout revokes the caller's session.
func (a *App) Logout(ctx context.Context, token string) error {
	now := a.clock.Now()
	return a.uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
		s, err := tx.Sessions().GetByTokenHash(ctx, HashToken(token))
		if err != nil {
			return err
		}
		if err := s.Check(now); err != nil {
			return err
		}
		s.Revoke("logout", now)
		return tx.Sessions().Save(ctx, s)
	})
}

// SetPassword sets or changes the caller's login password after proving the phone with a code
// of purpose reset_password. Other sessions are revoked when a password is changed.
func (a *App) SetPassword(ctx context.Context, actor Actor, code, password string) error {
	if err := user.ValidatePassword(password); err != nil {
		return err
	}
	now := a.clock.Now()
	u, err := a.loadUser(ctx, kernel.UserID(actor.UserID))
	if err != nil {
		return err
	}
	hash, err := a.passwords.Hash(password)
	if err != nil {
		return kernel.Internal(err)
	}
	if err := a.verifyCode(ctx, u.Phone(), otp.PurposeResetPassword, code, now); err != nil {
		return err
	}
	return a.uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
		changed := false
		if err := tx.Users().Update(ctx, u.ID(), func(cur *user.User) error {
			changed = cur.HasPassword()
			return cur.SetPassword(hash, now)
		}); err != nil {
			return err
		}
		if changed {
			// Keep the caller's session; end the others.
			if _, err := tx.Sessions().RevokeAllForUser(ctx, u.ID(), kernel.SessionID(actor.SessionID), "password_changed", now); err != nil {
				return err
			}
		}
		return nil
	})
}
