package signflow

import (
	"time"

	"github.com/shuxinqian/server/domain/kernel"
)

// Snapshot is the persisted form of a Flow.
type Snapshot struct {
	ID           ID
	InitiatorID  kernel.UserID
	EnterpriseID kernel.EnterpriseID
	Title        string
	Documents    []Document
	Signers      []Signer
	Ordered      bool
	Certify      bool
	ExpiresAt    time.Time
	Status       Status
	CreatedAt    time.Time
	StartedAt    time.Time
	EndedAt      time.Time
	EndReason    string
	Version      int64
}

// Snapshot returns the persisted form.
func (f *Flow) Snapshot() Snapshot {
	return Snapshot{ID: f.id, InitiatorID: f.initiatorID, EnterpriseID: f.enterpriseID, Title: f.title, Documents: f.Documents(),
		Signers: f.Signers(), Ordered: f.ordered, Certify: f.certify, ExpiresAt: f.expiresAt, Status: f.status, CreatedAt: f.createdAt,
		StartedAt: f.startedAt, EndedAt: f.endedAt, EndReason: f.endReason, Version: f.version}
}

// FromSnapshot rehydrates a Flow (adapters only).
func FromSnapshot(s Snapshot) *Flow {
	f := &Flow{id: s.ID, initiatorID: s.InitiatorID, enterpriseID: s.EnterpriseID, title: s.Title,
		documents: append([]Document(nil), s.Documents...), ordered: s.Ordered, certify: s.Certify, expiresAt: s.ExpiresAt, status: s.Status,
		createdAt: s.CreatedAt, startedAt: s.StartedAt, endedAt: s.EndedAt, endReason: s.EndReason, version: s.Version}
	f.signers = make([]Signer, len(s.Signers))
	for i, sg := range s.Signers {
		sg.Fields = append([]Field(nil), sg.Fields...)
		f.signers[i] = sg
	}
	return f
}
