// Package operators holds the platform console's use cases: operator accounts (password + TOTP,
// roles with a permission table), their short sessions, the append-only operator audit log, and
// the console actions (channels and catalogs, platform settings, banners, enterprises, payment
// anomalies, dead letters). Every console change writes its audit row in the same transaction
// as the change (Record).
package operators

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/operator"
	"github.com/shuxinqian/server/ports"
)

// Issuer names the platform in authenticator apps.
const Issuer = "数信签"

// Deps are the ports the console needs.
type Deps struct {
	UoW       ports.UnitOfWork
	Clock     ports.Clock
	IDs       ports.IDs
	Random    ports.Random
	Passwords ports.PasswordHasher
	Files     ports.FileStore
	Logger    *slog.Logger
}

// Service runs the console use cases.
type Service struct {
	uow       ports.UnitOfWork
	clock     ports.Clock
	ids       ports.IDs
	random    ports.Random
	passwords ports.PasswordHasher
	files     ports.FileStore
	log       *slog.Logger

	dummyOnce sync.Once
	dummyHash string
}

// New builds the service.
func New(d Deps) *Service {
	log := d.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Service{uow: d.UoW, clock: d.Clock, ids: d.IDs, random: d.Random, passwords: d.Passwords, files: d.Files, log: log}
}

// Actor is an authenticated operator calling a console use case.
type Actor struct {
	OperatorID operator.ID
	Username   string
	Role       operator.Role
	SessionID  string
	// IP is the client address (recorded in the audit log).
	IP string
	// cli marks a change made with the `shuxinqian operator …` command (manage.go).
	cli bool
}

// ErrForbidden answers an operator whose role lacks the permission.
var ErrForbidden = kernel.Forbidden("operator-permission-denied", "your operator role does not allow this action")

// Require checks the actor's role holds the permission.
func (a Actor) Require(p operator.Permission) error {
	if a.OperatorID == "" || !a.Role.Can(p) {
		return ErrForbidden.WithDetail("permission", string(p))
	}
	return nil
}

// Created is the answer to creating an operator: the TOTP secret is shown once.
type Created struct {
	ID         operator.ID
	Username   string
	Role       operator.Role
	TOTPSecret string // base32
	OTPAuthURL string
}

// Create makes an operator account (the `shuxinqian operator create` command). There is no
// default password: the caller provides one (12-128 characters).
func (s *Service) Create(ctx context.Context, username, role, password string) (Created, error) {
	r, err := operator.ParseRole(role)
	if err != nil {
		return Created{}, err
	}
	if err := operator.CheckPassword(password); err != nil {
		return Created{}, err
	}
	tok, err := s.random.Token(operator.SecretBytes)
	if err != nil {
		return Created{}, kernel.Internal(err)
	}
	secret, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(secret) != operator.SecretBytes {
		return Created{}, kernel.Internal(err)
	}
	hash, err := s.passwords.Hash(password)
	if err != nil {
		return Created{}, kernel.Internal(err)
	}
	o, err := operator.New(operator.ID(s.ids.NewID()), username, hash, secret, r, s.clock.Now())
	if err != nil {
		return Created{}, err
	}
	if err := s.uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error { return tx.Operators().Add(ctx, o) }); err != nil {
		return Created{}, err
	}
	return Created{ID: o.ID(), Username: o.Username(), Role: o.Role(), TOTPSecret: operator.EncodeSecret(secret),
		OTPAuthURL: operator.OTPAuthURL(Issuer, o.Username(), secret)}, nil
}

// LoginInput is an operator login.
type LoginInput struct {
	Username string
	Password string
	TOTP     string
	IP       string
}

// LoginResult is an operator session.
type LoginResult struct {
	Token     string
	ExpiresAt time.Time
	Operator  Actor
}

func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// Login checks the password and the TOTP code. Failures are counted durably under the
// operator's row lock (shared by every instance); the 5th locks the account; a TOTP code is
// accepted once (the last accepted step is stored under the same lock, so two concurrent
// logins with one code cannot both win).
func (s *Service) Login(ctx context.Context, in LoginInput) (LoginResult, error) {
	username := strings.ToLower(strings.TrimSpace(in.Username))
	if username == "" || len(username) > 64 || in.Password == "" || len(in.Password) > 256 {
		s.equaliseTiming(in.Password)
		return LoginResult{}, operator.ErrInvalidCredentials
	}
	now := s.clock.Now()
	var o *operator.Operator
	err := s.uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
		var err error
		o, err = tx.Operators().GetByUsername(ctx, username)
		return err
	})
	if kernel.KindOf(err) == kernel.KindNotFound {
		s.equaliseTiming(in.Password)
		return LoginResult{}, operator.ErrInvalidCredentials
	}
	if err != nil {
		return LoginResult{}, err
	}
	if err := o.CheckLocked(now); err != nil {
		return LoginResult{}, err
	}
	ok, err := s.passwords.Verify(o.PasswordHash(), in.Password)
	if err != nil {
		return LoginResult{}, kernel.Internal(err)
	}
	var res LoginResult
	var verdict error
	err = s.uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
		var cur *operator.Operator
		if err := tx.Operators().Update(ctx, o.ID(), func(c *operator.Operator) error {
			// The hash may have changed since it was read: only the checked one counts.
			verdict = c.Login(ok && c.PasswordHash() == o.PasswordHash(), in.TOTP, now)
			cur = c
			return nil
		}); err != nil {
			return err
		}
		actor := Actor{OperatorID: cur.ID(), Username: cur.Username(), Role: cur.Role(), IP: in.IP}
		if verdict != nil {
			code := "unknown"
			if ke, isK := verdict.(*kernel.Error); isK {
				code = ke.Code
			}
			return s.Record(ctx, tx, actor, "session.login_failed", "operator", string(cur.ID()), nil, map[string]any{"reason": code})
		}
		token, err := s.random.Token(32)
		if err != nil {
			return kernel.Internal(err)
		}
		token = operator.TokenPrefix + token
		sess, err := operator.OpenSession(s.ids.NewID(), cur.ID(), hashToken(token), now)
		if err != nil {
			return err
		}
		if err := tx.Operators().AddSession(ctx, sess); err != nil {
			return err
		}
		actor.SessionID = sess.ID
		res = LoginResult{Token: token, ExpiresAt: sess.ExpiresAt(), Operator: actor}
		return s.Record(ctx, tx, actor, "session.create", "operator_session", sess.ID, nil, map[string]any{"expires_at": sess.ExpiresAt()})
	})
	if err != nil {
		return LoginResult{}, err
	}
	if verdict != nil {
		return LoginResult{}, verdict
	}
	return res, nil
}

func (s *Service) equaliseTiming(password string) {
	s.dummyOnce.Do(func() { s.dummyHash, _ = s.passwords.Hash("timing-equaliser-operator") })
	if s.dummyHash != "" {
		_, _ = s.passwords.Verify(s.dummyHash, password)
	}
}

// Authenticate resolves an operator bearer token (prefix "op_"; an app token never matches).
func (s *Service) Authenticate(ctx context.Context, token string) (Actor, error) {
	if !strings.HasPrefix(token, operator.TokenPrefix) || len(token) > 128 {
		return Actor{}, operator.ErrSessionInvalid
	}
	now := s.clock.Now()
	h := hashToken(token)
	var sess *operator.Session
	var o *operator.Operator
	if err := s.uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
		var err error
		if sess, err = tx.Operators().SessionByTokenHash(ctx, h); err != nil {
			return err
		}
		o, err = tx.Operators().Get(ctx, sess.OperatorID)
		return err
	}); err != nil {
		return Actor{}, err
	}
	if err := sess.Check(now); err != nil {
		return Actor{}, err
	}
	if !o.Active() {
		return Actor{}, operator.ErrSessionInvalid
	}
	if sess.Touch(now) {
		if err := s.uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
			cur, err := tx.Operators().SessionByTokenHash(ctx, h)
			if err != nil {
				return err
			}
			if err := cur.Check(now); err != nil {
				return err
			}
			cur.Touch(now)
			return tx.Operators().SaveSession(ctx, cur)
		}); err != nil {
			return Actor{}, err
		}
	}
	return Actor{OperatorID: o.ID(), Username: o.Username(), Role: o.Role(), SessionID: sess.ID}, nil
}

// Logout revokes the caller's operator session.
func (s *Service) Logout(ctx context.Context, actor Actor, token string) error {
	now := s.clock.Now()
	return s.uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
		sess, err := tx.Operators().SessionByTokenHash(ctx, hashToken(token))
		if err != nil {
			return err
		}
		sess.Revoke(now)
		if err := tx.Operators().SaveSession(ctx, sess); err != nil {
			return err
		}
		return s.Record(ctx, tx, actor, "session.revoke", "operator_session", sess.ID, nil, nil)
	})
}

// Record appends one operator action to the audit log inside tx, the transaction of the change
// itself: the change and its audit row commit together or not at all. before and after are
// encoded as JSON (nil → null); never pass personal data in clear.
func (s *Service) Record(ctx context.Context, tx ports.Tx, a Actor, action, targetType, targetID string, before, after any) error {
	b, err := auditJSON(before)
	if err != nil {
		return err
	}
	af, err := auditJSON(after)
	if err != nil {
		return err
	}
	return tx.OperatorAudit().Append(ctx, operator.AuditEntry{ID: s.ids.NewID(), OperatorID: a.OperatorID, Username: a.Username,
		Action: action, TargetType: targetType, TargetID: targetID, Before: b, After: af, IP: a.IP, At: kernel.OccurredAt(s.clock.Now())})
}

func auditJSON(v any) (json.RawMessage, error) {
	if v == nil {
		return json.RawMessage("null"), nil
	}
	if raw, ok := v.(json.RawMessage); ok {
		return raw, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, kernel.Internal(err)
	}
	return b, nil
}

// Do runs fn in a unit of work after checking the actor's permission; fn calls Record for its
// change. It is how other bounded contexts (refunds, webhooks) run an audited console action.
func (s *Service) Do(ctx context.Context, a Actor, p operator.Permission, fn func(ctx context.Context, tx ports.Tx) error) error {
	if err := a.Require(p); err != nil {
		return err
	}
	return s.uow.Do(ctx, fn)
}

// AuditPageSize is the default and largest page of the audit list.
const AuditPageSize = 100

// Audit lists the audit log, newest first, before the cursor (an entry id).
func (s *Service) Audit(ctx context.Context, a Actor, f operator.AuditFilter, before string, limit int) (out []operator.AuditEntry, next string, err error) {
	if err := a.Require(operator.PermAudit); err != nil {
		return nil, "", err
	}
	if limit <= 0 || limit > AuditPageSize {
		limit = AuditPageSize
	}
	err = s.uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
		page, err := tx.OperatorAudit().List(ctx, f, before, limit+1)
		if err != nil {
			return err
		}
		if len(page) > limit {
			page = page[:limit]
			next = page[limit-1].ID
		}
		out = page
		return nil
	})
	return out, next, err
}
