package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"github.com/uptrace/bun"

	"github.com/shuxinqian/server/domain/enterprise"
	"github.com/shuxinqian/server/domain/invoice"
	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/order"
	"github.com/shuxinqian/server/ports"
)

// DeliverToKey is the outbox metadata naming the one handler a message is for (the consumer
// package's FanOut honours it).
const DeliverToKey = "deliver_to"

// enqueueTx writes msgs (for event topic) to the outbox inside btx: they reach their consumers
// only if btx commits.
func (s *Store) enqueueTx(ctx context.Context, btx bun.Tx, msgs ...*message.Message) error {
	topics := make([]string, len(msgs))
	for i, m := range msgs {
		topics[i] = EventTopic(m.Metadata.Get("name"))
	}
	return s.db.writeOutbox(ctx, btx.Tx, topics, msgs)
}

// ---- dead letters ----

// DeadLetter is a message that exhausted its retries, parked in watermill_poison.
type DeadLetter struct {
	ID        int64             `json:"id"`
	MessageID string            `json:"message_id"`
	Event     string            `json:"event"`
	Handler   string            `json:"handler"`
	Reason    string            `json:"reason"`
	ParkedAt  time.Time         `json:"parked_at"`
	Payload   json.RawMessage   `json:"payload,omitempty"`
	Metadata  map[string]string `json:"-"`
}

type poisonRow struct {
	bun.BaseModel `bun:"table:watermill_poison"`

	Offset    int64     `bun:"offset,pk"`
	UUID      string    `bun:"uuid"`
	Payload   []byte    `bun:"payload"`
	Metadata  string    `bun:"metadata"`
	CreatedAt time.Time `bun:"created_at"`
}

func (r poisonRow) letter() DeadLetter {
	md := map[string]string{}
	_ = json.Unmarshal([]byte(r.Metadata), &md)
	d := DeadLetter{ID: r.Offset, MessageID: r.UUID, Event: md["name"], Handler: md[middleware.PoisonedHandlerKey],
		Reason: md[middleware.ReasonForPoisonedKey], ParkedAt: r.CreatedAt.UTC(), Metadata: md}
	if json.Valid(r.Payload) {
		d.Payload = r.Payload
	}
	return d
}

// DeadLetters lists the parked messages, oldest first, after the id after (0: from the start).
func (s *Store) DeadLetters(ctx context.Context, after int64, limit int) ([]DeadLetter, error) {
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	var rows []poisonRow
	if err := s.db.NewSelect().Model(&rows).ColumnExpr(`"offset", uuid, payload, CAST(metadata AS TEXT) AS metadata, created_at`).
		Where(`"offset" > ?`, after).OrderExpr(`"offset" ASC`).Limit(int64(limit)).Scan(ctx); err != nil {
		return nil, err
	}
	out := make([]DeadLetter, len(rows))
	for i, r := range rows {
		out[i] = r.letter()
	}
	return out, nil
}

// ErrDeadLetterNotFound is answered by ReplayDeadLetter for an unknown id.
var ErrDeadLetterNotFound = kernel.NotFound("dead-letter-not-found", "no such dead letter")

// ReplayDeadLetter puts the parked message back into the outbox, addressed to the handler that
// gave up on it (same message id, so the handler's idempotency still holds), and removes it
// from the poison table, in one transaction: it is delivered again once, durably.
func (s *Store) ReplayDeadLetter(ctx context.Context, id int64) (DeadLetter, error) {
	var d DeadLetter
	err := s.db.RunInTx(ctx, nil, func(ctx context.Context, btx bun.Tx) error {
		var err error
		d, err = s.replayDeadLetterTx(ctx, btx, id)
		return err
	})
	return d, err
}

// replayDeadLetterTx is ReplayDeadLetter inside btx (the console audits the replay in the same
// transaction).
func (s *Store) replayDeadLetterTx(ctx context.Context, btx bun.Tx, id int64) (DeadLetter, error) {
	var r poisonRow
	q := btx.NewSelect().Model(&r).ColumnExpr(`"offset", uuid, payload, CAST(metadata AS TEXT) AS metadata, created_at`).
		Where(`"offset" = ?`, id)
	if s.db.IsPostgres() {
		q = q.For("UPDATE")
	}
	if err := q.Scan(ctx); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return DeadLetter{}, ErrDeadLetterNotFound
		}
		return DeadLetter{}, err
	}
	d := r.letter()
	if d.Event == "" || d.Handler == "" {
		return d, kernel.Invalid("dead-letter-unroutable", "the dead letter names no event or handler")
	}
	msg := message.NewMessage(r.UUID, r.Payload)
	msg.Metadata.Set("name", d.Event)
	msg.Metadata.Set(DeliverToKey, d.Handler)
	if err := s.enqueueTx(ctx, btx, msg); err != nil {
		return d, err
	}
	_, err := btx.NewDelete().Model((*poisonRow)(nil)).Where(`"offset" = ?`, id).Exec(ctx)
	return d, err
}

// ---- the sweeper ----

// SweepTargets names the handlers the sweeper drives on (their names in the consumer package).
type SweepTargets struct {
	IssueInvoice, GrantOrder, RemitTransfer, IssueOrgCertificate string
}

// SweepReport counts what one sweep re-published.
type SweepReport struct {
	Invoices, Grants, Remittances, Certificates int
}

// Total is the number of nudges.
func (r SweepReport) Total() int { return r.Invoices + r.Grants + r.Remittances + r.Certificates }

// sweepBatch bounds one sweep per kind.
const sweepBatch = 200

// Sweep finds work left in an intermediate state for longer than after — invoices requested or
// issuing, paid orders without their grant, verified enterprises without their organisation
// certificate, micro-deposits still remitting — and re-publishes the event that drives each on,
// through the outbox, to its one handler. The handlers are idempotent, so a nudge for work that
// was in fact still progressing changes nothing. Each item is nudged at most once per after
// (recorded in the effects table, in the same transaction as the outbox row), so several
// instances sweeping at once do not multiply the nudges.
func (s *Store) Sweep(ctx context.Context, now time.Time, after time.Duration, t SweepTargets) (SweepReport, error) {
	var rep SweepReport
	before := now.Add(-after).UTC()
	type nudge struct {
		kind, key, handler string
		ev                 kernel.Event
	}
	var nudges []nudge

	var invs []struct {
		ID      string `bun:"id"`
		OrderID string `bun:"order_id"`
	}
	if err := s.db.NewSelect().Table("invoices").Column("id", "order_id").Where("status IN (?)", bun.List([]string{
		string(invoice.StatusRequested), string(invoice.StatusIssuing)})).Where("updated_at < ?", before).
		OrderExpr("updated_at").Limit(sweepBatch).Scan(ctx, &invs); err != nil {
		return rep, fmt.Errorf("sweep invoices: %w", err)
	}
	for _, i := range invs {
		nudges = append(nudges, nudge{"invoice", i.ID, t.IssueInvoice,
			&invoice.Requested{InvoiceID: kernel.InvoiceID(i.ID), OrderID: kernel.OrderID(i.OrderID), At: now}})
	}

	var ords []struct {
		ID            string `bun:"id"`
		EnterpriseID  string `bun:"enterprise_id"`
		TransactionID string `bun:"transaction_id"`
		TotalFen      int64  `bun:"total_fen"`
	}
	if err := s.db.NewSelect().TableExpr("orders AS o").Column("o.id", "o.enterprise_id", "o.transaction_id", "o.total_fen").
		Where("o.status = ?", string(order.StatusPaid)).Where("o.paid_at < ?", before).
		Where("NOT EXISTS (SELECT 1 FROM quota_grants AS g WHERE g.order_id = o.id)").
		OrderExpr("o.paid_at").Limit(sweepBatch).Scan(ctx, &ords); err != nil {
		return rep, fmt.Errorf("sweep orders: %w", err)
	}
	for _, o := range ords {
		nudges = append(nudges, nudge{"grant", o.ID, t.GrantOrder, &order.Paid{OrderID: kernel.OrderID(o.ID),
			EnterpriseID: kernel.EnterpriseID(o.EnterpriseID), TransactionID: o.TransactionID, Total: o.TotalFen, At: now}})
	}

	var ents []struct {
		ID             string `bun:"id"`
		VerificationID string `bun:"verification_id"`
		CreditCode     string `bun:"credit_code"`
	}
	if err := s.db.NewSelect().Table("enterprises").Column("id", "verification_id", "credit_code").
		Where("cert_serial = ''").Where("deactivated_at IS NULL").Where("verified_at < ?", before).OrderExpr("verified_at").Limit(sweepBatch).
		Scan(ctx, &ents); err != nil {
		return rep, fmt.Errorf("sweep enterprises: %w", err)
	}
	for _, e := range ents {
		nudges = append(nudges, nudge{"org-certificate", e.ID, t.IssueOrgCertificate, &enterprise.EnterpriseVerified{
			EnterpriseID: kernel.EnterpriseID(e.ID), VerificationID: kernel.VerificationID(e.VerificationID),
			CreditCode: kernel.CreditCode(e.CreditCode), At: now}})
	}

	var vids []string
	if err := s.db.NewSelect().Table("verifications").Column("id").Where("status = ?", string(enterprise.StatusInProgress)).
		Where("transfer_enc IS NOT NULL").Where("updated_at < ?", before).OrderExpr("updated_at").Limit(sweepBatch).
		Scan(ctx, &vids); err != nil {
		return rep, fmt.Errorf("sweep verifications: %w", err)
	}
	for _, id := range vids { // the transfer is encrypted: the repository reads it
		v, err := (&txn{store: s, idb: s.db.DB}).Verifications().Get(ctx, kernel.VerificationID(id))
		if err != nil {
			continue
		}
		if tr := v.Transfer(); tr != nil && tr.Status == enterprise.TransferRemitting {
			nudges = append(nudges, nudge{"remittance", id + "/" + tr.ID, t.RemitTransfer,
				&enterprise.BankTransferRequested{VerificationID: v.ID(), TransferID: tr.ID, At: now}})
		}
	}

	for _, n := range nudges {
		if n.handler == "" {
			continue
		}
		sent := false
		err := s.db.RunInTx(ctx, nil, func(ctx context.Context, btx bun.Tx) error {
			c, err := (effects{&txn{store: s, idb: btx, writable: true}}).Claim(ctx, "sweep/"+n.kind+"/"+n.key, now, after)
			if err != nil || (c != ports.EffectNew && c != ports.EffectRetry) {
				return err
			}
			msg, err := EventMessage(n.ev)
			if err != nil {
				return err
			}
			msg.Metadata.Set(DeliverToKey, n.handler)
			sent = true
			return s.enqueueTx(ctx, btx, msg)
		})
		if err != nil {
			return rep, fmt.Errorf("sweep %s %s: %w", n.kind, n.key, err)
		}
		if !sent {
			continue
		}
		switch n.kind {
		case "invoice":
			rep.Invoices++
		case "grant":
			rep.Grants++
		case "org-certificate":
			rep.Certificates++
		case "remittance":
			rep.Remittances++
		}
	}
	return rep, nil
}
