package sqlstore

import (
	"context"
	"time"

	"github.com/uptrace/bun"

	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/session"
)

type sessionRow struct {
	bun.BaseModel `bun:"table:sessions"`

	ID           string    `bun:"id,pk"`
	UserID       string    `bun:"user_id"`
	TokenHash    string    `bun:"token_hash"`
	CreatedAt    time.Time `bun:"created_at"`
	LastSeenAt   time.Time `bun:"last_seen_at"`
	ExpiresAt    time.Time `bun:"expires_at"`
	RevokedAt    time.Time `bun:"revoked_at,nullzero"`
	RevokeReason string    `bun:"revoke_reason"`
}

type sessions struct{ t *txn }

func sessionFromRow(row *sessionRow) *session.Session {
	return session.FromSnapshot(session.Snapshot{ID: kernel.SessionID(row.ID), UserID: kernel.UserID(row.UserID),
		TokenHash: row.TokenHash, CreatedAt: row.CreatedAt.UTC(), LastSeenAt: row.LastSeenAt.UTC(),
		ExpiresAt: row.ExpiresAt.UTC(), RevokedAt: utc(row.RevokedAt)})
}

func sessionToRow(s *session.Session) *sessionRow {
	sn := s.Snapshot()
	return &sessionRow{ID: string(sn.ID), UserID: string(sn.UserID), TokenHash: sn.TokenHash, CreatedAt: sn.CreatedAt.UTC(),
		LastSeenAt: sn.LastSeenAt.UTC(), ExpiresAt: sn.ExpiresAt.UTC(), RevokedAt: utc(sn.RevokedAt)}
}

func (r sessions) Add(ctx context.Context, s *session.Session) error {
	if err := r.t.mustWrite(); err != nil {
		return err
	}
	if _, err := r.t.idb.NewInsert().Model(sessionToRow(s)).Exec(ctx); err != nil {
		return err
	}
	r.t.record(s)
	return nil
}

func (r sessions) GetByTokenHash(ctx context.Context, tokenHash string) (*session.Session, error) {
	row := new(sessionRow)
	if err := r.t.selectInto(ctx, "session-by-token", row, func(q *bun.SelectQuery, arg placeholder) *bun.SelectQuery {
		return r.t.forUpdate(q.Model(row).Where("token_hash = ?", arg(tokenHash)))
	}); err != nil {
		if kernel.KindOf(notFound(err, "x", "x")) == kernel.KindNotFound {
			return nil, session.ErrInvalid
		}
		return nil, err
	}
	return sessionFromRow(row), nil
}

func (r sessions) Save(ctx context.Context, s *session.Session) error {
	if err := r.t.mustWrite(); err != nil {
		return err
	}
	row := sessionToRow(s)
	for _, ev := range s.PullEvents() {
		if rv, ok := ev.(session.Revoked); ok {
			row.RevokeReason = rv.Reason
		}
		r.t.events = append(r.t.events, ev)
	}
	cols := []string{"last_seen_at", "expires_at", "revoked_at"}
	if row.RevokeReason != "" {
		cols = append(cols, "revoke_reason")
	}
	_, err := r.t.idb.NewUpdate().Model(row).Column(cols...).WherePK().Exec(ctx)
	return err
}

func (r sessions) RevokeAllForUser(ctx context.Context, id kernel.UserID, except kernel.SessionID, reason string, now time.Time) (int, error) {
	if err := r.t.mustWrite(); err != nil {
		return 0, err
	}
	var rows []sessionRow
	q := r.t.idb.NewSelect().Model(&rows).Where("user_id = ? AND revoked_at IS NULL AND id <> ?", string(id), string(except))
	if err := r.t.forUpdate(q).Scan(ctx); err != nil {
		return 0, err
	}
	for i := range rows {
		s := sessionFromRow(&rows[i])
		s.Revoke(reason, now)
		if err := r.Save(ctx, s); err != nil {
			return 0, err
		}
	}
	return len(rows), nil
}
