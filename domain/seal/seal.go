// Package seal holds an enterprise's seals (印章管理): the official seal and the special-purpose
// seals, drawn by the platform from a template or uploaded as a transparent PNG; enabled,
// disabled, deleted while never used; and the grants that let members use them.
package seal

import (
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/shuxinqian/server/domain/kernel"
)

// Figures.
const (
	// MaxNameRunes is the longest display name of a seal.
	MaxNameRunes = 30
	// MaxActiveGrants bounds the members holding one seal at a time.
	MaxActiveGrants = 1000
)

// ID identifies a seal; GrantID one grant of a seal.
type (
	ID      string
	GrantID string
)

// Type is what a seal is for.
type Type string

// Types.
const (
	TypeOfficial Type = "official"  // 公章
	TypeContract Type = "contract"  // 合同专用章
	TypeFinance  Type = "finance"   // 财务专用章
	TypeHR       Type = "hr"        // 人事专用章
	TypeLegalRep Type = "legal_rep" // 法定代表人章
)

// Types lists every type in a stable order.
var Types = []Type{TypeOfficial, TypeContract, TypeFinance, TypeHR, TypeLegalRep}

// ParseType validates a type.
func ParseType(s string) (Type, error) {
	for _, t := range Types {
		if string(t) == s {
			return t, nil
		}
	}
	return "", kernel.Invalid("seal-type-invalid", "type is one of official, contract, finance, hr, legal_rep")
}

// Label is the seal's wording (the text drawn along its bottom: 合同专用章...). The official
// seal carries none: the name and the star are the official seal.
func (t Type) Label() string {
	switch t {
	case TypeContract:
		return "合同专用章"
	case TypeFinance:
		return "财务专用章"
	case TypeHR:
		return "人事专用章"
	case TypeLegalRep:
		return "法定代表人章"
	}
	return ""
}

// DefaultName is the display name a seal gets when none is given.
func (t Type) DefaultName() string {
	if t == TypeOfficial {
		return "公章"
	}
	return t.Label()
}

// Template is how the platform draws a seal.
type Template string

// Templates. TemplateNone marks an uploaded image.
const (
	TemplateNone      Template = ""
	TemplateRoundStar Template = "round_star"
	TemplateOval      Template = "oval"
	TemplateSquare    Template = "square"
)

// ParseTemplate validates a template name.
func ParseTemplate(s string) (Template, error) {
	switch t := Template(s); t {
	case TemplateRoundStar, TemplateOval, TemplateSquare:
		return t, nil
	}
	return "", kernel.Invalid("seal-template-invalid", "template is one of round_star, oval, square")
}

// Status of a seal.
type Status string

// Statuses.
const (
	StatusActive   Status = "active"
	StatusDisabled Status = "disabled"
	StatusDeleted  Status = "deleted"
)

// ParseSettableStatus validates a status an admin may set.
func ParseSettableStatus(s string) (Status, error) {
	switch st := Status(s); st {
	case StatusActive, StatusDisabled:
		return st, nil
	}
	return "", kernel.Invalid("seal-status-invalid", "status is active or disabled")
}

// Errors.
var (
	ErrNotFound        = kernel.NotFound("seal-not-found", "no such seal of this enterprise")
	ErrGrantNotFound   = kernel.NotFound("seal-grant-not-found", "no such grant of this seal")
	ErrDeleted         = kernel.Conflict("seal-deleted", "the seal is deleted")
	ErrInUse           = kernel.Conflict("seal-in-use", "a seal that has signed cannot be deleted; disable it instead")
	ErrDisabled        = kernel.Precondition("seal-disabled", "the seal is disabled")
	ErrNotGranted      = kernel.Forbidden("seal-not-granted", "you hold no grant of this seal")
	ErrGrantExists     = kernel.Conflict("seal-grant-exists", "this member already holds a grant of the seal")
	ErrGrantRevoked    = kernel.Conflict("seal-grant-revoked", "the grant is already revoked")
	ErrGrantExpiryPast = kernel.Invalid("seal-grant-expiry-invalid", "expires_at must be in the future")
)

// NewParams describe a new seal.
type NewParams struct {
	ID           ID
	EnterpriseID kernel.EnterpriseID
	Type         Type
	Name         string   // optional: the type's default name when empty
	Template     Template // TemplateNone for an uploaded image
	ImageFileID  kernel.FileID
	Automatic    bool // made by the platform when the enterprise was verified
	CreatedBy    kernel.UserID
}

// Seal is one seal of an enterprise with its grants.
type Seal struct {
	kernel.Events

	id           ID
	enterpriseID kernel.EnterpriseID
	typ          Type
	name         string
	template     Template
	imageFileID  kernel.FileID
	automatic    bool
	status       Status
	createdBy    kernel.UserID
	createdAt    time.Time
	updatedAt    time.Time
	usedCount    int64
	lastUsedAt   time.Time
	deletedAt    time.Time
	grants       []Grant
	version      int64
}

// Grant lets one member use a seal, until it expires or is revoked.
type Grant struct {
	ID           GrantID
	MembershipID kernel.MembershipID
	UserID       kernel.UserID
	ExpiresAt    time.Time // zero: no expiry
	GrantedBy    kernel.UserID
	GrantedAt    time.Time
	RevokedAt    time.Time // zero: not revoked
	RevokedBy    kernel.UserID
	RevokeReason string // "revoked", "member_removed", "replaced"
}

// Revoke reasons.
const (
	ReasonRevoked       = "revoked"
	ReasonMemberRemoved = "member_removed"
	ReasonReplaced      = "replaced"
)

// ActiveAt reports whether the grant lets its member use the seal at t.
func (g Grant) ActiveAt(t time.Time) bool {
	return g.RevokedAt.IsZero() && (g.ExpiresAt.IsZero() || t.Before(g.ExpiresAt))
}

// State is the grant's state at t: active, expired or revoked.
func (g Grant) State(t time.Time) string {
	switch {
	case !g.RevokedAt.IsZero():
		return "revoked"
	case !g.ExpiresAt.IsZero() && !t.Before(g.ExpiresAt):
		return "expired"
	}
	return "active"
}

// ValidateName trims and checks a display name.
func ValidateName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" || !utf8.ValidString(name) || utf8.RuneCountInString(name) > MaxNameRunes {
		return "", kernel.Invalid("seal-name-invalid", "the name has 1 to 30 characters")
	}
	for _, c := range name {
		if unicode.IsControl(c) || unicode.Is(unicode.Cf, c) {
			return "", kernel.Invalid("seal-name-invalid", "the name contains control characters")
		}
	}
	return name, nil
}

// New creates an active seal.
func New(p NewParams, now time.Time) (*Seal, error) {
	if p.ID == "" || p.EnterpriseID == "" || p.ImageFileID == "" || p.CreatedBy == "" {
		return nil, kernel.Invalid("seal-incomplete", "a seal needs an id, an enterprise, an image and its creator")
	}
	if _, err := ParseType(string(p.Type)); err != nil {
		return nil, err
	}
	if p.Template != TemplateNone {
		if _, err := ParseTemplate(string(p.Template)); err != nil {
			return nil, err
		}
	}
	name := p.Type.DefaultName()
	if strings.TrimSpace(p.Name) != "" {
		var err error
		if name, err = ValidateName(p.Name); err != nil {
			return nil, err
		}
	}
	now = kernel.OccurredAt(now)
	s := &Seal{id: p.ID, enterpriseID: p.EnterpriseID, typ: p.Type, name: name, template: p.Template, imageFileID: p.ImageFileID,
		automatic: p.Automatic, status: StatusActive, createdBy: p.CreatedBy, createdAt: now, updatedAt: now}
	s.Record(Created{SealID: s.id, EnterpriseID: s.enterpriseID, Type: s.typ, Template: s.template, Automatic: s.automatic, By: s.createdBy, At: now})
	return s, nil
}

// Accessors.
func (s *Seal) ID() ID                            { return s.id }
func (s *Seal) EnterpriseID() kernel.EnterpriseID { return s.enterpriseID }
func (s *Seal) Type() Type                        { return s.typ }
func (s *Seal) Name() string                      { return s.name }
func (s *Seal) Template() Template                { return s.template }
func (s *Seal) ImageFileID() kernel.FileID        { return s.imageFileID }
func (s *Seal) Automatic() bool                   { return s.automatic }
func (s *Seal) Status() Status                    { return s.status }
func (s *Seal) CreatedBy() kernel.UserID          { return s.createdBy }
func (s *Seal) CreatedAt() time.Time              { return s.createdAt }
func (s *Seal) UpdatedAt() time.Time              { return s.updatedAt }
func (s *Seal) UsedCount() int64                  { return s.usedCount }
func (s *Seal) LastUsedAt() time.Time             { return s.lastUsedAt }
func (s *Seal) Version() int64                    { return s.version }

// Uploaded reports whether the image was uploaded rather than drawn by the platform.
func (s *Seal) Uploaded() bool { return s.template == TemplateNone }

// Grants returns every grant, oldest first (revoked and expired ones too).
func (s *Seal) Grants() []Grant { return append([]Grant(nil), s.grants...) }

// Grant returns one grant.
func (s *Seal) Grant(id GrantID) (Grant, error) {
	for _, g := range s.grants {
		if g.ID == id {
			return g, nil
		}
	}
	return Grant{}, ErrGrantNotFound
}

func (s *Seal) alive() error {
	if s.status == StatusDeleted {
		return ErrDeleted
	}
	return nil
}

// Rename changes the display name.
func (s *Seal) Rename(name string, by kernel.UserID, now time.Time) error {
	if err := s.alive(); err != nil {
		return err
	}
	name, err := ValidateName(name)
	if err != nil {
		return err
	}
	if name == s.name {
		return nil
	}
	now = kernel.OccurredAt(now)
	s.name, s.updatedAt = name, now
	s.Record(Renamed{SealID: s.id, EnterpriseID: s.enterpriseID, By: by, At: now})
	return nil
}

// SetStatus enables or disables the seal; setting the current status changes nothing.
func (s *Seal) SetStatus(st Status, by kernel.UserID, now time.Time) error {
	if err := s.alive(); err != nil {
		return err
	}
	if _, err := ParseSettableStatus(string(st)); err != nil {
		return err
	}
	if st == s.status {
		return nil
	}
	now = kernel.OccurredAt(now)
	s.status, s.updatedAt = st, now
	if st == StatusDisabled {
		s.Record(Disabled{SealID: s.id, EnterpriseID: s.enterpriseID, By: by, At: now})
	} else {
		s.Record(Enabled{SealID: s.id, EnterpriseID: s.enterpriseID, By: by, At: now})
	}
	return nil
}

// Delete removes a seal that has never signed; its open grants end with it.
func (s *Seal) Delete(by kernel.UserID, now time.Time) error {
	if err := s.alive(); err != nil {
		return err
	}
	if s.usedCount > 0 {
		return ErrInUse
	}
	now = kernel.OccurredAt(now)
	for i := range s.grants {
		if s.grants[i].RevokedAt.IsZero() {
			s.grants[i].RevokedAt, s.grants[i].RevokedBy, s.grants[i].RevokeReason = now, by, ReasonRevoked
		}
	}
	s.status, s.deletedAt, s.updatedAt = StatusDeleted, now, now
	s.Record(Deleted{SealID: s.id, EnterpriseID: s.enterpriseID, By: by, At: now})
	return nil
}

// GrantTo lets an active member use the seal, optionally until expiresAt. A member holds at
// most one active grant of a seal; an expired one is replaced by the new grant.
func (s *Seal) GrantTo(id GrantID, mid kernel.MembershipID, uid kernel.UserID, expiresAt time.Time, by kernel.UserID, now time.Time) (Grant, error) {
	if err := s.alive(); err != nil {
		return Grant{}, err
	}
	if id == "" || mid == "" || uid == "" {
		return Grant{}, kernel.Invalid("seal-grant-incomplete", "a grant needs an id, a member and a user")
	}
	now = kernel.OccurredAt(now)
	if !expiresAt.IsZero() {
		expiresAt = kernel.OccurredAt(expiresAt)
		if !expiresAt.After(now) {
			return Grant{}, ErrGrantExpiryPast
		}
	}
	active := 0
	for _, g := range s.grants {
		if g.ActiveAt(now) {
			if g.MembershipID == mid {
				return Grant{}, ErrGrantExists.WithDetail("grant_id", string(g.ID))
			}
			active++
		}
	}
	if active >= MaxActiveGrants {
		return Grant{}, kernel.Precondition("seal-grant-limit", "a seal has at most 1000 active grants").WithDetail("max", MaxActiveGrants)
	}
	for i := range s.grants { // an expired, unrevoked grant of the member is superseded
		if g := &s.grants[i]; g.MembershipID == mid && g.RevokedAt.IsZero() {
			g.RevokedAt, g.RevokedBy, g.RevokeReason = now, by, ReasonReplaced
		}
	}
	g := Grant{ID: id, MembershipID: mid, UserID: uid, ExpiresAt: expiresAt, GrantedBy: by, GrantedAt: now}
	s.grants = append(s.grants, g)
	s.updatedAt = now
	s.Record(Granted{SealID: s.id, EnterpriseID: s.enterpriseID, GrantID: id, MembershipID: mid, UserID: uid, ExpiresAt: expiresAt, By: by, At: now})
	return g, nil
}

// RevokeGrant ends one grant at once.
func (s *Seal) RevokeGrant(id GrantID, by kernel.UserID, now time.Time) error {
	if err := s.alive(); err != nil {
		return err
	}
	for i := range s.grants {
		g := &s.grants[i]
		if g.ID != id {
			continue
		}
		if !g.RevokedAt.IsZero() {
			return ErrGrantRevoked
		}
		now = kernel.OccurredAt(now)
		g.RevokedAt, g.RevokedBy, g.RevokeReason = now, by, ReasonRevoked
		s.updatedAt = now
		s.Record(GrantRevoked{SealID: s.id, EnterpriseID: s.enterpriseID, GrantID: id, MembershipID: g.MembershipID, Reason: ReasonRevoked, By: by, At: now})
		return nil
	}
	return ErrGrantNotFound
}

// RevokeMember ends every open grant of a membership (the member was removed); it reports how
// many it ended.
func (s *Seal) RevokeMember(mid kernel.MembershipID, by kernel.UserID, now time.Time) int {
	now = kernel.OccurredAt(now)
	n := 0
	for i := range s.grants {
		g := &s.grants[i]
		if g.MembershipID != mid || !g.RevokedAt.IsZero() {
			continue
		}
		g.RevokedAt, g.RevokedBy, g.RevokeReason = now, by, ReasonMemberRemoved
		s.Record(GrantRevoked{SealID: s.id, EnterpriseID: s.enterpriseID, GrantID: g.ID, MembershipID: mid, Reason: ReasonMemberRemoved, By: by, At: now})
		n++
	}
	if n > 0 {
		s.updatedAt = now
	}
	return n
}

// Authorize checks that uid may sign with the seal at now: the seal is active and uid holds an
// active grant of it. The caller checks the membership itself is active.
func (s *Seal) Authorize(uid kernel.UserID, now time.Time) (Grant, error) {
	switch s.status {
	case StatusDeleted:
		return Grant{}, ErrDeleted
	case StatusDisabled:
		return Grant{}, ErrDisabled
	}
	for _, g := range s.grants {
		if g.UserID == uid && g.ActiveAt(now) {
			return g, nil
		}
	}
	return Grant{}, ErrNotGranted
}

// MarkUsed records one signature made with the seal under grant gid; a used seal can no
// longer be deleted.
func (s *Seal) MarkUsed(uid kernel.UserID, now time.Time) error {
	g, err := s.Authorize(uid, now)
	if err != nil {
		return err
	}
	now = kernel.OccurredAt(now)
	s.usedCount++
	s.lastUsedAt, s.updatedAt = now, now
	s.Record(Used{SealID: s.id, EnterpriseID: s.enterpriseID, GrantID: g.ID, UserID: uid, At: now})
	return nil
}
