// Package signflow holds sign flows (签署流程): an initiator's documents, the signers (persons,
// or enterprises signed by a member with a seal) with their fields, ordered or parallel signing
// before a deadline. draft → signing → completed | rejected | revoked | expired; every
// transition is an event.
package signflow

import (
	"strings"
	"time"
	"unicode/utf8"

	"github.com/shuxinqian/server/domain/kernel"
)

// Limits.
const (
	MaxTitleRunes      = 100
	MaxDocuments       = 10
	MaxSigners         = 20
	MaxFieldsPerSigner = 50
	MaxKeywordRunes    = 50
	MaxDuration        = 90 * 24 * time.Hour
)

// ID identifies a flow; SignerID a signer of it.
type (
	ID       string
	SignerID string
)

// Status of a flow.
type Status string

// Statuses.
const (
	StatusDraft     Status = "draft"
	StatusSigning   Status = "signing"
	StatusCompleted Status = "completed"
	StatusRejected  Status = "rejected"
	StatusRevoked   Status = "revoked"
	StatusExpired   Status = "expired"
)

// Ended reports whether the flow is over.
func (s Status) Ended() bool {
	return s == StatusCompleted || s == StatusRejected || s == StatusRevoked || s == StatusExpired
}

// Kind of signer.
type Kind string

// Kinds.
const (
	KindPerson       Kind = "person"
	KindOrganization Kind = "organization"
)

// SignerState is where one signer stands.
type SignerState string

// Signer states.
const (
	SignerWaiting  SignerState = "waiting" // not their turn yet (ordered), or the flow is a draft
	SignerCurrent  SignerState = "current" // may sign now
	SignerSigned   SignerState = "signed"
	SignerRejected SignerState = "rejected"
)

// Document is one PDF of the flow.
type Document struct {
	FileID kernel.FileID
	Name   string
}

// Field is where a signer signs: a page and a point (PDF points from the lower left), or a
// keyword found in the document's text when the flow starts.
type Field struct {
	Document int // index into the flow's documents
	Page     int
	X, Y     float64
	// W and H size the field (points); zero takes the kind's default (DefaultFieldSize).
	W, H    float64
	Keyword string
}

// DefaultFieldSize is the size of a signer's field in points: a seal 42 mm square, a
// handwritten signature 120 × 60.
func DefaultFieldSize(k Kind) (w, h float64) {
	if k == KindOrganization {
		return 119.06, 119.06
	}
	return 120, 60
}

// Placed reports whether the field has its page and point (a keyword field once resolved).
func (f Field) Placed() bool { return f.Page >= 1 }

// Signer is one party of the flow.
type Signer struct {
	ID           SignerID
	Kind         Kind
	Name         string
	Phone        kernel.Phone
	EnterpriseID kernel.EnterpriseID // organisation signers
	Fields       []Field
	State        SignerState
	SignedAt     time.Time
	SignedBy     kernel.UserID // the person who signed (for an organisation: the granted member)
	RejectReason string
}

// Flow is a sign flow.
type Flow struct {
	kernel.Events

	id           ID
	initiatorID  kernel.UserID
	enterpriseID kernel.EnterpriseID
	title        string
	documents    []Document
	signers      []Signer
	ordered      bool
	certify      bool
	expiresAt    time.Time
	status       Status
	createdAt    time.Time
	startedAt    time.Time
	endedAt      time.Time
	endReason    string
	version      int64
}

// Errors.
var (
	ErrNotDraft      = kernel.Conflict("flow-not-draft", "only a draft flow can be started")
	ErrNotSigning    = kernel.Conflict("flow-not-signing", "the flow is not being signed")
	ErrEnded         = kernel.Conflict("flow-ended", "the flow is over")
	ErrExpired       = kernel.Gone("flow-expired", "the flow's deadline has passed")
	ErrNotInitiator  = kernel.Forbidden("flow-initiator-only", "only the initiator may do this")
	ErrSignerUnknown = kernel.NotFound("flow-signer-not-found", "no such signer of this flow")
	ErrNotYourTurn   = kernel.Precondition("flow-not-your-turn", "it is not this signer's turn")
)

func invalid(code, msg string) *kernel.Error { return kernel.Invalid(code, msg) }

// NewParams describe a new flow.
type NewParams struct {
	ID           ID
	InitiatorID  kernel.UserID
	EnterpriseID kernel.EnterpriseID // optional: the space the flow belongs to
	Title        string
	Documents    []Document
	Signers      []Signer // ID, Kind, Name, Phone, EnterpriseID, Fields
	Ordered      bool
	// Certify asks the first signature to certify the document (DocMDP).
	Certify   bool
	ExpiresAt time.Time
}

// New creates a draft flow.
func New(p NewParams, now time.Time) (*Flow, error) {
	now = kernel.OccurredAt(now)
	title := strings.TrimSpace(p.Title)
	switch {
	case p.ID == "" || p.InitiatorID == "":
		return nil, invalid("flow-incomplete", "a flow needs an id and an initiator")
	case title == "" || utf8.RuneCountInString(title) > MaxTitleRunes || strings.ContainsAny(title, "\x00\r\n"):
		return nil, invalid("flow-title-invalid", "the title has 1 to 100 characters on one line")
	case len(p.Documents) == 0 || len(p.Documents) > MaxDocuments:
		return nil, invalid("flow-documents-invalid", "a flow has 1 to 10 documents").WithDetail("max", MaxDocuments)
	case len(p.Signers) == 0 || len(p.Signers) > MaxSigners:
		return nil, invalid("flow-signers-invalid", "a flow has 1 to 20 signers").WithDetail("max", MaxSigners)
	case p.ExpiresAt.IsZero() || !p.ExpiresAt.After(now) || p.ExpiresAt.Sub(now) > MaxDuration:
		return nil, invalid("flow-deadline-invalid", "the deadline is in the future, within 90 days")
	}
	docs := make([]Document, len(p.Documents))
	for i, d := range p.Documents {
		if d.FileID == "" {
			return nil, invalid("flow-documents-invalid", "each document needs a file").WithDetail("document", i)
		}
		docs[i] = d
	}
	signers := make([]Signer, len(p.Signers))
	ids := map[SignerID]bool{}
	people := map[string]bool{}
	for i, s := range p.Signers {
		s.Name = strings.TrimSpace(s.Name)
		switch {
		case s.ID == "" || ids[s.ID]:
			return nil, invalid("flow-signer-invalid", "each signer needs its own id").WithDetail("signer", i)
		case s.Kind != KindPerson && s.Kind != KindOrganization:
			return nil, invalid("flow-signer-kind-invalid", "kind is person or organization").WithDetail("signer", i)
		case s.Name == "" || utf8.RuneCountInString(s.Name) > 100:
			return nil, invalid("flow-signer-invalid", "each signer needs a name").WithDetail("signer", i)
		case s.Kind == KindPerson && s.Phone.IsZero():
			return nil, invalid("flow-signer-invalid", "a person signer needs a phone").WithDetail("signer", i)
		case s.Kind == KindOrganization && s.EnterpriseID == "":
			return nil, invalid("flow-signer-invalid", "an organisation signer needs its enterprise").WithDetail("signer", i)
		case len(s.Fields) == 0 || len(s.Fields) > MaxFieldsPerSigner:
			return nil, invalid("flow-fields-invalid", "each signer has 1 to 50 fields").WithDetail("signer", i)
		}
		key := string(s.Kind) + "/" + string(s.Phone) + "/" + string(s.EnterpriseID)
		if people[key] {
			return nil, invalid("flow-signer-duplicate", "the same party appears twice").WithDetail("signer", i)
		}
		ids[s.ID], people[key] = true, true
		fields := make([]Field, len(s.Fields))
		for j, f := range s.Fields {
			f.Keyword = strings.TrimSpace(f.Keyword)
			switch {
			case f.Document < 0 || f.Document >= len(docs):
				return nil, invalid("flow-field-document-invalid", "a field names a document of the flow").WithDetail("signer", i).WithDetail("field", j)
			case f.Keyword != "" && (f.Page != 0 || f.X != 0 || f.Y != 0):
				return nil, invalid("flow-field-invalid", "a field is a keyword or a page with coordinates, not both").WithDetail("signer", i).WithDetail("field", j)
			case f.Keyword != "" && utf8.RuneCountInString(f.Keyword) > MaxKeywordRunes:
				return nil, invalid("flow-field-invalid", "a keyword has at most 50 characters").WithDetail("signer", i).WithDetail("field", j)
			case f.Keyword == "" && (f.Page < 1 || f.X < 0 || f.Y < 0):
				return nil, invalid("flow-field-invalid", "a field needs a page (from 1) and coordinates ≥ 0, or a keyword").WithDetail("signer", i).WithDetail("field", j)
			}
			if f.W == 0 || f.H == 0 {
				f.W, f.H = DefaultFieldSize(s.Kind)
			}
			if f.W < 8 || f.H < 8 || f.W > 600 || f.H > 600 {
				return nil, invalid("flow-field-invalid", "a field is 8 to 600 points wide and high").WithDetail("signer", i).WithDetail("field", j)
			}
			fields[j] = f
		}
		signers[i] = Signer{ID: s.ID, Kind: s.Kind, Name: s.Name, Phone: s.Phone, EnterpriseID: s.EnterpriseID, Fields: fields, State: SignerWaiting}
	}
	f := &Flow{id: p.ID, initiatorID: p.InitiatorID, enterpriseID: p.EnterpriseID, title: title, documents: docs, signers: signers,
		ordered: p.Ordered, certify: p.Certify, expiresAt: kernel.OccurredAt(p.ExpiresAt), status: StatusDraft, createdAt: now}
	f.Record(Created{FlowID: f.id, InitiatorID: f.initiatorID, EnterpriseID: f.enterpriseID, Signers: len(signers), Ordered: f.ordered, At: now})
	return f, nil
}

// Accessors.
func (f *Flow) ID() ID                            { return f.id }
func (f *Flow) InitiatorID() kernel.UserID        { return f.initiatorID }
func (f *Flow) EnterpriseID() kernel.EnterpriseID { return f.enterpriseID }
func (f *Flow) Title() string                     { return f.title }
func (f *Flow) Ordered() bool                     { return f.ordered }
func (f *Flow) Certify() bool                     { return f.certify }
func (f *Flow) ExpiresAt() time.Time              { return f.expiresAt }
func (f *Flow) Status() Status                    { return f.status }
func (f *Flow) CreatedAt() time.Time              { return f.createdAt }
func (f *Flow) StartedAt() time.Time              { return f.startedAt }
func (f *Flow) EndedAt() time.Time                { return f.endedAt }
func (f *Flow) EndReason() string                 { return f.endReason }
func (f *Flow) Version() int64                    { return f.version }

// Documents returns the flow's documents.
func (f *Flow) Documents() []Document { return append([]Document(nil), f.documents...) }

// Signers returns the signers in their order, with copies of their fields.
func (f *Flow) Signers() []Signer {
	out := make([]Signer, len(f.signers))
	for i, s := range f.signers {
		s.Fields = append([]Field(nil), s.Fields...)
		out[i] = s
	}
	return out
}

// Current returns the signers who may sign now.
func (f *Flow) Current() []SignerID {
	var out []SignerID
	for _, s := range f.signers {
		if s.State == SignerCurrent {
			out = append(out, s.ID)
		}
	}
	return out
}

func (f *Flow) signer(id SignerID) (*Signer, error) {
	for i := range f.signers {
		if f.signers[i].ID == id {
			return &f.signers[i], nil
		}
	}
	return nil, ErrSignerUnknown
}

// overdue reports whether the deadline has passed at now.
func (f *Flow) overdue(now time.Time) bool { return !now.Before(f.expiresAt) }

// Start sends the flow out: ordered flows to the first signer, parallel ones to all.
func (f *Flow) Start(by kernel.UserID, now time.Time) error {
	if by != f.initiatorID {
		return ErrNotInitiator
	}
	if f.status != StatusDraft {
		return ErrNotDraft
	}
	if f.overdue(now) {
		return ErrExpired
	}
	now = kernel.OccurredAt(now)
	f.status, f.startedAt = StatusSigning, now
	for i := range f.signers {
		if !f.ordered || i == 0 {
			f.signers[i].State = SignerCurrent
		}
	}
	f.Record(Started{FlowID: f.id, Current: f.Current(), At: now})
	return nil
}

func (f *Flow) signing(now time.Time) error {
	switch {
	case f.status == StatusDraft:
		return ErrNotSigning
	case f.status.Ended():
		return ErrEnded
	case f.overdue(now):
		return ErrExpired
	}
	return nil
}

// Sign records signer id's signature, made by the person by. The flow completes with the last
// signature; in an ordered flow the next signer's turn comes.
func (f *Flow) Sign(id SignerID, by kernel.UserID, now time.Time) error {
	if err := f.signing(now); err != nil {
		return err
	}
	s, err := f.signer(id)
	if err != nil {
		return err
	}
	if s.State != SignerCurrent {
		if s.State == SignerSigned {
			return kernel.Conflict("flow-already-signed", "this signer has signed")
		}
		return ErrNotYourTurn
	}
	if by == "" {
		return invalid("flow-signer-invalid", "the signing person is unknown")
	}
	now = kernel.OccurredAt(now)
	s.State, s.SignedAt, s.SignedBy = SignerSigned, now, by
	var next []SignerID
	if f.ordered {
		for i := range f.signers {
			if f.signers[i].State == SignerWaiting {
				f.signers[i].State = SignerCurrent
				next = append(next, f.signers[i].ID)
				break
			}
		}
	}
	f.Record(Signed{FlowID: f.id, SignerID: id, By: by, Next: next, At: now})
	for _, o := range f.signers {
		if o.State != SignerSigned {
			return nil
		}
	}
	f.status, f.endedAt = StatusCompleted, now
	f.Record(Completed{FlowID: f.id, At: now})
	return nil
}

// Reject ends the flow: a current signer declines with a reason.
func (f *Flow) Reject(id SignerID, reason string, now time.Time) error {
	if err := f.signing(now); err != nil {
		return err
	}
	s, err := f.signer(id)
	if err != nil {
		return err
	}
	if s.State != SignerCurrent {
		return ErrNotYourTurn
	}
	reason = strings.TrimSpace(reason)
	if reason == "" || utf8.RuneCountInString(reason) > 500 {
		return invalid("flow-reason-invalid", "give a reason of up to 500 characters")
	}
	now = kernel.OccurredAt(now)
	s.State, s.RejectReason = SignerRejected, reason
	f.status, f.endedAt, f.endReason = StatusRejected, now, reason
	f.Record(Rejected{FlowID: f.id, SignerID: id, At: now})
	return nil
}

// Revoke is the initiator calling the flow off, as a draft or while it is signed.
func (f *Flow) Revoke(by kernel.UserID, reason string, now time.Time) error {
	if by != f.initiatorID {
		return ErrNotInitiator
	}
	if f.status.Ended() {
		return ErrEnded
	}
	reason = strings.TrimSpace(reason)
	if utf8.RuneCountInString(reason) > 500 {
		return invalid("flow-reason-invalid", "a reason has up to 500 characters")
	}
	now = kernel.OccurredAt(now)
	f.status, f.endedAt, f.endReason = StatusRevoked, now, reason
	f.Record(Revoked{FlowID: f.id, By: by, At: now})
	return nil
}

// Expire ends a flow whose deadline has passed (a draft or one being signed).
func (f *Flow) Expire(now time.Time) error {
	if f.status.Ended() {
		return ErrEnded
	}
	if !f.overdue(now) {
		return kernel.Precondition("flow-not-due", "the deadline has not passed")
	}
	now = kernel.OccurredAt(now)
	f.status, f.endedAt = StatusExpired, now
	f.Record(Expired{FlowID: f.id, At: now})
	return nil
}

// PlaceKeywords resolves the keyword fields of a draft: locate returns the page and lower-left
// point where the field goes for a keyword of a document.
func (f *Flow) PlaceKeywords(locate func(document int, keyword string, w, h float64) (page int, x, y float64, err error)) error {
	if f.status != StatusDraft {
		return ErrNotDraft
	}
	for i := range f.signers {
		for j := range f.signers[i].Fields {
			fd := &f.signers[i].Fields[j]
			if fd.Keyword == "" || fd.Placed() {
				continue
			}
			page, x, y, err := locate(fd.Document, fd.Keyword, fd.W, fd.H)
			if err != nil {
				return err
			}
			if page < 1 || x < 0 || y < 0 {
				return invalid("flow-field-invalid", "the keyword's place is not on a page")
			}
			fd.Page, fd.X, fd.Y = page, x, y
		}
	}
	return nil
}

// SignerFor returns the signer with id.
func (f *Flow) SignerFor(id SignerID) (Signer, error) {
	s, err := f.signer(id)
	if err != nil {
		return Signer{}, err
	}
	out := *s
	out.Fields = append([]Field(nil), s.Fields...)
	return out, nil
}
