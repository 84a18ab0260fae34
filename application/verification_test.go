package application_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"strings"
	"testing"
	"time"

	"go.uber.org/mock/gomock"

	"github.com/shuxinqian/server/application"
	"github.com/shuxinqian/server/domain/enterprise"
	"github.com/shuxinqian/server/domain/file"
	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/membership"
	"github.com/shuxinqian/server/domain/user"
	"github.com/shuxinqian/server/ports"
	"github.com/shuxinqian/server/ports/mocks"
)

const (
	entName                       = "数信科技有限公司"
	entCredit   kernel.CreditCode = "91110108MA01ABCDEN"
	opName                        = "张三" // the actor's verified name (validID)
	repName                       = "王五"
	repID       kernel.IDNumber   = "110101198001011232"
	repPhone    kernel.Phone      = "13912345678"
	linkToken                     = "tok-0123456789abcdefghijklmnopqrstuvwxyzABC"
	bankAccount                   = "6222020200112233445"
)

// vfixture adds the enterprise verification ports to the fixture: the registry, the bank, the
// documents, the key generator and the verification, enterprise and membership repositories.
type vfixture struct {
	*fixture
	registry *mocks.MockBusinessRegistry
	bank     *mocks.MockBankRemitter
	docs     *mocks.MockDocumentRenderer
	signer   *mocks.MockDocumentSigner
	keygen   *mocks.MockKeyGenerator
	verifs   *mocks.MockVerificationRepository
	ents     *mocks.MockEnterpriseRepository
	members  *mocks.MockMembershipRepository
	seals    *mocks.MockSealRepository
	revs     *mocks.MockRevocationRepository
	revoked  []ports.Revocation
}

func newVerificationFixture(t *testing.T) *vfixture {
	t.Helper()
	f := newFixture(t)
	vf := &vfixture{fixture: f, registry: mocks.NewMockBusinessRegistry(f.ctrl), bank: mocks.NewMockBankRemitter(f.ctrl),
		docs: mocks.NewMockDocumentRenderer(f.ctrl), signer: mocks.NewMockDocumentSigner(f.ctrl), keygen: mocks.NewMockKeyGenerator(f.ctrl),
		verifs: mocks.NewMockVerificationRepository(f.ctrl), ents: mocks.NewMockEnterpriseRepository(f.ctrl),
		members: mocks.NewMockMembershipRepository(f.ctrl), seals: mocks.NewMockSealRepository(f.ctrl)}
	f.tx.EXPECT().Seals().Return(vf.seals).AnyTimes()
	vf.revs = mocks.NewMockRevocationRepository(f.ctrl)
	vf.revs.EXPECT().List(gomock.Any()).DoAndReturn(func(context.Context) ([]ports.Revocation, error) { return vf.revoked, nil }).AnyTimes()
	f.tx.EXPECT().Revocations().Return(vf.revs).AnyTimes()
	f.tx.EXPECT().Verifications().Return(vf.verifs).AnyTimes()
	f.tx.EXPECT().Enterprises().Return(vf.ents).AnyTimes()
	f.tx.EXPECT().Memberships().Return(vf.members).AnyTimes()
	f.app = application.New(application.Deps{UoW: f.uow, Clock: f.clock, IDs: f.ids, Random: f.random,
		Passwords: f.passwords, Secrets: f.secrets, SMS: f.sms, Identity: f.identity, Liveness: f.liveness, CA: f.ca,
		Keys: f.keys, Files: f.store, Renderer: f.renderer, QR: f.qr, Settings: application.Settings{PublicBaseURL: "https://sxq.test"},
		Registry: vf.registry, Bank: vf.bank, Documents: vf.docs, Signer: vf.signer, KeyGen: vf.keygen})
	return vf
}

// verifiedUser is an account whose real name is verified as name + id.
func verifiedUser(t *testing.T, id kernel.UserID, p kernel.Phone, name string, idNumber kernel.IDNumber, now time.Time) *user.User {
	t.Helper()
	u, err := user.Register(id, p, now.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if err := u.StartRealName(user.Identity{Name: name, IDNumber: idNumber, Method: "id2"}, now.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := u.RealNameSucceeded(now.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	u.PullEvents()
	return u
}

// verificationStore keeps one verification as a repository would: each Get and Update loads
// it afresh, and an Update saves only when its function succeeds (a failed one rolls back).
type verificationStore struct {
	t    *testing.T
	snap enterprise.Snapshot
}

func newVerificationStore(t *testing.T, v *enterprise.Verification) *verificationStore {
	v.PullEvents()
	return &verificationStore{t: t, snap: v.Snapshot()}
}

func (s *verificationStore) current() *enterprise.Verification {
	return enterprise.FromSnapshot(s.snap)
}

func (s *verificationStore) get(_ context.Context, id kernel.VerificationID) (*enterprise.Verification, error) {
	if id != s.snap.ID {
		return nil, kernel.NotFound("verification-not-found", "no such enterprise verification")
	}
	return s.current(), nil
}

func (s *verificationStore) update(ctx context.Context, id kernel.VerificationID, fn func(*enterprise.Verification) error) error {
	v, err := s.get(ctx, id)
	if err != nil {
		return err
	}
	if err := fn(v); err != nil {
		return err
	}
	s.snap = v.Snapshot()
	return nil
}

func startParams(in enterprise.Initiator) enterprise.StartParams {
	return enterprise.StartParams{ID: "v1", Initiator: in, EnterpriseName: entName, CreditCode: entCredit, LegalRepName: repName,
		LegalRepIDNumber: repID, LegalRepPhone: repPhone, LicenceFileID: "lic1", AgreementAccepted: true}
}

var (
	operatorInitiator = enterprise.Initiator{UserID: "u1", Name: opName, IDNumber: validID, Verified: true}
	legalRepInitiator = enterprise.Initiator{UserID: "u1", Name: repName, IDNumber: repID, Verified: true}
)

// transferVerification is the actor's verification "v1" with the micro-deposit "tr1" of 37 fen,
// requested two hours ago; remitted an hour ago unless still remitting.
func transferVerification(t *testing.T, f *vfixture, in enterprise.Initiator, remitted bool) *verificationStore {
	t.Helper()
	v, err := enterprise.Start(startParams(in), f.now.Add(-3*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if err := v.RequestTransfer(enterprise.TransferRequest{ID: "tr1", AccountNumber: bankAccount, BankName: "中国工商银行", Province: "北京市",
		Branch: "海淀支行", Amount: kernel.Fen(37)}, f.now.Add(-2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if remitted {
		if err := v.TransferRemitted("tr1", f.now.Add(-time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	return newVerificationStore(t, v)
}

func wantKernelErr(t *testing.T, err error, kind kernel.Kind, code string) *kernel.Error {
	t.Helper()
	var ke *kernel.Error
	if !errors.As(err, &ke) || ke.Kind != kind || ke.Code != code {
		t.Fatalf("err %v (kind %v), want %v/%s", err, kernel.KindOf(err), kind, code)
	}
	return ke
}

func startInput() application.StartVerification {
	return application.StartVerification{EnterpriseName: " " + entName + " ", LegalRepIDNumber: string(repID), LegalRepPhone: "+86 139-1234-5678",
		LicenceFileID: "lic1", AgreementAccepted: true}
}

// actorStarts wires the reads StartVerification makes before the external checks: the actor and
// the licence.
func actorStarts(f *vfixture, u *user.User) {
	f.users.EXPECT().Get(gomock.Any(), kernel.UserID("u1")).Return(u, nil).AnyTimes()
	f.files.EXPECT().Get(gomock.Any(), kernel.FileID("lic1")).Return(ports.FileRecord{ID: "lic1", OwnerID: "u1",
		Purpose: file.PurposeBusinessLicence, StorageKey: "files/lic1"}, nil).AnyTimes()
}

var registryEntry = ports.RegistryEntry{Name: entName, CreditCode: entCredit, LegalRepName: repName}

// unknownCreditCode: the registry knows the enterprise, the platform has not verified it yet.
func unknownCreditCode(f *vfixture) {
	f.registry.EXPECT().LookupByName(gomock.Any(), entName).Return(registryEntry, nil)
	f.ents.EXPECT().GetByCreditCode(gomock.Any(), entCredit).Return(nil, kernel.NotFound("enterprise-not-found", "none"))
}

// legalRepChecks: the registry's four-factor check and the authority's id2 both pass.
func legalRepChecks(f *vfixture) {
	f.registry.EXPECT().CheckLegalRep(gomock.Any(), entCredit, repName, repID).Return(true, nil)
	f.identity.EXPECT().VerifyID2(gomock.Any(), repName, repID).Return(ports.IdentityCheck{Match: true}, nil)
}

func TestStartVerificationByAnOperatorTextsTheLinkAfterTheCommit(t *testing.T) {
	f := newVerificationFixture(t)
	actorStarts(f, verifiedUser(t, "u1", phone, opName, validID, f.now))
	url := "https://sxq.test/a/" + linkToken
	unknownCreditCode(f)
	legalRepChecks(f)
	f.random.EXPECT().Token(32).Return(linkToken, nil)
	var store *verificationStore
	var issued *enterprise.AuthorizationLinkIssued
	f.verifs.EXPECT().Add(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, v *enterprise.Verification) error {
		// The repository drains the events into the outbox in the same transaction.
		for _, ev := range v.PullEvents() {
			if e, ok := ev.(enterprise.AuthorizationLinkIssued); ok {
				issued = &e
			}
		}
		store = newVerificationStore(t, v)
		return nil
	})
	// No SMS during the request: the link is texted by the consumer of AuthorizationLinkIssued,
	// which the outbox delivers only once the verification is committed.
	vw, err := f.app.StartVerification(context.Background(), actor, startInput())
	if err != nil {
		t.Fatal(err)
	}
	v := vw.V
	if v.Role() != enterprise.RoleOperator || v.InitiatorID() != "u1" || v.EnterpriseName() != entName ||
		v.CreditCode() != entCredit || v.LegalRepName() != repName || v.LegalRepIDNumber() != repID || v.LegalRepPhone() != repPhone ||
		v.LicenceFileID() != "lic1" || f.commits != 1 {
		t.Fatalf("verification %+v commits %d", v.Snapshot(), f.commits)
	}
	if l := v.CurrentLink(); l == nil || l.Token != linkToken || l.Phone != repPhone {
		t.Fatalf("link %+v", l)
	}
	if vw.NextStep != "legal_rep_signs_by_link" || vw.Link == nil || vw.Link.URL != url || !vw.Link.ExpiresAt.Equal(f.now.Add(enterprise.LinkTTL)) {
		t.Fatalf("view %+v link %+v", vw, vw.Link)
	}
	if issued == nil || issued.VerificationID != v.ID() {
		t.Fatalf("no AuthorizationLinkIssued in the transaction: %+v", issued)
	}

	// The consumer texts the link to the legal rep's phone.
	f.verifs.EXPECT().Get(gomock.Any(), v.ID()).DoAndReturn(store.get).AnyTimes()
	f.sms.EXPECT().Send(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, m ports.SMS) error {
		if m.Phone != repPhone || m.Template != "authorization_link" || m.Params["url"] != url || m.Params["enterprise"] != entName ||
			!strings.Contains(m.Text, url) || m.IdempotencyKey != "m1" {
			t.Errorf("sms %+v", m)
		}
		if strings.Contains(m.Text, opName) || !strings.Contains(m.Text, "张*") {
			t.Errorf("the SMS names the operator unmasked: %q", m.Text)
		}
		return nil
	})
	if err := f.app.TextAuthorizationLink(context.Background(), "m1", issued); err != nil {
		t.Fatal(err)
	}
}

func TestTextAuthorizationLinkSkipsADeadLink(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(t *testing.T, v *enterprise.Verification, now time.Time)
	}{
		{"replaced by a resend", func(t *testing.T, v *enterprise.Verification, now time.Time) {
			if err := v.IssueLink(linkToken+"2", now.Add(time.Minute)); err != nil {
				t.Fatal(err)
			}
		}},
		{"revoked by the bank transfer", func(t *testing.T, v *enterprise.Verification, now time.Time) {
			if err := v.RequestTransfer(enterprise.TransferRequest{ID: "tr1", AccountNumber: bankAccount, BankName: "中国工商银行",
				Province: "北京市", Amount: kernel.Fen(37)}, now.Add(time.Minute)); err != nil {
				t.Fatal(err)
			}
		}},
		{"superseded", func(t *testing.T, v *enterprise.Verification, now time.Time) { v.Supersede(now.Add(time.Minute)) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newVerificationFixture(t)
			f.users.EXPECT().Get(gomock.Any(), kernel.UserID("u1")).Return(verifiedUser(t, "u1", phone, opName, validID, f.now), nil).AnyTimes()
			v, err := enterprise.Start(startParams(operatorInitiator), f.now)
			if err != nil {
				t.Fatal(err)
			}
			if err := v.IssueLink(linkToken, f.now); err != nil {
				t.Fatal(err)
			}
			ev := &enterprise.AuthorizationLinkIssued{VerificationID: "v1", ExpiresAt: v.CurrentLink().ExpiresAt, At: f.now}
			tc.change(t, v, f.now)
			store := newVerificationStore(t, v)
			f.verifs.EXPECT().Get(gomock.Any(), kernel.VerificationID("v1")).DoAndReturn(store.get).AnyTimes()
			// No Send expected.
			if err := f.app.TextAuthorizationLink(context.Background(), "m1", ev); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestStartVerificationByTheLegalRepTextsNothing(t *testing.T) {
	f := newVerificationFixture(t)
	actorStarts(f, verifiedUser(t, "u1", phone, repName, repID, f.now))
	unknownCreditCode(f)
	legalRepChecks(f)
	f.verifs.EXPECT().Add(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, v *enterprise.Verification) error {
		for _, ev := range v.PullEvents() {
			if _, ok := ev.(enterprise.AuthorizationLinkIssued); ok {
				t.Error("a link was issued for the legal rep")
			}
		}
		return nil
	})
	// No Token and no Send expected.
	vw, err := f.app.StartVerification(context.Background(), actor, startInput())
	if err != nil {
		t.Fatal(err)
	}
	if vw.V.Role() != enterprise.RoleLegalRep || vw.V.CurrentLink() != nil || vw.Link != nil || vw.NextStep != "sign_in_app" || f.commits != 1 {
		t.Fatalf("view %+v commits %d", vw, f.commits)
	}
}

func TestStartVerificationRefusals(t *testing.T) {
	notVerified := func(t *testing.T, f *vfixture) {
		u, err := user.Register("u1", phone, f.now.Add(-time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		// Only the actor is read: not even the licence.
		f.users.EXPECT().Get(gomock.Any(), kernel.UserID("u1")).Return(u, nil)
	}
	operator := func(t *testing.T, f *vfixture) { actorStarts(f, verifiedUser(t, "u1", phone, opName, validID, f.now)) }
	for _, tc := range []struct {
		name  string
		actor func(t *testing.T, f *vfixture)
		calls func(f *vfixture) // the only port calls allowed
		kind  kernel.Kind
		code  string
		check func(t *testing.T, e *kernel.Error)
	}{
		// Refused before the registry, the licence, the enterprises and the identity check.
		{"real name unverified", notVerified, func(f *vfixture) {}, kernel.KindForbidden, "real-name-required", nil},
		{"not in the registry", operator, func(f *vfixture) {
			f.registry.EXPECT().LookupByName(gomock.Any(), entName).Return(ports.RegistryEntry{}, kernel.NotFound("registry-enterprise-not-found", "none"))
		}, kernel.KindNotFound, "registry-enterprise-not-found", nil},
		{"registry down", operator, func(f *vfixture) {
			f.registry.EXPECT().LookupByName(gomock.Any(), entName).Return(ports.RegistryEntry{}, errors.New("timeout"))
		}, kernel.KindUnavailable, "registry-unavailable", nil},
		// A verified credit code: join instead, and no legal rep check is paid for.
		{"credit code already verified", operator, func(f *vfixture) {
			f.registry.EXPECT().LookupByName(gomock.Any(), entName).Return(registryEntry, nil)
			f.ents.EXPECT().GetByCreditCode(gomock.Any(), entCredit).Return(enterprise.EnterpriseFromSnapshot(enterprise.EnterpriseSnapshot{
				ID: "e0", Name: entName, CreditCode: entCredit}), nil)
		}, kernel.KindConflict, "enterprise-already-verified", func(t *testing.T, e *kernel.Error) {
			if e.Details["hint"] != "join" {
				t.Errorf("details %v", e.Details)
			}
		}},
		{"not the registry's legal rep", operator, func(f *vfixture) {
			unknownCreditCode(f)
			f.registry.EXPECT().CheckLegalRep(gomock.Any(), entCredit, repName, repID).Return(false, nil)
		}, kernel.KindInvalid, "legal-rep-mismatch", nil},
		{"four-factor check down", operator, func(f *vfixture) {
			unknownCreditCode(f)
			f.registry.EXPECT().CheckLegalRep(gomock.Any(), entCredit, repName, repID).Return(false, errors.New("timeout"))
		}, kernel.KindUnavailable, "registry-unavailable", nil},
		{"the authority says the ID number is not the legal rep's", operator, func(f *vfixture) {
			unknownCreditCode(f)
			f.registry.EXPECT().CheckLegalRep(gomock.Any(), entCredit, repName, repID).Return(true, nil)
			f.identity.EXPECT().VerifyID2(gomock.Any(), repName, repID).Return(ports.IdentityCheck{Match: false, Reason: "name and ID number do not match"}, nil)
		}, kernel.KindInvalid, "legal-rep-mismatch", nil},
		{"identity check down", operator, func(f *vfixture) {
			unknownCreditCode(f)
			f.registry.EXPECT().CheckLegalRep(gomock.Any(), entCredit, repName, repID).Return(true, nil)
			f.identity.EXPECT().VerifyID2(gomock.Any(), repName, repID).Return(ports.IdentityCheck{}, errors.New("timeout"))
		}, kernel.KindUnavailable, "identity-unavailable", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newVerificationFixture(t)
			tc.actor(t, f)
			tc.calls(f)
			// No Token, Add or Send expected: nothing is stored or texted.
			vw, err := f.app.StartVerification(context.Background(), actor, startInput())
			e := wantKernelErr(t, err, tc.kind, tc.code)
			if tc.check != nil {
				tc.check(t, e)
			}
			if vw.V != nil || f.commits != 0 {
				t.Fatalf("view %+v commits %d", vw, f.commits)
			}
		})
	}
}

// completion wires the happy end of finish: no enterprise of the credit code yet, and the
// enterprise and memberships as added.
type completion struct {
	ent     *enterprise.Enterprise
	members []*membership.Membership
}

func expectCompletion(f *vfixture) *completion {
	c := &completion{}
	f.ents.EXPECT().GetByCreditCode(gomock.Any(), entCredit).Return(nil, kernel.NotFound("enterprise-not-found", "none"))
	f.ents.EXPECT().Add(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, e *enterprise.Enterprise) error {
		c.ent = e
		return nil
	})
	f.members.EXPECT().Add(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, m *membership.Membership) error {
		c.members = append(c.members, m)
		return nil
	}).AnyTimes()
	return c
}

func expectScan(f *vfixture) {
	f.files.EXPECT().Get(gomock.Any(), kernel.FileID("scan1")).Return(ports.FileRecord{ID: "scan1", OwnerID: "u1",
		Purpose: file.PurposeAuthorizationLetterScan, StorageKey: "files/scan1"}, nil).AnyTimes()
}

func TestConfirmBankTransferCompletesTheVerification(t *testing.T) {
	for _, tc := range []struct {
		name      string
		initiator enterprise.Initiator
		repFound  bool
		want      []membership.Membership // EnterpriseID filled in below
	}{
		{"operator; the legal rep has an account", operatorInitiator, true, []membership.Membership{
			{UserID: "u1", Role: membership.RoleAdmin}, {UserID: "u2", Role: membership.RoleLegalRep}}},
		{"operator; the legal rep has no account", operatorInitiator, false, []membership.Membership{
			{UserID: "u1", Role: membership.RoleAdmin}}},
		{"the legal rep", legalRepInitiator, false, []membership.Membership{
			{UserID: "u1", Role: membership.RoleLegalRep}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newVerificationFixture(t)
			store := transferVerification(t, f, tc.initiator, true)
			f.verifs.EXPECT().Get(gomock.Any(), gomock.Any()).DoAndReturn(store.get).AnyTimes()
			f.verifs.EXPECT().Update(gomock.Any(), kernel.VerificationID("v1"), gomock.Any()).DoAndReturn(store.update).Times(1)
			expectScan(f)
			done := expectCompletion(f)
			if tc.initiator == operatorInitiator {
				if tc.repFound {
					f.users.EXPECT().GetByIDNumber(gomock.Any(), repID).Return(verifiedUser(t, "u2", repPhone, repName, repID, f.now), nil)
				} else {
					f.users.EXPECT().GetByIDNumber(gomock.Any(), repID).Return(nil, kernel.NotFound("user-not-found", "none"))
				}
			}
			vw, err := f.app.ConfirmBankTransfer(context.Background(), actor, "v1", 37, "scan1")
			if err != nil {
				t.Fatal(err)
			}
			e := done.ent
			if e == nil || e.CreditCode() != entCredit || e.Name() != entName || e.LegalRepIDNumber() != repID ||
				e.Method() != enterprise.MethodBankTransfer || e.VerificationID() != "v1" || !e.VerifiedAt().Equal(f.now) {
				t.Fatalf("enterprise %+v", e)
			}
			saved := store.current()
			if vw.NextStep != "done" || vw.V.Status() != enterprise.StatusVerified || saved.Status() != enterprise.StatusVerified ||
				saved.EnterpriseID() != e.ID() || saved.Transfer().Status != enterprise.TransferConfirmed || saved.Transfer().ScanFileID != "scan1" {
				t.Fatalf("view %+v saved %+v", vw, saved.Snapshot())
			}
			if len(done.members) != len(tc.want) {
				t.Fatalf("memberships %+v, want %+v", done.members, tc.want)
			}
			for i, m := range done.members {
				w := tc.want[i]
				if m.EnterpriseID != e.ID() || m.UserID != w.UserID || m.Role != w.Role || !m.Active() || !m.CertAuthorized || m.ID == "" {
					t.Errorf("membership %d: %+v, want %+v", i, m, w)
				}
			}
			// Two commits: the counted amount try, then the verification.
			if f.commits != 2 {
				t.Fatalf("commits %d", f.commits)
			}
		})
	}
}

func TestConfirmBankTransferLosesTheRace(t *testing.T) {
	for _, tc := range []struct {
		name  string
		calls func(f *vfixture)
	}{
		{"the credit code is verified already", func(f *vfixture) {
			f.ents.EXPECT().GetByCreditCode(gomock.Any(), entCredit).Return(enterprise.EnterpriseFromSnapshot(enterprise.EnterpriseSnapshot{
				ID: "e0", Name: entName, CreditCode: entCredit}), nil)
		}},
		{"the enterprise insert conflicts", func(f *vfixture) {
			f.ents.EXPECT().GetByCreditCode(gomock.Any(), entCredit).Return(nil, kernel.NotFound("enterprise-not-found", "none"))
			f.ents.EXPECT().Add(gomock.Any(), gomock.Any()).Return(kernel.Conflict("enterprise-already-verified", "unique violation"))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newVerificationFixture(t)
			store := transferVerification(t, f, operatorInitiator, true)
			f.verifs.EXPECT().Get(gomock.Any(), gomock.Any()).DoAndReturn(store.get).AnyTimes()
			// The completion rolls back; a second transaction supersedes the verification.
			f.verifs.EXPECT().Update(gomock.Any(), kernel.VerificationID("v1"), gomock.Any()).DoAndReturn(store.update).Times(2)
			expectScan(f)
			tc.calls(f)
			// No membership is added.
			vw, err := f.app.ConfirmBankTransfer(context.Background(), actor, "v1", 37, "scan1")
			e := wantKernelErr(t, err, kernel.KindConflict, "enterprise-already-verified")
			if e.Details["hint"] != "join" {
				t.Errorf("details %v", e.Details)
			}
			saved := store.current()
			if vw.V != nil || saved.Status() != enterprise.StatusSuperseded || saved.EnterpriseID() != "" || f.commits != 2 {
				t.Fatalf("view %+v saved %+v commits %d", vw, saved.Snapshot(), f.commits)
			}
		})
	}
}

func TestConfirmBankTransferWrongAmountIsCounted(t *testing.T) {
	f := newVerificationFixture(t)
	store := transferVerification(t, f, operatorInitiator, true)
	f.verifs.EXPECT().Get(gomock.Any(), gomock.Any()).DoAndReturn(store.get).AnyTimes()
	f.verifs.EXPECT().Update(gomock.Any(), kernel.VerificationID("v1"), gomock.Any()).DoAndReturn(store.update).Times(1)
	expectScan(f)
	// No enterprise is looked up or added.
	vw, err := f.app.ConfirmBankTransfer(context.Background(), actor, "v1", 36, "scan1")
	e := wantKernelErr(t, err, kernel.KindInvalid, "transfer-amount-wrong")
	if e.Details["attempts_left"] != 2 {
		t.Errorf("details %v", e.Details)
	}
	if saved := store.current(); saved.Transfer().WrongTries != 1 || f.commits != 2 || vw.V != nil {
		t.Fatalf("saved %+v commits %d", saved.Transfer(), f.commits)
	}
}

func TestRemitTransfer(t *testing.T) {
	ev := &enterprise.BankTransferRequested{VerificationID: "v1", TransferID: "tr1"}
	for _, tc := range []struct {
		name       string
		res        ports.RemitResult
		wantStatus enterprise.TransferStatus
		wantReason string
	}{
		{"remitted", ports.RemitResult{Remitted: true, BankRef: "b1"}, enterprise.TransferRemitted, ""},
		{"refused by the bank", ports.RemitResult{Remitted: false, Reason: "account closed"}, enterprise.TransferRemitFailed, "account closed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newVerificationFixture(t)
			store := transferVerification(t, f, operatorInitiator, false)
			f.verifs.EXPECT().Get(gomock.Any(), kernel.VerificationID("v1")).DoAndReturn(store.get)
			f.bank.EXPECT().Remit(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, r ports.RemitRequest) (ports.RemitResult, error) {
				want := ports.RemitRequest{Reference: "v1/tr1", AccountNumber: bankAccount, AccountName: entName, BankName: "中国工商银行",
					Province: "北京市", Branch: "海淀支行", Amount: kernel.Fen(37)}
				if r != want {
					t.Errorf("remit %+v, want %+v", r, want)
				}
				return tc.res, nil
			})
			f.verifs.EXPECT().Update(gomock.Any(), kernel.VerificationID("v1"), gomock.Any()).DoAndReturn(store.update)
			if err := f.app.RemitTransfer(context.Background(), ev); err != nil {
				t.Fatal(err)
			}
			tr := store.current().Transfer()
			if tr.Status != tc.wantStatus || tr.FailureReason != tc.wantReason || f.commits != 1 {
				t.Fatalf("transfer %+v commits %d", tr, f.commits)
			}
			if tc.res.Remitted && !tr.RemittedAt.Equal(f.now) {
				t.Errorf("remitted at %v, want %v", tr.RemittedAt, f.now)
			}
		})
	}
	t.Run("bank down: the error is returned for a retry, nothing saved", func(t *testing.T) {
		f := newVerificationFixture(t)
		store := transferVerification(t, f, operatorInitiator, false)
		f.verifs.EXPECT().Get(gomock.Any(), kernel.VerificationID("v1")).DoAndReturn(store.get)
		f.bank.EXPECT().Remit(gomock.Any(), gomock.Any()).Return(ports.RemitResult{}, errors.New("timeout"))
		if err := f.app.RemitTransfer(context.Background(), ev); err == nil {
			t.Fatal("no error")
		}
		if store.current().Transfer().Status != enterprise.TransferRemitting || f.commits != 0 {
			t.Fatal("state changed")
		}
	})
	for _, tc := range []struct {
		name     string
		remitted bool
		ev       *enterprise.BankTransferRequested
	}{
		{"a redelivery after the remittance", true, ev},
		{"a replaced transfer", false, &enterprise.BankTransferRequested{VerificationID: "v1", TransferID: "tr0"}},
	} {
		t.Run(tc.name+" is left alone", func(t *testing.T) {
			f := newVerificationFixture(t)
			store := transferVerification(t, f, operatorInitiator, tc.remitted)
			f.verifs.EXPECT().Get(gomock.Any(), kernel.VerificationID("v1")).DoAndReturn(store.get)
			// No Remit and no Update expected.
			if err := f.app.RemitTransfer(context.Background(), tc.ev); err != nil {
				t.Fatal(err)
			}
			if f.commits != 0 {
				t.Fatalf("commits %d", f.commits)
			}
		})
	}
}

func TestIssueOrgCertificate(t *testing.T) {
	ev := &enterprise.EnterpriseVerified{VerificationID: "v1", EnterpriseID: "e1", CreditCode: entCredit}
	snap := enterprise.EnterpriseSnapshot{ID: "e1", Name: entName, CreditCode: entCredit, LegalRepName: repName,
		LegalRepIDNumber: repID, Method: enterprise.MethodBankTransfer, VerificationID: "v1", VerifiedAt: time.Date(2026, 11, 26, 7, 0, 0, 0, time.UTC)}
	withCert := snap
	withCert.Certificate = &enterprise.OrgCertificate{Serial: "old", DER: []byte("D"), KeyPKCS8: []byte("K")}

	// keys makes the key generator answer with one real key (its PKCS#8 "PKCS8").
	keys := func(t *testing.T, f *vfixture) []byte {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		pub, err := x509.MarshalPKIXPublicKey(key.Public())
		if err != nil {
			t.Fatal(err)
		}
		f.keygen.EXPECT().NewKey().Return(key, pub, nil).AnyTimes()
		f.keygen.EXPECT().MarshalKey(key).Return([]byte("PKCS8"), nil).AnyTimes()
		f.keygen.EXPECT().UnmarshalKey([]byte("PKCS8")).Return(key, nil).AnyTimes()
		return pub
	}
	t.Run("issued once", func(t *testing.T) {
		f := newVerificationFixture(t)
		stored := enterprise.EnterpriseFromSnapshot(snap)
		pub := keys(t, f)
		gomock.InOrder(
			f.ents.EXPECT().Get(gomock.Any(), kernel.EnterpriseID("e1")).Return(enterprise.EnterpriseFromSnapshot(snap), nil),
			f.ca.EXPECT().IssueOrganization(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, r ports.CertificateRequest) (ports.IssuedCertificate, error) {
				if r.CommonName != entName || r.Organization != entName || r.SubjectSerial != string(entCredit) || !bytes.Equal(r.PublicKeyDER, pub) ||
					r.RequestID != "org-certificate/e1" || !r.RequestedAt.Equal(f.now) {
					t.Errorf("request %+v", r)
				}
				return ports.IssuedCertificate{SerialHex: "5e01", Subject: "O=" + entName, NotBefore: f.now, NotAfter: f.now.Add(time.Hour), DER: []byte("DER")}, nil
			}),
			f.ents.EXPECT().Update(gomock.Any(), kernel.EnterpriseID("e1"), gomock.Any()).DoAndReturn(
				func(_ context.Context, _ kernel.EnterpriseID, fn func(*enterprise.Enterprise) error) error {
					return fn(stored)
				}),
		)
		if err := f.app.IssueOrgCertificate(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
		c := stored.Certificate()
		if c == nil || c.Serial != "5e01" || string(c.DER) != "DER" || string(c.KeyPKCS8) != "PKCS8" || !c.IssuedAt.Equal(f.now) {
			t.Fatalf("certificate %+v", c)
		}
		if e := f.effects.claims["org-certificate/e1"]; e == nil || !e.done {
			t.Fatalf("effect %+v", e)
		}
	})
	t.Run("a retry after a crash between issuing and saving repeats the same request", func(t *testing.T) {
		f := newVerificationFixture(t)
		stored := enterprise.EnterpriseFromSnapshot(snap)
		keys(t, f)
		f.ents.EXPECT().Get(gomock.Any(), kernel.EnterpriseID("e1")).Return(enterprise.EnterpriseFromSnapshot(snap), nil).Times(2)
		var reqs []ports.CertificateRequest
		f.ca.EXPECT().IssueOrganization(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, r ports.CertificateRequest) (ports.IssuedCertificate, error) {
			reqs = append(reqs, r)
			return ports.IssuedCertificate{SerialHex: "5e01", DER: []byte("DER")}, nil
		}).Times(2)
		saves := 0
		f.ents.EXPECT().Update(gomock.Any(), kernel.EnterpriseID("e1"), gomock.Any()).DoAndReturn(
			func(_ context.Context, _ kernel.EnterpriseID, fn func(*enterprise.Enterprise) error) error {
				if saves++; saves == 1 {
					return errors.New("crash before saving")
				}
				return fn(stored)
			}).Times(2)
		if err := f.app.IssueOrgCertificate(context.Background(), ev); err == nil {
			t.Fatal("the crash did not fail the first delivery")
		}
		f.now = f.now.Add(time.Minute)
		if err := f.app.IssueOrgCertificate(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
		if len(reqs) != 2 || !bytes.Equal(reqs[0].PublicKeyDER, reqs[1].PublicKeyDER) || reqs[0].RequestID != reqs[1].RequestID ||
			!reqs[0].RequestedAt.Equal(reqs[1].RequestedAt) {
			t.Fatalf("the retry changed the request: %+v", reqs)
		}
	})
	t.Run("after a revocation the next certificate is another request", func(t *testing.T) {
		f := newVerificationFixture(t)
		f.revoked = []ports.Revocation{{SerialHex: "5e01", Kind: "organization", Owner: "e1"}, {SerialHex: "77", Kind: "organization", Owner: "e2"}}
		f.effects.claims["org-certificate/e1"] = &fakeEffect{claimed: f.now, done: true} // the first, revoked since
		stored := enterprise.EnterpriseFromSnapshot(snap)
		keys(t, f)
		f.ents.EXPECT().Get(gomock.Any(), kernel.EnterpriseID("e1")).Return(enterprise.EnterpriseFromSnapshot(snap), nil)
		f.ca.EXPECT().IssueOrganization(gomock.Any(), gomock.Any()).DoAndReturn(func(_ context.Context, r ports.CertificateRequest) (ports.IssuedCertificate, error) {
			if r.RequestID != "org-certificate/e1/1" {
				t.Errorf("request id %q", r.RequestID)
			}
			return ports.IssuedCertificate{SerialHex: "5e02", DER: []byte("DER")}, nil
		})
		f.ents.EXPECT().Update(gomock.Any(), kernel.EnterpriseID("e1"), gomock.Any()).DoAndReturn(
			func(_ context.Context, _ kernel.EnterpriseID, fn func(*enterprise.Enterprise) error) error {
				return fn(stored)
			})
		if err := f.app.IssueOrgCertificate(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
		if c := stored.Certificate(); c == nil || c.Serial != "5e02" {
			t.Fatalf("certificate %+v", c)
		}
	})
	t.Run("an enterprise with a certificate calls no CA", func(t *testing.T) {
		f := newVerificationFixture(t)
		f.ents.EXPECT().Get(gomock.Any(), kernel.EnterpriseID("e1")).Return(enterprise.EnterpriseFromSnapshot(withCert), nil)
		// No NewKey, IssueOrganization or Update expected.
		if err := f.app.IssueOrgCertificate(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
		if f.commits != 0 {
			t.Fatalf("commits %d", f.commits)
		}
	})
	t.Run("a certificate installed meanwhile is kept", func(t *testing.T) {
		f := newVerificationFixture(t)
		stored := enterprise.EnterpriseFromSnapshot(withCert)
		f.ents.EXPECT().Get(gomock.Any(), kernel.EnterpriseID("e1")).Return(enterprise.EnterpriseFromSnapshot(snap), nil)
		keys(t, f)
		f.ca.EXPECT().IssueOrganization(gomock.Any(), gomock.Any()).Return(ports.IssuedCertificate{SerialHex: "5e02", DER: []byte("DER")}, nil)
		f.ents.EXPECT().Update(gomock.Any(), kernel.EnterpriseID("e1"), gomock.Any()).DoAndReturn(
			func(_ context.Context, _ kernel.EnterpriseID, fn func(*enterprise.Enterprise) error) error {
				return fn(stored)
			})
		if err := f.app.IssueOrgCertificate(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
		if c := stored.Certificate(); c.Serial != "old" {
			t.Fatalf("certificate %+v", c)
		}
	})
	t.Run("CA down: the error is returned, nothing saved", func(t *testing.T) {
		f := newVerificationFixture(t)
		f.ents.EXPECT().Get(gomock.Any(), kernel.EnterpriseID("e1")).Return(enterprise.EnterpriseFromSnapshot(snap), nil)
		keys(t, f)
		f.ca.EXPECT().IssueOrganization(gomock.Any(), gomock.Any()).Return(ports.IssuedCertificate{}, errors.New("hsm offline"))
		// No Update expected: nothing is saved; the claim is released for the retry.
		if err := f.app.IssueOrgCertificate(context.Background(), ev); err == nil || f.effects.claims["org-certificate/e1"] != nil {
			t.Fatalf("err %v claims %+v", err, f.effects.claims)
		}
	})
}
