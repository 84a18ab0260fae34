package seal

import (
	"time"

	"github.com/shuxinqian/server/domain/kernel"
)

// Events carry ids only: no names of people.

// Created: a seal was made (drawn from a template, uploaded, or automatically on verification).
type Created struct {
	SealID       ID                  `json:"seal_id"`
	EnterpriseID kernel.EnterpriseID `json:"enterprise_id"`
	Type         Type                `json:"type"`
	Template     Template            `json:"template,omitempty"`
	Automatic    bool                `json:"automatic"`
	By           kernel.UserID       `json:"by"`
	At           time.Time           `json:"at"`
}

// EventName implements kernel.Event.
func (Created) EventName() string { return "seal.created" }

// Renamed: the display name changed.
type Renamed struct {
	SealID       ID                  `json:"seal_id"`
	EnterpriseID kernel.EnterpriseID `json:"enterprise_id"`
	By           kernel.UserID       `json:"by"`
	At           time.Time           `json:"at"`
}

// EventName implements kernel.Event.
func (Renamed) EventName() string { return "seal.renamed" }

// Disabled: the seal can no longer sign.
type Disabled struct {
	SealID       ID                  `json:"seal_id"`
	EnterpriseID kernel.EnterpriseID `json:"enterprise_id"`
	By           kernel.UserID       `json:"by"`
	At           time.Time           `json:"at"`
}

// EventName implements kernel.Event.
func (Disabled) EventName() string { return "seal.disabled" }

// Enabled: a disabled seal signs again.
type Enabled struct {
	SealID       ID                  `json:"seal_id"`
	EnterpriseID kernel.EnterpriseID `json:"enterprise_id"`
	By           kernel.UserID       `json:"by"`
	At           time.Time           `json:"at"`
}

// EventName implements kernel.Event.
func (Enabled) EventName() string { return "seal.enabled" }

// Deleted: a never-used seal was deleted.
type Deleted struct {
	SealID       ID                  `json:"seal_id"`
	EnterpriseID kernel.EnterpriseID `json:"enterprise_id"`
	By           kernel.UserID       `json:"by"`
	At           time.Time           `json:"at"`
}

// EventName implements kernel.Event.
func (Deleted) EventName() string { return "seal.deleted" }

// Granted: a member may use the seal.
type Granted struct {
	SealID       ID                  `json:"seal_id"`
	EnterpriseID kernel.EnterpriseID `json:"enterprise_id"`
	GrantID      GrantID             `json:"grant_id"`
	MembershipID kernel.MembershipID `json:"membership_id"`
	UserID       kernel.UserID       `json:"user_id"`
	ExpiresAt    time.Time           `json:"expires_at,omitzero"`
	By           kernel.UserID       `json:"by"`
	At           time.Time           `json:"at"`
}

// EventName implements kernel.Event.
func (Granted) EventName() string { return "seal.granted" }

// GrantRevoked: a grant ended (revoked by an admin, or the member was removed).
type GrantRevoked struct {
	SealID       ID                  `json:"seal_id"`
	EnterpriseID kernel.EnterpriseID `json:"enterprise_id"`
	GrantID      GrantID             `json:"grant_id"`
	MembershipID kernel.MembershipID `json:"membership_id"`
	Reason       string              `json:"reason"`
	By           kernel.UserID       `json:"by"`
	At           time.Time           `json:"at"`
}

// EventName implements kernel.Event.
func (GrantRevoked) EventName() string { return "seal.grant_revoked" }

// Used: the seal signed a document.
type Used struct {
	SealID       ID                  `json:"seal_id"`
	EnterpriseID kernel.EnterpriseID `json:"enterprise_id"`
	GrantID      GrantID             `json:"grant_id"`
	UserID       kernel.UserID       `json:"user_id"`
	At           time.Time           `json:"at"`
}

// EventName implements kernel.Event.
func (Used) EventName() string { return "seal.used" }
