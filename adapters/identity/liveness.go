package identity

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
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

// sessionRecord is a session as the durable records keep it.
type sessionRecord struct {
	Req       ports.LivenessRequest `json:"req"`
	ExpiresAt time.Time             `json:"expires_at"`
	Result    ports.LivenessResult  `json:"result"`
}

// livenessKind is the kind of the sandbox liveness sessions in ports.SandboxRecords.
const livenessKind = "liveness"

// SandboxLiveness simulates face liveness sessions: Start opens a session whose page is under
// the sandbox endpoint, and Play (or PlayAs) decides it as the provider's H5 page would. An
// undecided session fails with ReasonSessionExpired once SandboxLivenessTTL has passed. It keeps
// at most SandboxLivenessCapacity sessions in memory, or (NewDurableSandboxLiveness) keeps them in
// durable records shared by every instance; it is safe for concurrent use.
type SandboxLiveness struct {
	clock   ports.Clock
	baseURL string
	records ports.SandboxRecords // nil: in memory

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

// NewDurableSandboxLiveness is the sandbox liveness verifier keeping its sessions in records, so
// that a session started on one instance is played and read on another (several instances
// behind a load balancer) and survives a restart.
func NewDurableSandboxLiveness(clock ports.Clock, baseURL string, records ports.SandboxRecords) *SandboxLiveness {
	s := NewSandboxLiveness(clock, baseURL)
	s.records = records
	return s
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
	if s.records != nil {
		v, err := json.Marshal(sessionRecord{Req: sess.req, ExpiresAt: sess.expiresAt, Result: sess.result})
		if err != nil {
			return ports.LivenessSession{}, err
		}
		if _, err := s.records.Insert(ctx, livenessKind, id, v, sess.expiresAt); err != nil {
			return ports.LivenessSession{}, err
		}
		return ports.LivenessSession{ID: id, URL: s.baseURL + SandboxLivenessPath + id, ExpiresAt: sess.expiresAt}, nil
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
	sess, ok, err := s.load(ctx, sessionID)
	if err != nil {
		return ports.LivenessResult{}, err
	}
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

// load reads a session (a copy).
func (s *SandboxLiveness) load(ctx context.Context, sessionID string) (sandboxSession, bool, error) {
	if s.records != nil {
		v, ok, err := s.records.Get(ctx, livenessKind, sessionID)
		if err != nil || !ok {
			return sandboxSession{}, false, err
		}
		var r sessionRecord
		if err := json.Unmarshal(v, &r); err != nil {
			return sandboxSession{}, false, err
		}
		return sandboxSession{req: r.Req, expiresAt: r.ExpiresAt, result: r.Result}, true, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, ok := s.sessions[sessionID]
	if !ok {
		return sandboxSession{}, false, nil
	}
	return *sess, true, nil
}

func (s *SandboxLiveness) decide(sessionID string, outcome func(*sandboxSession) ports.LivenessResult) error {
	if s.records != nil {
		var refused error
		found, err := s.records.Update(context.Background(), livenessKind, sessionID, func(v []byte) ([]byte, error) {
			var r sessionRecord
			if err := json.Unmarshal(v, &r); err != nil {
				return nil, err
			}
			sess := &sandboxSession{req: r.Req, expiresAt: r.ExpiresAt, result: r.Result}
			if refused = s.refusal(sess); refused != nil {
				return nil, refused
			}
			r.Result = outcome(sess)
			return json.Marshal(r)
		})
		switch {
		case refused != nil:
			return refused
		case err != nil:
			return err
		case !found:
			return errSessionNotFound()
		}
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, ok := s.sessions[sessionID]
	if !ok {
		return errSessionNotFound()
	}
	if err := s.refusal(sess); err != nil {
		return err
	}
	sess.result = outcome(sess)
	return nil
}

// refusal is why sess cannot be decided any more (nil: it can).
func (s *SandboxLiveness) refusal(sess *sandboxSession) error {
	switch {
	case sess.result.Status != ports.LivenessPending:
		return kernel.Conflict(codeSessionFinished, "the liveness session is already decided")
	case !s.clock.Now().Before(sess.expiresAt):
		return kernel.Precondition(codeSessionExpired, "the liveness session has expired")
	}
	return nil
}

func errSessionNotFound() error {
	return kernel.NotFound(codeSessionNotFound, "no such liveness session")
}
