package application_test

import (
	"context"
	"testing"
	"time"

	"go.uber.org/mock/gomock"

	"github.com/shuxinqian/server/application"
	"github.com/shuxinqian/server/ports"
	"github.com/shuxinqian/server/ports/mocks"
)

// fixture wires the application to gomock mocks of every port. The unit of work runs its
// function directly against the mocked transaction.
type fixture struct {
	ctrl      *gomock.Controller
	app       *application.App
	now       time.Time
	clock     *mocks.MockClock
	ids       *mocks.MockIDs
	random    *mocks.MockRandom
	passwords *mocks.MockPasswordHasher
	secrets   *mocks.MockSecrets
	sms       *mocks.MockSMSSender
	uow       *mocks.MockUnitOfWork
	tx        *mocks.MockTx
	users     *mocks.MockUserRepository
	codes     *mocks.MockCodeRepository
	sessions  *mocks.MockSessionRepository
	audit     *mocks.MockAuditLog
	inbox     *mocks.MockInbox
	channels  *mocks.MockChannelRepository
	files     *mocks.MockFileRepository
	sigs      *mocks.MockSignatureRepository
	consents  *mocks.MockConsentLog
	identity  *mocks.MockIdentityVerifier
	liveness  *mocks.MockLivenessVerifier
	ca        *mocks.MockCertificateAuthority
	keys      *mocks.MockSigningKeys
	store     *mocks.MockFileStore
	renderer  *mocks.MockSignatureRenderer
	qr        *mocks.MockQRCoder
	effects   *fakeEffects
	attempts  *mocks.MockAttemptCounter
	hits      map[string]int
	commits   int
	inTx      bool // a unit of work is running
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctrl := gomock.NewController(t)
	f := &fixture{
		ctrl: ctrl, now: time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC),
		clock: mocks.NewMockClock(ctrl), ids: mocks.NewMockIDs(ctrl), random: mocks.NewMockRandom(ctrl),
		passwords: mocks.NewMockPasswordHasher(ctrl), secrets: mocks.NewMockSecrets(ctrl), sms: mocks.NewMockSMSSender(ctrl),
		uow: mocks.NewMockUnitOfWork(ctrl), tx: mocks.NewMockTx(ctrl), users: mocks.NewMockUserRepository(ctrl),
		codes: mocks.NewMockCodeRepository(ctrl), sessions: mocks.NewMockSessionRepository(ctrl),
		audit: mocks.NewMockAuditLog(ctrl), inbox: mocks.NewMockInbox(ctrl),
		channels: mocks.NewMockChannelRepository(ctrl), files: mocks.NewMockFileRepository(ctrl),
		sigs: mocks.NewMockSignatureRepository(ctrl), consents: mocks.NewMockConsentLog(ctrl),
		identity: mocks.NewMockIdentityVerifier(ctrl), liveness: mocks.NewMockLivenessVerifier(ctrl),
		ca: mocks.NewMockCertificateAuthority(ctrl), keys: mocks.NewMockSigningKeys(ctrl), store: mocks.NewMockFileStore(ctrl),
		renderer: mocks.NewMockSignatureRenderer(ctrl), qr: mocks.NewMockQRCoder(ctrl),
		attempts: mocks.NewMockAttemptCounter(ctrl), hits: map[string]int{},
	}
	f.clock.EXPECT().Now().DoAndReturn(func() time.Time { return f.now }).AnyTimes()
	n := 0
	f.ids.EXPECT().NewID().DoAndReturn(func() string { n++; return "id" + string(rune('a'+n)) }).AnyTimes()
	// Deterministic digest: visible in assertions, keyed only by its inputs.
	f.secrets.EXPECT().Digest(gomock.Any(), gomock.Any()).DoAndReturn(func(d, v string) string { return d + ":" + v }).AnyTimes()
	f.uow.EXPECT().Do(gomock.Any(), gomock.Any()).DoAndReturn(func(ctx context.Context, fn func(context.Context, ports.Tx) error) error {
		f.inTx = true
		err := fn(ctx, f.tx)
		f.inTx = false
		if err == nil {
			f.commits++
		}
		return err
	}).AnyTimes()
	f.uow.EXPECT().Read(gomock.Any(), gomock.Any()).DoAndReturn(func(ctx context.Context, fn func(context.Context, ports.Tx) error) error {
		return fn(ctx, f.tx)
	}).AnyTimes()
	f.uow.EXPECT().Autocommit(gomock.Any(), gomock.Any()).DoAndReturn(func(ctx context.Context, fn func(context.Context, ports.Tx) error) error {
		return fn(ctx, f.tx)
	}).AnyTimes()
	f.tx.EXPECT().Users().Return(f.users).AnyTimes()
	f.tx.EXPECT().Codes().Return(f.codes).AnyTimes()
	f.tx.EXPECT().Sessions().Return(f.sessions).AnyTimes()
	f.tx.EXPECT().Audit().Return(f.audit).AnyTimes()
	f.tx.EXPECT().Inbox().Return(f.inbox).AnyTimes()
	f.effects = &fakeEffects{claims: map[string]*fakeEffect{}}
	f.tx.EXPECT().Effects().Return(f.effects).AnyTimes()
	f.tx.EXPECT().Channels().Return(f.channels).AnyTimes()
	f.tx.EXPECT().Files().Return(f.files).AnyTimes()
	f.tx.EXPECT().Signatures().Return(f.sigs).AnyTimes()
	f.tx.EXPECT().Consents().Return(f.consents).AnyTimes()
	f.tx.EXPECT().Attempts().Return(f.attempts).AnyTimes()
	// The attempt counter counts in memory, one window that never ends.
	f.attempts.EXPECT().Hit(gomock.Any(), gomock.Any(), gomock.Any(), gomock.Any()).DoAndReturn(
		func(_ context.Context, key string, w time.Duration, now time.Time) (int, time.Time, error) {
			f.hits[key]++
			return f.hits[key], now.Add(w), nil
		}).AnyTimes()
	f.app = application.New(application.Deps{UoW: f.uow, Clock: f.clock, IDs: f.ids, Random: f.random,
		Passwords: f.passwords, Secrets: f.secrets, SMS: f.sms, Identity: f.identity, Liveness: f.liveness, CA: f.ca,
		Keys: f.keys, Files: f.store, Renderer: f.renderer, QR: f.qr, Settings: application.Settings{PublicBaseURL: "https://sxq.test"}})
	return f
}

// fakeEffects is an in-memory ports.EffectLog with the adapter's rules (the contract suite
// checks the SQL one).
type fakeEffects struct {
	claims map[string]*fakeEffect
	notes  map[string][]byte
}

func (e *fakeEffects) Note(_ context.Context, key string, data []byte, _ time.Time) ([]byte, error) {
	if e.notes == nil {
		e.notes = map[string][]byte{}
	}
	if n, ok := e.notes[key]; ok {
		return n, nil
	}
	e.notes[key] = data
	return data, nil
}

type fakeEffect struct {
	claimed time.Time
	done    bool
}

func (e *fakeEffects) Claim(_ context.Context, key string, now time.Time, stale time.Duration) (ports.EffectClaim, error) {
	c, ok := e.claims[key]
	switch {
	case !ok:
		e.claims[key] = &fakeEffect{claimed: now}
		return ports.EffectNew, nil
	case c.done:
		return ports.EffectDone, nil
	case now.Sub(c.claimed) < stale:
		return ports.EffectBusy, nil
	}
	c.claimed = now
	return ports.EffectRetry, nil
}

func (e *fakeEffects) Done(_ context.Context, key string, now time.Time) error {
	e.claims[key] = &fakeEffect{claimed: now, done: true}
	return nil
}

func (e *fakeEffects) Release(_ context.Context, key string) error {
	if c, ok := e.claims[key]; ok && !c.done {
		delete(e.claims, key)
	}
	return nil
}
