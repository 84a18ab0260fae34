package contract

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/shuxinqian/server/adapters/crypto"
	"github.com/shuxinqian/server/adapters/sqlstore"
	"github.com/shuxinqian/server/adapters/system"
	"github.com/shuxinqian/server/application/webhooks"
	"github.com/shuxinqian/server/domain/enterprise"
	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/signflow"
	"github.com/shuxinqian/server/domain/webhook"
	"github.com/shuxinqian/server/ports"
	"github.com/shuxinqian/server/tests/fakes"
)

// recordingSender answers with the next status of its script (then 200) and counts the sends
// of each delivery.
type recordingSender struct {
	mu     sync.Mutex
	script []int
	sent   []ports.WebhookRequest
	per    map[string]int
}

func (s *recordingSender) Send(_ context.Context, r ports.WebhookRequest) (ports.WebhookResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sent = append(s.sent, r)
	if s.per == nil {
		s.per = map[string]int{}
	}
	s.per[r.Headers["Shuxinqian-Delivery-Id"]]++
	status := 200
	if len(s.script) > 0 {
		status, s.script = s.script[0], s.script[1:]
	}
	return ports.WebhookResponse{StatusCode: status, Body: "ok", Duration: time.Millisecond}, nil
}

func (s *recordingSender) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sent)
}

func TestWebhookService(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *sqlstore.DB, uow ports.UnitOfWork) {
		ctx := context.Background()
		eid, _ := seedPending(t, uow, 0)
		e := kernel.EnterpriseID(eid)
		clock := fakes.NewClock(t0)
		sender := &recordingSender{script: []int{503}}
		svc := webhooks.New(webhooks.Deps{UoW: uow, Clock: clock, IDs: system.NewIDs(), Random: crypto.Random{}, Sender: sender,
			Settings: webhooks.Settings{Lease: time.Minute, Batch: 4}})
		ep, err := svc.Create(ctx, "u-admin", e, "http://127.0.0.1:9/hook", []string{"*"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Create(ctx, "u-nobody", e, "http://127.0.0.1:9/hook", []string{"*"}); kernel.CodeOf(err) != "enterprise-not-found" {
			t.Fatalf("a non-member registered: %v", err)
		}

		// Sign flows: later events wait for signflow.created (retried by the consumer); a
		// personal flow's events go nowhere.
		started := &signflow.Started{FlowID: "f-1", Current: []signflow.SignerID{"s-1"}, At: t0}
		if err := svc.Accept(ctx, "m-started", started); kernel.CodeOf(err) != "webhook-flow-unknown" {
			t.Fatalf("a flow event before its creation: %v", err)
		}
		for id, ev := range map[string]kernel.Event{
			"m-created":   &signflow.Created{FlowID: "f-1", InitiatorID: "u-admin", EnterpriseID: e, Signers: 2, At: t0},
			"m-personal":  &signflow.Created{FlowID: "f-2", InitiatorID: "u-admin", Signers: 1, At: t0},
			"m-other-ent": &enterprise.EnterpriseVerified{EnterpriseID: "e-other", At: t0},
		} {
			if err := svc.Accept(ctx, id, ev); err != nil {
				t.Fatalf("%s: %v", id, err)
			}
		}
		for _, ev := range []struct {
			id string
			ev kernel.Event
		}{{"m-started", started}, {"m-started", started}, {"m-personal-done", &signflow.Completed{FlowID: "f-2", At: t0}}} {
			if err := svc.Accept(ctx, ev.id, ev.ev); err != nil {
				t.Fatalf("%s: %v", ev.id, err)
			}
		}
		views, _, err := svc.Deliveries(ctx, "u-admin", e, string(ep.ID()), "", 100)
		if err != nil || len(views) != 2 {
			t.Fatalf("deliveries %d %v (want sign_flow.created and one sign_flow.started)", len(views), err)
		}
		var body webhooks.Event
		if err := json.Unmarshal(views[0].Delivery.Body(), &body); err != nil || body.Type != webhook.SignFlowStarted ||
			body.ID != "m-started" || body.Data["flow_id"] != "f-1" || body.Data["enterprise_id"] != eid {
			t.Fatalf("started %s %v", views[0].Delivery.Body(), err)
		}

		// Dispatch: the first answer is 503, the retry waits for the backoff.
		if n, err := svc.Dispatch(ctx); n != 2 || err != nil {
			t.Fatalf("dispatch %d %v", n, err)
		}
		if n, _ := svc.Dispatch(ctx); n != 0 || sender.count() != 2 {
			t.Fatalf("sent again before the backoff: %d", sender.count())
		}
		first := sender.sent[0]
		if !webhook.Verify(ep.Secret(), first.Headers[webhook.HeaderTimestamp], first.Headers[webhook.HeaderSignature], first.Body, clock.Now(), 5*time.Minute) {
			t.Fatalf("unsigned %v", first.Headers)
		}
		clock.Advance(40 * time.Second)
		if n, _ := svc.Dispatch(ctx); n != 1 {
			t.Fatalf("the retry: %d", n)
		}
		views, _, _ = svc.Deliveries(ctx, "u-admin", e, string(ep.ID()), "", 100)
		for _, v := range views {
			if v.Delivery.Status() != webhook.StatusDelivered {
				t.Fatalf("%s %s after %d attempts", v.Delivery.Type(), v.Delivery.Status(), v.Delivery.Attempts())
			}
		}

		// Several dispatchers at once send each due delivery exactly once.
		for i := range 12 {
			if err := svc.Accept(ctx, fmt.Sprintf("m-burst-%d", i), &enterprise.OrgCertificateIssued{EnterpriseID: e, Serial: "01", At: t0}); err != nil {
				t.Fatal(err)
			}
		}
		var wg sync.WaitGroup
		for range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := svc.DispatchAll(ctx); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if sender.count() != 3+12 {
			t.Fatalf("%d sends, want 15", sender.count())
		}
		for id, n := range sender.per {
			if n > 1 && id != string(views[0].Delivery.ID()) && id != string(views[1].Delivery.ID()) {
				t.Fatalf("delivery %s sent %d times", id, n)
			}
		}
	})
}
