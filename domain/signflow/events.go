package signflow

import (
	"time"

	"github.com/shuxinqian/server/domain/kernel"
)

// Events carry ids only: no names or phones of signers.

// Created: a draft flow was made.
type Created struct {
	FlowID       ID                  `json:"flow_id"`
	InitiatorID  kernel.UserID       `json:"initiator_id"`
	EnterpriseID kernel.EnterpriseID `json:"enterprise_id,omitempty"`
	Signers      int                 `json:"signers"`
	Ordered      bool                `json:"ordered"`
	At           time.Time           `json:"at"`
}

// EventName implements kernel.Event.
func (Created) EventName() string { return "signflow.created" }

// Started: the flow went out; Current may sign now (and are told).
type Started struct {
	FlowID  ID         `json:"flow_id"`
	Current []SignerID `json:"current"`
	At      time.Time  `json:"at"`
}

// EventName implements kernel.Event.
func (Started) EventName() string { return "signflow.started" }

// Signed: a signer signed; Next is whose turn it is now (ordered flows).
type Signed struct {
	FlowID   ID            `json:"flow_id"`
	SignerID SignerID      `json:"signer_id"`
	By       kernel.UserID `json:"by"`
	Next     []SignerID    `json:"next,omitempty"`
	At       time.Time     `json:"at"`
}

// EventName implements kernel.Event.
func (Signed) EventName() string { return "signflow.signed" }

// Completed: every signer signed.
type Completed struct {
	FlowID ID        `json:"flow_id"`
	At     time.Time `json:"at"`
}

// EventName implements kernel.Event.
func (Completed) EventName() string { return "signflow.completed" }

// Rejected: a signer declined; the flow is over.
type Rejected struct {
	FlowID   ID        `json:"flow_id"`
	SignerID SignerID  `json:"signer_id"`
	At       time.Time `json:"at"`
}

// EventName implements kernel.Event.
func (Rejected) EventName() string { return "signflow.rejected" }

// Revoked: the initiator called the flow off.
type Revoked struct {
	FlowID ID            `json:"flow_id"`
	By     kernel.UserID `json:"by"`
	At     time.Time     `json:"at"`
}

// EventName implements kernel.Event.
func (Revoked) EventName() string { return "signflow.revoked" }

// Expired: the deadline passed before the flow completed.
type Expired struct {
	FlowID ID        `json:"flow_id"`
	At     time.Time `json:"at"`
}

// EventName implements kernel.Event.
func (Expired) EventName() string { return "signflow.expired" }
