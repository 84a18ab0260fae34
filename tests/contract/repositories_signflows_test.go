package contract

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/shuxinqian/server/adapters/sqlstore"
	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/signflow"
	"github.com/shuxinqian/server/ports"
)

func newTestFlow(t *testing.T, id, initiator, eid string, phone kernel.Phone) *ports.SignFlowView {
	t.Helper()
	f, err := signflow.New(signflow.NewParams{ID: signflow.ID(id), InitiatorID: kernel.UserID(initiator), Title: "投标文件 " + id,
		Documents: []signflow.Document{{FileID: "f-" + kernel.FileID(id), Name: "bid.pdf"}},
		Signers: []signflow.Signer{
			{ID: signflow.SignerID(id + "-org"), Kind: signflow.KindOrganization, Name: "投标单位", EnterpriseID: kernel.EnterpriseID(eid),
				Fields: []signflow.Field{{Document: 0, Page: 1, X: 100, Y: 100}}},
			{ID: signflow.SignerID(id + "-p"), Kind: signflow.KindPerson, Name: "李四", Phone: phone,
				Fields: []signflow.Field{{Document: 0, Keyword: "乙方"}}},
		},
		Ordered: true, ExpiresAt: t0.Add(24 * time.Hour)}, t0)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.PlaceKeywords(func(int, string, float64, float64) (int, float64, float64, error) { return 2, 50, 60, nil }); err != nil {
		t.Fatal(err)
	}
	return &ports.SignFlowView{Flow: f, Documents: []ports.SignFlowDocument{{Index: 0, Name: "bid.pdf", Pages: 2,
		PageSizes: [][2]float64{{595.28, 841.89}, {595.28, 841.89}}, OriginalFileID: "f-" + kernel.FileID(id), OriginalSHA256: "aa",
		Version: 1, CurrentFileID: "f-" + kernel.FileID(id), CurrentSHA256: "aa"}}}
}

// TestSignFlowRepository: flows round trip with signers (sealed), fields and documents; Update
// saves transitions, document versions and signings, with the events in the outbox and in a hash
// chain that verifies; the lists page by role and status; turns and quota reservations.
func TestSignFlowRepository(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *sqlstore.DB, uow ports.UnitOfWork) {
		ctx := context.Background()
		eid, _ := seedPending(t, uow, 2) // e-bench, u-admin, u00000, u00001
		do := func(fn func(ctx context.Context, tx ports.Tx) error) error { return uow.Do(ctx, fn) }
		phone := kernel.Phone("13900000001")
		before := outboxCount(t, db)
		for i := 0; i < 5; i++ {
			v := newTestFlow(t, fmt.Sprintf("flow-%d", i), "u-admin", eid, phone)
			if err := do(func(ctx context.Context, tx ports.Tx) error { return tx.SignFlows().Add(ctx, v) }); err != nil {
				t.Fatal(err)
			}
		}
		if got := outboxCount(t, db) - before; got != 5 {
			t.Fatalf("outbox: %d, want 5 signflow.created", got)
		}
		var got *ports.SignFlowView
		_ = uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
			var err error
			if got, err = tx.SignFlows().Get(ctx, "flow-0"); err != nil {
				t.Fatal(err)
			}
			if _, err := tx.SignFlows().Get(ctx, "nope"); kernel.CodeOf(err) != "flow-not-found" {
				t.Fatalf("missing flow: %v", err)
			}
			return nil
		})
		sg := got.Flow.Signers()
		if got.Flow.Title() != "投标文件 flow-0" || !got.Flow.Ordered() || len(sg) != 2 || sg[1].Phone != phone || sg[1].Name != "李四" ||
			sg[0].EnterpriseID != kernel.EnterpriseID(eid) || sg[1].Fields[0].Page != 2 || sg[1].Fields[0].Keyword != "乙方" ||
			sg[0].Fields[0].W != 119.06 || len(got.Documents) != 1 || got.Documents[0].PageSizes[1][1] != 841.89 {
			t.Fatalf("round trip: %+v %+v", sg, got.Documents)
		}
		// The phone is sealed at rest.
		var raw []byte
		if err := db.NewSelect().Table("sign_flow_signers").Column("phone_enc").Where("id = ?", "flow-0-p").Scan(ctx, &raw); err != nil {
			t.Fatal(err)
		}
		if len(raw) == 0 || string(raw) == string(phone) {
			t.Fatal("the signer's phone is not sealed")
		}

		// Start, then the enterprise signs: a new version and a signing; events in the chain.
		if err := do(func(ctx context.Context, tx ports.Tx) error {
			return tx.SignFlows().Update(ctx, "flow-0", func(v *ports.SignFlowView) error { return v.Flow.Start("u-admin", t0) })
		}); err != nil {
			t.Fatal(err)
		}
		if err := do(func(ctx context.Context, tx ports.Tx) error {
			return tx.SignFlows().Update(ctx, "flow-0", func(v *ports.SignFlowView) error {
				v.Documents[0].Version, v.Documents[0].CurrentFileID, v.Documents[0].CurrentSHA256 = 2, "f-v2", "bb"
				v.Signings = append(v.Signings, ports.SignFlowSigning{SignerID: "flow-0-org", UserID: "u00000", SealID: "s-1", IP: "203.0.113.9",
					CertSerial: "0A", At: t0, HashBefore: map[int]string{0: "aa"}, HashAfter: map[int]string{0: "bb"}})
				v.Notes = append(v.Notes, ports.SignFlowNote{Type: "signflow.signature_made", Actor: "u00000", Detail: `{"ip":"203.0.113.*"}`, At: t0})
				return v.Flow.Sign("flow-0-org", "u00000", t0)
			})
		}); err != nil {
			t.Fatal(err)
		}
		_ = uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
			v, err := tx.SignFlows().Get(ctx, "flow-0")
			if err != nil {
				t.Fatal(err)
			}
			if v.Documents[0].Version != 2 || v.Documents[0].CurrentSHA256 != "bb" || v.Documents[0].OriginalSHA256 != "aa" ||
				len(v.Signings) != 1 || v.Signings[0].IP != "203.0.113.9" || v.Signings[0].HashAfter[0] != "bb" ||
				v.Flow.Current()[0] != "flow-0-p" || v.Flow.Status() != signflow.StatusSigning {
				t.Fatalf("after signing: %+v %+v %v", v.Documents, v.Signings, v.Flow.Current())
			}
			chain, err := tx.SignFlows().Chain(ctx, "flow-0")
			if err != nil {
				t.Fatal(err)
			}
			types := []string{"signflow.created", "signflow.started", "signflow.signed", "signflow.signature_made"}
			if len(chain) != len(types) {
				t.Fatalf("chain %+v", chain)
			}
			prev := ""
			for i, e := range chain {
				if e.Type != types[i] || e.Seq != i+1 || e.PrevHash != prev ||
					e.Hash != sqlstore.ChainHash(prev, e.Seq, e.Type, e.Actor, e.Detail, e.At) {
					t.Fatalf("link %d: %+v", i, e)
				}
				prev = e.Hash
			}
			return nil
		})

		// Lists: newest first, a page at a time, by initiator and by signer (not drafts).
		_ = uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
			page, err := tx.SignFlows().ListByInitiator(ctx, "u-admin", ports.SignFlowFilter{Limit: 3})
			if err != nil || len(page) != 3 || page[0].Flow.ID() != "flow-4" || len(page[0].Flow.Signers()) != 2 {
				t.Fatalf("page 1: %v %d", err, len(page))
			}
			page, _ = tx.SignFlows().ListByInitiator(ctx, "u-admin", ports.SignFlowFilter{Limit: 3, Before: page[2].Flow.ID()})
			if len(page) != 2 || page[1].Flow.ID() != "flow-0" {
				t.Fatalf("page 2: %d", len(page))
			}
			page, _ = tx.SignFlows().ListByInitiator(ctx, "u-admin", ports.SignFlowFilter{Status: signflow.StatusSigning})
			if len(page) != 1 || page[0].Flow.ID() != "flow-0" {
				t.Fatalf("signing: %d", len(page))
			}
			if page, _ = tx.SignFlows().ListBySigner(ctx, phone, nil, ports.SignFlowFilter{}); len(page) != 1 {
				t.Fatalf("by phone: %d (drafts are not listed)", len(page))
			}
			if page, _ = tx.SignFlows().ListBySigner(ctx, "13900000009", []kernel.EnterpriseID{kernel.EnterpriseID(eid)}, ports.SignFlowFilter{}); len(page) != 1 {
				t.Fatalf("by enterprise: %d", len(page))
			}
			if page, _ = tx.SignFlows().ListBySigner(ctx, "13900000009", nil, ports.SignFlowFilter{}); len(page) != 0 {
				t.Fatalf("stranger: %d", len(page))
			}
			due, err := tx.SignFlows().Due(ctx, t0.Add(25*time.Hour), 10)
			if err != nil || len(due) != 5 {
				t.Fatalf("due: %v %v", due, err)
			}
			return nil
		})

		// Turns: one at a time per signer; a stale one is taken over; no quota → 402.
		turn := ports.SigningTurn{FlowID: "flow-0", SignerID: "flow-0-p", UserID: "u00001", Until: t0.Add(time.Minute)}
		if err := do(func(ctx context.Context, tx ports.Tx) error { return tx.SignFlows().TakeTurn(ctx, turn, t0) }); err != nil {
			t.Fatal(err)
		}
		if err := do(func(ctx context.Context, tx ports.Tx) error { return tx.SignFlows().TakeTurn(ctx, turn, t0) }); kernel.CodeOf(err) != "flow-signing-in-progress" {
			t.Fatalf("second turn: %v", err)
		}
		if err := do(func(ctx context.Context, tx ports.Tx) error {
			return tx.SignFlows().TakeTurn(ctx, turn, t0.Add(2*time.Minute))
		}); err != nil {
			t.Fatalf("stale turn taken over: %v", err)
		}
		if err := do(func(ctx context.Context, tx ports.Tx) error {
			return tx.SignFlows().EndTurn(ctx, "flow-0", "flow-0-p", false)
		}); err != nil {
			t.Fatal(err)
		}
		// A run whose turn is gone (taken over or given back) cannot record its signing.
		if err := do(func(ctx context.Context, tx ports.Tx) error {
			return tx.SignFlows().EndTurn(ctx, "flow-0", "flow-0-p", true)
		}); kernel.CodeOf(err) != "flow-signing-expired" {
			t.Fatalf("ending a lost turn: %v", err)
		}
		paid := ports.SigningTurn{FlowID: "flow-1", SignerID: "flow-1-org", UserID: "u00000", EnterpriseID: kernel.EnterpriseID(eid), Until: t0.Add(time.Minute)}
		err := do(func(ctx context.Context, tx ports.Tx) error { return tx.SignFlows().TakeTurn(ctx, paid, t0) })
		if kernel.CodeOf(err) != "quota-exhausted" || kernel.KindOf(err) != kernel.KindPaymentRequired {
			t.Fatalf("no quota: %v", err)
		}
		_ = uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
			if n, err := tx.SignFlows().SignaturesUsed(ctx, kernel.EnterpriseID(eid)); err != nil || n != 0 {
				t.Fatalf("used %d %v", n, err)
			}
			return nil
		})
	})
}
