package signing

import (
	"context"
	"fmt"
	"time"

	"github.com/shuxinqian/server/domain/signflow"
	"github.com/shuxinqian/server/ports"
)

// effectLease is how long a claimed SMS belongs to the run that claimed it.
const effectLease = 30 * time.Second

// NotifyStarted is the consumer of signflow.started: the current signers are told by SMS.
func (s *Service) NotifyStarted(ctx context.Context, ev *signflow.Started) error {
	return s.notify(ctx, ev.FlowID, ev.Current)
}

// NotifySigned is the consumer of signflow.signed: in an ordered flow the next signer is told.
func (s *Service) NotifySigned(ctx context.Context, ev *signflow.Signed) error {
	if len(ev.Next) == 0 {
		return nil
	}
	return s.notify(ctx, ev.FlowID, ev.Next)
}

// notify texts each signer the H5 link once (an effect record per flow and signer), never
// inside a transaction. An organisation signer is texted at its contact phone, when given.
func (s *Service) notify(ctx context.Context, id signflow.ID, signers []signflow.SignerID) error {
	var v *ports.SignFlowView
	if err := s.d.UoW.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
		var err error
		v, err = tx.SignFlows().Get(ctx, id)
		return err
	}); err != nil {
		return err
	}
	if v.Flow.Status() != signflow.StatusSigning {
		return nil
	}
	link := s.d.Settings.PublicBaseURL + "/#/flows/" + string(id)
	for _, sid := range signers {
		sg, err := v.Flow.SignerFor(sid)
		if err != nil || sg.Phone.IsZero() {
			continue
		}
		key := "signflow-notify/" + string(id) + "/" + string(sid)
		text := fmt.Sprintf("【数信签】您有一份待签署的文件《%s》，请在 %s 前打开 %s 签署。", v.Flow.Title(),
			v.Flow.ExpiresAt().In(time.FixedZone("CST", 8*3600)).Format("2006-01-02 15:04"), link)
		if err := s.once(ctx, key, func(ctx context.Context) error {
			return s.d.SMS.Send(ctx, ports.SMS{Phone: sg.Phone, Template: "sign_flow_invite", IdempotencyKey: key,
				Params: map[string]string{"title": v.Flow.Title(), "url": link}, Text: text})
		}); err != nil {
			return err
		}
	}
	return nil
}

// once performs an external effect at most once per successful run across restarts and
// instances (see application.App.once): claim committed, effect outside any transaction, done.
func (s *Service) once(ctx context.Context, key string, fn func(ctx context.Context) error) error {
	var claim ports.EffectClaim
	if err := s.d.UoW.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
		var err error
		claim, err = tx.Effects().Claim(ctx, key, s.d.Clock.Now(), effectLease)
		return err
	}); err != nil {
		return err
	}
	if claim == ports.EffectDone || claim == ports.EffectBusy {
		return nil
	}
	if err := fn(ctx); err != nil {
		_ = s.d.UoW.Do(context.WithoutCancel(ctx), func(ctx context.Context, tx ports.Tx) error { return tx.Effects().Release(ctx, key) })
		return err
	}
	return s.d.UoW.Do(context.WithoutCancel(ctx), func(ctx context.Context, tx ports.Tx) error {
		return tx.Effects().Done(ctx, key, s.d.Clock.Now())
	})
}
