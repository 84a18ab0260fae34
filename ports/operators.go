package ports

import (
	"context"
	"encoding/json"
	"time"

	"github.com/shuxinqian/server/domain/channel"
	"github.com/shuxinqian/server/domain/enterprise"
	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/operator"
	"github.com/shuxinqian/server/domain/order"
)

//go:generate go tool mockgen -typed -destination=mocks/operators_mocks.go -package=mocks github.com/shuxinqian/server/ports OperatorRepository,OperatorAuditLog,BannerRepository,DeadLetterQueue,ChannelAdmin,ConsoleDirectory

// OperatorRepository stores platform operator accounts (their TOTP secrets encrypted) and their
// sessions (by the hash of the token).
type OperatorRepository interface {
	// Add inserts an operator; a taken username is the conflict "operator-username-taken".
	Add(ctx context.Context, o *operator.Operator) error
	// Get loads an operator; missing → not-found "operator-not-found".
	Get(ctx context.Context, id operator.ID) (*operator.Operator, error)
	// GetByUsername loads an operator; missing → not-found "operator-not-found".
	GetByUsername(ctx context.Context, username string) (*operator.Operator, error)
	// Update loads the operator under a row lock, applies fn and saves it when fn returns nil.
	Update(ctx context.Context, id operator.ID, fn func(o *operator.Operator) error) error
	// List returns operators by username after the username `after` ("" from the first), at
	// most limit, in one query.
	List(ctx context.Context, after string, limit int) ([]*operator.Operator, error)
	// LockActiveAdmins locks the rows of every active admin until the transaction ends (in id
	// order, so concurrent callers queue rather than deadlock) and returns their ids, as they
	// are once the locks are held. Every change that can take an account out of the active
	// admins calls it first, so two such changes cannot both count the other's admin.
	LockActiveAdmins(ctx context.Context) ([]operator.ID, error)
	// RevokeSessions revokes every open session of the operator at `at` and returns how many.
	RevokeSessions(ctx context.Context, id operator.ID, at time.Time) (int, error)
	// AddSession stores a new session.
	AddSession(ctx context.Context, s *operator.Session) error
	// SessionByTokenHash loads a session; unknown → operator.ErrSessionInvalid.
	SessionByTokenHash(ctx context.Context, tokenHash string) (*operator.Session, error)
	// SaveSession writes back last use and revocation.
	SaveSession(ctx context.Context, s *operator.Session) error
}

// OperatorAuditLog is the append-only operator audit log. There is no update or delete.
type OperatorAuditLog interface {
	Append(ctx context.Context, e operator.AuditEntry) error
	// List returns entries matching f, newest first, strictly before the entry id `before` (a
	// cursor; "" from the newest), at most limit, in one query.
	List(ctx context.Context, f operator.AuditFilter, before string, limit int) ([]operator.AuditEntry, error)
}

// Banner is a home-page banner (广告图).
type Banner struct {
	ID          string
	Title       string
	ImageFileID string
	// TargetType is "catalog" (TargetValue: a channel code) or "url" (an http/https URL).
	TargetType  string
	TargetValue string
	SortOrder   int
	Active      bool
	StartsAt    time.Time // zero: from now on
	EndsAt      time.Time // zero: no end
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// BannerRepository stores banners.
type BannerRepository interface {
	Add(ctx context.Context, b Banner) error
	// Get loads a banner; missing → not-found "banner-not-found".
	Get(ctx context.Context, id string) (Banner, error)
	// Save replaces a banner's fields; missing → "banner-not-found".
	Save(ctx context.Context, b Banner) error
	// Delete removes a banner; missing → "banner-not-found".
	Delete(ctx context.Context, id string) error
	// List returns every banner by sort order, then id (the console; bounded by limit).
	List(ctx context.Context, limit int) ([]Banner, error)
	// ActiveAt returns the active banners whose window contains at, by sort order.
	ActiveAt(ctx context.Context, at time.Time, limit int) ([]Banner, error)
}

// DeadLetter is an event that exhausted its retries.
type DeadLetter struct {
	ID        int64
	MessageID string
	Event     string
	Handler   string
	Reason    string
	ParkedAt  time.Time
	Payload   json.RawMessage
}

// DeadLetterQueue reads and replays the parked events inside a unit of work.
type DeadLetterQueue interface {
	// List returns parked events, oldest first, after the id `after` (0 from the start).
	List(ctx context.Context, after int64, limit int) ([]DeadLetter, error)
	// Get loads one; missing → not-found "dead-letter-not-found".
	Get(ctx context.Context, id int64) (DeadLetter, error)
	// Replay puts it back into the outbox addressed to the handler that gave up on it (same
	// message id) and removes it from the parked ones, in the unit of work's transaction.
	Replay(ctx context.Context, id int64) (DeadLetter, error)
}

// ChannelAdmin is the console's side of the channels: every channel (active or not) and
// read-modify-write under a row lock. The cache in front of the channels is emptied by writes.
type ChannelAdmin interface {
	// ListAll returns every channel by code, after the code `after`, at most limit.
	ListAll(ctx context.Context, after string, limit int) ([]*channel.Channel, error)
	// Update loads the channel by code under a row lock, applies fn and saves it with its events.
	Update(ctx context.Context, code string, fn func(c *channel.Channel) error) error
}

// AnomalyRecord is a payment anomaly with its resolution.
type AnomalyRecord struct {
	PaymentAnomaly
	ResolvedAt time.Time // zero while open
	ResolvedBy string    // the operator id
	Note       string
}

// ConsoleDirectory is what the console reads across enterprises and payments.
type ConsoleDirectory interface {
	// Enterprises lists enterprises by id after the id `after`, whose name contains q ("" all).
	Enterprises(ctx context.Context, after, q string, limit int) ([]*enterprise.Enterprise, error)
	// Anomalies lists payment anomalies newest first (by id) before the id `before`; open only
	// when openOnly.
	Anomalies(ctx context.Context, openOnly bool, before string, limit int) ([]AnomalyRecord, error)
	// Anomaly loads one under a row lock; missing → not-found "anomaly-not-found".
	Anomaly(ctx context.Context, id string) (AnomalyRecord, error)
	// ResolveAnomaly records the resolution of an open anomaly.
	ResolveAnomaly(ctx context.Context, id, by, note string, at time.Time) error
	// Orders lists orders of every user, newest first (by id), matching f, each with its
	// enterprise's name, in one query.
	Orders(ctx context.Context, f ConsoleOrderFilter) ([]ConsoleOrder, error)
	// Order loads one order with its enterprise's name; missing → not-found "order-not-found".
	Order(ctx context.Context, id kernel.OrderID) (ConsoleOrder, error)
}

// ConsoleOrderFilter selects orders across users for the console. Empty fields match all.
type ConsoleOrderFilter struct {
	Status       order.Status
	EnterpriseID kernel.EnterpriseID
	OutTradeNo   string
	Before       kernel.OrderID // cursor: orders older than this one ("" from the newest)
	Limit        int
}

// ConsoleOrder is an order with the name of the enterprise it was placed for ("" when the
// enterprise is gone).
type ConsoleOrder struct {
	Order          *order.Order
	EnterpriseName string
}
