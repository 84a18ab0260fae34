package sqlstore

import (
	"context"
	"strings"
	"time"

	"github.com/shuxinqian/server/domain/enterprise"
	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/ports"
)

// console is what the operator console reads across enterprises and payments.
type console struct{ t *txn }

func (r console) Enterprises(ctx context.Context, after, q string, limit int) ([]*enterprise.Enterprise, error) {
	var rows []enterpriseRow
	sq := r.t.idb.NewSelect().Model(&rows).Where("id > ?", after)
	if q != "" {
		sq = sq.Where(`LOWER(name) LIKE ? ESCAPE '\'`, "%"+strings.ToLower(likeEscape(q))+"%")
	}
	if err := sq.Order("id").Limit(int64(limit)).Scan(ctx); err != nil {
		return nil, err
	}
	ents := enterprises(r)
	out := make([]*enterprise.Enterprise, 0, len(rows))
	for i := range rows {
		e, err := ents.fromRow(&rows[i])
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

func anomalyRecord(row *anomalyRow) ports.AnomalyRecord {
	return ports.AnomalyRecord{PaymentAnomaly: ports.PaymentAnomaly{ID: row.ID, Kind: row.Kind, OutTradeNo: row.OutTradeNo,
		OrderID: kernel.OrderID(row.OrderID), TransactionID: row.TransactionID, Amount: kernel.Fen(row.AmountFen),
		NotificationID: row.NotificationID, At: utc(row.At)}, ResolvedAt: utc(row.ResolvedAt), ResolvedBy: row.ResolvedBy, Note: row.ResolutionNote}
}

func (r console) Anomalies(ctx context.Context, openOnly bool, before string, limit int) ([]ports.AnomalyRecord, error) {
	var rows []anomalyRow
	q := r.t.idb.NewSelect().Model(&rows)
	if openOnly {
		q = q.Where("resolved_at IS NULL")
	}
	if before != "" {
		q = q.Where("id < ?", before)
	}
	if err := q.Order("id DESC").Limit(int64(limit)).Scan(ctx); err != nil {
		return nil, err
	}
	out := make([]ports.AnomalyRecord, len(rows))
	for i := range rows {
		out[i] = anomalyRecord(&rows[i])
	}
	return out, nil
}

func (r console) Anomaly(ctx context.Context, id string) (ports.AnomalyRecord, error) {
	row := new(anomalyRow)
	if err := r.t.forUpdate(r.t.idb.NewSelect().Model(row).Where("id = ?", id)).Scan(ctx); err != nil {
		return ports.AnomalyRecord{}, notFound(err, "anomaly-not-found", "no such payment anomaly")
	}
	return anomalyRecord(row), nil
}

func (r console) ResolveAnomaly(ctx context.Context, id, by, note string, at time.Time) error {
	if err := r.t.mustWrite(); err != nil {
		return err
	}
	res, err := r.t.idb.NewUpdate().Model((*anomalyRow)(nil)).Set("resolved_at = ?", at.UTC()).Set("resolved_by = ?", by).
		Set("resolution_note = ?", note).Where("id = ? AND resolved_at IS NULL", id).Exec(ctx)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return kernel.Conflict("anomaly-resolved", "the payment anomaly is already resolved")
	}
	return nil
}
