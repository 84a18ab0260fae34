package contract

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	"github.com/shuxinqian/server/adapters/sqlstore"
	"github.com/shuxinqian/server/domain/channel"
	"github.com/shuxinqian/server/domain/file"
	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/signature"
	"github.com/shuxinqian/server/domain/user"
	"github.com/shuxinqian/server/ports"
)

const repoID = kernel.IDNumber("11010519491231002X")

func verify(u *user.User, name string, id kernel.IDNumber) error {
	if err := u.StartRealName(user.Identity{Name: name, IDNumber: id, Method: "id2"}, t0); err != nil {
		return err
	}
	return u.RealNameSucceeded(t0)
}

func TestUserIdentityPersistence(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *sqlstore.DB, uow ports.UnitOfWork) {
		ctx := context.Background()
		addUser(t, uow, newUser(t, "u1", "13800138000"))
		err := uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
			return tx.Users().Update(ctx, "u1", func(u *user.User) error {
				u.SwitchChannel("q86804", t0)
				if err := verify(u, "张三", repoID); err != nil {
					return err
				}
				return u.IssueCertificate(user.Certificate{Serial: "ab12", Subject: "CN=张三", NotBefore: t0, NotAfter: t0.Add(time.Hour),
					DER: []byte("der"), PublicKeyDER: []byte("pub"), WrappedKey: []byte("wrapped")}, t0)
			})
		})
		if err != nil {
			t.Fatal(err)
		}
		_ = uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
			u, err := tx.Users().Get(ctx, "u1")
			if err != nil {
				t.Fatal(err)
			}
			id, c := u.Identity(), u.Certificate()
			if u.RealNameStatus() != user.RealNameVerified || id.Name != "张三" || id.IDNumber != repoID || !id.VerifiedAt.Equal(t0) ||
				u.ChannelCode() != "q86804" || c == nil || c.Serial != "ab12" || string(c.WrappedKey) != "wrapped" || c.Status != user.CertificateActive {
				t.Fatalf("round trip: %+v cert %+v", u.Snapshot(), c)
			}
			return nil
		})
		// Name and ID number are not stored in clear anywhere in the row.
		var nameEnc, idEnc []byte
		var idx string
		if err := db.NewSelect().Table("users").Column("real_name_enc", "id_number_enc", "id_number_idx").Where("id = 'u1'").
			Scan(ctx, &nameEnc, &idEnc, &idx); err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(idEnc, []byte(repoID)) || bytes.Contains(nameEnc, []byte("张三")) || idx == string(repoID) || len(idx) != 64 {
			t.Fatal("identity stored in clear")
		}
		// Taken by u1 for u2, not for u1 itself.
		addUser(t, uow, newUser(t, "u2", "13900139000"))
		_ = uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
			if taken, err := tx.Users().IDNumberTaken(ctx, repoID, "u2"); err != nil || !taken {
				t.Fatalf("taken for u2: %v %v", taken, err)
			}
			if taken, _ := tx.Users().IDNumberTaken(ctx, repoID, "u1"); taken {
				t.Fatal("u1's own ID counted as taken")
			}
			return nil
		})
		// The unique index refuses a second verified account even past the application's check.
		err = uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
			return tx.Users().Update(ctx, "u2", func(u *user.User) error { return verify(u, "张三", repoID) })
		})
		if kernel.CodeOf(err) != "id-number-taken" {
			t.Fatalf("second verification: %v", err)
		}
	})
}

// Two accounts verifying one identity at the same moment: exactly one wins.
func TestIDNumberUniqueUnderConcurrency(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *sqlstore.DB, uow ports.UnitOfWork) {
		ctx := context.Background()
		const n = 6
		for i := range n {
			addUser(t, uow, newUser(t, "c"+string(rune('a'+i)), kernel.Phone("1380013800"+string(rune('0'+i)))))
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		wins, taken := 0, 0
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
					return tx.Users().Update(ctx, kernel.UserID("c"+string(rune('a'+i))), func(u *user.User) error { return verify(u, "张三", repoID) })
				})
				mu.Lock()
				defer mu.Unlock()
				switch kernel.CodeOf(err) {
				case "":
					wins++
				case "id-number-taken":
					taken++
				default:
					t.Errorf("unexpected error: %v", err)
				}
			}()
		}
		wg.Wait()
		if wins != 1 || taken != n-1 {
			t.Fatalf("wins=%d taken=%d", wins, taken)
		}
	})
}

func TestChannelRepository(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *sqlstore.DB, uow ports.UnitOfWork) {
		ctx := context.Background()
		mk := func(id, code, name string, active bool) *channel.Channel {
			c, err := channel.New(channel.Snapshot{ID: kernel.ChannelID(id), Code: code, Name: name, QRToken: "tok-0123456789abcdef",
				Active: active, PersonalCertService: true, Method: channel.MethodFace, CreatedAt: t0,
				Catalog: []channel.Item{{SKU: "pkg-1", Name: "套餐", Kind: channel.KindPackage, UnitPrice: kernel.Fen(15000),
					Grants: channel.Grants{Signatures: 50}}}})
			if err != nil {
				t.Fatal(err)
			}
			return c
		}
		err := uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
			for _, c := range []*channel.Channel{mk("c1", "q86804", "东莞交易专家评标项目", true), mk("c2", "q2", "100%_专家 通道", true),
				mk("c3", "q3", "停用的专家渠道", false)} {
				if err := tx.Channels().Add(ctx, c); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		err = uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
			return tx.Channels().Add(ctx, mk("c4", "q86804", "x", true))
		})
		if kernel.CodeOf(err) != "channel-code-taken" {
			t.Fatalf("duplicate code: %v", err)
		}
		_ = uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
			c, err := tx.Channels().GetByCode(ctx, "q86804")
			if err != nil {
				t.Fatal(err)
			}
			if it, ok := c.Item("pkg-1"); !ok || it.UnitPrice != kernel.Fen(15000) || it.Grants.Signatures != 50 || c.Method() != channel.MethodFace {
				t.Fatalf("round trip %+v", c.Snapshot())
			}
			if _, err := tx.Channels().GetByCode(ctx, "nope"); kernel.CodeOf(err) != "channel-not-found" {
				t.Fatalf("missing: %v", err)
			}
			for q, want := range map[string]int{"专家": 2, "交易": 1, "%": 1, "_": 1, "停用": 0, "zz": 0} {
				got, err := tx.Channels().Search(ctx, q, 10)
				if err != nil || len(got) != want {
					t.Errorf("search %q: %d results, want %d (%v)", q, len(got), want, err)
				}
			}
			if p, err := tx.Channels().Platform(ctx); err != nil || p != channel.DefaultPlatform {
				t.Fatalf("default platform %+v %v", p, err)
			}
			return nil
		})
		want := channel.Platform{ChargingEnabled: true, DefaultMethod: channel.MethodID3}
		for range 2 { // upsert twice
			if err := uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error { return tx.Channels().SavePlatform(ctx, want) }); err != nil {
				t.Fatal(err)
			}
		}
		_ = uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
			if p, _ := tx.Channels().Platform(ctx); p != want {
				t.Fatalf("platform %+v", p)
			}
			return nil
		})
	})
}

func TestFilesSignaturesConsents(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *sqlstore.DB, uow ports.UnitOfWork) {
		ctx := context.Background()
		addUser(t, uow, newUser(t, "u1", "13800138000"))
		addUser(t, uow, newUser(t, "u2", "13900139000"))
		rec := ports.FileRecord{ID: "f1", OwnerID: "u1", Purpose: file.PurposeSignature, StorageKey: "files/f1", CreatedAt: t0,
			Info: file.Info{ContentType: "image/png", Size: 123, SHA256: "abc", Width: 300, Height: 100}}
		if err := uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error { return tx.Files().Add(ctx, rec) }); err != nil {
			t.Fatal(err)
		}
		_ = uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
			got, err := tx.Files().Get(ctx, "f1")
			if err != nil || got.Info != rec.Info || got.OwnerID != "u1" || !got.CreatedAt.Equal(t0) {
				t.Fatalf("file %+v %v", got, err)
			}
			if _, err := tx.Files().Get(ctx, "f9"); kernel.CodeOf(err) != "file-not-found" {
				t.Fatalf("missing file %v", err)
			}
			return nil
		})
		for i, id := range []string{"s1", "s2", "s3"} {
			sig, err := signature.New(id, "u1", "f1", signature.KindUploaded, i, t0.Add(time.Duration(i)*time.Minute))
			if err != nil {
				t.Fatal(err)
			}
			if err := uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error { return tx.Signatures().Add(ctx, sig) }); err != nil {
				t.Fatal(err)
			}
		}
		list := func(uid kernel.UserID) []signature.Signature {
			var out []signature.Signature
			_ = uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
				var err error
				out, err = tx.Signatures().ListByUser(ctx, uid)
				return err
			})
			return out
		}
		if l := list("u1"); len(l) != 3 || l[0].ID != "s1" || !l[0].Default || l[1].ID != "s3" {
			t.Fatalf("default first, then newest: %+v", l)
		}
		if err := uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error { return tx.Signatures().SetDefault(ctx, "u1", "s2") }); err != nil {
			t.Fatal(err)
		}
		if l := list("u1"); l[0].ID != "s2" || !l[0].Default || l[1].Default || l[2].Default {
			t.Fatalf("after SetDefault: %+v", l)
		}
		// Another user's appearance is invisible to every operation.
		err := uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
			if _, err := tx.Signatures().Get(ctx, "u2", "s1"); kernel.CodeOf(err) != "signature-not-found" {
				t.Errorf("get: %v", err)
			}
			if err := tx.Signatures().SetDefault(ctx, "u2", "s1"); kernel.CodeOf(err) != "signature-not-found" {
				t.Errorf("set default: %v", err)
			}
			if err := tx.Signatures().Delete(ctx, "u2", "s1"); kernel.CodeOf(err) != "signature-not-found" {
				t.Errorf("delete: %v", err)
			}
			return nil
		})
		if err != nil || len(list("u1")) != 3 {
			t.Fatal("another user changed u1's appearances")
		}
		// Consents keep the IP encrypted.
		c := ports.Consent{ID: "k1", UserID: "u1", Scope: "real_name", Version: "v1", ClientIP: "203.0.113.7", At: t0}
		if err := uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error { return tx.Consents().Append(ctx, c) }); err != nil {
			t.Fatal(err)
		}
		_ = uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
			got, err := tx.Consents().ListByUser(ctx, "u1")
			if err != nil || len(got) != 1 || got[0].ClientIP != "203.0.113.7" || !got[0].At.Equal(t0) {
				t.Fatalf("consents %+v %v", got, err)
			}
			return nil
		})
		var enc []byte
		if err := db.NewSelect().Table("consents").Column("client_ip_enc").Scan(ctx, &enc); err != nil || bytes.Contains(enc, []byte("203.0.113.7")) {
			t.Fatalf("consent IP in clear: %v", err)
		}
	})
}
