package ports

import (
	"context"
	"time"

	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/signflow"
)

// SignFlowDocument is one document of a sign flow with its current version: the original upload
// and, after each signing, the signed PDF (an incremental update of the previous version).
type SignFlowDocument struct {
	Index          int
	Name           string
	Pages          int
	PageSizes      [][2]float64
	OriginalFileID kernel.FileID
	OriginalSHA256 string
	// Version counts from 1 (the original); CurrentFileID/CurrentSHA256 are the newest.
	Version       int
	CurrentFileID kernel.FileID
	CurrentSHA256 string
}

// SignFlowSigning is the evidence of one signer's signing.
type SignFlowSigning struct {
	SignerID    signflow.SignerID
	UserID      kernel.UserID
	SealID      string // organisation signers
	SignatureID string // person signers
	IP          string
	CertSerial  string
	At          time.Time
	// Hashes before and after, by document index.
	HashBefore map[int]string
	HashAfter  map[int]string
}

// SignFlowView is a flow with what the application keeps beside the aggregate.
type SignFlowView struct {
	Flow      *signflow.Flow
	Documents []SignFlowDocument
	Signings  []SignFlowSigning
	// Notes are added to the flow's hash chain (after the flow's own events) when saved.
	Notes []SignFlowNote
}

// SignFlowNote is an evidence entry of the hash chain that is not a domain event.
type SignFlowNote struct {
	Type   string
	Actor  string
	Detail string
	At     time.Time
}

// SignFlowFilter selects a page of flows.
type SignFlowFilter struct {
	Status signflow.Status // "" for every status
	// Before is the cursor: flows with a smaller id (newest first); "" from the newest.
	Before signflow.ID
	Limit  int
}

// SigningTurn is a signer's signing in progress: taken under the flow's row lock before the
// signature is made outside the transaction, so a signer signs once at a time.
type SigningTurn struct {
	FlowID   signflow.ID
	SignerID signflow.SignerID
	UserID   kernel.UserID
	// EnterpriseID is the enterprise whose quota the signature uses ("" for none).
	EnterpriseID kernel.EnterpriseID
	Until        time.Time
}

// SignFlowRepository stores sign flows with their documents, signers, fields, document versions,
// signings, the hash chain of their events, the signing turns and the signature quota used.
type SignFlowRepository interface {
	Add(ctx context.Context, v *SignFlowView) error
	// Get loads a flow; missing → not-found "flow-not-found".
	Get(ctx context.Context, id signflow.ID) (*SignFlowView, error)
	// Update loads the flow under a row lock, applies fn and saves the flow, its new document
	// versions and signings, with its events in the outbox and in the hash chain.
	Update(ctx context.Context, id signflow.ID, fn func(v *SignFlowView) error) error
	// ListByInitiator pages the flows a user started, newest first (one query a page, plus
	// one for their signers and one for their documents).
	ListByInitiator(ctx context.Context, uid kernel.UserID, f SignFlowFilter) ([]*SignFlowView, error)
	// ListBySigner pages the flows (not drafts) in which phone is a person signer or one of
	// enterprises is an organisation signer, newest first.
	ListBySigner(ctx context.Context, phone kernel.Phone, enterprises []kernel.EnterpriseID, f SignFlowFilter) ([]*SignFlowView, error)
	// Due returns flows whose deadline passed at now and are still open, at most limit.
	Due(ctx context.Context, now time.Time, limit int) ([]signflow.ID, error)
	// Chain returns the flow's hash chain, oldest first.
	Chain(ctx context.Context, id signflow.ID) ([]EvidenceEvent, error)

	// TakeTurn records a signing in progress and, when EnterpriseID is set, reserves one
	// signature of the enterprise's quota (402 "quota-exhausted" when none is left). A turn of
	// the same signer still running is the conflict "flow-signing-in-progress"; a stale one
	// (Until passed) is replaced and its reservation released.
	TakeTurn(ctx context.Context, t SigningTurn, now time.Time) error
	// EndTurn removes the turn; used=false also gives the reserved signature back. used=true
	// needs the turn to be still there (a stale turn taken over answers the conflict
	// "flow-signing-expired"). Reserving a signature first gives back the enterprise's
	// signatures reserved by stale turns (runs that died).
	EndTurn(ctx context.Context, flow signflow.ID, signer signflow.SignerID, used bool) error
	// SignaturesUsed counts the enterprise's signatures used or reserved.
	SignaturesUsed(ctx context.Context, eid kernel.EnterpriseID) (int, error)
}
