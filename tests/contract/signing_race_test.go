package contract

import (
	"context"
	"crypto"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	adcrypto "github.com/shuxinqian/server/adapters/crypto"
	"github.com/shuxinqian/server/adapters/sqlstore"
	"github.com/shuxinqian/server/adapters/system"
	"github.com/shuxinqian/server/application"
	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/user"
	"github.com/shuxinqian/server/ports"
)

// countingKeys counts how many signing-password guesses reach the key (argon2id + AEAD open).
type countingKeys struct {
	ports.SigningKeys
	unwraps atomic.Int64
}

func (k *countingKeys) Unwrap(owner string, wrapped []byte, password string) (crypto.Signer, []byte, error) {
	k.unwraps.Add(1)
	return k.SigningKeys.Unwrap(owner, wrapped, password)
}

// Issue 11 item 9: 19 parallel wrong signing-password guesses are at most 5 tries. Each try is
// reserved under the user's row lock before the key is opened, so no guess is evaluated once
// the five tries are used, and the right password then never slips past the lock. (A right try
// forgives the failures before it — the owner proved the password — so it is not raced here;
// domain/user tests that it keeps the tries reserved after it counted.)
func TestSigningPasswordGuessesInParallelAreAtMostFive(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *sqlstore.DB, uow ports.UnitOfWork) {
		ctx := context.Background()
		keys := &countingKeys{SigningKeys: adcrypto.NewSigningKeys()}
		km, err := keys.Generate("user:u1/personal-signing", "Right1234x")
		if err != nil {
			t.Fatal(err)
		}
		addUser(t, uow, newUser(t, "u1", "13800138000"))
		if err := uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
			return tx.Users().Update(ctx, "u1", func(u *user.User) error {
				if err := verify(u, "张三", repoID); err != nil {
					return err
				}
				return u.IssueCertificate(user.Certificate{Serial: "ab12", Subject: "CN=张三", NotBefore: t0, NotAfter: t0.Add(time.Hour),
					DER: []byte("der"), PublicKeyDER: km.PublicKeyDER, WrappedKey: km.Wrapped}, t0)
			})
		}); err != nil {
			t.Fatal(err)
		}
		app := application.New(application.Deps{UoW: uow, Clock: system.Clock{}, IDs: system.NewIDs(), Keys: keys})
		actor := application.Actor{UserID: "u1"}
		var wg sync.WaitGroup
		var wrong, locked, ok atomic.Int64
		for range 19 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := app.VerifySigningPassword(ctx, actor, "Wrong0000x")
				switch kernel.CodeOf(err) {
				case "":
					ok.Add(1)
				case "signing-password-wrong":
					wrong.Add(1)
				case "signing-locked":
					locked.Add(1)
				default:
					t.Errorf("guess: %v", err)
				}
			}()
		}
		wg.Wait()
		if n := keys.unwraps.Load(); n > 5 {
			t.Fatalf("%d guesses reached the key, at most 5 may (wrong %d, locked %d, accepted %d)", n, wrong.Load(), locked.Load(), ok.Load())
		}
		if ok.Load() != 0 || wrong.Load() > 5 || wrong.Load()+locked.Load() != 19 {
			t.Fatalf("answers: wrong %d, locked %d, accepted %d", wrong.Load(), locked.Load(), ok.Load())
		}
		// The right password does not slip past the lock the guesses set, nor reach the key.
		before := keys.unwraps.Load()
		if err := app.VerifySigningPassword(ctx, actor, "Right1234x"); kernel.CodeOf(err) != "signing-locked" {
			t.Fatalf("the right password after the lock: %v", err)
		}
		if keys.unwraps.Load() != before {
			t.Fatal("the right password reached the key while signing is locked")
		}
	})
}
