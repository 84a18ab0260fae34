// Package seals holds the use cases of 印章管理: an enterprise's seals drawn by the platform or
// uploaded, enabled, disabled and deleted, and the grants that let members use them. Everything
// needs an active membership of the enterprise (another enterprise's ids answer 404); the
// enterprise's admins and legal representative manage, members see the seals.
package seals

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"github.com/shuxinqian/server/domain/enterprise"
	"github.com/shuxinqian/server/domain/file"
	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/membership"
	"github.com/shuxinqian/server/domain/seal"
	"github.com/shuxinqian/server/ports"
)

// Limits.
const (
	// MaxPerEnterprise bounds an enterprise's seals (not counting deleted ones).
	MaxPerEnterprise = 100
	// PageSize is the default and largest page of the seal list.
	PageSize = 100
)

// Deps are the ports the seal use cases need.
type Deps struct {
	UoW      ports.UnitOfWork
	Clock    ports.Clock
	IDs      ports.IDs
	Files    ports.FileStore
	Renderer ports.SealRenderer
	Logger   *slog.Logger
}

// Service runs the seal use cases.
type Service struct {
	uow      ports.UnitOfWork
	clock    ports.Clock
	ids      ports.IDs
	files    ports.FileStore
	renderer ports.SealRenderer
	log      *slog.Logger
}

// New builds the service.
func New(d Deps) *Service {
	log := d.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Service{uow: d.UoW, clock: d.Clock, ids: d.IDs, files: d.Files, renderer: d.Renderer, log: log}
}

// ErrEnterpriseNotFound answers every request of a non-member (the same as application's).
var ErrEnterpriseNotFound = kernel.NotFound("enterprise-not-found", "no such enterprise")

// memberOf checks the caller's active membership of the enterprise.
func memberOf(ctx context.Context, tx ports.Tx, uid kernel.UserID, eid kernel.EnterpriseID) (*membership.Membership, error) {
	m, err := tx.Memberships().Current(ctx, eid, uid)
	if kernel.KindOf(err) == kernel.KindNotFound || (err == nil && !m.Active()) {
		return nil, ErrEnterpriseNotFound
	}
	return m, err
}

// adminOf checks an active admin or legal rep membership; a plain member is forbidden.
func adminOf(ctx context.Context, tx ports.Tx, uid kernel.UserID, eid kernel.EnterpriseID) (*membership.Membership, error) {
	m, err := memberOf(ctx, tx, uid, eid)
	if err != nil {
		return nil, err
	}
	if !m.Role.IsAdmin() {
		return nil, kernel.Forbidden("admin-only", "only the enterprise's admins and legal representative manage seals")
	}
	return m, nil
}

// List returns a page of the enterprise's seals, oldest first, after the cursor (a seal id);
// next is the cursor of the following page, "" at the end.
func (s *Service) List(ctx context.Context, uid kernel.UserID, eid kernel.EnterpriseID, after string, limit int) (out []*seal.Seal, next string, err error) {
	if limit <= 0 || limit > PageSize {
		limit = PageSize
	}
	err = s.uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
		if _, err := memberOf(ctx, tx, uid, eid); err != nil {
			return err
		}
		page, err := tx.Seals().List(ctx, eid, seal.ID(after), limit+1)
		if err != nil {
			return err
		}
		if len(page) > limit {
			page = page[:limit]
			next = string(page[limit-1].ID())
		}
		out = page
		return nil
	})
	return out, next, err
}

// Get returns one seal of the enterprise.
func (s *Service) Get(ctx context.Context, uid kernel.UserID, eid kernel.EnterpriseID, id string) (*seal.Seal, error) {
	var out *seal.Seal
	err := s.uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
		if _, err := memberOf(ctx, tx, uid, eid); err != nil {
			return err
		}
		var err error
		out, err = tx.Seals().Get(ctx, eid, seal.ID(id))
		return err
	})
	return out, err
}

// Image returns the seal's PNG.
func (s *Service) Image(ctx context.Context, uid kernel.UserID, eid kernel.EnterpriseID, id string) ([]byte, error) {
	var rec ports.FileRecord
	if err := s.uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
		if _, err := memberOf(ctx, tx, uid, eid); err != nil {
			return err
		}
		sl, err := tx.Seals().Get(ctx, eid, seal.ID(id))
		if err != nil {
			return err
		}
		rec, err = tx.Files().Get(ctx, sl.ImageFileID())
		return err
	}); err != nil {
		return nil, err
	}
	b, err := s.files.Get(ctx, rec.StorageKey)
	if err != nil {
		return nil, kernel.Internal(err)
	}
	return b, nil
}

// CreateInput describes a new seal: from a template, or from an uploaded PNG (FileID, uploaded
// by the caller with purpose "seal").
type CreateInput struct {
	Type     string
	Template string
	Name     string
	FileID   string
}

// Create makes a seal. A template seal is drawn from the enterprise's verified name (and, for
// the square legal representative's seal, the legal representative's name); an uploaded image
// must be a PNG with a transparent background.
func (s *Service) Create(ctx context.Context, uid kernel.UserID, eid kernel.EnterpriseID, in CreateInput) (*seal.Seal, error) {
	typ, err := seal.ParseType(in.Type)
	if err != nil {
		return nil, err
	}
	if (in.FileID == "") == (in.Template == "") {
		return nil, kernel.Invalid("seal-source-invalid", "give a template or a file_id")
	}
	tmpl := seal.TemplateNone
	if in.Template != "" {
		if tmpl, err = seal.ParseTemplate(in.Template); err != nil {
			return nil, err
		}
	}
	if strings.TrimSpace(in.Name) != "" {
		if _, err := seal.ValidateName(in.Name); err != nil {
			return nil, err
		}
	}
	// Check the caller and read what the drawing needs before any work outside the database.
	var e *enterprise.Enterprise
	var upload ports.FileRecord
	if err := s.uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
		if _, err := adminOf(ctx, tx, uid, eid); err != nil {
			return err
		}
		var err error
		if e, err = tx.Enterprises().Get(ctx, eid); err != nil {
			return err
		}
		if in.FileID != "" {
			upload, err = ownFile(ctx, tx, uid, kernel.FileID(in.FileID))
		}
		return err
	}); err != nil {
		return nil, err
	}
	id := seal.ID(s.ids.NewID())
	var fileID kernel.FileID
	var rec *ports.FileRecord
	if tmpl == seal.TemplateNone {
		data, err := s.files.Get(ctx, upload.StorageKey)
		if err != nil {
			return nil, kernel.Internal(err)
		}
		if err := seal.CheckImage(data); err != nil {
			return nil, err
		}
		fileID = upload.ID
	} else {
		r, err := s.draw(ctx, uid, e, typ, tmpl, sealKey(string(id)))
		if err != nil {
			return nil, err
		}
		rec, fileID = &r, r.ID
	}
	var out *seal.Seal
	err = s.uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
		if _, err := adminOf(ctx, tx, uid, eid); err != nil {
			return err
		}
		existing, err := tx.Seals().List(ctx, eid, "", MaxPerEnterprise)
		if err != nil {
			return err
		}
		if len(existing) >= MaxPerEnterprise {
			return kernel.Precondition("seal-limit", "an enterprise keeps at most 100 seals; delete unused ones first").
				WithDetail("max", MaxPerEnterprise)
		}
		if rec != nil {
			if err := tx.Files().Add(ctx, *rec); err != nil {
				return err
			}
		}
		if out, err = seal.New(seal.NewParams{ID: id, EnterpriseID: eid, Type: typ, Name: in.Name, Template: tmpl,
			ImageFileID: fileID, CreatedBy: uid}, s.clock.Now()); err != nil {
			return err
		}
		return tx.Seals().Add(ctx, out)
	})
	if err != nil && rec != nil {
		_ = s.files.Delete(ctx, rec.StorageKey) // no orphan blob
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

// sealKey is the FileStore key of a drawn seal's image (keys are lower case, without dots).
func sealKey(name string) string { return "seals/" + strings.ToLower(name) }

// ownFile loads a file the caller uploaded for a seal; anything else is not found.
func ownFile(ctx context.Context, tx ports.Tx, owner kernel.UserID, id kernel.FileID) (ports.FileRecord, error) {
	rec, err := tx.Files().Get(ctx, id)
	if err != nil {
		return rec, err
	}
	if rec.OwnerID != owner {
		return rec, kernel.NotFound("file-not-found", "no such file")
	}
	if rec.Purpose != file.PurposeSeal {
		return rec, kernel.Invalid("file-purpose-mismatch", "the file was uploaded for another purpose").
			WithDetail("expected", string(file.PurposeSeal))
	}
	return rec, nil
}

// draw renders a template seal and stores its PNG under key; the file record is returned for
// the caller to insert in its transaction. The same key holds the same bytes when retried.
func (s *Service) draw(ctx context.Context, uid kernel.UserID, e *enterprise.Enterprise, typ seal.Type, tmpl seal.Template, key string) (ports.FileRecord, error) {
	spec := ports.SealSpec{Template: tmpl, EnterpriseName: e.Name(), Label: typ.Label()}
	if tmpl == seal.TemplateSquare && typ == seal.TypeLegalRep {
		spec.LegalRepName, spec.Label = e.LegalRepName(), ""
	}
	png, err := s.renderer.RenderSeal(spec)
	if err != nil {
		return ports.FileRecord{}, err
	}
	info, err := file.Inspect(file.PurposeSeal, png)
	if err != nil {
		return ports.FileRecord{}, kernel.Internal(err)
	}
	if err := s.files.Put(ctx, key, png); err != nil {
		return ports.FileRecord{}, kernel.Internal(err)
	}
	return ports.FileRecord{ID: kernel.FileID(s.ids.NewID()), OwnerID: uid, Purpose: file.PurposeSeal, Info: info,
		StorageKey: key, CreatedAt: s.clock.Now()}, nil
}

// UpdateInput changes a seal: a new display name and/or status (nil: unchanged).
type UpdateInput struct {
	Name   *string
	Status *string
}

// Update renames, enables or disables a seal.
func (s *Service) Update(ctx context.Context, uid kernel.UserID, eid kernel.EnterpriseID, id string, in UpdateInput) (*seal.Seal, error) {
	var st seal.Status
	if in.Status != nil {
		var err error
		if st, err = seal.ParseSettableStatus(*in.Status); err != nil {
			return nil, err
		}
	}
	if in.Name == nil && in.Status == nil {
		return nil, kernel.Invalid("seal-update-empty", "give a name or a status")
	}
	now := s.clock.Now()
	var out *seal.Seal
	err := s.uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
		if _, err := adminOf(ctx, tx, uid, eid); err != nil {
			return err
		}
		return tx.Seals().Update(ctx, eid, seal.ID(id), func(sl *seal.Seal) error {
			out = sl
			if in.Name != nil {
				if err := sl.Rename(*in.Name, uid, now); err != nil {
					return err
				}
			}
			if in.Status != nil {
				return sl.SetStatus(st, uid, now)
			}
			return nil
		})
	})
	return out, err
}

// Delete deletes a seal that never signed.
func (s *Service) Delete(ctx context.Context, uid kernel.UserID, eid kernel.EnterpriseID, id string) error {
	now := s.clock.Now()
	return s.uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
		if _, err := adminOf(ctx, tx, uid, eid); err != nil {
			return err
		}
		return tx.Seals().Update(ctx, eid, seal.ID(id), func(sl *seal.Seal) error { return sl.Delete(uid, now) })
	})
}

// Grants lists a seal's grants, oldest first (admins).
func (s *Service) Grants(ctx context.Context, uid kernel.UserID, eid kernel.EnterpriseID, id string) ([]seal.Grant, error) {
	var out []seal.Grant
	err := s.uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
		if _, err := adminOf(ctx, tx, uid, eid); err != nil {
			return err
		}
		sl, err := tx.Seals().Get(ctx, eid, seal.ID(id))
		if err != nil {
			return err
		}
		out = sl.Grants()
		return nil
	})
	return out, err
}

// Grant lets an active member of the enterprise use the seal, optionally until expiresAt.
func (s *Service) Grant(ctx context.Context, uid kernel.UserID, eid kernel.EnterpriseID, id, memberID string, expiresAt time.Time) (seal.Grant, error) {
	now := s.clock.Now()
	var out seal.Grant
	err := s.uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
		if _, err := adminOf(ctx, tx, uid, eid); err != nil {
			return err
		}
		m, err := tx.Memberships().GetByID(ctx, eid, kernel.MembershipID(memberID))
		if err != nil {
			return err
		}
		if !m.Active() || m.UserID == "" {
			return kernel.Precondition("member-not-active", "only an active member can be granted a seal")
		}
		return tx.Seals().Update(ctx, eid, seal.ID(id), func(sl *seal.Seal) error {
			out, err = sl.GrantTo(seal.GrantID(s.ids.NewID()), m.ID, m.UserID, expiresAt, uid, now)
			return err
		})
	})
	return out, err
}

// Revoke ends a grant at once.
func (s *Service) Revoke(ctx context.Context, uid kernel.UserID, eid kernel.EnterpriseID, id, grantID string) error {
	now := s.clock.Now()
	return s.uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
		if _, err := adminOf(ctx, tx, uid, eid); err != nil {
			return err
		}
		return tx.Seals().Update(ctx, eid, seal.ID(id), func(sl *seal.Seal) error {
			return sl.RevokeGrant(seal.GrantID(grantID), uid, now)
		})
	})
}

// CreateOfficialSeal is the consumer of EnterpriseVerified: a newly verified enterprise gets
// its round official seal. Idempotent: an enterprise has at most one automatic seal (the store
// refuses a second), the image's key is the same on every delivery, and a redelivery after the
// commit finds the seal and does nothing.
func (s *Service) CreateOfficialSeal(ctx context.Context, ev *enterprise.EnterpriseVerified) error {
	var e *enterprise.Enterprise
	done := false
	if err := s.uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
		var err error
		if done, err = tx.Seals().HasAutomatic(ctx, ev.EnterpriseID); err != nil || done {
			return err
		}
		e, err = tx.Enterprises().Get(ctx, ev.EnterpriseID)
		return err
	}); err != nil || done {
		return err
	}
	rec, err := s.draw(ctx, ev.InitiatorID, e, seal.TypeOfficial, seal.TemplateRoundStar, sealKey("official-"+string(e.ID())))
	if err != nil {
		return err
	}
	err = s.uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
		if err := tx.Files().Add(ctx, rec); err != nil {
			return err
		}
		sl, err := seal.New(seal.NewParams{ID: seal.ID(s.ids.NewID()), EnterpriseID: e.ID(), Type: seal.TypeOfficial,
			Template: seal.TemplateRoundStar, ImageFileID: rec.ID, Automatic: true, CreatedBy: ev.InitiatorID}, s.clock.Now())
		if err != nil {
			return err
		}
		return tx.Seals().Add(ctx, sl)
	})
	if kernel.CodeOf(err) == "seal-automatic-exists" {
		return nil // a concurrent delivery made it
	}
	return err
}
