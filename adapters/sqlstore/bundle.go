package sqlstore

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/klauspost/compress/s2"
	"github.com/oklog/ulid"

	"github.com/shuxinqian/server/domain/kernel"
)

// A transaction that changes many aggregates at once (a batch decision on 1,000 join requests)
// writes its events to the outbox as bundles: one outbox row carrying up to bundleMax events, in
// the transaction's order, each with the message id it was given in the transaction. The
// forwarder expands a bundle back into its events before it hands them to the delivery pub/sub
// (unbundler), so consumers see exactly the messages they would have seen one row each: the
// same ids, the same payloads and metadata; a bundle forwarded twice (a crash between the
// delivery and the outbox ack) delivers the same ids again, which the consumers' durable
// idempotency absorbs as for any redelivery.
//
// One row instead of 1,000 is what the outbox costs a batch inside its transaction: the rows
// were a sixth of a 1,000-member approval on SQLite and a third on Postgres. Transactions of
// fewer than bundleFrom events (every single-aggregate use case) keep one row per event.
const (
	bundleFrom = 16
	bundleMax  = 1000
	// BundleEvent is the outbox metadata "name" of a bundle (never delivered as such).
	BundleEvent = "outbox.bundle"
	// bundleEncoding is the metadata of a bundle's compression: "s2" (klauspost/compress), or
	// absent for a plain JSON array (bundles written before compression).
	bundleEncoding = "encoding"
	// bundleDecodedMax bounds what a bundle may decode to (1,000 events of a few hundred bytes
	// each are well below it): a corrupt length cannot make the forwarder allocate gigabytes.
	bundleDecodedMax = 64 << 20
)

type bundled struct {
	UUID     string            `json:"uuid"`
	Metadata map[string]string `json:"metadata"`
	Payload  json.RawMessage   `json:"payload"` // the event's JSON
}

// bundle packs events into one outbox message: each with a new message id, metadata "name" (its
// delivery topic is EventTopic of it) and the transaction's trace context (the same for all:
// trace). The JSON is written here rather than by json.Marshal of watermill messages, which cost
// more per event than the row it replaces, and it is compressed with s2: the events of a batch
// repeat their field names, enterprise and time, so 1,000 approvals are ~290 KB of JSON but
// ~50 KB to envelope (base64) and write. The message ids are one ULID and its successors
// (monotonic entropy, incremented by one): distinct and ordered like ULIDs drawn one by one,
// without reading the system's random source for each.
func bundle(events []kernel.Event, trace map[string]string) (*message.Message, error) {
	var meta []byte // the trace's metadata pairs, each preceded by a comma
	for _, k := range slices.Sorted(maps.Keys(trace)) {
		if k == "name" {
			continue
		}
		kb, _ := json.Marshal(k) // strings: cannot fail
		vb, _ := json.Marshal(trace[k])
		meta = append(append(append(append(meta, ','), kb...), ':'), vb...)
	}
	names := map[string][]byte{} // event name → quoted
	entropy := ulid.Monotonic(rand.Reader, 1)
	buf := make([]byte, 0, 320*len(events))
	buf = append(buf, '[')
	for i, ev := range events {
		payload, err := json.Marshal(ev)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: encode %s: %w", ev.EventName(), err)
		}
		q, ok := names[ev.EventName()]
		if !ok {
			q, _ = json.Marshal(ev.EventName())
			names[ev.EventName()] = q
		}
		id, err := ulid.New(ulid.Now(), entropy)
		if err != nil { // the entropy overflowed (1 in 2^70): start afresh
			entropy = ulid.Monotonic(rand.Reader, 1)
			if id, err = ulid.New(ulid.Now(), entropy); err != nil {
				return nil, fmt.Errorf("sqlstore: message id: %w", err)
			}
		}
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, `{"uuid":"`...)
		buf = append(buf, id.String()...) // Crockford base32: nothing to escape
		buf = append(buf, `","metadata":{"name":`...)
		buf = append(buf, q...)
		buf = append(buf, meta...)
		buf = append(buf, `},"payload":`...)
		buf = append(buf, payload...)
		buf = append(buf, '}')
	}
	buf = append(buf, ']')
	out := message.NewMessage(watermill.NewULID(), s2.Encode(nil, buf))
	out.Metadata.Set("name", BundleEvent)
	out.Metadata.Set("events", strconv.Itoa(len(events)))
	out.Metadata.Set(bundleEncoding, "s2")
	return out, nil
}

// unbundle is the messages of a bundle with their topics, or ok false for any other message.
func unbundle(msg *message.Message) (topics []string, msgs []*message.Message, ok bool, err error) {
	if msg.Metadata.Get("name") != BundleEvent {
		return nil, nil, false, nil
	}
	payload := msg.Payload
	switch enc := msg.Metadata.Get(bundleEncoding); enc {
	case "":
	case "s2":
		n, err := s2.DecodedLen(payload)
		if err == nil && n > bundleDecodedMax {
			err = fmt.Errorf("decodes to %d bytes", n)
		}
		if err == nil {
			payload, err = s2.Decode(nil, payload)
		}
		if err != nil {
			return nil, nil, true, fmt.Errorf("sqlstore: outbox bundle %s: %w", msg.UUID, err)
		}
	default:
		return nil, nil, true, fmt.Errorf("sqlstore: outbox bundle %s: unknown encoding %q", msg.UUID, enc)
	}
	var items []bundled
	if err := json.Unmarshal(payload, &items); err != nil {
		return nil, nil, true, fmt.Errorf("sqlstore: outbox bundle %s: %w", msg.UUID, err)
	}
	topics, msgs = make([]string, len(items)), make([]*message.Message, len(items))
	for i, it := range items {
		m := message.NewMessage(it.UUID, []byte(it.Payload))
		if it.Metadata != nil {
			m.Metadata = it.Metadata
		}
		m.SetContext(msg.Context())
		topics[i], msgs[i] = EventTopic(m.Metadata.Get("name")), m
	}
	return topics, msgs, true, nil
}

// unbundler is the forwarder's publisher: it expands bundles into their messages, in order, runs
// of one topic in one Publish, and passes any other message through.
type unbundler struct{ message.Publisher }

func (u unbundler) Publish(topic string, msgs ...*message.Message) error {
	for _, msg := range msgs {
		topics, inner, ok, err := unbundle(msg)
		if err != nil {
			return err
		}
		if !ok {
			if err := u.Publisher.Publish(topic, msg); err != nil {
				return err
			}
			continue
		}
		for start := 0; start < len(inner); {
			end := start + 1
			for end < len(inner) && topics[end] == topics[start] {
				end++
			}
			if err := u.Publisher.Publish(topics[start], inner[start:end]...); err != nil {
				return err
			}
			start = end
		}
	}
	return nil
}
