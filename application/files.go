package application

import (
	"context"

	"github.com/shuxinqian/server/domain/file"
	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/signature"
	"github.com/shuxinqian/server/domain/user"
	"github.com/shuxinqian/server/ports"
)

// UploadFile checks an upload by its content and stores it for its owner.
func (a *App) UploadFile(ctx context.Context, actor Actor, purpose string, data []byte) (ports.FileRecord, error) {
	p, err := file.ParsePurpose(purpose)
	if err != nil {
		return ports.FileRecord{}, err
	}
	if err := a.countUpload(ctx, "upload-user:"+actor.UserID, UploadsPerUser); err != nil {
		return ports.FileRecord{}, err
	}
	info, err := inspectUpload(ctx, p, data)
	if err != nil {
		return ports.FileRecord{}, err
	}
	if p == file.PurposeDocument {
		if err := a.checkDocument(ctx, data); err != nil {
			return ports.FileRecord{}, err
		}
	}
	return a.storeFile(ctx, kernel.UserID(actor.UserID), p, info, data)
}

// checkDocument refuses a PDF that cannot be signed (encrypted, damaged, too many pages,
// certified with no changes permitted) before it is stored.
func (a *App) checkDocument(ctx context.Context, data []byte) error {
	if a.pdfIntake == nil {
		return kernel.Precondition("documents-not-supported", "this server does not accept documents to sign")
	}
	_, err := a.pdfIntake.CheckPDF(ctx, data)
	return err
}

func (a *App) storeFile(ctx context.Context, owner kernel.UserID, p file.Purpose, info file.Info, data []byte) (ports.FileRecord, error) {
	id := kernel.FileID(a.ids.NewID())
	rec := ports.FileRecord{ID: id, OwnerID: owner, Purpose: p, Info: info, StorageKey: "files/" + string(id), CreatedAt: a.clock.Now()}
	if err := a.files.Put(ctx, rec.StorageKey, data); err != nil {
		return ports.FileRecord{}, kernel.Internal(err)
	}
	if err := a.uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error { return tx.Files().Add(ctx, rec) }); err != nil {
		_ = a.files.Delete(ctx, rec.StorageKey) // no orphan blob
		return ports.FileRecord{}, err
	}
	return rec, nil
}

// ownFile loads a file the caller uploaded for the given purpose; anything else is not found.
func ownFile(ctx context.Context, tx ports.Tx, owner kernel.UserID, id kernel.FileID, p file.Purpose) (ports.FileRecord, error) {
	rec, err := tx.Files().Get(ctx, id)
	if err != nil {
		return rec, err
	}
	if rec.OwnerID != owner {
		return rec, kernel.NotFound("file-not-found", "no such file")
	}
	if rec.Purpose != p {
		return rec, kernel.Invalid("file-purpose-mismatch", "the file was uploaded for another purpose").
			WithDetail("expected", string(p))
	}
	return rec, nil
}

// Signatures lists the caller's signature appearances.
func (a *App) Signatures(ctx context.Context, actor Actor) ([]signature.Signature, error) {
	var out []signature.Signature
	err := a.uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
		var err error
		out, err = tx.Signatures().ListByUser(ctx, kernel.UserID(actor.UserID))
		return err
	})
	return out, err
}

// CreateSignature adds an appearance from an uploaded PNG (fileID) or generated from the
// verified real name (generate).
func (a *App) CreateSignature(ctx context.Context, actor Actor, fileID string, generate bool) (signature.Signature, error) {
	uid := kernel.UserID(actor.UserID)
	now := a.clock.Now()
	if (fileID == "") == !generate {
		return signature.Signature{}, kernel.Invalid("signature-source-invalid", "give file_id or generate: true")
	}
	kind := signature.KindUploaded
	fid := kernel.FileID(fileID)
	if generate {
		kind = signature.KindGenerated
		u, err := a.loadUser(ctx, uid)
		if err != nil {
			return signature.Signature{}, err
		}
		if u.RealNameStatus() != user.RealNameVerified {
			return signature.Signature{}, kernel.Precondition("real-name-required", "verify your real name to generate a signature from it")
		}
		png, err := a.renderer.RenderSignature(u.Identity().Name)
		if err != nil {
			return signature.Signature{}, err
		}
		info, err := file.Inspect(file.PurposeSignature, png)
		if err != nil {
			return signature.Signature{}, kernel.Internal(err)
		}
		rec, err := a.storeFile(ctx, uid, file.PurposeSignature, info, png)
		if err != nil {
			return signature.Signature{}, err
		}
		fid = rec.ID
	}
	var sig signature.Signature
	err := a.uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
		if !generate {
			if _, err := ownFile(ctx, tx, uid, fid, file.PurposeSignature); err != nil {
				return err
			}
		}
		existing, err := tx.Signatures().ListByUser(ctx, uid)
		if err != nil {
			return err
		}
		if sig, err = signature.New(a.ids.NewID(), uid, fid, kind, len(existing), now); err != nil {
			return err
		}
		return tx.Signatures().Add(ctx, sig)
	})
	return sig, err
}

// SetDefaultSignature makes one appearance the default.
func (a *App) SetDefaultSignature(ctx context.Context, actor Actor, id string) (signature.Signature, error) {
	var sig signature.Signature
	err := a.uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
		uid := kernel.UserID(actor.UserID)
		if err := tx.Signatures().SetDefault(ctx, uid, id); err != nil {
			return err
		}
		var err error
		sig, err = tx.Signatures().Get(ctx, uid, id)
		return err
	})
	return sig, err
}

// DeleteSignature removes an appearance; when it was the default, the newest remaining one
// becomes the default.
func (a *App) DeleteSignature(ctx context.Context, actor Actor, id string) error {
	return a.uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
		uid := kernel.UserID(actor.UserID)
		sig, err := tx.Signatures().Get(ctx, uid, id)
		if err != nil {
			return err
		}
		if err := tx.Signatures().Delete(ctx, uid, id); err != nil {
			return err
		}
		if !sig.Default {
			return nil
		}
		rest, err := tx.Signatures().ListByUser(ctx, uid)
		if err != nil || len(rest) == 0 {
			return err
		}
		return tx.Signatures().SetDefault(ctx, uid, rest[0].ID)
	})
}

// SignatureImage returns the PNG of one of the caller's appearances.
func (a *App) SignatureImage(ctx context.Context, actor Actor, id string) ([]byte, error) {
	var rec ports.FileRecord
	if err := a.uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
		sig, err := tx.Signatures().Get(ctx, kernel.UserID(actor.UserID), id)
		if err != nil {
			return err
		}
		rec, err = tx.Files().Get(ctx, sig.FileID)
		return err
	}); err != nil {
		return nil, err
	}
	b, err := a.files.Get(ctx, rec.StorageKey)
	if err != nil {
		return nil, kernel.Internal(err)
	}
	return b, nil
}
