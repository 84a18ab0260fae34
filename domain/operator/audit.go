package operator

import (
	"encoding/json"
	"time"
)

// AuditEntry is one line of the append-only operator audit log: who did what to what, the state
// before and after (JSON, never personal data in clear), from which IP and when.
type AuditEntry struct {
	ID         string
	OperatorID ID
	Username   string
	Action     string // e.g. "channel.create", "catalog.put", "dead-letter.replay"
	TargetType string // e.g. "channel", "banner"
	TargetID   string
	Before     json.RawMessage // null when created
	After      json.RawMessage // null when deleted
	IP         string
	At         time.Time
}

// AuditFilter narrows the audit list.
type AuditFilter struct {
	OperatorID ID
	Action     string
	TargetType string
	TargetID   string
	Since      time.Time
	Until      time.Time
}
