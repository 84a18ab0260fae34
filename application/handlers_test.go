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
	gomock.InOrder(
		f.inbox.EXPECT().MarkProcessed(gomock.Any(), application.ConsumerAudit, "m1").Return(true, nil),
		f.audit.EXPECT().Append(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, e ports.AuditEntry) error {
			if e.UserID != "u1" || e.Action != "user.logged_in" || e.MessageID != "m1" || e.Detail != "method=sms" {
				t.Errorf("entry %+v", e)
			}
			return nil
		}),
		// The redelivery finds the inbox row: no second Append.
		f.inbox.EXPECT().MarkProcessed(gomock.Any(), application.ConsumerAudit, "m1").Return(false, nil),
	)
	for range 2 {
		if err := f.app.RecordAudit(context.Background(), "m1", ev); err != nil {
			t.Fatal(err)
		}
	}
}

func TestSendWelcomeRollsBackOnSendFailure(t *testing.T) {
	f := newFixture(t)
	u, _ := user.Register("u1", phone, f.now)
	f.inbox.EXPECT().MarkProcessed(gomock.Any(), application.ConsumerWelcome, "m1").Return(true, nil)
	f.users.EXPECT().Get(gomock.Any(), u.ID()).Return(u, nil)
	f.sms.EXPECT().Send(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, m ports.SMS) error {
		if m.IdempotencyKey != "m1" || m.Phone != phone {
			t.Errorf("sms %+v", m)
		}
		return errors.New("provider down")
	})
	err := f.app.SendWelcome(context.Background(), "m1", &user.Registered{UserID: "u1", At: time.Now()})
	if err == nil || f.commits != 0 {
		t.Fatalf("a failed send must fail the handler and roll back the inbox row: err=%v commits=%d", err, f.commits)
	}
}
