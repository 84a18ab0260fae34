package signing

import (
	"context"
	"encoding/hex"
	"time"

	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/seal"
	"github.com/shuxinqian/server/domain/signflow"
	"github.com/shuxinqian/server/ports"
)

// Document returns a document of the flow as signed so far.
func (s *Service) Document(ctx context.Context, uid kernel.UserID, id string, index int) ([]byte, string, error) {
	_, v, err := s.load(ctx, uid, id)
	if err != nil {
		return nil, "", err
	}
	if index < 0 || index >= len(v.Documents) {
		return nil, "", kernel.NotFound("flow-document-not-found", "no such document of this flow")
	}
	var rec ports.FileRecord
	if err := s.d.UoW.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
		var err error
		rec, err = tx.Files().Get(ctx, v.Documents[index].CurrentFileID)
		return err
	}); err != nil {
		return nil, "", err
	}
	b, err := s.d.Files.Get(ctx, rec.StorageKey)
	if err != nil {
		return nil, "", kernel.Internal(err)
	}
	return b, v.Documents[index].Name, nil
}

// Evidence renders the flow's evidence report: the signers' identity checks, IPs, times,
// document hashes before and after each signature, and the hash chain of the flow's events
// whose head is timestamped now.
func (s *Service) Evidence(ctx context.Context, uid kernel.UserID, id string) ([]byte, error) {
	if _, _, err := s.load(ctx, uid, id); err != nil {
		return nil, err
	}
	if s.d.Evidence == nil {
		return nil, kernel.Unavailable("evidence-unavailable", "the evidence report renderer is not configured", nil)
	}
	r, err := s.EvidenceReport(ctx, uid, id)
	if err != nil {
		return nil, err
	}
	return s.d.Evidence.RenderEvidence(ctx, r)
}

// EvidenceReport builds what evidence.pdf shows (names and phones masked).
func (s *Service) EvidenceReport(ctx context.Context, uid kernel.UserID, id string) (ports.EvidenceReport, error) {
	_, v, err := s.load(ctx, uid, id)
	if err != nil {
		return ports.EvidenceReport{}, err
	}
	f := v.Flow
	r := ports.EvidenceReport{FlowID: string(f.ID()), Title: f.Title(), Status: string(f.Status()), CreatedAt: f.CreatedAt(),
		FinishedAt: f.EndedAt(), GeneratedAt: s.d.Clock.Now()}
	for _, d := range v.Documents {
		r.Documents = append(r.Documents, ports.EvidenceDocument{Index: d.Index, Name: d.Name, Pages: d.Pages,
			OriginalSHA256: d.OriginalSHA256, CurrentSHA256: d.CurrentSHA256})
	}
	signings := map[signflow.SignerID]ports.SignFlowSigning{}
	for _, sg := range v.Signings {
		signings[sg.SignerID] = sg
	}
	err = s.d.UoW.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
		ini, err := tx.Users().Get(ctx, f.InitiatorID())
		if err != nil {
			return err
		}
		r.Initiator = kernel.MaskName(ini.Identity().Name) + " " + ini.Phone().Masked()
		for _, sg := range f.Signers() {
			es := ports.EvidenceSigner{Kind: string(sg.Kind), Name: kernel.MaskName(sg.Name), Phone: sg.Phone.Masked(), Status: string(sg.State)}
			if sg.Kind == signflow.KindOrganization {
				if e, err := tx.Enterprises().Get(ctx, sg.EnterpriseID); err == nil {
					es.Enterprise = e.Name()
				}
			}
			if rec, ok := signings[sg.ID]; ok {
				es.SignedAt, es.IP, es.CertificateSerial = rec.At, rec.IP, rec.CertSerial
				for _, d := range v.Documents {
					if h, ok := rec.HashBefore[d.Index]; ok {
						es.HashBefore, es.HashAfter = h, rec.HashAfter[d.Index]
						break
					}
				}
				u, err := tx.Users().Get(ctx, rec.UserID)
				if err != nil {
					return err
				}
				method := u.Identity().Method
				if sg.Kind == signflow.KindOrganization {
					es.Member = kernel.MaskName(u.Identity().Name) + " " + u.Phone().Masked()
					es.IdentityChecks = []string{"企业实名认证", "经办人实名认证（" + method + "）", "印章授权", "签署密码"}
					if sl, err := tx.Seals().Get(ctx, sg.EnterpriseID, seal.ID(rec.SealID)); err == nil {
						es.Seal = sl.Name() + "（" + string(sl.Type()) + "）"
					}
				} else {
					es.IdentityChecks = []string{"实名认证（" + method + "）", "签署密码"}
				}
			}
			r.Signers = append(r.Signers, es)
		}
		r.Events, err = tx.SignFlows().Chain(ctx, f.ID())
		return err
	})
	if err != nil {
		return r, err
	}
	if n := len(r.Events); n > 0 {
		r.HeadHash = r.Events[n-1].Hash
		digest, _ := hex.DecodeString(r.HeadHash)
		tok, err := s.d.Stamps.Timestamp(ctx, digest)
		if err != nil {
			return r, kernel.Unavailable("tsa-unavailable", "the time-stamping service did not answer", err)
		}
		r.HeadTimestamp, r.HeadTimestampTime = tok, s.d.Clock.Now().UTC().Truncate(time.Second)
	}
	return r, nil
}
