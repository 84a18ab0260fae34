package seal

import (
	"time"

	"github.com/shuxinqian/server/domain/kernel"
)

// Snapshot is the persisted form of a Seal.
type Snapshot struct {
	ID           ID
	EnterpriseID kernel.EnterpriseID
	Type         Type
	Name         string
	Template     Template
	ImageFileID  kernel.FileID
	Automatic    bool
	Status       Status
	CreatedBy    kernel.UserID
	CreatedAt    time.Time
	UpdatedAt    time.Time
	UsedCount    int64
	LastUsedAt   time.Time
	DeletedAt    time.Time
	Grants       []Grant
	Version      int64
}

// Snapshot returns the persisted form.
func (s *Seal) Snapshot() Snapshot {
	return Snapshot{ID: s.id, EnterpriseID: s.enterpriseID, Type: s.typ, Name: s.name, Template: s.template,
		ImageFileID: s.imageFileID, Automatic: s.automatic, Status: s.status, CreatedBy: s.createdBy, CreatedAt: s.createdAt,
		UpdatedAt: s.updatedAt, UsedCount: s.usedCount, LastUsedAt: s.lastUsedAt, DeletedAt: s.deletedAt, Grants: s.Grants(),
		Version: s.version}
}

// FromSnapshot rehydrates a Seal (adapters only).
func FromSnapshot(p Snapshot) *Seal {
	return &Seal{id: p.ID, enterpriseID: p.EnterpriseID, typ: p.Type, name: p.Name, template: p.Template,
		imageFileID: p.ImageFileID, automatic: p.Automatic, status: p.Status, createdBy: p.CreatedBy, createdAt: p.CreatedAt,
		updatedAt: p.UpdatedAt, usedCount: p.UsedCount, lastUsedAt: p.LastUsedAt, deletedAt: p.DeletedAt,
		grants: append([]Grant(nil), p.Grants...), version: p.Version}
}
