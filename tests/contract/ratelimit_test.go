package contract

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/shuxinqian/server/adapters/crypto"
	"github.com/shuxinqian/server/adapters/sms"
	"github.com/shuxinqian/server/adapters/sqlstore"
	"github.com/shuxinqian/server/adapters/system"
	"github.com/shuxinqian/server/application"
	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/otp"
	"github.com/shuxinqian/server/ports"
	"github.com/shuxinqian/server/tests/testdb"
)

// Fifty concurrent code requests for fifty phones from one client IP: exactly the per-IP daily
// limit gets through, on each database (several instances share the database, so the count
// must be atomic there, not in process memory).
func TestPerIPCodeLimitHoldsUnderConcurrency(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *sqlstore.DB, _ ports.UnitOfWork) {
		store := testdb.Store(t, db)
		box := sms.NewSandbox(system.Clock{})
		app := application.New(application.Deps{UoW: store, Clock: system.Clock{}, IDs: system.NewIDs(), Random: crypto.Random{},
			Passwords: crypto.Argon2id{}, Secrets: testdb.Keys(t), SMS: box})
		var ok, limited atomic.Int32
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range 50 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				_, err := app.RequestCode(context.Background(), application.RequestCode{
					Phone: fmt.Sprintf("1380013%04d", i), Purpose: "login", ClientIP: "203.0.113.7"})
				switch {
				case err == nil:
					ok.Add(1)
				case kernel.KindOf(err) == kernel.KindRateLimited:
					limited.Add(1)
				default:
					t.Errorf("request %d: %v", i, err)
				}
			}()
		}
		close(start)
		wg.Wait()
		t.Logf("accepted %d, rate-limited %d", ok.Load(), limited.Load())
		if ok.Load() != otp.PerIPDay || limited.Load() != 50-otp.PerIPDay {
			t.Fatalf("accepted %d codes from one IP, want exactly %d", ok.Load(), otp.PerIPDay)
		}
		if n := len(box.List("")); n != otp.PerIPDay {
			t.Fatalf("sent %d SMS", n)
		}
	})
}
