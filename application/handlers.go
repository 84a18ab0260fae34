package application

import (
	"context"
	"fmt"
	"time"

	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/session"
	"github.com/shuxinqian/server/domain/user"
	"github.com/shuxinqian/server/ports"
)

// Event handlers (policies). Each is idempotent: delivery is at least once, so each records the
// message id in the inbox in the same transaction as its effect.

// Consumer names: one inbox namespace each.
const (
	ConsumerAudit   = "audit"
	ConsumerWelcome = "welcome-sms"
)

// RecordAudit writes one line of account activity for an account event.
func (a *App) RecordAudit(ctx context.Context, messageID string, ev kernel.Event) error {
	var uid kernel.UserID
	var at time.Time
	detail := ""
	switch e := ev.(type) {
	case *user.Registered:
		uid, at = e.UserID, e.At
	case *user.LoggedIn:
		uid, at, detail = e.UserID, e.At, "method="+e.Method
	case *user.PasswordSet:
		uid, at, detail = e.UserID, e.At, fmt.Sprintf("changed=%t", e.Changed)
	case *user.PasswordLocked:
		uid, at, detail = e.UserID, e.At, "until="+e.Until.UTC().Format(time.RFC3339)
	case *session.Revoked:
		uid, at, detail = e.UserID, e.At, "reason="+e.Reason
	default:
		return nil
	}
	entry := ports.AuditEntry{ID: a.ids.NewID(), MessageID: messageID, UserID: uid, Action: ev.EventName(), Detail: detail, At: at}
	if messageID != "" {
		// The entry's unique message id is its own inbox record: one INSERT … ON CONFLICT DO
		// NOTHING, no transaction (a login's audit line was BEGIN, inbox, INSERT, COMMIT).
		return a.uow.Autocommit(ctx, func(ctx context.Context, tx ports.Tx) error {
			_, err := tx.Audit().AppendOnce(ctx, entry)
			return err
		})
	}
	return a.uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
		first, err := tx.Inbox().MarkProcessed(ctx, ConsumerAudit, messageID)
		if err != nil || !first {
			return err
		}
		return tx.Audit().Append(ctx, entry)
	})
}

// SendWelcome texts a newly registered user once. The phone is read outside any write
// transaction, the send is claimed durably (once) and performed outside any transaction, with the
// message id as the SMS idempotency key.
func (a *App) SendWelcome(ctx context.Context, messageID string, ev *user.Registered) error {
	var phone kernel.Phone
	if err := a.uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
		u, err := tx.Users().Get(ctx, ev.UserID)
		if err != nil {
			return err
		}
		phone = u.Phone()
		return nil
	}); err != nil {
		return err
	}
	return a.once(ctx, ConsumerWelcome+"/"+messageID, func(ctx context.Context) error {
		return a.sms.Send(ctx, ports.SMS{Phone: phone, Template: "welcome", IdempotencyKey: messageID,
			Text: "【数信签】欢迎注册数信签。完成实名认证后即可申请个人证书、加入或认证企业。"})
	})
}
