package kernel

import "time"

// Event is a domain event: something that happened, named in the past tense.
// Events are plain structs with exported fields (they are serialised to JSON by the outbox).
type Event interface {
	// EventName is the stable name of the event type, e.g. "user.registered".
	EventName() string
}

// Events is embedded by aggregates to record events until the repository drains them.
type Events struct {
	pending []Event
}

// Record appends an event.
func (e *Events) Record(ev Event) { e.pending = append(e.pending, ev) }

// PullEvents returns the recorded events and forgets them.
func (e *Events) PullEvents() []Event {
	out := e.pending
	e.pending = nil
	return out
}

// EventSource is anything that records events.
type EventSource interface {
	PullEvents() []Event
}

// OccurredAt is a helper for events' timestamps in UTC with microsecond precision
// (what both databases keep).
func OccurredAt(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }
