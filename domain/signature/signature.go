// Package signature holds signature appearances (签名外观): PNG images a user draws or generates
// from the real name, one of which is the default used when signing.
package signature

import (
	"time"

	"github.com/shuxinqian/server/domain/kernel"
)

// MaxPerUser bounds how many appearances a user keeps.
const MaxPerUser = 20

// Kind tells drawn from generated appearances.
type Kind string

// Kinds.
const (
	KindUploaded  Kind = "uploaded"
	KindGenerated Kind = "generated"
)

// Signature is one appearance.
type Signature struct {
	ID        string
	UserID    kernel.UserID
	FileID    kernel.FileID
	Kind      Kind
	Default   bool
	CreatedAt time.Time
}

// New validates a new appearance. count is how many the user has already.
func New(id string, uid kernel.UserID, file kernel.FileID, kind Kind, count int, now time.Time) (Signature, error) {
	if count >= MaxPerUser {
		return Signature{}, kernel.Precondition("signature-limit", "at most 20 signature appearances; delete one first").
			WithDetail("max", MaxPerUser)
	}
	if id == "" || uid == "" || file == "" || (kind != KindUploaded && kind != KindGenerated) {
		return Signature{}, kernel.Invalid("signature-incomplete", "signature needs an id, an owner, an image and a kind")
	}
	return Signature{ID: id, UserID: uid, FileID: file, Kind: kind, Default: count == 0, CreatedAt: kernel.OccurredAt(now)}, nil
}
