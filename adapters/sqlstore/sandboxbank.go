package sqlstore

import (
	"context"
	"time"
	"unicode/utf8"

	"github.com/uptrace/bun"

	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/ports"
)

type sandboxTransferRow struct {
	bun.BaseModel `bun:"table:sandbox_bank_transfers"`

	Reference     string    `bun:"reference,pk"`
	AccountMasked string    `bun:"account_masked"`
	BankName      string    `bun:"bank_name"`
	Province      string    `bun:"province"`
	Branch        string    `bun:"branch"`
	Amount        int64     `bun:"amount"`
	Remitted      bool      `bun:"remitted"`
	Reason        string    `bun:"reason"`
	BankRef       string    `bun:"bank_ref"`
	At            time.Time `bun:"at"`
}

func (r sandboxTransferRow) transfer() ports.SandboxTransfer {
	return ports.SandboxTransfer{Reference: r.Reference, AccountMasked: r.AccountMasked, BankName: r.BankName, Province: r.Province,
		Branch: r.Branch, Amount: kernel.Fen(r.Amount), Remitted: r.Remitted, Reason: r.Reason, BankRef: r.BankRef, At: r.At.UTC()}
}

// SandboxBankLog keeps the sandbox bank's remittances in the database (ports.SandboxBankLedger).
type SandboxBankLog struct{ s *Store }

// SandboxBank is the durable sandbox bank ledger.
func (s *Store) SandboxBank() *SandboxBankLog { return &SandboxBankLog{s} }

var _ ports.SandboxBankLedger = (*SandboxBankLog)(nil)

// Record stores t unless its reference is stored, and returns the stored transfer.
func (l *SandboxBankLog) Record(ctx context.Context, t ports.SandboxTransfer) (ports.SandboxTransfer, error) {
	row := &sandboxTransferRow{Reference: t.Reference, AccountMasked: t.AccountMasked, BankName: t.BankName, Province: t.Province,
		Branch: t.Branch, Amount: t.Amount.Fen(), Remitted: t.Remitted, Reason: t.Reason, BankRef: t.BankRef, At: t.At.UTC()}
	if _, err := l.s.db.NewInsert().Model(row).On("CONFLICT DO NOTHING").Exec(ctx); err != nil {
		return ports.SandboxTransfer{}, err
	}
	var got sandboxTransferRow
	if err := l.s.db.NewSelect().Model(&got).Where("reference = ?", t.Reference).Scan(ctx); err != nil {
		return ports.SandboxTransfer{}, err
	}
	return got.transfer(), nil
}

// List returns up to limit transfers whose reference starts with prefix, newest first.
func (l *SandboxBankLog) List(ctx context.Context, prefix string, limit int) ([]ports.SandboxTransfer, error) {
	var rows []sandboxTransferRow
	q := l.s.db.NewSelect().Model(&rows).OrderExpr("at DESC, reference DESC").Limit(int64(limit))
	if prefix != "" {
		// substr rather than LIKE: a reference may hold '%' or '_'.
		q = q.Where("substr(reference, 1, ?) = ?", utf8.RuneCountInString(prefix), prefix)
	}
	if err := q.Scan(ctx); err != nil {
		return nil, err
	}
	out := make([]ports.SandboxTransfer, len(rows))
	for i, r := range rows {
		out[i] = r.transfer()
	}
	return out, nil
}
