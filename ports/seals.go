package ports

import (
	"context"
	"time"

	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/seal"
)

//go:generate go tool mockgen -typed -destination=mocks/seals_mocks.go -package=mocks github.com/shuxinqian/server/ports SealRepository,SealRenderer,PDFSigner

// SealRepository stores enterprises' seals with their grants.
type SealRepository interface {
	// Add inserts a seal; a second automatic seal of one enterprise is the conflict
	// "seal-automatic-exists".
	Add(ctx context.Context, s *seal.Seal) error
	// Get loads a seal of the enterprise; another enterprise's id, or a deleted seal, is
	// not-found "seal-not-found".
	Get(ctx context.Context, eid kernel.EnterpriseID, id seal.ID) (*seal.Seal, error)
	// List returns the enterprise's seals that are not deleted, oldest first, after the seal
	// id `after` (a cursor; "" from the start), at most limit, in one query for the seals and
	// one for their grants.
	List(ctx context.Context, eid kernel.EnterpriseID, after seal.ID, limit int) ([]*seal.Seal, error)
	// Update loads a seal under a row lock, applies fn and saves it with its grants and events.
	Update(ctx context.Context, eid kernel.EnterpriseID, id seal.ID, fn func(s *seal.Seal) error) error
	// HasAutomatic reports whether the enterprise already has its automatic official seal.
	HasAutomatic(ctx context.Context, eid kernel.EnterpriseID) (bool, error)
	// RevokeMemberGrants ends every open grant of a membership on every seal of the enterprise
	// (seal.RevokeMember on each, saved with its events); it reports how many grants ended.
	RevokeMemberGrants(ctx context.Context, eid kernel.EnterpriseID, mid kernel.MembershipID, by kernel.UserID, now time.Time) (int, error)
}

// SealSpec is what a platform-drawn seal shows.
type SealSpec struct {
	Template seal.Template
	// EnterpriseName runs along the upper arc (round and oval seals).
	EnterpriseName string
	// Label is drawn along the bottom (合同专用章...); may be empty (the official seal).
	Label string
	// LegalRepName is what the square seal shows (法定代表人章: the name + 印).
	LegalRepName string
	// DiameterMM and DPI size the image; zero means 42 mm at 300 dpi.
	DiameterMM float64
	DPI        int
}

// SealRenderer draws seals as PNGs with a transparent background.
type SealRenderer interface {
	RenderSeal(spec SealSpec) ([]byte, error)
}
