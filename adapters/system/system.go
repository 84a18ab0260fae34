// Package system implements the Clock and IDs ports with the real clock and ULIDs.
package system

import (
	"crypto/rand"
	"io"
	"sync"
	"time"

	"github.com/oklog/ulid"
)

// Clock is the wall clock in UTC.
type Clock struct{}

// Now returns the current time in UTC.
func (Clock) Now() time.Time { return time.Now().UTC() }

// IDs makes lower-case ULIDs: 26 characters, sortable by creation time, 80 random bits.
type IDs struct {
	mu      sync.Mutex
	entropy io.Reader
}

// NewIDs returns a ULID generator with monotonic entropy from crypto/rand.
func NewIDs() *IDs {
	return &IDs{entropy: ulid.Monotonic(rand.Reader, 0)}
}

// NewID returns a new ULID.
func (g *IDs) NewID() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return toLower(ulid.MustNew(ulid.Timestamp(time.Now()), g.entropy).String())
}

func toLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 32
		}
	}
	return string(b)
}
