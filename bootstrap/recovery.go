package bootstrap

import (
	"context"
	"time"

	"github.com/shuxinqian/server/adapters/sqlstore"
)

// sweepTargets are the handlers (adapters/consumer.Handlers) the sweeper drives on.
var sweepTargets = sqlstore.SweepTargets{IssueInvoice: "issue_invoice", GrantOrder: "grant_order",
	RemitTransfer: "remit_bank_transfer", IssueOrgCertificate: "issue_org_certificate"}

// Sweep runs one sweep now (serve and consume run it every SWEEP_INTERVAL).
func (rt *Runtime) Sweep(ctx context.Context) (sqlstore.SweepReport, error) {
	return rt.Store.Sweep(ctx, time.Now(), rt.Config.Events.SweepAfter, sweepTargets)
}

// sweepLoop drives stuck work on every SweepInterval until ctx ends.
func (rt *Runtime) sweepLoop(ctx context.Context) {
	t := time.NewTicker(rt.Config.Events.SweepInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			rep, err := rt.Sweep(ctx)
			if err != nil && ctx.Err() == nil {
				rt.Log.Warn("sweeper", "err", err)
			} else if rep.Total() > 0 {
				rt.Log.Info("sweeper drove on stuck work", "invoices", rep.Invoices, "grants", rep.Grants,
					"remittances", rep.Remittances, "certificates", rep.Certificates)
			}
		}
	}
}
