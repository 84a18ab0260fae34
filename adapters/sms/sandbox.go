// Package sms implements ports.SMSSender. The sandbox sender keeps the messages (in a durable
// ports.SandboxSMSBox when given one, else in memory) so a person or a test can read the codes
// through GET /api/v1/sandbox/sms.
package sms

import (
	"context"
	"sync"
	"time"

	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/ports"
)

// Message is a message the sandbox "sent".
type Message struct {
	ID       int64
	Phone    kernel.Phone
	Template string
	Text     string
	SentAt   time.Time
}

// Sandbox is an in-memory SMS sender. It keeps the newest Capacity messages and drops a message
// whose idempotency key it has already sent.
type Sandbox struct {
	mu       sync.Mutex
	clock    ports.Clock
	capacity int
	nextID   int64
	msgs     []Message
	keys     map[string]struct{}
	keyOrder []string
	box      ports.SandboxSMSBox // durable box; nil: memory
}

// NewDurableSandbox makes a sandbox sender that keeps its messages in box (shared by every
// instance, kept across restarts; a repeated idempotency key is a no-op there too).
func NewDurableSandbox(clock ports.Clock, box ports.SandboxSMSBox) *Sandbox {
	s := NewSandbox(clock)
	s.box = box
	return s
}

// DefaultCapacity is how many messages the sandbox keeps.
const DefaultCapacity = 10000

// NewSandbox makes a sandbox sender.
func NewSandbox(clock ports.Clock) *Sandbox {
	return &Sandbox{clock: clock, capacity: DefaultCapacity, keys: map[string]struct{}{}}
}

var _ ports.SMSSender = (*Sandbox)(nil)

// Send records the message.
func (s *Sandbox) Send(ctx context.Context, msg ports.SMS) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if msg.Phone.IsZero() {
		return kernel.Invalid("phone-invalid", "no phone")
	}
	if s.box != nil {
		_, err := s.box.Append(ctx, msg.IdempotencyKey, ports.SentSMS{Phone: msg.Phone, Template: msg.Template, Text: msg.Text,
			SentAt: s.clock.Now().UTC()})
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if msg.IdempotencyKey != "" {
		if _, dup := s.keys[msg.IdempotencyKey]; dup {
			return nil
		}
		s.keys[msg.IdempotencyKey] = struct{}{}
		s.keyOrder = append(s.keyOrder, msg.IdempotencyKey)
		if len(s.keyOrder) > s.capacity {
			delete(s.keys, s.keyOrder[0])
			s.keyOrder = s.keyOrder[1:]
		}
	}
	s.nextID++
	s.msgs = append(s.msgs, Message{ID: s.nextID, Phone: msg.Phone, Template: msg.Template, Text: msg.Text, SentAt: s.clock.Now().UTC()})
	if len(s.msgs) > s.capacity {
		s.msgs = s.msgs[len(s.msgs)-s.capacity:]
	}
	return nil
}

// List returns the messages to phone, newest first (all phones when phone is empty).
func (s *Sandbox) List(phone kernel.Phone) []Message {
	if s.box != nil {
		ms, err := s.box.List(context.Background(), phone, DefaultCapacity)
		if err != nil {
			return nil
		}
		out := make([]Message, len(ms))
		for i, m := range ms {
			out[i] = Message(m)
		}
		return out
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Message
	for i := len(s.msgs) - 1; i >= 0; i-- {
		if phone == "" || s.msgs[i].Phone == phone {
			out = append(out, s.msgs[i])
		}
	}
	return out
}
