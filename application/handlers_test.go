package application_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.uber.org/mock/gomock"

	"github.com/shuxinqian/server/application"
	"github.com/shuxinqian/server/domain/user"
	"github.com/shuxinqian/server/ports"
)

func TestRecordAuditIsIdempotent(t *testing.T) {
	f := newFixture(t)
	ev := &user.LoggedIn{UserID: "u1", Method: "sms", At: f.now}
	seen := map[string]bool{}
	// The entry's message id is its own idempotency record: one AppendOnce per delivery, without
	// a transaction; the redelivery adds nothing.
	f.audit.EXPECT().AppendOnce(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, e ports.AuditEntry) (bool, error) {
		if f.inTx {
			t.Error("the audit line took a transaction of its own")
		}
		if e.UserID != "u1" || e.Action != "user.logged_in" || e.MessageID != "m1" || e.Detail != "method=sms" {
			t.Errorf("entry %+v", e)
		}
		first := !seen[e.MessageID]
		seen[e.MessageID] = true
		return first, nil
	}).Times(2)
	for range 2 {
		if err := f.app.RecordAudit(context.Background(), "m1", ev); err != nil {
			t.Fatal(err)
		}
	}
	if f.commits != 0 {
		t.Fatalf("%d transactions committed", f.commits)
	}
}

func TestSendWelcomeSendsOnceOutsideAnyTransaction(t *testing.T) {
	f := newFixture(t)
	u, _ := user.Register("u1", phone, f.now)
	f.users.EXPECT().Get(gomock.Any(), u.ID()).Return(u, nil).AnyTimes()
	fail := true
	sent := 0
	f.sms.EXPECT().Send(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, m ports.SMS) error {
		if f.inTx {
			t.Error("the SMS provider was called inside a database transaction")
		}
		if m.IdempotencyKey != "m1" || m.Phone != phone {
			t.Errorf("sms %+v", m)
		}
		if fail {
			return errors.New("provider down")
		}
		sent++
		return nil
	}).Times(2)
	ev := &user.Registered{UserID: "u1", At: time.Now()}
	if err := f.app.SendWelcome(context.Background(), "m1", ev); err == nil {
		t.Fatal("a failed send must fail the handler (the consumer retries)")
	}
	fail = false
	if err := f.app.SendWelcome(context.Background(), "m1", ev); err != nil {
		t.Fatal(err)
	}
	// A redelivery after the send was recorded sends nothing.
	if err := f.app.SendWelcome(context.Background(), "m1", ev); err != nil || sent != 1 {
		t.Fatalf("sent %d times, err %v", sent, err)
	}
	// A run that died after claiming: a live claim elsewhere is left alone, a stale one is retried.
	if _, err := f.effects.Claim(context.Background(), application.ConsumerWelcome+"/m2", f.now, application.EffectLease); err != nil {
		t.Fatal(err)
	}
	if err := f.app.SendWelcome(context.Background(), "m2", ev); err != nil || sent != 1 {
		t.Fatalf("a fresh claim of another run was not respected: sent %d, %v", sent, err)
	}
	f.now = f.now.Add(application.EffectLease + time.Second)
	f.sms.EXPECT().Send(gomock.Any(), gomock.Any()).Return(nil)
	if err := f.app.SendWelcome(context.Background(), "m2", ev); err != nil {
		t.Fatal(err)
	}
}
