package sqlstore

import (
	"context"
	"net"
	"time"

	"github.com/uptrace/bun"

	"github.com/shuxinqian/server/domain/file"
	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/signature"
	"github.com/shuxinqian/server/ports"
)

type fileRow struct {
	bun.BaseModel `bun:"table:files"`

	ID          string    `bun:"id,pk"`
	OwnerID     string    `bun:"owner_id"`
	Purpose     string    `bun:"purpose"`
	ContentType string    `bun:"content_type"`
	Size        int64     `bun:"size"`
	SHA256      string    `bun:"sha256"`
	Width       int       `bun:"width"`
	Height      int       `bun:"height"`
	StorageKey  string    `bun:"storage_key"`
	CreatedAt   time.Time `bun:"created_at"`
}

type files struct{ t *txn }

func (r files) Add(ctx context.Context, f ports.FileRecord) error {
	if err := r.t.mustWrite(); err != nil {
		return err
	}
	_, err := r.t.idb.NewInsert().Model(&fileRow{ID: string(f.ID), OwnerID: string(f.OwnerID), Purpose: string(f.Purpose),
		ContentType: f.Info.ContentType, Size: f.Info.Size, SHA256: f.Info.SHA256, Width: f.Info.Width, Height: f.Info.Height,
		StorageKey: f.StorageKey, CreatedAt: f.CreatedAt.UTC()}).Exec(ctx)
	return err
}

func (r files) Get(ctx context.Context, id kernel.FileID) (ports.FileRecord, error) {
	row := new(fileRow)
	if err := r.t.idb.NewSelect().Model(row).Where("id = ?", string(id)).Scan(ctx); err != nil {
		return ports.FileRecord{}, notFound(err, "file-not-found", "no such file")
	}
	return ports.FileRecord{ID: kernel.FileID(row.ID), OwnerID: kernel.UserID(row.OwnerID), Purpose: file.Purpose(row.Purpose),
		Info:       file.Info{ContentType: row.ContentType, Size: row.Size, SHA256: row.SHA256, Width: row.Width, Height: row.Height},
		StorageKey: row.StorageKey, CreatedAt: row.CreatedAt.UTC()}, nil
}

type signatureRow struct {
	bun.BaseModel `bun:"table:signatures"`

	ID        string    `bun:"id,pk"`
	UserID    string    `bun:"user_id"`
	FileID    string    `bun:"file_id"`
	Kind      string    `bun:"kind"`
	IsDefault bool      `bun:"is_default"`
	CreatedAt time.Time `bun:"created_at"`
}

func (row signatureRow) domain() signature.Signature {
	return signature.Signature{ID: row.ID, UserID: kernel.UserID(row.UserID), FileID: kernel.FileID(row.FileID),
		Kind: signature.Kind(row.Kind), Default: row.IsDefault, CreatedAt: row.CreatedAt.UTC()}
}

type signatures struct{ t *txn }

func (r signatures) Add(ctx context.Context, s signature.Signature) error {
	if err := r.t.mustWrite(); err != nil {
		return err
	}
	_, err := r.t.idb.NewInsert().Model(&signatureRow{ID: s.ID, UserID: string(s.UserID), FileID: string(s.FileID),
		Kind: string(s.Kind), IsDefault: s.Default, CreatedAt: s.CreatedAt.UTC()}).Exec(ctx)
	return err
}

// ListByUser returns the default first, then the newest.
func (r signatures) ListByUser(ctx context.Context, uid kernel.UserID) ([]signature.Signature, error) {
	var rows []signatureRow
	if err := r.t.idb.NewSelect().Model(&rows).Where("user_id = ?", string(uid)).
		Order("is_default DESC", "created_at DESC", "id DESC").Limit(signature.MaxPerUser + 1).Scan(ctx); err != nil {
		return nil, err
	}
	out := make([]signature.Signature, len(rows))
	for i, row := range rows {
		out[i] = row.domain()
	}
	return out, nil
}

func (r signatures) Get(ctx context.Context, uid kernel.UserID, id string) (signature.Signature, error) {
	row := new(signatureRow)
	if err := r.t.idb.NewSelect().Model(row).Where("id = ? AND user_id = ?", id, string(uid)).Scan(ctx); err != nil {
		return signature.Signature{}, notFound(err, "signature-not-found", "no such signature appearance")
	}
	return row.domain(), nil
}

func (r signatures) SetDefault(ctx context.Context, uid kernel.UserID, id string) error {
	if err := r.t.mustWrite(); err != nil {
		return err
	}
	if _, err := r.Get(ctx, uid, id); err != nil {
		return err
	}
	_, err := r.t.idb.NewUpdate().Table("signatures").Set("is_default = (id = ?)", id).Where("user_id = ?", string(uid)).Exec(ctx)
	return err
}

func (r signatures) Delete(ctx context.Context, uid kernel.UserID, id string) error {
	if err := r.t.mustWrite(); err != nil {
		return err
	}
	res, err := r.t.idb.NewDelete().Table("signatures").Where("id = ? AND user_id = ?", id, string(uid)).Exec(ctx)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return kernel.NotFound("signature-not-found", "no such signature appearance")
	}
	return nil
}

type consentRow struct {
	bun.BaseModel `bun:"table:consents"`

	ID          string    `bun:"id,pk"`
	UserID      string    `bun:"user_id"`
	Scope       string    `bun:"scope"`
	Version     string    `bun:"version"`
	ClientIPEnc []byte    `bun:"client_ip_enc"`
	At          time.Time `bun:"at"`
}

const aadConsentIP = "consents.client_ip"

type consents struct{ t *txn }

func (r consents) Append(ctx context.Context, c ports.Consent) error {
	if err := r.t.mustWrite(); err != nil {
		return err
	}
	if net.ParseIP(c.ClientIP) == nil {
		c.ClientIP = "unknown"
	}
	enc, err := r.t.store.cipher.Seal([]byte(c.ClientIP), aadConsentIP)
	if err != nil {
		return err
	}
	_, err = r.t.idb.NewInsert().Model(&consentRow{ID: c.ID, UserID: string(c.UserID), Scope: c.Scope, Version: c.Version,
		ClientIPEnc: enc, At: c.At.UTC()}).Exec(ctx)
	return err
}

func (r consents) ListByUser(ctx context.Context, uid kernel.UserID) ([]ports.Consent, error) {
	var rows []consentRow
	if err := r.t.idb.NewSelect().Model(&rows).Where("user_id = ?", string(uid)).Order("at DESC").Limit(100).Scan(ctx); err != nil {
		return nil, err
	}
	out := make([]ports.Consent, len(rows))
	for i, row := range rows {
		ip, err := r.t.store.cipher.Open(row.ClientIPEnc, aadConsentIP)
		if err != nil {
			return nil, err
		}
		out[i] = ports.Consent{ID: row.ID, UserID: kernel.UserID(row.UserID), Scope: row.Scope, Version: row.Version,
			ClientIP: string(ip), At: row.At.UTC()}
	}
	return out, nil
}
