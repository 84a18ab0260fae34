package ports

import (
	"context"
	"time"
)

// EvidenceReport is everything the evidence report (evidence.pdf) of a sign flow shows. Names and
// phones arrive masked; hashes are lowercase hex SHA-256.
type EvidenceReport struct {
	FlowID      string
	Title       string
	Status      string
	Initiator   string
	CreatedAt   time.Time
	FinishedAt  time.Time // zero while unfinished
	GeneratedAt time.Time
	Documents   []EvidenceDocument
	Signers     []EvidenceSigner
	Events      []EvidenceEvent
	// HeadHash is the last event's chain hash; HeadTimestamp the RFC 3161 token over it (DER).
	HeadHash          string
	HeadTimestamp     []byte
	HeadTimestampTime time.Time
}

type EvidenceDocument struct {
	Index          int
	Name           string
	Pages          int
	OriginalSHA256 string
	CurrentSHA256  string
}

type EvidenceSigner struct {
	Kind              string // person | organization
	Name              string // masked
	Phone             string // masked
	Enterprise        string // organization signers
	Seal              string // seal name/type for organization signers
	Member            string // the member who signed for the enterprise (masked)
	Status            string
	IdentityChecks    []string // e.g. "实名认证（人脸核身）", "签署密码"
	SignedAt          time.Time
	IP                string
	CertificateSerial string
	HashBefore        string
	HashAfter         string
}

// EvidenceEvent is one link of the hash chain: Hash = SHA-256(PrevHash || canonical event bytes).
type EvidenceEvent struct {
	Seq      int
	At       time.Time
	Type     string
	Actor    string
	Detail   string
	PrevHash string
	Hash     string
}

// EvidenceRenderer draws the evidence report as a PDF.
type EvidenceRenderer interface {
	RenderEvidence(ctx context.Context, r EvidenceReport) ([]byte, error)
}
