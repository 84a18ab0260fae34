package contract

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/shuxinqian/server/adapters/sqlstore"
	"github.com/shuxinqian/server/tests/testdb"
)

// Effect claims and notes go after RETENTION_EFFECTS (30 days), the sweeper's nudge claims after
// RETENTION_SWEEP_CLAIMS (7 days), the sandbox SMS box and
// the sandbox bank's transfers after RETENTION_SANDBOX (7 days).
func TestRetentionPrunesEffectsSweepClaimsAndSandboxSMS(t *testing.T) {
	for _, b := range testdb.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			ctx := context.Background()
			db := b.Open(t)
			now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
			const day = 24 * time.Hour
			exec := func(q string, args ...any) {
				t.Helper()
				if _, err := db.NewRaw(q, args...).Exec(ctx); err != nil {
					t.Fatal(err)
				}
			}
			for i, age := range []time.Duration{40 * day, 30*day + time.Minute, 29 * day, 8 * day, time.Hour} {
				at := now.Add(-age)
				var done any
				if i%2 == 0 {
					done = at.Add(time.Second)
				}
				exec(`INSERT INTO effects (effect_key, claimed_at, done_at) VALUES (?, ?, ?)`, fmt.Sprintf("sms/%d", i), at, done)
				exec(`INSERT INTO effects (effect_key, claimed_at) VALUES (?, ?)`, fmt.Sprintf("sweep/invoice/%d", i), at)
				exec(`INSERT INTO effect_notes (effect_key, data_enc, created_at) VALUES (?, ?, ?)`, fmt.Sprintf("org-certificate/%d", i), []byte("x"), at)
				exec(`INSERT INTO sandbox_sms (phone_idx, phone_enc, template, text_enc, sent_at) VALUES ('p', ?, 't', ?, ?)`, []byte("p"), []byte("t"), at)
				exec(`INSERT INTO sandbox_bank_transfers (reference, account_masked, bank_name, province, branch, amount, remitted, reason, bank_ref, at)
					VALUES (?, '****1234', 'b', '', '', 5, ?, '', 'r', ?)`, fmt.Sprintf("v%d/t", i), true, at)
			}
			rep, err := db.Prune(ctx, now, sqlstore.DefaultRetention)
			if err != nil {
				t.Fatal(err)
			}
			want := sqlstore.PruneReport{Effects: 2, EffectNotes: 2, SweepClaims: 4, SandboxSMS: 4, SandboxBank: 4}
			if rep != want {
				t.Fatalf("report %+v, want %+v", rep, want)
			}
			var keys []string
			if err := db.NewSelect().Table("effects").Column("effect_key").Scan(ctx, &keys); err != nil {
				t.Fatal(err)
			}
			sort.Strings(keys)
			if fmt.Sprint(keys) != "[sms/2 sms/3 sms/4 sweep/invoice/4]" {
				t.Fatalf("effects left: %v", keys)
			}
			if n := remaining(t, db, "effect_notes"); n != 3 {
				t.Fatalf("%d notes left", n)
			}
			if n := remaining(t, db, "sandbox_sms"); n != 1 {
				t.Fatalf("%d sandbox messages left", n)
			}
			if n := remaining(t, db, "sandbox_bank_transfers"); n != 1 {
				t.Fatalf("%d sandbox transfers left", n)
			}
			if rep, err := db.Prune(ctx, now, sqlstore.DefaultRetention); err != nil || rep.Total() != 0 {
				t.Fatalf("second run %+v %v", rep, err)
			}
		})
	}
}
