package sqlstore

import (
	"context"

	"github.com/uptrace/bun"

	"github.com/shuxinqian/server/domain/enterprise"
	"github.com/shuxinqian/server/domain/membership"
	"github.com/shuxinqian/server/domain/order"
	"github.com/shuxinqian/server/domain/session"
	"github.com/shuxinqian/server/domain/user"
)

// BulkSeed is a set of aggregates to write at once: the fast seeding of the load harness
// (tests/load) and of benchmarks. The application never uses it.
type BulkSeed struct {
	Users       []*user.User
	Sessions    []*session.Session
	Enterprises []*enterprise.Enterprise
	Memberships []*membership.Membership
	Orders      []*order.Order
}

// bulkChunk is the number of rows per multi-row INSERT.
const bulkChunk = 500

// Seed writes the aggregates of b in multi-row INSERTs (bulkChunk rows each) in one transaction,
// through the repositories' own row mapping (personal data sealed, blind indexes computed). It
// writes no events: seeded aggregates are history, not news, and their events would only flood
// the consumers. Afterwards it refreshes the planner statistics of the tables it wrote, as
// autovacuum does for a live database within a minute: a table measured right after a bulk load
// without them gets plans for an empty table (the members list's first page of 5,000 took
// 10 ms on Postgres instead of 0.2 ms).
func (s *Store) Seed(ctx context.Context, b BulkSeed) error {
	if err := s.seed(ctx, b); err != nil {
		return err
	}
	stmt := "ANALYZE users, sessions, enterprises, memberships, orders"
	if !s.db.IsPostgres() {
		stmt = "ANALYZE"
	}
	_, err := s.db.ExecContext(ctx, stmt)
	return err
}

func (s *Store) seed(ctx context.Context, b BulkSeed) error {
	return s.db.RunInTx(ctx, nil, func(ctx context.Context, btx bun.Tx) error {
		t := &txn{store: s, idb: btx, writable: true}
		us := users{t}
		userRows := make([]*userRow, 0, len(b.Users))
		for _, u := range b.Users {
			row, err := us.toRow(u)
			if err != nil {
				return err
			}
			userRows = append(userRows, row)
		}
		if err := insertChunks(ctx, btx, userRows); err != nil {
			return err
		}
		sessRows := make([]*sessionRow, 0, len(b.Sessions))
		for _, se := range b.Sessions {
			sessRows = append(sessRows, sessionToRow(se))
		}
		if err := insertChunks(ctx, btx, sessRows); err != nil {
			return err
		}
		es := enterprises{t}
		entRows := make([]*enterpriseRow, 0, len(b.Enterprises))
		for _, e := range b.Enterprises {
			row, err := es.toRow(e)
			if err != nil {
				return err
			}
			entRows = append(entRows, row)
		}
		if err := insertChunks(ctx, btx, entRows); err != nil {
			return err
		}
		ms := memberships{t}
		memRows := make([]*membershipRow, 0, len(b.Memberships))
		for _, m := range b.Memberships {
			row, err := ms.toRow(m)
			if err != nil {
				return err
			}
			memRows = append(memRows, row)
		}
		if err := insertChunks(ctx, btx, memRows); err != nil {
			return err
		}
		ordRows := make([]*orderRow, 0, len(b.Orders))
		for _, o := range b.Orders {
			row, err := orderToRow(o)
			if err != nil {
				return err
			}
			ordRows = append(ordRows, row)
		}
		return insertChunks(ctx, btx, ordRows)
	})
}

func insertChunks[T any](ctx context.Context, db bun.IDB, rows []*T) error {
	for len(rows) > 0 {
		n := min(len(rows), bulkChunk)
		chunk := rows[:n]
		if _, err := db.NewInsert().Model(&chunk).Exec(ctx); err != nil {
			return err
		}
		rows = rows[n:]
	}
	return nil
}
