package operators

import (
	"context"
	"encoding/base64"
	"strings"
	"time"

	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/operator"
	"github.com/shuxinqian/server/ports"
)

// Operator account management (API.md "Platform operators": /api/v1/admin/operators), for the
// roles holding operator.PermOperators (admin). Every change runs in one unit of work with its
// audit row (before/after: username, role, active, lock, failures; never a secret or a hash);
// disabling, rotating the TOTP secret and resetting the password revoke the account's sessions
// in the same transaction. Changes that can take an account out of the active admins lock every
// active admin row first (OperatorRepository.LockActiveAdmins), so two admins demoting or
// disabling each other at the same time cannot leave the platform without one.

// OperatorPageSize is the default and largest page of the operator list.
const OperatorPageSize = 100

// CLIUsername is the audit log's username of changes made with the `shuxinqian operator …`
// command (no operator session; the entry is attributed to the account changed).
const CLIUsername = "(command line)"

// GeneratedPasswordBytes is the entropy of a generated operator password (base64url: 24 characters).
const GeneratedPasswordBytes = 18

var errChangeEmpty = kernel.Invalid("operator-change-empty", "give the new role, active, or both")

// OperatorChange edits an account: nil fields stay as they are.
type OperatorChange struct {
	Role   *string
	Active *bool
}

// operatorState is what the audit log keeps of an account before and after a change.
type operatorState struct {
	Username        string     `json:"username"`
	Role            string     `json:"role"`
	Active          bool       `json:"active"`
	LockedUntil     *time.Time `json:"locked_until"`
	FailedCount     int        `json:"failed_count"`
	SessionsRevoked int        `json:"sessions_revoked,omitempty"`
	TOTPRotated     bool       `json:"totp_rotated,omitempty"`
	PasswordReset   bool       `json:"password_reset,omitempty"`
}

func stateOf(o *operator.Operator, now time.Time) operatorState {
	st := operatorState{Username: o.Username(), Role: string(o.Role()), Active: o.Active(), FailedCount: o.FailedCount()}
	if lu := o.LockedUntil(); now.Before(lu) {
		st.LockedUntil = &lu
	}
	return st
}

// OperatorView is an account as the console shows it: no secret, no hash.
type OperatorView struct {
	ID          operator.ID
	Username    string
	Role        operator.Role
	Active      bool
	LockedUntil time.Time // zero unless locked now
	FailedCount int
	CreatedAt   time.Time
	LastLoginAt time.Time // zero: never logged in
}

func (s *Service) viewOf(o *operator.Operator) OperatorView {
	v := OperatorView{ID: o.ID(), Username: o.Username(), Role: o.Role(), Active: o.Active(), FailedCount: o.FailedCount(),
		CreatedAt: o.CreatedAt(), LastLoginAt: o.LastLoginAt()}
	if lu := o.LockedUntil(); s.clock.Now().Before(lu) {
		v.LockedUntil = lu
	}
	return v
}

// Operators lists the operator accounts by username after the cursor (a username).
func (s *Service) Operators(ctx context.Context, a Actor, after string, limit int) (out []OperatorView, next string, err error) {
	if err := a.Require(operator.PermOperators); err != nil {
		return nil, "", err
	}
	if limit <= 0 || limit > OperatorPageSize {
		limit = OperatorPageSize
	}
	err = s.uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
		page, err := tx.Operators().List(ctx, after, limit+1)
		if err != nil {
			return err
		}
		if len(page) > limit {
			page = page[:limit]
			next = page[limit-1].Username()
		}
		for _, o := range page {
			out = append(out, s.viewOf(o))
		}
		return nil
	})
	return out, next, err
}

// target names the account a change is for: by id (the console) or by username (the command line).
type target struct {
	id       operator.ID
	username string
}

// change runs fn on the target account in one unit of work: the active admins are locked first
// when lockAdmins (fn gets their count), the caller's own account is checked again inside the
// transaction (it may have been disabled or demoted since its request was authenticated), the
// account's sessions are revoked when revoke (or when fn asks for it), and the audit row is
// written. A change that changes nothing is not recorded.
func (s *Service) change(ctx context.Context, a Actor, t target, action string, lockAdmins bool,
	fn func(o *operator.Operator, admins operator.Admins) (changed, revoke bool, err error), note func(st *operatorState),
) (OperatorView, error) {
	now := s.clock.Now()
	var out *operator.Operator
	err := s.uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
		var admins []operator.ID
		if lockAdmins {
			var err error
			if admins, err = tx.Operators().LockActiveAdmins(ctx); err != nil {
				return err
			}
		}
		if !a.cli {
			if err := s.stillAllowed(ctx, tx, a); err != nil {
				return err
			}
		}
		id := t.id
		if id == "" {
			o, err := tx.Operators().GetByUsername(ctx, strings.ToLower(strings.TrimSpace(t.username)))
			if err != nil {
				return err
			}
			id = o.ID()
		}
		var before, after operatorState
		var changed, revoke bool
		if err := tx.Operators().Update(ctx, id, func(o *operator.Operator) error {
			before = stateOf(o, now)
			var err error
			if changed, revoke, err = fn(o, operator.Admins(len(admins))); err != nil {
				return err
			}
			after, out = stateOf(o, now), o
			return nil
		}); err != nil {
			return err
		}
		if !changed {
			return nil
		}
		if revoke {
			n, err := tx.Operators().RevokeSessions(ctx, id, now)
			if err != nil {
				return err
			}
			after.SessionsRevoked = n
		}
		if note != nil {
			note(&after)
		}
		by := a
		if a.cli {
			by = Actor{OperatorID: id, Username: CLIUsername}
		}
		return s.Record(ctx, tx, by, action, "operator", string(id), before, after)
	})
	if err != nil {
		return OperatorView{}, err
	}
	return s.viewOf(out), nil
}

// stillAllowed reloads the caller's account inside the transaction: a caller disabled or
// demoted after its request was authenticated (by a concurrent change that committed first)
// is refused.
func (s *Service) stillAllowed(ctx context.Context, tx ports.Tx, a Actor) error {
	if err := a.Require(operator.PermOperators); err != nil {
		return err
	}
	cur, err := tx.Operators().Get(ctx, a.OperatorID)
	if kernel.KindOf(err) == kernel.KindNotFound || (err == nil && (!cur.Active() || !cur.Role().Can(operator.PermOperators))) {
		return ErrForbidden.WithDetail("permission", string(operator.PermOperators))
	}
	return err
}

// UpdateOperator changes an account's role and/or active flag. An admin cannot disable or demote
// themself (422 operator-self-change) nor the last active admin (409 operator-last-admin);
// disabling revokes the account's sessions in the same transaction.
func (s *Service) UpdateOperator(ctx context.Context, a Actor, id string, ch OperatorChange) (OperatorView, error) {
	if err := a.Require(operator.PermOperators); err != nil {
		return OperatorView{}, err
	}
	if ch.Role == nil && ch.Active == nil {
		return OperatorView{}, errChangeEmpty
	}
	var role operator.Role
	if ch.Role != nil {
		var err error
		if role, err = operator.ParseRole(*ch.Role); err != nil {
			return OperatorView{}, err
		}
	}
	leaves := (ch.Active != nil && !*ch.Active) || (ch.Role != nil && role != operator.RoleAdmin)
	return s.change(ctx, a, target{id: operator.ID(id)}, "operator.update", leaves,
		func(o *operator.Operator, admins operator.Admins) (changed, revoke bool, err error) {
			if ch.Role != nil {
				if changed, err = o.ChangeRole(a.OperatorID, role, admins); err != nil {
					return false, false, err
				}
			}
			if ch.Active != nil {
				var c bool
				if *ch.Active {
					c = o.Enable()
				} else if c, err = o.Disable(a.OperatorID, admins); err != nil {
					return false, false, err
				}
				revoke = c && !*ch.Active
				changed = changed || c
			}
			return changed, revoke, nil
		}, nil)
}

// UnlockOperator clears an account's brute-force lock and failure count.
func (s *Service) UnlockOperator(ctx context.Context, a Actor, id string) (OperatorView, error) {
	if err := a.Require(operator.PermOperators); err != nil {
		return OperatorView{}, err
	}
	return s.unlock(ctx, a, target{id: operator.ID(id)})
}

func (s *Service) unlock(ctx context.Context, a Actor, t target) (OperatorView, error) {
	now := s.clock.Now()
	return s.change(ctx, a, t, "operator.unlock", false, func(o *operator.Operator, _ operator.Admins) (bool, bool, error) {
		return o.Unlock(now), false, nil
	}, nil)
}

// NewTOTP is a rotated TOTP secret, shown once.
type NewTOTP struct {
	Operator   OperatorView
	TOTPSecret string // base32
	OTPAuthURL string
}

// RotateOperatorTOTP gives an account a new TOTP secret (the old authenticator entry stops
// working) and revokes its sessions. The secret and its otpauth:// URL are answered once.
func (s *Service) RotateOperatorTOTP(ctx context.Context, a Actor, id string) (NewTOTP, error) {
	if err := a.Require(operator.PermOperators); err != nil {
		return NewTOTP{}, err
	}
	return s.rotateTOTP(ctx, a, target{id: operator.ID(id)})
}

func (s *Service) newSecret() ([]byte, error) {
	tok, err := s.random.Token(operator.SecretBytes)
	if err != nil {
		return nil, kernel.Internal(err)
	}
	secret, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(secret) != operator.SecretBytes {
		return nil, kernel.Internal(err)
	}
	return secret, nil
}

func (s *Service) rotateTOTP(ctx context.Context, a Actor, t target) (NewTOTP, error) {
	secret, err := s.newSecret()
	if err != nil {
		return NewTOTP{}, err
	}
	o, err := s.change(ctx, a, t, "operator.totp_rotate", false, func(o *operator.Operator, _ operator.Admins) (bool, bool, error) {
		return true, true, o.RotateTOTP(secret)
	}, func(st *operatorState) { st.TOTPRotated = true })
	if err != nil {
		return NewTOTP{}, err
	}
	return NewTOTP{Operator: o, TOTPSecret: operator.EncodeSecret(secret), OTPAuthURL: operator.OTPAuthURL(Issuer, o.Username, secret)}, nil
}

// NewPassword is a generated operator password, shown once.
type NewPassword struct {
	Operator OperatorView
	Password string
}

// ResetOperatorPassword gives an account a generated password (24 characters, 144 bits from the
// Random port) and revokes its sessions; the password is answered once and only its argon2id
// hash is stored. The admin hands it over; the operator logs in with it and the TOTP code.
func (s *Service) ResetOperatorPassword(ctx context.Context, a Actor, id string) (NewPassword, error) {
	if err := a.Require(operator.PermOperators); err != nil {
		return NewPassword{}, err
	}
	return s.resetPassword(ctx, a, target{id: operator.ID(id)})
}

func (s *Service) resetPassword(ctx context.Context, a Actor, t target) (NewPassword, error) {
	password, err := s.random.Token(GeneratedPasswordBytes)
	if err != nil {
		return NewPassword{}, kernel.Internal(err)
	}
	if err := operator.CheckPassword(password); err != nil {
		return NewPassword{}, kernel.Internal(err)
	}
	hash, err := s.passwords.Hash(password)
	if err != nil {
		return NewPassword{}, kernel.Internal(err)
	}
	o, err := s.change(ctx, a, t, "operator.password_reset", false, func(o *operator.Operator, _ operator.Admins) (bool, bool, error) {
		return true, true, o.ResetPassword(hash)
	}, func(st *operatorState) { st.PasswordReset = true })
	if err != nil {
		return NewPassword{}, err
	}
	return NewPassword{Operator: o, Password: password}, nil
}

// The command line's way back for a locked-out account (a sole admin included): it has access to
// the database and the configuration, so it needs no operator session. Audited as CLIUsername.

// cliActor marks a change made with the `shuxinqian operator …` command.
func cliActor() Actor { return Actor{cli: true} }

// UnlockByUsername is `shuxinqian operator unlock USERNAME`.
func (s *Service) UnlockByUsername(ctx context.Context, username string) (OperatorView, error) {
	return s.unlock(ctx, cliActor(), target{username: username})
}

// RotateTOTPByUsername is `shuxinqian operator reset-totp USERNAME`.
func (s *Service) RotateTOTPByUsername(ctx context.Context, username string) (NewTOTP, error) {
	return s.rotateTOTP(ctx, cliActor(), target{username: username})
}

// ResetPasswordByUsername is `shuxinqian operator reset-password USERNAME`.
func (s *Service) ResetPasswordByUsername(ctx context.Context, username string) (NewPassword, error) {
	return s.resetPassword(ctx, cliActor(), target{username: username})
}
