package sqlstore

import (
	"context"

	"github.com/uptrace/bun/migrate"
)

// MigrateUpTo applies the migrations named up to last (inclusive): a database as it was before a
// later migration, for upgrade tests.
func (d *DB) MigrateUpTo(ctx context.Context, last string) error {
	all, err := d.migrations()
	if err != nil {
		return err
	}
	some := migrate.NewMigrations()
	for _, m := range all.Sorted() {
		if m.Name <= last {
			some.Add(m)
		}
	}
	mg := migrate.NewMigrator(d.DB, some, migrate.WithMarkAppliedOnSuccess(true))
	if err := mg.Init(ctx); err != nil {
		return err
	}
	_, err = mg.Migrate(ctx)
	return err
}
