// Package signing holds the use cases of sign flows (签署流程, issue 15): an initiator's PDFs,
// signers (persons, or enterprises signed by a member under a seal grant) with their fields,
// started, signed with real PDF signatures (an incremental update each, CMS by the signer's key,
// timestamped), rejected, revoked or expired; the evidence report over a hash chain of events.
package signing

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/shuxinqian/server/domain/file"
	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/membership"
	"github.com/shuxinqian/server/domain/signflow"
	"github.com/shuxinqian/server/domain/user"
	"github.com/shuxinqian/server/ports"
)

// Keys opens signing keys for one operation (application.App satisfies it): the personal key
// with the signer's signing password, or the enterprise's organisation key for a member who
// proves their own signing password (the seal grant is checked here).
type Keys interface {
	WithPersonalKey(ctx context.Context, uid kernel.UserID, signingPassword string, fn func(ports.OneTimeSigner) error) error
	WithOrganisationKey(ctx context.Context, uid kernel.UserID, eid kernel.EnterpriseID, signingPassword string, fn func(ports.OneTimeSigner) error) error
}

// Settings of the sign flows.
type Settings struct {
	// PublicBaseURL is where signers open the H5 (the SMS link).
	PublicBaseURL string
	// TSA timestamps each PDF signature (pdfsign calls it by URL); nil signs without.
	TSA *ports.TSAEndpoint
	// TurnTimeout bounds one signing (reserve → sign → commit); a dead run's turn is taken
	// over after it. Zero: two minutes.
	TurnTimeout time.Duration
}

// Deps are the ports the sign flows need.
type Deps struct {
	UoW      ports.UnitOfWork
	Clock    ports.Clock
	IDs      ports.IDs
	Files    ports.FileStore
	PDF      ports.PDFSigner
	SMS      ports.SMSSender
	Stamps   ports.TimeStampAuthority
	Keys     Keys
	Evidence ports.EvidenceRenderer // nil: evidence.pdf answers 503 evidence-unavailable
	Settings Settings
	Logger   *slog.Logger
}

// Service runs the sign flow use cases.
type Service struct {
	d Deps
	// keyLocks serialise one user's key openings in this process: each opening reserves a
	// signing-password try (counted as a failure until accepted), so a burst of one member's
	// parallel signings must not look like password guessing and lock signing.
	keyLocks keyedMutex
}

// New builds the service.
func New(d Deps) *Service {
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	if d.Settings.TurnTimeout <= 0 {
		d.Settings.TurnTimeout = 2 * time.Minute
	}
	return &Service{d: d, keyLocks: keyedMutex{m: map[kernel.UserID]*keyedEntry{}}}
}

type keyedEntry struct {
	mu   sync.Mutex
	refs int
}

// keyedMutex is a mutex per user id, dropped when nobody holds or waits for it.
type keyedMutex struct {
	mu sync.Mutex
	m  map[kernel.UserID]*keyedEntry
}

func (k *keyedMutex) lock(uid kernel.UserID) func() {
	k.mu.Lock()
	e := k.m[uid]
	if e == nil {
		e = &keyedEntry{}
		k.m[uid] = e
	}
	e.refs++
	k.mu.Unlock()
	e.mu.Lock()
	return func() {
		e.mu.Unlock()
		k.mu.Lock()
		if e.refs--; e.refs == 0 {
			delete(k.m, uid)
		}
		k.mu.Unlock()
	}
}

// Errors.
var (
	ErrFlowNotFound  = kernel.NotFound("flow-not-found", "no such sign flow")
	ErrMemberRemoved = kernel.Forbidden("enterprise-member-removed", "you are no longer a member of the signing enterprise")
	ErrNotSigner     = kernel.Forbidden("flow-not-signer", "you are not a signer of this flow who may act now")
	ErrSignerUnknown = kernel.Precondition("signer-not-verified", "sign with the account of the signer's phone after real-name verification with the signer's name")
)

// FieldInput places a field: a page and point, or a keyword.
type FieldInput struct {
	Document int
	Page     int
	X, Y     float64
	W, H     float64
	Keyword  string
}

// SignerInput is a party of a new flow.
type SignerInput struct {
	Kind         string
	Name         string
	Phone        string
	EnterpriseID string
	Fields       []FieldInput
}

// DocumentInput is a PDF of a new flow (uploaded by the initiator with purpose document).
type DocumentInput struct {
	FileID string
	Name   string
}

// CreateInput describes a new flow.
type CreateInput struct {
	Title        string
	EnterpriseID string
	Documents    []DocumentInput
	Signers      []SignerInput
	Ordered      bool
	Certify      bool
	ExpiresAt    time.Time
}

// FlowView is a flow as the caller sees it.
type FlowView struct {
	*ports.SignFlowView
	Roles   []string
	MyTurn  signflow.SignerID
	Invited map[signflow.SignerID]bool
}

type caller struct {
	uid         kernel.UserID
	phone       kernel.Phone
	verified    bool
	name        string
	enterprises map[kernel.EnterpriseID]bool
	// former are enterprises the caller was a member of (removed, left).
	former map[kernel.EnterpriseID]bool
}

func (s *Service) whoIs(ctx context.Context, tx ports.Tx, uid kernel.UserID) (caller, error) {
	u, err := tx.Users().Get(ctx, uid)
	if err != nil {
		return caller{}, err
	}
	c := caller{uid: uid, phone: u.Phone(), verified: u.RealNameStatus() == user.RealNameVerified, name: u.Identity().Name,
		enterprises: map[kernel.EnterpriseID]bool{}, former: map[kernel.EnterpriseID]bool{}}
	ms, err := tx.Memberships().ListByUser(ctx, uid)
	if err != nil {
		return caller{}, err
	}
	for _, m := range ms {
		switch m.Status {
		case membership.StatusActive:
			c.enterprises[m.EnterpriseID] = true
		case membership.StatusRemoved:
			c.former[m.EnterpriseID] = true
		}
	}
	return c, nil
}

// matches reports whether the caller may act as the signer.
func (c caller) matches(sg signflow.Signer) bool {
	if sg.Kind == signflow.KindPerson {
		return sg.Phone == c.phone
	}
	return c.enterprises[sg.EnterpriseID]
}

func (c caller) roles(f *signflow.Flow) []string {
	var out []string
	if f.InitiatorID() == c.uid {
		out = append(out, "initiator")
	}
	if f.Status() != signflow.StatusDraft {
		for _, sg := range f.Signers() {
			if c.matches(sg) {
				out = append(out, "signer")
				break
			}
		}
	}
	return out
}

func (c caller) turn(f *signflow.Flow) signflow.SignerID {
	if f.Status() != signflow.StatusSigning {
		return ""
	}
	for _, sg := range f.Signers() {
		if sg.State == signflow.SignerCurrent && c.matches(sg) {
			return sg.ID
		}
	}
	return ""
}

func (s *Service) view(c caller, v *ports.SignFlowView) *FlowView {
	return &FlowView{SignFlowView: v, Roles: c.roles(v.Flow), MyTurn: c.turn(v.Flow)}
}

func parsePhone(raw string, required bool, i int) (kernel.Phone, error) {
	if strings.TrimSpace(raw) == "" && !required {
		return "", nil
	}
	p, err := kernel.ParsePhone(raw)
	if err != nil {
		return "", kernel.Invalid("flow-signer-phone-invalid", "a signer's phone is a mainland mobile number").WithDetail("signer", i)
	}
	return p, nil
}

// Create makes a draft flow: the documents are PDFs the initiator uploaded, keyword fields are
// resolved to their place, and every field must lie on its page.
func (s *Service) Create(ctx context.Context, uid kernel.UserID, in CreateInput) (*FlowView, error) {
	now := s.d.Clock.Now()
	var signers []signflow.Signer
	for i, si := range in.Signers {
		kind := signflow.Kind(si.Kind)
		phone, err := parsePhone(si.Phone, kind == signflow.KindPerson, i)
		if err != nil {
			return nil, err
		}
		sg := signflow.Signer{ID: signflow.SignerID(s.d.IDs.NewID()), Kind: kind, Name: si.Name, Phone: phone}
		if kind == signflow.KindOrganization {
			sg.EnterpriseID = kernel.EnterpriseID(si.EnterpriseID)
		}
		for _, fi := range si.Fields {
			sg.Fields = append(sg.Fields, signflow.Field{Document: fi.Document, Page: fi.Page, X: fi.X, Y: fi.Y, W: fi.W, H: fi.H, Keyword: fi.Keyword})
		}
		signers = append(signers, sg)
	}
	docs := make([]signflow.Document, len(in.Documents))
	for i, d := range in.Documents {
		name := strings.TrimSpace(d.Name)
		if name == "" || len([]rune(name)) > 100 || strings.ContainsAny(name, "\x00\r\n/\\") {
			name = fmt.Sprintf("document-%d.pdf", i+1)
		}
		docs[i] = signflow.Document{FileID: kernel.FileID(d.FileID), Name: name}
	}
	f, err := signflow.New(signflow.NewParams{ID: signflow.ID(s.d.IDs.NewID()), InitiatorID: uid, EnterpriseID: kernel.EnterpriseID(in.EnterpriseID),
		Title: in.Title, Documents: docs, Signers: signers, Ordered: in.Ordered, Certify: in.Certify, ExpiresAt: in.ExpiresAt}, now)
	if err != nil {
		return nil, err
	}
	// The files are the caller's PDFs; the enterprises exist.
	recs := make([]ports.FileRecord, len(docs))
	var c caller
	if err := s.d.UoW.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
		var err error
		if c, err = s.whoIs(ctx, tx, uid); err != nil {
			return err
		}
		if in.EnterpriseID != "" && !c.enterprises[kernel.EnterpriseID(in.EnterpriseID)] {
			return kernel.NotFound("enterprise-not-found", "no such enterprise")
		}
		for i, d := range docs {
			rec, err := tx.Files().Get(ctx, d.FileID)
			if err != nil || rec.OwnerID != uid {
				return kernel.NotFound("file-not-found", "no such file").WithDetail("document", i)
			}
			if rec.Purpose != file.PurposeDocument {
				return kernel.Invalid("file-purpose-mismatch", "upload the PDF with purpose document").WithDetail("document", i).
					WithDetail("expected", string(file.PurposeDocument))
			}
			recs[i] = rec
		}
		for i, sg := range signers {
			if sg.Kind != signflow.KindOrganization {
				continue
			}
			e, err := tx.Enterprises().Get(ctx, sg.EnterpriseID)
			if kernel.KindOf(err) == kernel.KindNotFound {
				return kernel.NotFound("enterprise-not-found", "no such enterprise").WithDetail("signer", i)
			}
			if err != nil {
				return err
			}
			if e.Certificate() == nil {
				return kernel.Precondition("org-certificate-missing", "the enterprise has no organisation certificate yet").WithDetail("signer", i)
			}
		}
		return nil
	}); err != nil {
		return nil, err
	}
	// Inspect the PDFs and place the fields (outside any transaction).
	documents := make([]ports.SignFlowDocument, len(docs))
	data := make([][]byte, len(docs))
	for i, rec := range recs {
		b, err := s.d.Files.Get(ctx, rec.StorageKey)
		if err != nil {
			return nil, kernel.Internal(err)
		}
		info, err := s.d.PDF.Inspect(ctx, b)
		if err != nil {
			return nil, withDetail(err, "document", i)
		}
		if info.Pages > ports.PDFMaxPages {
			return nil, kernel.Invalid("pdf-too-many-pages", "a document has at most 500 pages").WithDetail("document", i)
		}
		data[i] = b
		documents[i] = ports.SignFlowDocument{Index: i, Name: docs[i].Name, Pages: info.Pages, PageSizes: info.PageSizes,
			OriginalFileID: rec.ID, OriginalSHA256: rec.Info.SHA256, Version: 1, CurrentFileID: rec.ID, CurrentSHA256: rec.Info.SHA256}
	}
	if err := f.PlaceKeywords(func(doc int, keyword string, w, h float64) (int, float64, float64, error) {
		locs, err := s.d.PDF.Locate(ctx, data[doc], keyword)
		if err != nil {
			return 0, 0, 0, withDetail(err, "document", doc)
		}
		if len(locs) == 0 {
			return 0, 0, 0, kernel.Invalid("pdf-keyword-not-found", "the keyword is not in the document's text").
				WithDetail("document", doc).WithDetail("keyword", keyword)
		}
		l := locs[0]
		size := documents[doc].PageSizes[l.Page-1]
		x := clamp(l.X+l.W/2-w/2, 0, size[0]-w)
		y := clamp(l.Y+l.H/2-h/2, 0, size[1]-h)
		return l.Page, x, y, nil
	}); err != nil {
		return nil, err
	}
	for i, sg := range f.Signers() {
		for j, fd := range sg.Fields {
			d := documents[fd.Document]
			if fd.Page > d.Pages {
				return nil, kernel.Invalid("pdf-page-out-of-range", "the page does not exist").WithDetail("signer", i).WithDetail("field", j).
					WithDetail("pages", d.Pages)
			}
			size := d.PageSizes[fd.Page-1]
			if fd.X+fd.W > size[0]+0.01 || fd.Y+fd.H > size[1]+0.01 {
				return nil, kernel.Invalid("pdf-field-outside-page", "the field must lie on the page").WithDetail("signer", i).
					WithDetail("field", j).WithDetail("page_width", size[0]).WithDetail("page_height", size[1])
			}
		}
	}
	v := &ports.SignFlowView{Flow: f, Documents: documents}
	if err := s.d.UoW.Do(ctx, func(ctx context.Context, tx ports.Tx) error { return tx.SignFlows().Add(ctx, v) }); err != nil {
		return nil, err
	}
	return s.Get(ctx, uid, string(f.ID()))
}

func clamp(v, lo, hi float64) float64 { return math.Max(lo, math.Min(v, hi)) }

func withDetail(err error, key string, v any) error {
	if ke, ok := err.(*kernel.Error); ok && ke.Kind != kernel.KindInternal {
		return ke.WithDetail(key, v)
	}
	return err
}

// load reads a flow the caller may see (the initiator, or a signer once started), expiring it
// first when its deadline passed.
func (s *Service) load(ctx context.Context, uid kernel.UserID, id string) (caller, *ports.SignFlowView, error) {
	if err := s.expireIfDue(ctx, signflow.ID(id)); err != nil {
		return caller{}, nil, err
	}
	var c caller
	var v *ports.SignFlowView
	err := s.d.UoW.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
		var err error
		if v, err = tx.SignFlows().Get(ctx, signflow.ID(id)); err != nil {
			return err
		}
		c, err = s.whoIs(ctx, tx, uid)
		return err
	})
	if err != nil {
		return c, nil, err
	}
	if len(c.roles(v.Flow)) == 0 {
		if v.Flow.Status() != signflow.StatusDraft {
			for _, sg := range v.Flow.Signers() {
				if sg.Kind == signflow.KindOrganization && c.former[sg.EnterpriseID] {
					return c, nil, ErrMemberRemoved
				}
			}
		}
		return c, nil, ErrFlowNotFound
	}
	return c, v, nil
}

// Get returns a flow with its signers' states; person signers whose phone has no verified
// account yet are marked invited.
func (s *Service) Get(ctx context.Context, uid kernel.UserID, id string) (*FlowView, error) {
	c, v, err := s.load(ctx, uid, id)
	if err != nil {
		return nil, err
	}
	out := s.view(c, v)
	out.Invited = map[signflow.SignerID]bool{}
	err = s.d.UoW.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
		for _, sg := range v.Flow.Signers() {
			if sg.Kind != signflow.KindPerson || sg.State == signflow.SignerSigned {
				continue
			}
			u, err := tx.Users().GetByPhone(ctx, sg.Phone)
			switch {
			case kernel.KindOf(err) == kernel.KindNotFound:
				out.Invited[sg.ID] = true
			case err != nil:
				return err
			default:
				out.Invited[sg.ID] = u.RealNameStatus() != user.RealNameVerified
			}
		}
		return nil
	})
	return out, err
}

// ListInput selects a page of the caller's flows.
type ListInput struct {
	Role   string // initiator (default) or signer
	Status string
	Before string
	Limit  int
}

// PageSize is the default page of the flow list; 100 the largest.
const PageSize = 20

// List returns a page of the caller's flows, newest first, and the cursor of the next page.
func (s *Service) List(ctx context.Context, uid kernel.UserID, in ListInput) ([]*FlowView, string, error) {
	if in.Limit <= 0 {
		in.Limit = PageSize
	}
	if in.Limit > 100 {
		return nil, "", kernel.Invalid("limit-invalid", "limit is 1 to 100")
	}
	st := signflow.Status(in.Status)
	switch st {
	case "", signflow.StatusDraft, signflow.StatusSigning, signflow.StatusCompleted, signflow.StatusRejected, signflow.StatusRevoked, signflow.StatusExpired:
	default:
		return nil, "", kernel.Invalid("flow-status-invalid", "status is draft, signing, completed, rejected, revoked or expired")
	}
	if in.Role == "" {
		in.Role = "initiator"
	}
	if in.Role != "initiator" && in.Role != "signer" {
		return nil, "", kernel.Invalid("flow-role-invalid", "role is initiator or signer")
	}
	if _, err := s.ExpireDue(ctx, 100); err != nil {
		return nil, "", err
	}
	var out []*FlowView
	next := ""
	err := s.d.UoW.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
		c, err := s.whoIs(ctx, tx, uid)
		if err != nil {
			return err
		}
		f := ports.SignFlowFilter{Status: st, Before: signflow.ID(in.Before), Limit: in.Limit + 1}
		var page []*ports.SignFlowView
		if in.Role == "initiator" {
			page, err = tx.SignFlows().ListByInitiator(ctx, uid, f)
		} else {
			eids := make([]kernel.EnterpriseID, 0, len(c.enterprises))
			for e := range c.enterprises {
				eids = append(eids, e)
			}
			page, err = tx.SignFlows().ListBySigner(ctx, c.phone, eids, f)
		}
		if err != nil {
			return err
		}
		if len(page) > in.Limit {
			page = page[:in.Limit]
			next = string(page[in.Limit-1].Flow.ID())
		}
		for _, v := range page {
			out = append(out, s.view(c, v))
		}
		return nil
	})
	return out, next, err
}

// Start sends a draft out; the current signers are told by SMS (the Started event's consumer).
func (s *Service) Start(ctx context.Context, uid kernel.UserID, id string) (*FlowView, error) {
	if _, _, err := s.load(ctx, uid, id); err != nil {
		return nil, err
	}
	now := s.d.Clock.Now()
	if err := s.d.UoW.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
		return tx.SignFlows().Update(ctx, signflow.ID(id), func(v *ports.SignFlowView) error { return v.Flow.Start(uid, now) })
	}); err != nil {
		return nil, err
	}
	return s.Get(ctx, uid, id)
}

// Revoke is the initiator calling the flow off.
func (s *Service) Revoke(ctx context.Context, uid kernel.UserID, id, reason string) (*FlowView, error) {
	if _, _, err := s.load(ctx, uid, id); err != nil {
		return nil, err
	}
	now := s.d.Clock.Now()
	if err := s.d.UoW.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
		return tx.SignFlows().Update(ctx, signflow.ID(id), func(v *ports.SignFlowView) error { return v.Flow.Revoke(uid, reason, now) })
	}); err != nil {
		return nil, err
	}
	return s.Get(ctx, uid, id)
}

// Reject is a current signer declining: the flow ends.
func (s *Service) Reject(ctx context.Context, uid kernel.UserID, id, signerID, reason string) (*FlowView, error) {
	c, v, err := s.load(ctx, uid, id)
	if err != nil {
		return nil, err
	}
	sid, err := pickSigner(c, v.Flow, signerID)
	if err != nil {
		return nil, err
	}
	now := s.d.Clock.Now()
	if err := s.d.UoW.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
		return tx.SignFlows().Update(ctx, signflow.ID(id), func(v *ports.SignFlowView) error { return v.Flow.Reject(sid, reason, now) })
	}); err != nil {
		return nil, err
	}
	return s.Get(ctx, uid, id)
}

// pickSigner is the signer the caller acts as: the given one (which the caller must match), or
// the one current signer the caller matches.
func pickSigner(c caller, f *signflow.Flow, signerID string) (signflow.SignerID, error) {
	if signerID != "" {
		sg, err := f.SignerFor(signflow.SignerID(signerID))
		if err != nil {
			return "", err
		}
		if !c.matches(sg) {
			return "", ErrNotSigner
		}
		return sg.ID, nil
	}
	if f.Status() == signflow.StatusDraft {
		return "", signflow.ErrNotSigning
	}
	if f.Status().Ended() {
		return "", signflow.ErrEnded
	}
	if t := c.turn(f); t != "" {
		return t, nil
	}
	for _, sg := range f.Signers() {
		if c.matches(sg) {
			if sg.State == signflow.SignerSigned {
				return "", kernel.Conflict("flow-already-signed", "this signer has signed")
			}
			return "", signflow.ErrNotYourTurn
		}
	}
	return "", ErrNotSigner
}

// expireIfDue ends a flow whose deadline passed.
func (s *Service) expireIfDue(ctx context.Context, id signflow.ID) error {
	now := s.d.Clock.Now()
	var due bool
	if err := s.d.UoW.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
		v, err := tx.SignFlows().Get(ctx, id)
		if err != nil {
			return err
		}
		due = !v.Flow.Status().Ended() && !now.Before(v.Flow.ExpiresAt())
		return nil
	}); err != nil || !due {
		if kernel.KindOf(err) == kernel.KindNotFound {
			return ErrFlowNotFound
		}
		return err
	}
	return s.expire(ctx, id, now)
}

func (s *Service) expire(ctx context.Context, id signflow.ID, now time.Time) error {
	err := s.d.UoW.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
		return tx.SignFlows().Update(ctx, id, func(v *ports.SignFlowView) error { return v.Flow.Expire(now) })
	})
	if kernel.CodeOf(err) == "flow-ended" || kernel.CodeOf(err) == "flow-not-due" {
		return nil
	}
	return err
}

// ExpireDue ends up to limit flows whose deadline passed; it returns how many. Listing runs it,
// and the runtime's sweeper may too.
func (s *Service) ExpireDue(ctx context.Context, limit int) (int, error) {
	now := s.d.Clock.Now()
	var ids []signflow.ID
	if err := s.d.UoW.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
		var err error
		ids, err = tx.SignFlows().Due(ctx, now, limit)
		return err
	}); err != nil {
		return 0, err
	}
	for _, id := range ids {
		if err := s.expire(ctx, id, now); err != nil {
			return 0, err
		}
	}
	return len(ids), nil
}
