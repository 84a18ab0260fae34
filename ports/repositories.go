package ports

import (
	"context"
	"time"

	"github.com/shuxinqian/server/domain/channel"
	"github.com/shuxinqian/server/domain/file"
	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/signature"
)

// ChannelRepository stores channels with their catalogs, and the platform settings.
type ChannelRepository interface {
	// Add inserts a channel; a taken code is the conflict "channel-code-taken".
	Add(ctx context.Context, c *channel.Channel) error
	// GetByCode loads a channel; missing → not-found "channel-not-found".
	GetByCode(ctx context.Context, code string) (*channel.Channel, error)
	// Search finds active channels whose name contains q (case-insensitive), at most limit.
	Search(ctx context.Context, q string, limit int) ([]*channel.Channel, error)
	Platform(ctx context.Context) (channel.Platform, error)
	SavePlatform(ctx context.Context, p channel.Platform) error
}

// FileRecord is an uploaded file's metadata; the bytes live in the FileStore under StorageKey.
type FileRecord struct {
	ID         kernel.FileID
	OwnerID    kernel.UserID
	Purpose    file.Purpose
	Info       file.Info
	StorageKey string
	CreatedAt  time.Time
}

// FileRepository stores file metadata.
type FileRepository interface {
	Add(ctx context.Context, f FileRecord) error
	// Get loads a file record; missing → not-found "file-not-found".
	Get(ctx context.Context, id kernel.FileID) (FileRecord, error)
}

// SignatureRepository stores signature appearances.
type SignatureRepository interface {
	Add(ctx context.Context, s signature.Signature) error
	ListByUser(ctx context.Context, uid kernel.UserID) ([]signature.Signature, error)
	// Get loads one of the user's appearances; another user's id is not-found "signature-not-found".
	Get(ctx context.Context, uid kernel.UserID, id string) (signature.Signature, error)
	// SetDefault makes one appearance the user's default and clears the others.
	SetDefault(ctx context.Context, uid kernel.UserID, id string) error
	Delete(ctx context.Context, uid kernel.UserID, id string) error
}

// Consent is a record of a user's consent to the processing of personal data.
type Consent struct {
	ID       string
	UserID   kernel.UserID
	Scope    string // e.g. "real_name"
	Version  string // version of the consent text
	ClientIP string // kept encrypted
	At       time.Time
}

// ConsentLog keeps consent records.
type ConsentLog interface {
	Append(ctx context.Context, c Consent) error
	ListByUser(ctx context.Context, uid kernel.UserID) ([]Consent, error)
}

// QRCoder draws QR codes.
type QRCoder interface {
	PNG(text string, size int) ([]byte, error)
}
