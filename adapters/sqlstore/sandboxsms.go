package sqlstore

import (
	"context"
	"time"

	"github.com/uptrace/bun"

	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/ports"
)

type sandboxSMSRow struct {
	bun.BaseModel `bun:"table:sandbox_sms"`

	ID       int64     `bun:"id,pk,autoincrement"`
	IdemKey  *string   `bun:"idem_key"`
	PhoneIdx string    `bun:"phone_idx"`
	PhoneEnc []byte    `bun:"phone_enc"`
	Template string    `bun:"template"`
	TextEnc  []byte    `bun:"text_enc"`
	SentAt   time.Time `bun:"sent_at"`
}

// SandboxSMSLog keeps the sandbox SMS box in the database (ports.SandboxSMSBox).
type SandboxSMSLog struct{ s *Store }

// SandboxSMS is the durable sandbox SMS box.
func (s *Store) SandboxSMS() *SandboxSMSLog { return &SandboxSMSLog{s} }

var _ ports.SandboxSMSBox = (*SandboxSMSLog)(nil)

func (l *SandboxSMSLog) phoneIdx(p kernel.Phone) string {
	return l.s.secrets.Digest("phone", string(p))
}

// Append stores m; false when key (non-empty) was stored before.
func (l *SandboxSMSLog) Append(ctx context.Context, key string, m ports.SentSMS) (bool, error) {
	pe, err := l.s.cipher.Seal([]byte(m.Phone), "sandbox_sms.phone")
	if err != nil {
		return false, err
	}
	te, err := l.s.cipher.Seal([]byte(m.Text), "sandbox_sms.text")
	if err != nil {
		return false, err
	}
	row := &sandboxSMSRow{PhoneIdx: l.phoneIdx(m.Phone), PhoneEnc: pe, Template: m.Template, TextEnc: te, SentAt: m.SentAt.UTC()}
	if key != "" {
		row.IdemKey = &key
	}
	res, err := l.s.db.NewInsert().Model(row).On("CONFLICT DO NOTHING").Exec(ctx)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// List returns up to limit messages to phone (every phone when empty), newest first.
func (l *SandboxSMSLog) List(ctx context.Context, phone kernel.Phone, limit int) ([]ports.SentSMS, error) {
	var rows []sandboxSMSRow
	q := l.s.db.NewSelect().Model(&rows).OrderExpr("id DESC").Limit(int64(limit))
	if phone != "" {
		q = q.Where("phone_idx = ?", l.phoneIdx(phone))
	}
	if err := q.Scan(ctx); err != nil {
		return nil, err
	}
	out := make([]ports.SentSMS, 0, len(rows))
	for _, r := range rows {
		p, err := l.s.cipher.Open(r.PhoneEnc, "sandbox_sms.phone")
		if err != nil {
			return nil, err
		}
		t, err := l.s.cipher.Open(r.TextEnc, "sandbox_sms.text")
		if err != nil {
			return nil, err
		}
		out = append(out, ports.SentSMS{ID: r.ID, Phone: kernel.Phone(p), Template: r.Template, Text: string(t), SentAt: r.SentAt.UTC()})
	}
	return out, nil
}

// CountByKeyPrefix counts stored messages whose idempotency key starts with prefix (tests).
func (l *SandboxSMSLog) CountByKeyPrefix(ctx context.Context, prefix string) (int, error) {
	n, err := l.s.db.NewSelect().Model((*sandboxSMSRow)(nil)).Where("idem_key LIKE ?", prefix+"%").Count(ctx)
	return int(n), err
}
