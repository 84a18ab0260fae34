package sqlstore

import (
	"context"
	"time"

	"github.com/uptrace/bun"

	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/ports"
)

type auditRow struct {
	bun.BaseModel `bun:"table:audit_log"`

	ID        string    `bun:"id,pk"`
	MessageID string    `bun:"message_id"`
	UserID    string    `bun:"user_id"`
	Action    string    `bun:"action"`
	Detail    string    `bun:"detail"`
	At        time.Time `bun:"at"`
}

type audit struct{ t *txn }

func (r audit) Append(ctx context.Context, e ports.AuditEntry) error {
	if err := r.t.mustWrite(); err != nil {
		return err
	}
	_, err := r.t.idb.NewInsert().Model(&auditRow{ID: e.ID, MessageID: e.MessageID, UserID: string(e.UserID),
		Action: e.Action, Detail: e.Detail, At: e.At.UTC()}).Exec(ctx)
	if isUnique(err) {
		return kernel.Conflict("audit-duplicate", "this message was already recorded")
	}
	return err
}

func (r audit) AppendOnce(ctx context.Context, e ports.AuditEntry) (bool, error) {
	if err := r.t.mustWrite(); err != nil {
		return false, err
	}
	res, err := r.t.idb.NewInsert().Model(&auditRow{ID: e.ID, MessageID: e.MessageID, UserID: string(e.UserID),
		Action: e.Action, Detail: e.Detail, At: e.At.UTC()}).On("CONFLICT (message_id) DO NOTHING").Exec(ctx)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

func (r audit) ListByUser(ctx context.Context, id kernel.UserID, limit int) ([]ports.AuditEntry, error) {
	var rows []auditRow
	if err := r.t.idb.NewSelect().Model(&rows).Where("user_id = ?", string(id)).
		Order("at DESC", "id DESC").Limit(int64(limit)).Scan(ctx); err != nil {
		return nil, err
	}
	out := make([]ports.AuditEntry, len(rows))
	for i, row := range rows {
		out[i] = ports.AuditEntry{ID: row.ID, MessageID: row.MessageID, UserID: kernel.UserID(row.UserID),
			Action: row.Action, Detail: row.Detail, At: row.At.UTC()}
	}
	return out, nil
}

type inboxRow struct {
	bun.BaseModel `bun:"table:inbox"`

	Consumer    string    `bun:"consumer,pk"`
	MessageID   string    `bun:"message_id,pk"`
	ProcessedAt time.Time `bun:"processed_at"`
}

type inbox struct{ t *txn }

// MarkProcessed inserts (consumer, message) and reports whether it was new. ON CONFLICT DO
// NOTHING works on both databases and, unlike catching the violation, does not abort a
// Postgres transaction.
func (r inbox) MarkProcessed(ctx context.Context, consumer, messageID string) (bool, error) {
	if err := r.t.mustWrite(); err != nil {
		return false, err
	}
	res, err := r.t.idb.NewInsert().Model(&inboxRow{Consumer: consumer, MessageID: messageID, ProcessedAt: time.Now().UTC()}).
		On("CONFLICT DO NOTHING").Exec(ctx)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}
