package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/uptrace/bun"

	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/ports"
)

type bannerRow struct {
	bun.BaseModel `bun:"table:banners"`

	ID          string    `bun:"id,pk"`
	Title       string    `bun:"title"`
	ImageFileID string    `bun:"image_file_id"`
	TargetType  string    `bun:"target_type"`
	TargetValue string    `bun:"target_value"`
	SortOrder   int       `bun:"sort_order"`
	Active      bool      `bun:"active"`
	StartsAt    time.Time `bun:"starts_at,nullzero"`
	EndsAt      time.Time `bun:"ends_at,nullzero"`
	CreatedAt   time.Time `bun:"created_at"`
	UpdatedAt   time.Time `bun:"updated_at"`
}

func bannerToRow(b ports.Banner) *bannerRow {
	return &bannerRow{ID: b.ID, Title: b.Title, ImageFileID: b.ImageFileID, TargetType: b.TargetType, TargetValue: b.TargetValue,
		SortOrder: b.SortOrder, Active: b.Active, StartsAt: utc(b.StartsAt), EndsAt: utc(b.EndsAt), CreatedAt: b.CreatedAt.UTC(), UpdatedAt: b.UpdatedAt.UTC()}
}

func (row *bannerRow) banner() ports.Banner {
	return ports.Banner{ID: row.ID, Title: row.Title, ImageFileID: row.ImageFileID, TargetType: row.TargetType, TargetValue: row.TargetValue,
		SortOrder: row.SortOrder, Active: row.Active, StartsAt: utc(row.StartsAt), EndsAt: utc(row.EndsAt), CreatedAt: utc(row.CreatedAt), UpdatedAt: utc(row.UpdatedAt)}
}

var errBannerNotFound = kernel.NotFound("banner-not-found", "no such banner")

type banners struct{ t *txn }

func (r banners) Add(ctx context.Context, b ports.Banner) error {
	if err := r.t.mustWrite(); err != nil {
		return err
	}
	_, err := r.t.idb.NewInsert().Model(bannerToRow(b)).Exec(ctx)
	return err
}

func (r banners) Get(ctx context.Context, id string) (ports.Banner, error) {
	row := new(bannerRow)
	if err := r.t.forUpdate(r.t.idb.NewSelect().Model(row).Where("id = ?", id)).Scan(ctx); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return ports.Banner{}, errBannerNotFound
		}
		return ports.Banner{}, err
	}
	return row.banner(), nil
}

func (r banners) Save(ctx context.Context, b ports.Banner) error {
	if err := r.t.mustWrite(); err != nil {
		return err
	}
	res, err := r.t.idb.NewUpdate().Model(bannerToRow(b)).ExcludeColumn("id", "created_at").WherePK().Exec(ctx)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return errBannerNotFound
	}
	return nil
}

func (r banners) Delete(ctx context.Context, id string) error {
	if err := r.t.mustWrite(); err != nil {
		return err
	}
	res, err := r.t.idb.NewDelete().Model((*bannerRow)(nil)).Where("id = ?", id).Exec(ctx)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return errBannerNotFound
	}
	return nil
}

func (r banners) list(ctx context.Context, q *bun.SelectQuery, rows *[]bannerRow) ([]ports.Banner, error) {
	if err := q.Order("sort_order", "id").Scan(ctx); err != nil {
		return nil, err
	}
	out := make([]ports.Banner, len(*rows))
	for i := range *rows {
		out[i] = (*rows)[i].banner()
	}
	return out, nil
}

func (r banners) List(ctx context.Context, limit int) ([]ports.Banner, error) {
	var rows []bannerRow
	return r.list(ctx, r.t.idb.NewSelect().Model(&rows).Limit(int64(limit)), &rows)
}

func (r banners) ActiveAt(ctx context.Context, at time.Time, limit int) ([]ports.Banner, error) {
	var rows []bannerRow
	at = at.UTC()
	q := r.t.idb.NewSelect().Model(&rows).Where("active").
		Where("(starts_at IS NULL OR starts_at <= ?)", at).Where("(ends_at IS NULL OR ends_at > ?)", at).Limit(int64(limit))
	return r.list(ctx, q, &rows)
}

// deadLetters reads and replays the parked events inside a unit of work.
type deadLetters struct{ t *txn }

func toPortLetter(d DeadLetter) ports.DeadLetter {
	return ports.DeadLetter{ID: d.ID, MessageID: d.MessageID, Event: d.Event, Handler: d.Handler, Reason: d.Reason,
		ParkedAt: d.ParkedAt, Payload: d.Payload}
}

func (r deadLetters) List(ctx context.Context, after int64, limit int) ([]ports.DeadLetter, error) {
	var rows []poisonRow
	if err := r.t.idb.NewSelect().Model(&rows).ColumnExpr(`"offset", uuid, payload, CAST(metadata AS TEXT) AS metadata, created_at`).
		Where(`"offset" > ?`, after).OrderExpr(`"offset" ASC`).Limit(int64(limit)).Scan(ctx); err != nil {
		return nil, err
	}
	out := make([]ports.DeadLetter, len(rows))
	for i, row := range rows {
		out[i] = toPortLetter(row.letter())
	}
	return out, nil
}

func (r deadLetters) Get(ctx context.Context, id int64) (ports.DeadLetter, error) {
	var row poisonRow
	if err := r.t.idb.NewSelect().Model(&row).ColumnExpr(`"offset", uuid, payload, CAST(metadata AS TEXT) AS metadata, created_at`).
		Where(`"offset" = ?`, id).Scan(ctx); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return ports.DeadLetter{}, ErrDeadLetterNotFound
		}
		return ports.DeadLetter{}, err
	}
	return toPortLetter(row.letter()), nil
}

func (r deadLetters) Replay(ctx context.Context, id int64) (ports.DeadLetter, error) {
	if err := r.t.mustWrite(); err != nil {
		return ports.DeadLetter{}, err
	}
	btx, ok := r.t.idb.(bun.Tx)
	if !ok {
		return ports.DeadLetter{}, kernel.Internal(errReadOnly)
	}
	d, err := r.t.store.replayDeadLetterTx(ctx, btx, id)
	return toPortLetter(d), err
}
