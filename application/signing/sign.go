package signing

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"strings"
	"time"

	"github.com/shuxinqian/server/domain/file"
	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/membership"
	"github.com/shuxinqian/server/domain/seal"
	"github.com/shuxinqian/server/domain/signflow"
	"github.com/shuxinqian/server/ports"
)

// SignInput is a signing: a person with one of their signature appearances, an enterprise
// with one of its seals; always with the signer's own signing password.
type SignInput struct {
	SignerID        string
	SignatureID     string
	SealID          string
	SigningPassword string
	IP              string
}

// ErrSealGrantRequired answers a member who holds no active grant of the seal (or is no longer a
// member): 403 at once.
var ErrSealGrantRequired = kernel.Forbidden("seal-not-granted", "you hold no active grant of this seal of the signer's enterprise")

// prepared is what phase one (under the flow's row lock) hands to the signing outside it.
type prepared struct {
	signer     signflow.Signer
	quota      kernel.EnterpriseID
	imageKey   string
	docs       []ports.SignFlowDocument
	docKeys    map[int]string
	certifyDoc map[int]bool
	title      string
}

// Sign signs the caller's current signer: the turn and (for an enterprise) one signature of its
// quota are reserved under the flow's row lock; the PDFs are signed outside any transaction
// (key opened with the signing password, TSA called); the new versions and the signing are
// committed under the lock again. Any failure gives the turn and the signature back: nothing
// half-signed.
func (s *Service) Sign(ctx context.Context, uid kernel.UserID, id string, in SignInput) (*FlowView, error) {
	if strings.TrimSpace(in.SigningPassword) == "" {
		return nil, kernel.Invalid("signing-password-required", "give your signing password (签署密码) to sign")
	}
	c, v, err := s.load(ctx, uid, id)
	if err != nil {
		return nil, err
	}
	sid, err := pickSigner(c, v.Flow, in.SignerID)
	if err != nil {
		return nil, err
	}
	fid := signflow.ID(id)
	now := s.d.Clock.Now()
	var p prepared
	// Phase 1: check and reserve under the flow's row lock.
	err = s.d.UoW.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
		return tx.SignFlows().Update(ctx, fid, func(v *ports.SignFlowView) error {
			var err error
			p, err = s.prepare(ctx, tx, c, v, sid, in, now)
			if err != nil {
				return err
			}
			return tx.SignFlows().TakeTurn(ctx, ports.SigningTurn{FlowID: fid, SignerID: sid, UserID: uid, EnterpriseID: p.quota,
				Until: now.Add(s.d.Settings.TurnTimeout)}, now)
		})
	})
	if err != nil {
		return nil, err
	}
	release := func() {
		_ = s.d.UoW.Do(context.WithoutCancel(ctx), func(ctx context.Context, tx ports.Tx) error {
			return tx.SignFlows().EndTurn(ctx, fid, sid, false)
		})
	}
	// Phase 2: sign outside any transaction.
	out, serial, err := s.signPDFs(ctx, uid, p, in.SigningPassword)
	if err != nil {
		release()
		return nil, err
	}
	var stored []string
	cleanup := func() {
		for _, k := range stored {
			_ = s.d.Files.Delete(context.WithoutCancel(ctx), k)
		}
	}
	recs := make(map[int]ports.FileRecord, len(out))
	signedAt := s.d.Clock.Now()
	for idx, b := range out {
		fileID := kernel.FileID(s.d.IDs.NewID())
		key := "signflows/" + strings.ToLower(id) + "/" + string(fileID)
		if err := s.d.Files.Put(ctx, key, b); err != nil {
			cleanup()
			release()
			return nil, kernel.Internal(err)
		}
		stored = append(stored, key)
		sum := sha256.Sum256(b)
		recs[idx] = ports.FileRecord{ID: fileID, OwnerID: v.Flow.InitiatorID(), Purpose: file.PurposeDocument,
			Info: file.Info{ContentType: file.TypePDF, Size: int64(len(b)), SHA256: hex.EncodeToString(sum[:])}, StorageKey: key, CreatedAt: signedAt}
	}
	// Phase 3: commit under the lock; the grant and the turn are checked again.
	err = s.d.UoW.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
		return tx.SignFlows().Update(ctx, fid, func(v *ports.SignFlowView) error {
			if _, err := s.prepare(ctx, tx, c, v, sid, in, signedAt); err != nil {
				return err
			}
			sg := ports.SignFlowSigning{SignerID: sid, UserID: uid, SealID: in.SealID, SignatureID: in.SignatureID, IP: in.IP,
				CertSerial: serial, At: kernel.OccurredAt(signedAt), HashBefore: map[int]string{}, HashAfter: map[int]string{}}
			for i := range v.Documents {
				rec, ok := recs[v.Documents[i].Index]
				if !ok {
					continue
				}
				if v.Documents[i].CurrentFileID != p.docs[i].CurrentFileID {
					return kernel.Conflict("concurrent-update", "the document changed meanwhile; try again")
				}
				if err := tx.Files().Add(ctx, rec); err != nil {
					return err
				}
				sg.HashBefore[v.Documents[i].Index] = v.Documents[i].CurrentSHA256
				sg.HashAfter[v.Documents[i].Index] = rec.Info.SHA256
				v.Documents[i].Version++
				v.Documents[i].CurrentFileID, v.Documents[i].CurrentSHA256 = rec.ID, rec.Info.SHA256
			}
			if err := v.Flow.Sign(sid, uid, signedAt); err != nil {
				return err
			}
			v.Signings = append(v.Signings, sg)
			detail, _ := json.Marshal(map[string]any{"signer_id": sid, "kind": p.signer.Kind, "seal_id": in.SealID, "signature_id": in.SignatureID,
				"ip": maskIP(in.IP), "certificate_serial": serial, "hash_before": sg.HashBefore, "hash_after": sg.HashAfter})
			v.Notes = append(v.Notes, ports.SignFlowNote{Type: "signflow.signature_made", Actor: string(uid), Detail: string(detail), At: signedAt})
			if p.signer.Kind == signflow.KindOrganization {
				if err := tx.Seals().Update(ctx, p.signer.EnterpriseID, seal.ID(in.SealID), func(sl *seal.Seal) error {
					return sl.MarkUsed(uid, signedAt)
				}); err != nil {
					return err
				}
			}
			return tx.SignFlows().EndTurn(ctx, fid, sid, true)
		})
	})
	if err != nil {
		cleanup()
		release()
		return nil, err
	}
	return s.Get(ctx, uid, id)
}

// prepare checks, under the flow's lock, that the caller may sign as the signer now, and reads
// what the signing needs.
func (s *Service) prepare(ctx context.Context, tx ports.Tx, c caller, v *ports.SignFlowView, sid signflow.SignerID, in SignInput, now time.Time) (prepared, error) {
	f := v.Flow
	switch {
	case f.Status() == signflow.StatusDraft:
		return prepared{}, signflow.ErrNotSigning
	case f.Status().Ended():
		return prepared{}, signflow.ErrEnded
	case !now.Before(f.ExpiresAt()):
		return prepared{}, signflow.ErrExpired
	}
	sg, err := f.SignerFor(sid)
	if err != nil {
		return prepared{}, err
	}
	switch {
	case !c.matches(sg):
		return prepared{}, ErrNotSigner
	case sg.State == signflow.SignerSigned:
		return prepared{}, kernel.Conflict("flow-already-signed", "this signer has signed")
	case sg.State != signflow.SignerCurrent:
		return prepared{}, signflow.ErrNotYourTurn
	}
	p := prepared{signer: sg, title: f.Title(), docs: append([]ports.SignFlowDocument(nil), v.Documents...),
		docKeys: map[int]string{}, certifyDoc: map[int]bool{}}
	var imageFile kernel.FileID
	if sg.Kind == signflow.KindPerson {
		if !c.verified || c.name != sg.Name {
			return prepared{}, ErrSignerUnknown
		}
		if in.SignatureID == "" {
			return prepared{}, kernel.Invalid("signature-id-required", "a person signs with signature_id (one of your signature appearances)")
		}
		sig, err := tx.Signatures().Get(ctx, c.uid, in.SignatureID)
		if err != nil {
			return prepared{}, err
		}
		imageFile = sig.FileID
		platform, err := tx.Channels().Platform(ctx)
		if err != nil {
			return prepared{}, err
		}
		if platform.ChargingEnabled && f.EnterpriseID() != "" {
			p.quota = f.EnterpriseID()
		}
	} else {
		if in.SealID == "" {
			return prepared{}, kernel.Invalid("seal-id-required", "an enterprise signs with seal_id (a seal you hold a grant of)")
		}
		m, err := tx.Memberships().Current(ctx, sg.EnterpriseID, c.uid)
		if kernel.KindOf(err) == kernel.KindNotFound || (err == nil && m.Status != membership.StatusActive) {
			return prepared{}, ErrSealGrantRequired
		}
		if err != nil {
			return prepared{}, err
		}
		sl, err := tx.Seals().Get(ctx, sg.EnterpriseID, seal.ID(in.SealID))
		if err != nil {
			return prepared{}, err
		}
		if _, err := sl.Authorize(c.uid, now); err != nil {
			return prepared{}, err
		}
		imageFile = sl.ImageFileID()
		p.quota = sg.EnterpriseID
	}
	rec, err := tx.Files().Get(ctx, imageFile)
	if err != nil {
		return prepared{}, err
	}
	p.imageKey = rec.StorageKey
	first := true
	for _, o := range f.Signers() {
		if o.State == signflow.SignerSigned {
			first = false
		}
	}
	for _, fd := range sg.Fields {
		if _, ok := p.docKeys[fd.Document]; ok {
			continue
		}
		rec, err := tx.Files().Get(ctx, v.Documents[fd.Document].CurrentFileID)
		if err != nil {
			return prepared{}, err
		}
		p.docKeys[fd.Document] = rec.StorageKey
		p.certifyDoc[fd.Document] = f.Certify() && first
	}
	return p, nil
}

// signPDFs signs every document the signer has fields in: one signature a field (the first of a
// document certifies it when the flow asks and the document has no signature yet).
func (s *Service) signPDFs(ctx context.Context, uid kernel.UserID, p prepared, password string) (map[int][]byte, string, error) {
	image, err := s.d.Files.Get(ctx, p.imageKey)
	if err != nil {
		return nil, "", kernel.Internal(err)
	}
	pdfs := map[int][]byte{}
	for idx, key := range p.docKeys {
		b, err := s.d.Files.Get(ctx, key)
		if err != nil {
			return nil, "", kernel.Internal(err)
		}
		pdfs[idx] = b
	}
	var serial string
	sign := func(k ports.OneTimeSigner) error {
		chain, err := chainOf(k)
		if err != nil {
			return err
		}
		serial = fmt.Sprintf("%X", chain[0].SerialNumber)
		name := p.signer.Name
		for idx := range pdfs {
			if p.certifyDoc[idx] {
				if pdfs[idx], err = s.d.PDF.Sign(ctx, ports.PDFSignRequest{PDF: pdfs[idx], Signer: k.Signer, Chain: chain, Name: name,
					Reason: "certify: " + p.title, Certify: true, TSA: s.d.Settings.TSA, SigningTime: s.d.Clock.Now(),
					Field: firstField(p.signer, idx)}); err != nil {
					return err
				}
			}
			for _, fd := range p.signer.Fields {
				if fd.Document != idx {
					continue
				}
				if pdfs[idx], err = s.d.PDF.Sign(ctx, ports.PDFSignRequest{PDF: pdfs[idx], Signer: k.Signer, Chain: chain, Image: image,
					Field: ports.PDFField{Page: fd.Page, X: fd.X, Y: fd.Y, W: fd.W, H: fd.H}, Name: name, Reason: p.title,
					Location: "数信签", TSA: s.d.Settings.TSA, SigningTime: s.d.Clock.Now()}); err != nil {
					return err
				}
			}
		}
		return nil
	}
	unlock := s.keyLocks.lock(uid)
	defer unlock()
	if p.signer.Kind == signflow.KindOrganization {
		err = s.d.Keys.WithOrganisationKey(ctx, uid, p.signer.EnterpriseID, password, sign)
	} else {
		err = s.d.Keys.WithPersonalKey(ctx, uid, password, sign)
	}
	if err != nil {
		return nil, "", err
	}
	return pdfs, serial, nil
}

func firstField(sg signflow.Signer, doc int) ports.PDFField {
	for _, fd := range sg.Fields {
		if fd.Document == doc {
			return ports.PDFField{Page: fd.Page, X: fd.X, Y: fd.Y, W: fd.W, H: fd.H}
		}
	}
	return ports.PDFField{}
}

// chainOf is the signing certificate then its issuers.
func chainOf(k ports.OneTimeSigner) ([]*x509.Certificate, error) {
	leaf, err := x509.ParseCertificate(k.CertificateDER)
	if err != nil {
		return nil, kernel.Internal(err)
	}
	chain := []*x509.Certificate{leaf}
	rest := k.ChainPEM
	for {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, kernel.Internal(err)
		}
		chain = append(chain, c)
	}
	return chain, nil
}

// maskIP keeps the network part of an address for the hash chain (the full address is kept
// sealed with the signing).
func maskIP(ip string) string {
	if i := strings.LastIndexAny(ip, ".:"); i > 0 {
		return ip[:i+1] + "*"
	}
	return ""
}
