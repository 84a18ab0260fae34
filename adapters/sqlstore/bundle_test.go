package sqlstore

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/klauspost/compress/s2"
	"github.com/oklog/ulid"

	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/membership"
	"github.com/shuxinqian/server/domain/user"
)

type published struct {
	topic string
	msgs  []*message.Message
}

type recordingPub struct {
	calls []published
	fail  bool
}

func (r *recordingPub) Publish(topic string, msgs ...*message.Message) error {
	if r.fail {
		return errors.New("broker down")
	}
	r.calls = append(r.calls, published{topic, msgs})
	return nil
}

func (r *recordingPub) Close() error { return nil }

// A bundle expands into its events in order, each with the metadata, payload and message id
// a single outbox row would have had, runs of one topic in one Publish; other messages pass.
func TestBundleRoundTrip(t *testing.T) {
	at := time.Date(2026, 12, 6, 3, 0, 0, 0, time.UTC)
	events := []kernel.Event{
		membership.JoinApproved{MembershipID: "m1", EnterpriseID: "e", UserID: "u1", At: at},
		membership.JoinApproved{MembershipID: "m2", EnterpriseID: "e", UserID: "u2", At: at},
		user.Registered{UserID: "u\"3", At: at},
		membership.JoinApproved{MembershipID: "m3", EnterpriseID: "e", UserID: "u3", At: at},
	}
	trace := map[string]string{"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "name": "ignored"}
	b, err := bundle(events, trace)
	if err != nil {
		t.Fatal(err)
	}
	if b.Metadata.Get("name") != BundleEvent || b.Metadata.Get("events") != "4" {
		t.Fatalf("bundle metadata %v", b.Metadata)
	}
	rec := &recordingPub{}
	plain := message.NewMessage("plain-1", []byte(`{}`))
	plain.Metadata.Set("name", "user.registered")
	if err := (unbundler{rec}).Publish("events.x", b, plain); err != nil {
		t.Fatal(err)
	}
	var topics []string
	var got []*message.Message
	for _, c := range rec.calls {
		topics = append(topics, c.topic)
		got = append(got, c.msgs...)
	}
	wantTopics := []string{EventTopic("membership.join_approved"), EventTopic("user.registered"), EventTopic("membership.join_approved"), "events.x"}
	if len(topics) != len(wantTopics) {
		t.Fatalf("publishes to %v, want %v", topics, wantTopics)
	}
	for i := range wantTopics {
		if topics[i] != wantTopics[i] {
			t.Fatalf("publishes to %v, want %v", topics, wantTopics)
		}
	}
	if len(got) != 5 || got[4] != plain {
		t.Fatalf("%d messages published, the plain one last: %v", len(got), got)
	}
	ids := map[string]bool{}
	for i, ev := range events {
		m := got[i]
		want, _ := json.Marshal(ev)
		if string(m.Payload) != string(want) {
			t.Fatalf("event %d payload %s, want %s", i, m.Payload, want)
		}
		if m.Metadata.Get("name") != ev.EventName() || m.Metadata.Get("traceparent") != trace["traceparent"] || len(m.Metadata) != 2 {
			t.Fatalf("event %d metadata %v", i, m.Metadata)
		}
		if m.UUID == "" || ids[m.UUID] {
			t.Fatalf("event %d id %q (repeated or empty)", i, m.UUID)
		}
		ids[m.UUID] = true
	}

	// Expanded twice (forwarded again after a crash), the bundle gives the same ids.
	again := &recordingPub{}
	if err := (unbundler{again}).Publish("events.x", b); err != nil {
		t.Fatal(err)
	}
	var n int
	for _, c := range again.calls {
		for _, m := range c.msgs {
			if m.UUID != got[n].UUID {
				t.Fatalf("re-expanded event %d has id %s, was %s", n, m.UUID, got[n].UUID)
			}
			n++
		}
	}

	// A broker error is the forwarder's to retry: nothing is acked.
	if err := (unbundler{&recordingPub{fail: true}}).Publish("events.x", b); err == nil {
		t.Fatal("a failed publish of a bundle reported success")
	}
	bad := message.NewMessage("bad", []byte(`[{"uuid":`))
	bad.Metadata.Set("name", BundleEvent)
	if err := (unbundler{&recordingPub{}}).Publish("events.x", bad); err == nil {
		t.Fatal("a corrupt bundle was published")
	}
}

// Bundles are compressed (s2) and their ids are distinct ULIDs in order; a bundle written before
// compression (no encoding) still expands; an unknown encoding, a corrupt s2 block and one that
// claims to decode past bundleDecodedMax are errors, not deliveries.
func TestBundleEncoding(t *testing.T) {
	at := time.Date(2026, 12, 6, 3, 0, 0, 0, time.UTC)
	events := make([]kernel.Event, 1000)
	for i := range events {
		events[i] = membership.JoinApproved{MembershipID: kernel.MembershipID(fmt.Sprintf("m%04d", i)), EnterpriseID: "e", UserID: "u", At: at}
	}
	b, err := bundle(events, nil)
	if err != nil {
		t.Fatal(err)
	}
	plainJSON, err := s2.Decode(nil, b.Payload)
	if err != nil || b.Metadata.Get(bundleEncoding) != "s2" {
		t.Fatalf("bundle not s2 (%q): %v", b.Metadata.Get(bundleEncoding), err)
	}
	if len(b.Payload)*4 > len(plainJSON) {
		t.Fatalf("1,000 events compress to %d of %d bytes", len(b.Payload), len(plainJSON))
	}
	_, msgs, ok, err := unbundle(b)
	if err != nil || !ok || len(msgs) != len(events) {
		t.Fatalf("unbundled %d messages, %v %v", len(msgs), ok, err)
	}
	for i := 1; i < len(msgs); i++ {
		if msgs[i].UUID <= msgs[i-1].UUID {
			t.Fatalf("message ids not increasing: %s then %s", msgs[i-1].UUID, msgs[i].UUID)
		}
		if _, err := ulid.ParseStrict(msgs[i].UUID); err != nil {
			t.Fatalf("message id %q: %v", msgs[i].UUID, err)
		}
	}

	legacy := message.NewMessage("legacy", plainJSON)
	legacy.Metadata.Set("name", BundleEvent)
	if _, old, ok, err := unbundle(legacy); err != nil || !ok || len(old) != len(events) || old[7].UUID != msgs[7].UUID {
		t.Fatalf("an uncompressed bundle: %d messages, %v", len(old), err)
	}

	for name, m := range map[string]*message.Message{
		"unknown encoding": func() *message.Message {
			m := message.NewMessage("x", b.Payload)
			m.Metadata.Set("name", BundleEvent)
			m.Metadata.Set(bundleEncoding, "zstd")
			return m
		}(),
		"corrupt s2": func() *message.Message {
			m := message.NewMessage("x", append([]byte{0xff, 0xff, 0x03}, b.Payload[3:]...))
			m.Metadata.Set("name", BundleEvent)
			m.Metadata.Set(bundleEncoding, "s2")
			return m
		}(),
		"too large": func() *message.Message {
			m := message.NewMessage("x", s2.Encode(nil, make([]byte, bundleDecodedMax+1)))
			m.Metadata.Set("name", BundleEvent)
			m.Metadata.Set(bundleEncoding, "s2")
			return m
		}(),
	} {
		if _, _, ok, err := unbundle(m); err == nil || !ok {
			t.Errorf("%s: expanded (%v)", name, err)
		}
	}
}
