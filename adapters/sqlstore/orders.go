package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/uptrace/bun"

	"github.com/shuxinqian/server/domain/channel"
	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/order"
	"github.com/shuxinqian/server/ports"
)

type orderRow struct {
	bun.BaseModel `bun:"table:orders"`

	ID            string    `bun:"id,pk"`
	EnterpriseID  string    `bun:"enterprise_id"`
	UserID        string    `bun:"user_id"`
	ChannelCode   string    `bun:"channel_code"`
	Items         string    `bun:"items"`
	TotalFen      int64     `bun:"total_fen"`
	Status        string    `bun:"status"`
	OutTradeNo    string    `bun:"out_trade_no"`
	TradeType     string    `bun:"trade_type"`
	PaidAt        time.Time `bun:"paid_at,nullzero"`
	TransactionID string    `bun:"transaction_id"`
	ClosedAt      time.Time `bun:"closed_at,nullzero"`
	CloseReason   string    `bun:"close_reason"`
	RefundedFen   int64     `bun:"refunded_fen"`
	RefundingFen  int64     `bun:"refunding_fen"`
	CreatedAt     time.Time `bun:"created_at"`
	ExpiresAt     time.Time `bun:"expires_at"`
	UpdatedAt     time.Time `bun:"updated_at"`
	Version       int64     `bun:"version"`
	// NextCheckAt is the reconciler's schedule (orders_due): the first check when the order is
	// inserted, then what ClaimDue sets. Update leaves it alone.
	NextCheckAt time.Time `bun:"next_check_at,nullzero"`
}

type orderItemJSON struct {
	SKU       string         `json:"sku"`
	Name      string         `json:"name"`
	Kind      string         `json:"kind"`
	UnitPrice int64          `json:"unit_price_fen"`
	Quantity  int            `json:"quantity"`
	Subtotal  int64          `json:"subtotal_fen"`
	Grants    channel.Grants `json:"grants"`
	// Since migration 20261204080001 (lines stored before read as channel.DefaultTax).
	TaxCode     string `json:"tax_code,omitempty"`
	TaxCategory string `json:"tax_category,omitempty"`
	TaxRateBP   *int   `json:"tax_rate_bp,omitempty"`
	Unit        string `json:"unit,omitempty"`
	Spec        string `json:"spec,omitempty"`
}

type orders struct{ t *txn }

func orderToRow(o *order.Order) (*orderRow, error) {
	items := make([]orderItemJSON, len(o.Items))
	for i, it := range o.Items {
		items[i] = orderItemJSON{SKU: it.SKU, Name: it.Name, Kind: string(it.Kind), UnitPrice: it.UnitPrice.Fen(), Quantity: it.Quantity,
			Subtotal: it.Subtotal.Fen(), Grants: it.Grants, TaxCode: it.Tax.Code, TaxCategory: it.Tax.Category,
			TaxRateBP: new(it.Tax.Rate.BasisPoints()), Unit: it.Unit, Spec: it.Spec}
	}
	b, err := json.Marshal(items)
	if err != nil {
		return nil, err
	}
	return &orderRow{ID: string(o.ID), EnterpriseID: string(o.EnterpriseID), UserID: string(o.UserID), ChannelCode: o.ChannelCode,
		Items: string(b), TotalFen: o.Total.Fen(), Status: string(o.Status), OutTradeNo: o.OutTradeNo, TradeType: o.TradeType,
		PaidAt: utc(o.PaidAt), TransactionID: o.TransactionID, ClosedAt: utc(o.ClosedAt), CloseReason: o.CloseReason,
		RefundedFen: o.Refunded.Fen(), RefundingFen: o.Refunding.Fen(),
		CreatedAt: utc(o.CreatedAt), ExpiresAt: utc(o.ExpiresAt), UpdatedAt: utc(o.UpdatedAt), Version: o.Version,
		NextCheckAt: utc(o.FirstCheck())}, nil
}

func orderFromRow(row *orderRow) (*order.Order, error) {
	var items []orderItemJSON
	if err := json.Unmarshal([]byte(row.Items), &items); err != nil {
		return nil, err
	}
	o := &order.Order{ID: kernel.OrderID(row.ID), EnterpriseID: kernel.EnterpriseID(row.EnterpriseID), UserID: kernel.UserID(row.UserID),
		ChannelCode: row.ChannelCode, Total: kernel.Fen(row.TotalFen), Status: order.Status(row.Status), OutTradeNo: row.OutTradeNo,
		TradeType: row.TradeType, PaidAt: utc(row.PaidAt), TransactionID: row.TransactionID, ClosedAt: utc(row.ClosedAt),
		CloseReason: row.CloseReason, Refunded: kernel.Fen(row.RefundedFen), Refunding: kernel.Fen(row.RefundingFen), CreatedAt: utc(row.CreatedAt), ExpiresAt: utc(row.ExpiresAt), UpdatedAt: utc(row.UpdatedAt),
		Version: row.Version}
	for _, it := range items {
		o.Items = append(o.Items, order.Item{SKU: it.SKU, Name: it.Name, Kind: channel.ItemKind(it.Kind), UnitPrice: kernel.Fen(it.UnitPrice),
			Quantity: it.Quantity, Subtotal: kernel.Fen(it.Subtotal), Grants: it.Grants, Unit: it.Unit, Spec: it.Spec,
			Tax: channel.Tax{Code: it.TaxCode, Category: it.TaxCategory}})
		last := &o.Items[len(o.Items)-1]
		if it.TaxRateBP != nil {
			last.Tax.Rate = kernel.TaxRate(*it.TaxRateBP)
		}
		if it.TaxCode == "" { // placed before lines kept their tax classification
			last.Tax = channel.DefaultTax
		}
		if it.Unit == "" {
			last.Unit = channel.DefaultUnit
		}
	}
	return o, nil
}

func (r orders) Add(ctx context.Context, o *order.Order) error {
	if err := r.t.mustWrite(); err != nil {
		return err
	}
	row, err := orderToRow(o)
	if err != nil {
		return err
	}
	row.Version = 1
	if _, err := r.t.idb.NewInsert().Model(row).Exec(ctx); err != nil {
		return err
	}
	o.Version = 1
	r.t.record(o)
	return nil
}

func (r orders) get(ctx context.Context, where string, arg any, lock bool) (*order.Order, error) {
	row := new(orderRow)
	q := r.t.idb.NewSelect().Model(row).Where(where, arg)
	if lock {
		q = r.t.forUpdate(q)
	}
	if err := q.Scan(ctx); err != nil {
		return nil, notFound(err, "order-not-found", "no such order")
	}
	return orderFromRow(row)
}

func (r orders) Get(ctx context.Context, id kernel.OrderID) (*order.Order, error) {
	return r.get(ctx, "id = ?", string(id), false)
}

func (r orders) GetByOutTradeNo(ctx context.Context, no string) (*order.Order, error) {
	return r.get(ctx, "out_trade_no = ?", no, false)
}

func (r orders) Update(ctx context.Context, id kernel.OrderID, fn func(o *order.Order) error) error {
	if err := r.t.mustWrite(); err != nil {
		return err
	}
	o, err := r.get(ctx, "id = ?", string(id), true)
	if err != nil {
		return err
	}
	if err := fn(o); err != nil {
		return err
	}
	row, err := orderToRow(o)
	if err != nil {
		return err
	}
	row.Version = o.Version + 1
	res, err := r.t.idb.NewUpdate().Model(row).
		Column("status", "trade_type", "paid_at", "transaction_id", "closed_at", "close_reason", "refunded_fen", "refunding_fen", "updated_at", "version").
		Where("id = ? AND version = ?", row.ID, o.Version).Exec(ctx)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return kernel.Conflict("concurrent-update", "the order was changed concurrently; try again")
	}
	o.Version++
	r.t.record(o)
	return nil
}

// orderColumns are the columns of orderRow, for RETURNING.
const orderColumns = "id, enterprise_id, user_id, channel_code, items, total_fen, status, out_trade_no, trade_type, paid_at, " +
	"transaction_id, closed_at, close_reason, created_at, expires_at, updated_at, version"

const payPendingPostgres = `UPDATE orders SET status = $1, transaction_id = $2, paid_at = $3, updated_at = $4, version = version + 1
WHERE out_trade_no = $5 AND status = $6 AND total_fen = $7 RETURNING ` + orderColumns

const payPendingSQLite = `UPDATE orders SET status = ?, transaction_id = ?, paid_at = ?, updated_at = ?, version = version + 1
WHERE out_trade_no = ? AND status = ? AND total_fen = ?`

// orderByTradeNoSQLite reads the times as "+column" (an expression, so without the column's
// TIMESTAMP type): modernc.org/sqlite parses a TIMESTAMP column's text itself, with a failing
// time.Parse before the format bun writes; bun parses the text in one go. A tenth of a
// notification's CPU went there.
const orderByTradeNoSQLite = `SELECT id, enterprise_id, user_id, channel_code, items, total_fen, status, out_trade_no, trade_type, ` +
	`+paid_at AS paid_at, transaction_id, +closed_at AS closed_at, close_reason, +created_at AS created_at, ` +
	`+expires_at AS expires_at, +updated_at AS updated_at, version FROM orders WHERE out_trade_no = ?`

// sqliteTime is a time as bun writes it into SQLite's TEXT columns (schema.BaseDialect.AppendTime),
// so that rows written by bun and by a prepared statement compare and sort alike.
func sqliteTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05.999999-07:00") }

// PayPending checks and changes in one statement (UPDATE … WHERE pending AND total RETURNING): the
// row lock of Update's SELECT … FOR UPDATE is the UPDATE's own, and no separate read is needed.
func (r orders) PayPending(ctx context.Context, outTradeNo string, p order.Payment) (*order.Order, error) {
	if err := r.t.mustWrite(); err != nil {
		return nil, err
	}
	var rows []orderRow
	db := r.t.store.db
	if btx, ok := r.t.idb.(bun.Tx); ok && db.IsPostgres() {
		// Postgres: a cached prepared statement (pgx), the values sent apart from the SQL.
		res, err := db.QueryTx(ctx, btx.Tx, payPendingPostgres, string(order.StatusPaid), p.TransactionID,
			p.PaidAt.UTC(), p.At.UTC(), outTradeNo, string(order.StatusPendingPayment), p.Amount.Fen())
		if err != nil {
			return nil, err
		}
		if err := db.ScanRows(ctx, res, &rows); err != nil {
			return nil, err
		}
	} else if ok {
		// SQLite: the UPDATE without RETURNING, then the row by its unique out_trade_no, both
		// prepared once per connection. SQLite runs RETURNING as a trigger, and a statement with a
		// trigger opens a statement journal (a 64 KiB in-memory chunk per statement, mapped and
		// unmapped by modernc's allocator) and copies every page it touches into it: that cost
		// more than the extra indexed SELECT. Writers are serialised (BEGIN IMMEDIATE), so the
		// SELECT reads the row this UPDATE wrote.
		res, err := db.ExecTx(ctx, btx.Tx, payPendingSQLite, string(order.StatusPaid), p.TransactionID,
			sqliteTime(p.PaidAt), sqliteTime(p.At), outTradeNo, string(order.StatusPendingPayment), p.Amount.Fen())
		if err != nil {
			return nil, err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return nil, err
		}
		sel, err := db.QueryTx(ctx, btx.Tx, orderByTradeNoSQLite, outTradeNo)
		if err != nil {
			return nil, err
		}
		if err := db.ScanRows(ctx, sel, &rows); err != nil {
			return nil, err
		}
	} else {
		return nil, fmt.Errorf("sqlstore: PayPending outside a transaction")
	}
	if len(rows) == 0 {
		return nil, nil
	}
	o, err := orderFromRow(&rows[0])
	if err != nil {
		return nil, err
	}
	if err := o.RecordPaid(p); err != nil {
		return nil, err
	}
	r.t.record(o)
	return o, nil
}

func (r orders) List(ctx context.Context, f ports.OrderFilter) ([]*order.Order, error) {
	var rows []orderRow
	q := r.t.idb.NewSelect().Model(&rows).Where("user_id = ?", string(f.UserID))
	if f.EnterpriseID != "" {
		q = q.Where("enterprise_id = ?", string(f.EnterpriseID))
	}
	if f.Status != "" {
		q = q.Where("status = ?", string(f.Status))
	}
	if f.Before != "" {
		q = q.Where("id < ?", string(f.Before))
	}
	if err := q.Order("id DESC").Limit(int64(f.Limit)).Scan(ctx); err != nil {
		return nil, err
	}
	out := make([]*order.Order, 0, len(rows))
	for i := range rows {
		o, err := orderFromRow(&rows[i])
		if err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, nil
}

type grantRow struct {
	bun.BaseModel `bun:"table:quota_grants"`

	OrderID          string    `bun:"order_id,pk"`
	SKU              string    `bun:"sku,pk"`
	EnterpriseID     string    `bun:"enterprise_id"`
	Signatures       int       `bun:"signatures"`
	CertificateYears int       `bun:"certificate_years"`
	GrantedAt        time.Time `bun:"granted_at"`
}

type quota struct{ t *txn }

func (r quota) Grant(ctx context.Context, gs []ports.Grant) (int, error) {
	if err := r.t.mustWrite(); err != nil {
		return 0, err
	}
	if len(gs) == 0 {
		return 0, nil
	}
	rows := make([]grantRow, len(gs))
	for i, g := range gs {
		rows[i] = grantRow{OrderID: string(g.OrderID), SKU: g.SKU, EnterpriseID: string(g.EnterpriseID), Signatures: g.Signatures,
			CertificateYears: g.CertificateYears, GrantedAt: g.At.UTC()}
	}
	res, err := r.t.idb.NewInsert().Model(&rows).On("CONFLICT DO NOTHING").Exec(ctx)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}

func (r quota) Totals(ctx context.Context, eid kernel.EnterpriseID) (ports.Quota, error) {
	var q ports.Quota
	// What was granted less what refunds took back (reductions of refunds not closed).
	err := r.t.idb.NewRaw(`SELECT
		(SELECT COALESCE(SUM(signatures), 0) FROM quota_grants WHERE enterprise_id = ?0) -
		(SELECT COALESCE(SUM(signatures), 0) FROM quota_reductions WHERE enterprise_id = ?0),
		(SELECT COALESCE(SUM(certificate_years), 0) FROM quota_grants WHERE enterprise_id = ?0) -
		(SELECT COALESCE(SUM(certificate_years), 0) FROM quota_reductions WHERE enterprise_id = ?0)`, string(eid)).
		Scan(ctx, &q.Signatures, &q.CertificateYears)
	if err != nil {
		return q, err
	}
	// Signatures left: less what signings used or reserved (signature_usage).
	used, err := signFlows(r).SignaturesUsed(ctx, eid)
	q.Signatures -= used
	return q, err
}

type anomalyRow struct {
	bun.BaseModel `bun:"table:payment_anomalies"`

	ID             string    `bun:"id,pk"`
	Kind           string    `bun:"kind"`
	OutTradeNo     string    `bun:"out_trade_no"`
	OrderID        string    `bun:"order_id"`
	TransactionID  string    `bun:"transaction_id"`
	AmountFen      int64     `bun:"amount_fen"`
	NotificationID string    `bun:"notification_id"`
	At             time.Time `bun:"at"`
	ResolvedAt     time.Time `bun:"resolved_at,nullzero"`
	ResolvedBy     string    `bun:"resolved_by"`
	ResolutionNote string    `bun:"resolution_note"`
}

type anomalies struct{ t *txn }

func (r anomalies) Record(ctx context.Context, a ports.PaymentAnomaly) error {
	if err := r.t.mustWrite(); err != nil {
		return err
	}
	_, err := r.t.idb.NewInsert().Model(&anomalyRow{ID: a.ID, Kind: a.Kind, OutTradeNo: a.OutTradeNo, OrderID: string(a.OrderID),
		TransactionID: a.TransactionID, AmountFen: a.Amount.Fen(), NotificationID: a.NotificationID, At: a.At.UTC()}).
		On("CONFLICT DO NOTHING").Exec(ctx)
	return err
}

func (r anomalies) List(ctx context.Context, limit int) ([]ports.PaymentAnomaly, error) {
	var rows []anomalyRow
	if err := r.t.idb.NewSelect().Model(&rows).Order("at DESC").Limit(int64(limit)).Scan(ctx); err != nil {
		return nil, err
	}
	out := make([]ports.PaymentAnomaly, len(rows))
	for i, row := range rows {
		out[i] = ports.PaymentAnomaly{ID: row.ID, Kind: row.Kind, OutTradeNo: row.OutTradeNo, OrderID: kernel.OrderID(row.OrderID),
			TransactionID: row.TransactionID, Amount: kernel.Fen(row.AmountFen), NotificationID: row.NotificationID, At: utc(row.At)}
	}
	return out, nil
}

type idemRow struct {
	bun.BaseModel `bun:"table:idempotency_keys"`

	Scope       string    `bun:"scope,pk"`
	Key         string    `bun:"key,pk"`
	RequestHash string    `bun:"request_hash"`
	Status      int       `bun:"status"`
	Body        []byte    `bun:"body"`
	Done        bool      `bun:"done"`
	CreatedAt   time.Time `bun:"created_at"`
}

type idempotency struct{ t *txn }

// IdempotencyTTL is how long keys are kept (at least 24 hours).
const IdempotencyTTL = 24 * time.Hour

func (r idempotency) Claim(ctx context.Context, scope, key, hash string, now time.Time) (ports.IdempotentResponse, bool, error) {
	if err := r.t.mustWrite(); err != nil {
		return ports.IdempotentResponse{}, false, err
	}
	// An expired key is forgotten first.
	if _, err := r.t.idb.NewDelete().Model((*idemRow)(nil)).Where("scope = ? AND key = ? AND created_at < ?", scope, key,
		now.Add(-IdempotencyTTL).UTC()).Exec(ctx); err != nil {
		return ports.IdempotentResponse{}, false, err
	}
	res, err := r.t.idb.NewInsert().Model(&idemRow{Scope: scope, Key: key, RequestHash: hash, CreatedAt: now.UTC()}).
		On("CONFLICT DO NOTHING").Exec(ctx)
	if err != nil {
		return ports.IdempotentResponse{}, false, err
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return ports.IdempotentResponse{RequestHash: hash}, true, nil
	}
	// An unfinished claim older than a minute was abandoned (its process died or could not
	// store the answer): take it over.
	res, err = r.t.idb.NewUpdate().Model((*idemRow)(nil)).Set("request_hash = ?", hash).Set("created_at = ?", now.UTC()).
		Where("scope = ? AND key = ? AND NOT done AND created_at < ?", scope, key, now.Add(-ports.IdempotencyClaimTTL).UTC()).Exec(ctx)
	if err != nil {
		return ports.IdempotentResponse{}, false, err
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return ports.IdempotentResponse{RequestHash: hash}, true, nil
	}
	row := new(idemRow)
	err = r.t.idb.NewSelect().Model(row).Where("scope = ? AND key = ?", scope, key).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return ports.IdempotentResponse{}, false, kernel.Conflict("idempotency-key-in-use", "a request with this Idempotency-Key is in progress")
	}
	if err != nil {
		return ports.IdempotentResponse{}, false, err
	}
	return ports.IdempotentResponse{RequestHash: row.RequestHash, Status: row.Status, Body: row.Body, Done: row.Done}, false, nil
}

func (r idempotency) Complete(ctx context.Context, scope, key string, status int, body []byte) error {
	if err := r.t.mustWrite(); err != nil {
		return err
	}
	_, err := r.t.idb.NewUpdate().Model((*idemRow)(nil)).Set("status = ?", status).Set("body = ?", body).Set("done = ?", true).
		Where("scope = ? AND key = ?", scope, key).Exec(ctx)
	return err
}
