package contract

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/shuxinqian/server/adapters/sqlstore"
	"github.com/shuxinqian/server/domain/enterprise"
	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/membership"
	"github.com/shuxinqian/server/ports"
)

const (
	entCode    = kernel.CreditCode("91350100M000100Y43")
	entRepID   = kernel.IDNumber("11010519491231002X")
	entToken   = "tok-0123456789abcdefghijklmnopqrstuvwxyz-1"
	entToken2  = "tok-0123456789abcdefghijklmnopqrstuvwxyz-2"
	entAccount = "6222021234567890"
)

func newVerification(t *testing.T, id string) *enterprise.Verification {
	t.Helper()
	v, err := enterprise.Start(enterprise.StartParams{ID: kernel.VerificationID(id),
		Initiator:      enterprise.Initiator{UserID: "u1", Name: "吴经办", IDNumber: "110105194912310021", Verified: true},
		EnterpriseName: "福州数信科技有限公司", CreditCode: entCode, LegalRepName: "张三", LegalRepIDNumber: entRepID,
		LegalRepPhone: "13800138000", LicenceFileID: "f1", AgreementAccepted: true}, t0)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestVerificationRepository(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *sqlstore.DB, uow ports.UnitOfWork) {
		ctx := context.Background()
		addUser(t, uow, newUser(t, "u1", "13900139000"))
		v := newVerification(t, "v1")
		if err := v.IssueLink(entToken, t0); err != nil {
			t.Fatal(err)
		}
		before := outboxCount(t, db)
		if err := uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error { return tx.Verifications().Add(ctx, v) }); err != nil {
			t.Fatal(err)
		}
		if outboxCount(t, db) != before+2 { // started + link issued
			t.Fatalf("events not in the outbox")
		}
		// Phone change: a second link, the first revoked; both found by token.
		err := uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
			return tx.Verifications().Update(ctx, "v1", func(v *enterprise.Verification) error {
				return v.ChangeLegalRepPhone("13700137000", entToken2, t0.Add(time.Minute))
			})
		})
		if err != nil {
			t.Fatal(err)
		}
		_ = uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
			got, err := tx.Verifications().GetByLinkToken(ctx, entToken)
			if err != nil || got.ID() != "v1" {
				t.Fatalf("old token: %v", err)
			}
			if _, err := got.OpenLink(entToken, t0.Add(2*time.Minute)); kernel.CodeOf(err) != "authorization-link-revoked" {
				t.Fatalf("old link: %v", err)
			}
			if _, err := got.OpenLink(entToken2, t0.Add(2*time.Minute)); err != nil {
				t.Fatalf("new link: %v", err)
			}
			if _, err := tx.Verifications().GetByLinkToken(ctx, "nope"); kernel.CodeOf(err) != "authorization-link-not-found" {
				t.Fatalf("unknown token: %v", err)
			}
			if _, err := tx.Verifications().Get(ctx, "v9"); kernel.CodeOf(err) != "verification-not-found" {
				t.Fatalf("missing: %v", err)
			}
			s := got.Snapshot()
			if s.LegalRepIDNumber != entRepID || s.LegalRepPhone != "13700137000" || len(s.Links) != 2 || !s.AgreementAt.Equal(t0) {
				t.Fatalf("round trip %+v", s)
			}
			return nil
		})
		// A transfer round-trips; the account and tokens are not stored in clear.
		err = uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
			return tx.Verifications().Update(ctx, "v1", func(v *enterprise.Verification) error {
				return v.RequestTransfer(enterprise.TransferRequest{ID: "t1", AccountNumber: entAccount, BankName: "中国银行",
					Province: "福建省", Amount: kernel.Fen(37)}, t0.Add(time.Hour))
			})
		})
		if err != nil {
			t.Fatal(err)
		}
		_ = uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
			got, _ := tx.Verifications().Get(ctx, "v1")
			tr := got.Transfer()
			if tr == nil || tr.AccountNumber != entAccount || tr.Amount != kernel.Fen(37) || got.Method() != enterprise.MethodBankTransfer {
				t.Fatalf("transfer %+v", tr)
			}
			return nil
		})
		var raw [][]byte
		for _, q := range []string{"SELECT transfer_enc FROM verifications", "SELECT legal_rep_id_enc FROM verifications",
			"SELECT token_enc FROM authorization_links"} {
			rows, err := db.QueryContext(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			for rows.Next() {
				var b []byte
				_ = rows.Scan(&b)
				raw = append(raw, b)
			}
			_ = rows.Close()
		}
		for _, b := range raw {
			for _, secret := range []string{entAccount, string(entRepID), entToken, entToken2} {
				if bytes.Contains(b, []byte(secret)) {
					t.Fatalf("%q stored in clear", secret)
				}
			}
		}
	})
}

func TestEnterpriseAndMembershipRepositories(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *sqlstore.DB, uow ports.UnitOfWork) {
		ctx := context.Background()
		addUser(t, uow, newUser(t, "u1", "13900139000"))
		addUser(t, uow, newUser(t, "u2", "13700137000"))
		ready := func(id string) *enterprise.Verification {
			v := newVerification(t, id)
			_ = v.RequestTransfer(enterprise.TransferRequest{ID: "t-" + id, AccountNumber: entAccount, BankName: "中国银行", Province: "福建省", Amount: kernel.Fen(5)}, t0)
			_ = v.TransferRemitted("t-"+id, t0)
			if err := v.ConfirmTransfer(kernel.Fen(5), "scan", t0); err != nil {
				t.Fatal(err)
			}
			return v
		}
		e, err := enterprise.NewFromVerification("e1", ready("v1"), t0)
		if err != nil {
			t.Fatal(err)
		}
		if err := uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error { return tx.Enterprises().Add(ctx, e) }); err != nil {
			t.Fatal(err)
		}
		e2, _ := enterprise.NewFromVerification("e2", ready("v2"), t0)
		err = uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error { return tx.Enterprises().Add(ctx, e2) })
		if kernel.CodeOf(err) != "enterprise-already-verified" {
			t.Fatalf("second enterprise for one credit code: %v", err)
		}
		err = uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
			return tx.Enterprises().Update(ctx, "e1", func(e *enterprise.Enterprise) error {
				return e.IssueCertificate(enterprise.OrgCertificate{Serial: "s1", Subject: "CN=x", DER: []byte("der"), KeyPKCS8: []byte("secret-key"),
					NotBefore: t0, NotAfter: t0.Add(time.Hour)}, t0)
			})
		})
		if err != nil {
			t.Fatal(err)
		}
		_ = uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
			got, err := tx.Enterprises().GetByCreditCode(ctx, entCode)
			if err != nil || got.ID() != "e1" || got.LegalRepIDNumber() != entRepID || got.Certificate() == nil ||
				string(got.Certificate().KeyPKCS8) != "secret-key" || !got.VerifiedAt().Equal(t0) {
				t.Fatalf("enterprise %+v %v", got, err)
			}
			if _, err := tx.Enterprises().Get(ctx, "e9"); kernel.CodeOf(err) != "enterprise-not-found" {
				t.Fatalf("missing: %v", err)
			}
			return nil
		})
		var keyEnc []byte
		if err := db.NewSelect().Table("enterprises").Column("cert_key_enc").Where("id = 'e1'").Scan(ctx, &keyEnc); err != nil ||
			bytes.Contains(keyEnc, []byte("secret-key")) {
			t.Fatalf("organisation key in clear: %v", err)
		}
		// Memberships: one per user and enterprise.
		m, _ := membership.Founder("m1", "e1", "u1", membership.RoleAdmin, t0)
		if err := uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error { return tx.Memberships().Add(ctx, m) }); err != nil {
			t.Fatal(err)
		}
		dup, _ := membership.Founder("m2", "e1", "u1", membership.RoleMember, t0)
		if err := uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error { return tx.Memberships().Add(ctx, dup) }); kernel.CodeOf(err) != "already-member" {
			t.Fatalf("duplicate membership: %v", err)
		}
		_ = uow.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
			got, err := tx.Memberships().Current(ctx, "e1", "u1")
			if err != nil || got.Role != membership.RoleAdmin || !got.Active() || !got.CertAuthorized {
				t.Fatalf("membership %+v %v", got, err)
			}
			if _, err := tx.Memberships().Current(ctx, "e1", "u2"); kernel.CodeOf(err) != "membership-not-found" {
				t.Fatalf("non-member: %v", err)
			}
			if l, _ := tx.Memberships().ListByUser(ctx, "u1"); len(l) != 1 {
				t.Fatalf("list %+v", l)
			}
			// The member's enterprise list: one row per active membership, with the role.
			l, err := tx.Enterprises().ListOfMember(ctx, "u1")
			if err != nil || len(l) != 1 || l[0].ID != "e1" || l[0].Role != membership.RoleAdmin || l[0].CreditCode != entCode ||
				l[0].CertSerial != "s1" || !l[0].VerifiedAt.Equal(t0) || !l[0].CertNotAfter.Equal(t0.Add(time.Hour)) {
				t.Fatalf("enterprises of u1 %+v %v", l, err)
			}
			if l, err := tx.Enterprises().ListOfMember(ctx, "u2"); err != nil || len(l) != 0 {
				t.Fatalf("enterprises of u2 %+v %v", l, err)
			}
			return nil
		})
	})
}
