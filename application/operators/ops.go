package operators

import (
	"context"
	"strings"
	"unicode/utf8"

	"github.com/shuxinqian/server/domain/enterprise"
	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/operator"
	"github.com/shuxinqian/server/ports"
)

// Enterprises lists enterprises by id after the cursor, optionally by a name fragment.
func (s *Service) Enterprises(ctx context.Context, a Actor, q, after string, limit int) (out []*enterprise.Enterprise, next string, err error) {
	if err := a.Require(operator.PermEnterprisesRead); err != nil {
		return nil, "", err
	}
	if utf8.RuneCountInString(q) > 64 {
		return nil, "", kernel.Invalid("query-too-long", "q is at most 64 characters")
	}
	limit = pageOf(limit)
	err = s.uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
		page, err := tx.Console().Enterprises(ctx, after, strings.TrimSpace(q), limit+1)
		if err != nil {
			return err
		}
		if len(page) > limit {
			page = page[:limit]
			next = string(page[limit-1].ID())
		}
		out = page
		return nil
	})
	return out, next, err
}

// EnterpriseDetail is an enterprise with the verification that proved it.
type EnterpriseDetail struct {
	Enterprise   *enterprise.Enterprise
	Verification *enterprise.Verification
}

// Enterprise returns one enterprise with its verification.
func (s *Service) Enterprise(ctx context.Context, a Actor, id string) (EnterpriseDetail, error) {
	if err := a.Require(operator.PermEnterprisesRead); err != nil {
		return EnterpriseDetail{}, err
	}
	var d EnterpriseDetail
	err := s.uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
		var err error
		if d.Enterprise, err = tx.Enterprises().Get(ctx, kernel.EnterpriseID(id)); err != nil {
			return err
		}
		if vid := d.Enterprise.VerificationID(); vid != "" {
			if d.Verification, err = tx.Verifications().Get(ctx, vid); kernel.KindOf(err) == kernel.KindNotFound {
				err = nil
			}
		}
		return err
	})
	return d, err
}

// Verification returns one enterprise verification (any state).
func (s *Service) Verification(ctx context.Context, a Actor, id string) (*enterprise.Verification, error) {
	if err := a.Require(operator.PermEnterprisesRead); err != nil {
		return nil, err
	}
	var v *enterprise.Verification
	err := s.uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
		var err error
		v, err = tx.Verifications().Get(ctx, kernel.VerificationID(id))
		return err
	})
	return v, err
}

func checkNote(field, note string, required bool) (string, error) {
	note = strings.TrimSpace(note)
	if (required && note == "") || utf8.RuneCountInString(note) > 500 {
		return "", kernel.Invalid(field+"-invalid", field+" is 1 to 500 characters")
	}
	return note, nil
}

// DeactivateEnterprise deactivates an enterprise: its organisation certificate is revoked
// (recorded for the CRL and OCSP, reason cessationOfOperation) and no new one is issued, in one
// transaction with the audit row.
func (s *Service) DeactivateEnterprise(ctx context.Context, a Actor, id, reason string) (*enterprise.Enterprise, string, error) {
	if err := a.Require(operator.PermEnterprisesEdit); err != nil {
		return nil, "", err
	}
	reason, err := checkNote("reason", reason, true)
	if err != nil {
		return nil, "", err
	}
	now := s.clock.Now()
	var out *enterprise.Enterprise
	var serial string
	err = s.uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
		var hadCert bool
		if err := tx.Enterprises().Update(ctx, kernel.EnterpriseID(id), func(e *enterprise.Enterprise) error {
			hadCert = e.Certificate() != nil
			var err error
			serial, err = e.Deactivate("crl-reason-5", now)
			out = e
			return err
		}); err != nil {
			return err
		}
		if serial != "" {
			if err := tx.Revocations().Add(ctx, ports.Revocation{SerialHex: serial, Reason: ports.ReasonCessationOfOperation,
				RevokedAt: now, Kind: "organization", Owner: id}); err != nil {
				return err
			}
		}
		return s.Record(ctx, tx, a, "enterprise.deactivate", "enterprise", id,
			map[string]any{"deactivated": false, "certificate": hadCert},
			map[string]any{"deactivated": true, "revoked_serial": serial, "reason": reason})
	})
	return out, serial, err
}

// Anomalies lists payment anomalies newest first (open only when openOnly).
func (s *Service) Anomalies(ctx context.Context, a Actor, openOnly bool, before string, limit int) (out []ports.AnomalyRecord, next string, err error) {
	if err := a.Require(operator.PermOrdersRead); err != nil {
		return nil, "", err
	}
	limit = pageOf(limit)
	err = s.uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
		page, err := tx.Console().Anomalies(ctx, openOnly, before, limit+1)
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

// ResolveAnomaly closes a payment anomaly with a note (what was done: refunded, contacted…).
func (s *Service) ResolveAnomaly(ctx context.Context, a Actor, id, note string) (ports.AnomalyRecord, error) {
	if err := a.Require(operator.PermAnomalies); err != nil {
		return ports.AnomalyRecord{}, err
	}
	note, err := checkNote("note", note, true)
	if err != nil {
		return ports.AnomalyRecord{}, err
	}
	now := kernel.OccurredAt(s.clock.Now())
	var out ports.AnomalyRecord
	err = s.uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
		cur, err := tx.Console().Anomaly(ctx, id)
		if err != nil {
			return err
		}
		if !cur.ResolvedAt.IsZero() {
			return kernel.Conflict("anomaly-resolved", "the payment anomaly is already resolved")
		}
		if err := tx.Console().ResolveAnomaly(ctx, id, string(a.OperatorID), note, now); err != nil {
			return err
		}
		cur.ResolvedAt, cur.ResolvedBy, cur.Note = now, string(a.OperatorID), note
		out = cur
		return s.Record(ctx, tx, a, "anomaly.resolve", "payment_anomaly", id, map[string]any{"resolved": false},
			map[string]any{"resolved": true, "note": note})
	})
	return out, err
}

// DeadLetters lists events that exhausted their retries, oldest first, after the cursor.
func (s *Service) DeadLetters(ctx context.Context, a Actor, after int64, limit int) (out []ports.DeadLetter, next int64, err error) {
	if err := a.Require(operator.PermDeadLettersRead); err != nil {
		return nil, 0, err
	}
	limit = pageOf(limit)
	err = s.uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
		page, err := tx.DeadLetters().List(ctx, after, limit+1)
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

// DeadLetter returns one parked event with its payload.
func (s *Service) DeadLetter(ctx context.Context, a Actor, id int64) (ports.DeadLetter, error) {
	if err := a.Require(operator.PermDeadLettersRead); err != nil {
		return ports.DeadLetter{}, err
	}
	var d ports.DeadLetter
	err := s.uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
		var err error
		d, err = tx.DeadLetters().Get(ctx, id)
		return err
	})
	return d, err
}

// ReplayDeadLetter delivers a parked event again to the handler that gave up on it (same
// message id: the handler's idempotency holds), audited in the same transaction.
func (s *Service) ReplayDeadLetter(ctx context.Context, a Actor, id int64) (ports.DeadLetter, error) {
	if err := a.Require(operator.PermDeadLetters); err != nil {
		return ports.DeadLetter{}, err
	}
	var d ports.DeadLetter
	err := s.uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
		var err error
		if d, err = tx.DeadLetters().Replay(ctx, id); err != nil {
			return err
		}
		return s.Record(ctx, tx, a, "dead-letter.replay", "dead_letter", d.MessageID,
			map[string]any{"id": d.ID, "event": d.Event, "handler": d.Handler, "reason": d.Reason}, map[string]any{"replayed": true})
	})
	return d, err
}
