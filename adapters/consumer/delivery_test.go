package consumer_test

import (
	"context"
	"errors"
	"testing"

	"github.com/ThreeDotsLabs/watermill/components/cqrs"
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/shuxinqian/server/adapters/consumer"
	"github.com/shuxinqian/server/domain/user"
)

type recorder struct {
	got  map[string][]string // topic → uuids
	fail string
}

func (r *recorder) Publish(topic string, msgs ...*message.Message) error {
	if topic == r.fail {
		return errors.New("broker down")
	}
	for _, m := range msgs {
		if m.Metadata.Get(consumer.DeliverToKey) != "" {
			return errors.New("the routing key leaked into the delivered copy")
		}
		r.got[topic] = append(r.got[topic], m.UUID)
	}
	return nil
}
func (r *recorder) Close() error { return nil }

func TestFanOut(t *testing.T) {
	hs := []consumer.Handler{
		cqrs.NewEventHandler("audit.user_registered", func(context.Context, *user.Registered) error { return nil }),
		cqrs.NewEventHandler("welcome_sms", func(context.Context, *user.Registered) error { return nil }),
		cqrs.NewEventHandler("audit.user_logged_in", func(context.Context, *user.LoggedIn) error { return nil }),
	}
	rec := &recorder{got: map[string][]string{}}
	f := consumer.NewFanOut(consumer.RoutesOf(hs), rec, "p", nil)
	ev := func(uuid, name, to string) *message.Message {
		m := message.NewMessage(uuid, []byte("{}"))
		m.Metadata.Set("name", name)
		if to != "" {
			m.Metadata.Set(consumer.DeliverToKey, to)
		}
		return m
	}
	if err := f.Publish("events.user.registered", ev("m1", "user.registered", ""), ev("m2", "user.logged_in", ""),
		ev("m3", "user.registered", "welcome_sms"), ev("m4", "user.registered", "no_such_handler"), ev("m5", "nobody.listens", "")); err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{"p_audit_user_registered": {"m1"}, "p_welcome_sms": {"m1", "m3"}, "p_audit_user_logged_in": {"m2"}}
	if len(rec.got) != len(want) {
		t.Fatalf("got %v", rec.got)
	}
	for topic, ids := range want {
		if len(rec.got[topic]) != len(ids) || rec.got[topic][0] != ids[0] || rec.got[topic][len(ids)-1] != ids[len(ids)-1] {
			t.Fatalf("%s: got %v, want %v", topic, rec.got[topic], ids)
		}
	}
	// A copy that cannot be stored fails the publish: the forwarder keeps the outbox row.
	rec.fail = "p_welcome_sms"
	if err := f.Publish("x", ev("m6", "user.registered", "")); err == nil {
		t.Fatal("a failed copy was reported as published")
	}
}
