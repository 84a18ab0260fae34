package webhooks

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/webhook"
	"github.com/shuxinqian/server/ports"
)

var errNoEventID = errors.New("webhooks: an event without a message id")

// MaxLoggedResponse bounds the answer kept in the delivery log (the sender reads at most its
// own bound, 64 KiB, and discards the rest).
const MaxLoggedResponse = 1024

// Dispatch sends the due deliveries once: it claims a batch under a lease in one transaction,
// sends each outside any transaction, and records each attempt in its own transaction (only
// while its claim holds). It returns how many deliveries were attempted.
func (s *Service) Dispatch(ctx context.Context) (int, error) {
	token := s.ids.NewID()
	var claimed []ports.ClaimedDelivery
	if err := s.uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
		var err error
		claimed, err = tx.Webhooks().ClaimDue(ctx, s.clock.Now(), s.settings.Lease, token, s.settings.Batch)
		return err
	}); err != nil {
		return 0, err
	}
	var firstErr error
	for _, c := range claimed {
		if ctx.Err() != nil {
			break // the lease runs out and another run takes the rest
		}
		if err := s.send(ctx, c); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	return len(claimed), firstErr
}

// DispatchAll dispatches until no due delivery is left (or ctx ends).
func (s *Service) DispatchAll(ctx context.Context) error {
	for ctx.Err() == nil {
		n, err := s.Dispatch(ctx)
		if err != nil || n < s.settings.Batch {
			return err
		}
	}
	return ctx.Err()
}

func (s *Service) send(ctx context.Context, c ports.ClaimedDelivery) error {
	d := c.Delivery
	ts := s.clock.Now().Unix()
	req := ports.WebhookRequest{URL: c.URL, Body: d.Body(), Headers: map[string]string{
		"Content-Type":           "application/json",
		"User-Agent":             "Shuxinqian-Webhooks/1",
		webhook.HeaderEventID:    d.EventID(),
		webhook.HeaderTimestamp:  strconv.FormatInt(ts, 10),
		webhook.HeaderSignature:  webhook.Sign(c.Secret, ts, d.Body()),
		"Shuxinqian-Delivery-Id": string(d.ID()),
		"Shuxinqian-Event-Type":  string(d.Type()),
	}}
	res, sendErr := s.sender.Send(ctx, req)
	if err := ctx.Err(); err != nil {
		return err // stopped mid-send: nothing is recorded, the lease runs out and it is attempted again
	}
	a := webhook.Attempt{StatusCode: res.StatusCode, Duration: res.Duration, Response: truncate(res.Body, MaxLoggedResponse)}
	if sendErr != nil {
		a.StatusCode, a.Error = 0, truncate(sendErr.Error(), 300)
	}
	jitter, err := s.random.IntN(2*webhook.JitterPercent + 1)
	if err != nil {
		jitter = webhook.JitterPercent
	}
	err = s.uow.Do(context.WithoutCancel(ctx), func(ctx context.Context, tx ports.Tx) error {
		return tx.Webhooks().RecordAttempt(ctx, d.ID(), c.Lease, func(d *webhook.Delivery) webhook.Attempt {
			a.At = s.clock.Now()
			return d.Record(a, jitter)
		})
	})
	if kernel.CodeOf(err) == "webhook-lease-lost" {
		s.log.Warn("webhook delivery lease lost; the attempt was not recorded", "delivery", d.ID())
		return nil
	}
	return err
}

func truncate(s string, n int) string {
	s = strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "")
	if len(s) <= n {
		return s
	}
	// do not cut a UTF-8 sequence in half
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}

// Run dispatches every interval and whenever this process made deliveries due, until ctx ends.
func (s *Service) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := s.DispatchAll(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("webhook dispatcher", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.wake:
		}
	}
}
