package identity

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"sync"
	"time"

	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/ports"
)

// Sandbox liveness figures.
const (
	// SandboxLivenessTTL is how long a sandbox session can be played after it starts.
	SandboxLivenessTTL = 30 * time.Minute
	// SandboxLivenessCapacity is how many sessions the sandbox keeps; the oldest go first.
	SandboxLivenessCapacity = 10000
	// SandboxLivenessPath is the path, under the base URL, of the sandbox page of a session (an H5
	// page with pass and fail buttons that posts to /api/v1/sandbox/liveness/{session_id}).
	SandboxLivenessPath = "/sandbox/liveness/"
)

// Reasons a liveness session fails.
const (
	ReasonFaceMismatch   = "face did not match"
	ReasonSessionExpired = "session expired"
)

// Error codes of the sandbox liveness verifier.
const (
	codeSessionNotFound  = "liveness-session-not-found"
	codeSessionFinished  = "liveness-session-finished"
	codeSessionExpired   = "liveness-session-expired"
	codeIdentityRequired = "liveness-identity-required"
)

type sandboxSession struct {
	req       ports.LivenessRequest
	expiresAt time.Time
	result    ports.LivenessResult
}

// SandboxLiveness simulates face liveness sessions: Start opens a session whose page is under
// the sandbox endpoint, and Play (or PlayAs) decides it as the provider's H5 page would. An
// undecided session fails with ReasonSessionExpired once SandboxLivenessTTL has passed. It keeps
// at most SandboxLivenessCapacity sessions in memory and is safe for concurrent use.
type SandboxLiveness struct {
	clock   ports.Clock
	baseURL string

	mu       sync.Mutex
	capacity int
	sessions map[string]*sandboxSession
	order    []string // session ids, oldest first
}

// NewSandboxLiveness makes a sandbox liveness verifier whose session pages live under baseURL
// (e.g. "https://sandbox.example.com").
func NewSandboxLiveness(clock ports.Clock, baseURL string) *SandboxLiveness {
	return &SandboxLiveness{
		clock:    clock,
		baseURL:  strings.TrimRight(baseURL, "/"),
		capacity: SandboxLivenessCapacity,
		sessions: map[string]*sandboxSession{},
	}
}

var _ ports.LivenessVerifier = (*SandboxLiveness)(nil)

// Start opens a session for the claimed identity.
func (s *SandboxLiveness) Start(ctx context.Context, req ports.LivenessRequest) (ports.LivenessSession, error) {
	if err := ctx.Err(); err != nil {
		return ports.LivenessSession{}, err
	}
	req.Name = strings.TrimSpace(req.Name)
	if req.Name == "" || req.IDNumber.IsZero() {
		return ports.LivenessSession{}, kernel.Invalid(codeIdentityRequired, "a liveness session needs a name and an ID number")
	}
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand crashes the program instead)
	id := hex.EncodeToString(b[:])
	sess := &sandboxSession{
		req:       req,
		expiresAt: s.clock.Now().UTC().Add(SandboxLivenessTTL),
		result:    ports.LivenessResult{Status: ports.LivenessPending, Reference: req.Reference},
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	s.sessions[id] = sess
	s.order = append(s.order, id)
	for len(s.order) > s.capacity {
		delete(s.sessions, s.order[0])
		s.order[0] = ""
		s.order = s.order[1:]
	}
	return ports.LivenessSession{ID: id, URL: s.baseURL + SandboxLivenessPath + id, ExpiresAt: sess.expiresAt}, nil
}

// Result returns the session's state: pending until played, failed with ReasonSessionExpired if
// it was not played in time.
func (s *SandboxLiveness) Result(ctx context.Context, sessionID string) (ports.LivenessResult, error) {
	if err := ctx.Err(); err != nil {
		return ports.LivenessResult{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, ok := s.sessions[sessionID]
	if !ok {
		return ports.LivenessResult{}, errSessionNotFound()
	}
	if sess.result.Status == ports.LivenessPending && !s.clock.Now().Before(sess.expiresAt) {
		return ports.LivenessResult{Status: ports.LivenessFailed, Reason: ReasonSessionExpired, Reference: sess.req.Reference}, nil
	}
	return sess.result, nil
}

// Play decides a pending session: pass records that the claimed person did the face check,
// otherwise it fails with ReasonFaceMismatch. An unknown session is not-found
// "liveness-session-not-found", a decided one conflict "liveness-session-finished" and an
// expired one precondition "liveness-session-expired".
func (s *SandboxLiveness) Play(sessionID string, pass bool) error {
	return s.decide(sessionID, func(sess *sandboxSession) ports.LivenessResult {
		if !pass {
			return ports.LivenessResult{Status: ports.LivenessFailed, Reason: ReasonFaceMismatch, Reference: sess.req.Reference}
		}
		return ports.LivenessResult{Status: ports.LivenessPassed, Name: sess.req.Name, IDNumber: sess.req.IDNumber, Reference: sess.req.Reference}
	})
}

// PlayAs passes the session as another person, as when someone else does the face check with
// their own ID: the result carries name and id instead of the claimed identity.
func (s *SandboxLiveness) PlayAs(sessionID, name string, id kernel.IDNumber) error {
	return s.decide(sessionID, func(sess *sandboxSession) ports.LivenessResult {
		return ports.LivenessResult{Status: ports.LivenessPassed, Name: name, IDNumber: id, Reference: sess.req.Reference}
	})
}

func (s *SandboxLiveness) decide(sessionID string, outcome func(*sandboxSession) ports.LivenessResult) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, ok := s.sessions[sessionID]
	switch {
	case !ok:
		return errSessionNotFound()
	case sess.result.Status != ports.LivenessPending:
		return kernel.Conflict(codeSessionFinished, "the liveness session is already decided")
	case !s.clock.Now().Before(sess.expiresAt):
		return kernel.Precondition(codeSessionExpired, "the liveness session has expired")
	}
	sess.result = outcome(sess)
	return nil
}

func errSessionNotFound() error {
	return kernel.NotFound(codeSessionNotFound, "no such liveness session")
}
