package operators_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"go.uber.org/mock/gomock"

	"github.com/shuxinqian/server/application/operators"
	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/operator"
	"github.com/shuxinqian/server/ports"
	"github.com/shuxinqian/server/ports/mocks"
)

type manageFixture struct {
	svc     *operators.Service
	ops     *mocks.MockOperatorRepository
	audit   *mocks.MockOperatorAuditLog
	random  *mocks.MockRandom
	hasher  *mocks.MockPasswordHasher
	now     time.Time
	stored  map[operator.ID]*operator.Operator
	entries []operator.AuditEntry
	calls   []string // repository calls in order
}

func newManageFixture(t *testing.T) *manageFixture {
	ctrl := gomock.NewController(t)
	f := &manageFixture{ops: mocks.NewMockOperatorRepository(ctrl), audit: mocks.NewMockOperatorAuditLog(ctrl),
		random: mocks.NewMockRandom(ctrl), hasher: mocks.NewMockPasswordHasher(ctrl),
		now: time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC), stored: map[operator.ID]*operator.Operator{}}
	uow, tx := mocks.NewMockUnitOfWork(ctrl), mocks.NewMockTx(ctrl)
	clock, ids := mocks.NewMockClock(ctrl), mocks.NewMockIDs(ctrl)
	clock.EXPECT().Now().DoAndReturn(func() time.Time { return f.now }).AnyTimes()
	ids.EXPECT().NewID().Return("audit-id").AnyTimes()
	uow.EXPECT().Do(gomock.Any(), gomock.Any()).DoAndReturn(func(ctx context.Context, fn func(context.Context, ports.Tx) error) error {
		return fn(ctx, tx)
	}).AnyTimes()
	tx.EXPECT().Operators().Return(f.ops).AnyTimes()
	tx.EXPECT().OperatorAudit().Return(f.audit).AnyTimes()
	f.ops.EXPECT().LockActiveAdmins(gomock.Any()).DoAndReturn(func(context.Context) ([]operator.ID, error) {
		f.calls = append(f.calls, "lock-admins")
		var out []operator.ID
		for id, o := range f.stored {
			if o.IsActiveAdmin() {
				out = append(out, id)
			}
		}
		return out, nil
	}).AnyTimes()
	f.ops.EXPECT().Get(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, id operator.ID) (*operator.Operator, error) {
		f.calls = append(f.calls, "get "+string(id))
		if o, ok := f.stored[id]; ok {
			return operator.FromSnapshot(o.Snapshot()), nil
		}
		return nil, kernel.NotFound("operator-not-found", "no such operator")
	}).AnyTimes()
	f.ops.EXPECT().Update(gomock.Any(), gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, id operator.ID, fn func(*operator.Operator) error) error {
		f.calls = append(f.calls, "update "+string(id))
		o, ok := f.stored[id]
		if !ok {
			return kernel.NotFound("operator-not-found", "no such operator")
		}
		cur := operator.FromSnapshot(o.Snapshot())
		if err := fn(cur); err != nil {
			return err
		}
		f.stored[id] = cur
		return nil
	}).AnyTimes()
	f.ops.EXPECT().RevokeSessions(gomock.Any(), gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, id operator.ID, at time.Time) (int, error) {
		f.calls = append(f.calls, "revoke "+string(id))
		return 2, nil
	}).AnyTimes()
	f.audit.EXPECT().Append(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, e operator.AuditEntry) error {
		f.entries = append(f.entries, e)
		return nil
	}).AnyTimes()
	f.svc = operators.New(operators.Deps{UoW: uow, Clock: clock, IDs: ids, Random: f.random, Passwords: f.hasher})
	return f
}

func (f *manageFixture) add(t *testing.T, id operator.ID, role operator.Role) operators.Actor {
	o, err := operator.New(id, "user-"+string(id), "hash-"+string(id), []byte("0123456789abcdefghij"), role, f.now)
	if err != nil {
		t.Fatal(err)
	}
	f.stored[id] = o
	return operators.Actor{OperatorID: id, Username: o.Username(), Role: role}
}

// Demoting and disabling lock the active admins before anything else, revoke sessions only
// when disabling, and audit before/after; promotions and enables take no admins lock; a no-op
// is not audited; support operators are refused before any unit of work.
func TestOperatorUpdateLocksAdminsFirst(t *testing.T) {
	f := newManageFixture(t)
	root := f.add(t, "a1", operator.RoleAdmin)
	f.add(t, "a2", operator.RoleAdmin)
	sup := f.add(t, "s1", operator.RoleSupport)

	if _, err := f.svc.UpdateOperator(context.Background(), sup, "a2", operators.OperatorChange{Active: new(false)}); kernel.CodeOf(err) != "operator-permission-denied" {
		t.Fatalf("support: %v", err)
	}
	if len(f.calls) != 0 {
		t.Fatalf("support reached the repository: %v", f.calls)
	}
	v, err := f.svc.UpdateOperator(context.Background(), root, "a2", operators.OperatorChange{Active: new(false)})
	if err != nil || v.Active {
		t.Fatalf("disable %+v %v", v, err)
	}
	if got := strings.Join(f.calls, ","); got != "lock-admins,get a1,update a2,revoke a2" {
		t.Fatalf("calls %s", got)
	}
	if len(f.entries) != 1 || f.entries[0].Action != "operator.update" || f.entries[0].TargetID != "a2" {
		t.Fatalf("audit %+v", f.entries)
	}
	var before, after map[string]any
	_ = json.Unmarshal(f.entries[0].Before, &before)
	_ = json.Unmarshal(f.entries[0].After, &after)
	if before["active"] != true || after["active"] != false || after["sessions_revoked"] != 2.0 {
		t.Fatalf("before %v after %v", before, after)
	}
	// a1 is now the only active admin: it cannot disable itself.
	if _, err := f.svc.UpdateOperator(context.Background(), root, "a1", operators.OperatorChange{Role: new("support")}); kernel.CodeOf(err) != "operator-self-change" {
		t.Fatalf("self: %v", err)
	}
	f.calls = nil
	if _, err := f.svc.UpdateOperator(context.Background(), root, "a2", operators.OperatorChange{Active: new(true)}); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(f.calls, ","); got != "get a1,update a2" {
		t.Fatalf("enable calls %s", got)
	}
	f.calls = nil
	if _, err := f.svc.UpdateOperator(context.Background(), root, "s1", operators.OperatorChange{Role: new("support")}); err != nil {
		t.Fatal(err)
	}
	if len(f.entries) != 2 {
		t.Fatalf("a no-op was audited: %+v", f.entries)
	}
	if _, err := f.svc.UpdateOperator(context.Background(), root, "s1", operators.OperatorChange{}); kernel.CodeOf(err) != "operator-change-empty" {
		t.Fatalf("empty: %v", err)
	}
	// A caller demoted since its request was authenticated is refused inside the transaction.
	f.stored["a1"] = operator.FromSnapshot(func() operator.Snapshot { s := f.stored["a1"].Snapshot(); s.Role = operator.RoleSupport; return s }())
	if _, err := f.svc.UpdateOperator(context.Background(), root, "s1", operators.OperatorChange{Role: new("finance")}); kernel.CodeOf(err) != "operator-permission-denied" {
		t.Fatalf("stale caller: %v", err)
	}
}

// A password reset stores only the hash of the generated password and answers it once; the
// audit row has neither.
func TestOperatorPasswordResetAnswersOnce(t *testing.T) {
	f := newManageFixture(t)
	root := f.add(t, "a1", operator.RoleAdmin)
	f.add(t, "s1", operator.RoleSupport)
	f.random.EXPECT().Token(operators.GeneratedPasswordBytes).Return("Gen3rated-Password-abcdef", nil)
	f.hasher.EXPECT().Hash("Gen3rated-Password-abcdef").Return("$argon2id$stored", nil)
	res, err := f.svc.ResetOperatorPassword(context.Background(), root, "s1")
	if err != nil || res.Password != "Gen3rated-Password-abcdef" || f.stored["s1"].PasswordHash() != "$argon2id$stored" {
		t.Fatalf("reset %+v %v", res, err)
	}
	if got := strings.Join(f.calls, ","); got != "get a1,update s1,revoke s1" {
		t.Fatalf("calls %s", got)
	}
	raw := string(f.entries[0].Before) + string(f.entries[0].After)
	if f.entries[0].Action != "operator.password_reset" || strings.Contains(raw, "Gen3rated") || strings.Contains(raw, "argon2") {
		t.Fatalf("audit %s %s", f.entries[0].Action, raw)
	}
}
