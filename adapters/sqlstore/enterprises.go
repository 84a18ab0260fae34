package sqlstore

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/uptrace/bun"

	"github.com/shuxinqian/server/domain/enterprise"
	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/membership"
	"github.com/shuxinqian/server/domain/user"
	"github.com/shuxinqian/server/ports"
)

type verificationRow struct {
	bun.BaseModel `bun:"table:verifications"`

	ID               string    `bun:"id,pk"`
	InitiatorID      string    `bun:"initiator_id"`
	Role             string    `bun:"role"`
	EnterpriseName   string    `bun:"enterprise_name"`
	CreditCode       string    `bun:"credit_code"`
	LegalRepName     string    `bun:"legal_rep_name"`
	LegalRepIDEnc    []byte    `bun:"legal_rep_id_enc"`
	LegalRepPhoneEnc []byte    `bun:"legal_rep_phone_enc"`
	LicenceFileID    string    `bun:"licence_file_id"`
	AgreementAt      time.Time `bun:"agreement_at"`
	Method           string    `bun:"method"`
	Status           string    `bun:"status"`
	LinkSendsDay     string    `bun:"link_sends_day"`
	LinkSendsToday   int       `bun:"link_sends_today"`
	TransfersDay     string    `bun:"transfers_day"`
	TransfersToday   int       `bun:"transfers_today"`
	SigningEnc       []byte    `bun:"signing_enc"`
	TransferEnc      []byte    `bun:"transfer_enc"`
	EnterpriseID     string    `bun:"enterprise_id"`
	CreatedAt        time.Time `bun:"created_at"`
	UpdatedAt        time.Time `bun:"updated_at"`
	Version          int64     `bun:"version"`
}

type linkRow struct {
	bun.BaseModel `bun:"table:authorization_links"`

	TokenHash       string    `bun:"token_hash,pk"`
	VerificationID  string    `bun:"verification_id"`
	Seq             int       `bun:"seq"`
	TokenEnc        []byte    `bun:"token_enc"`
	PhoneEnc        []byte    `bun:"phone_enc"`
	IssuedAt        time.Time `bun:"issued_at"`
	ExpiresAt       time.Time `bun:"expires_at"`
	UsedAt          time.Time `bun:"used_at,nullzero"`
	RevokedAt       time.Time `bun:"revoked_at,nullzero"`
	PhoneVerifiedAt time.Time `bun:"phone_verified_at,nullzero"`
	LivenessSession string    `bun:"liveness_session"`
	LivenessURL     string    `bun:"liveness_url"`
	LivenessPassed  time.Time `bun:"liveness_passed_at,nullzero"`
}

const (
	aadVerLegalRepID    = "verifications.legal_rep_id"
	aadVerLegalRepPhone = "verifications.legal_rep_phone"
	aadVerSigning       = "verifications.signing"
	aadVerTransfer      = "verifications.transfer"
	aadLinkToken        = "authorization_links.token"
	aadLinkPhone        = "authorization_links.phone"
	aadEntLegalRepID    = "enterprises.legal_rep_id"
	aadEntKey           = "enterprises.cert_key"
)

// tokenHash is how a link token is looked up: SHA-256 (the token has 256 bits of entropy).
func tokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

type verifications struct{ t *txn }

func (r verifications) seal(b []byte, aad string) ([]byte, error) {
	return r.t.store.cipher.Seal(b, aad)
}
func (r verifications) open(b []byte, aad string) ([]byte, error) {
	return r.t.store.cipher.Open(b, aad)
}

func (r verifications) sealJSON(v any, aad string) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return r.seal(b, aad)
}

func (r verifications) toRows(v *enterprise.Verification) (*verificationRow, []linkRow, error) {
	s := v.Snapshot()
	row := &verificationRow{ID: string(s.ID), InitiatorID: string(s.InitiatorID), Role: string(s.Role), EnterpriseName: s.EnterpriseName,
		CreditCode: string(s.CreditCode), LegalRepName: s.LegalRepName, LicenceFileID: string(s.LicenceFileID),
		AgreementAt: utc(s.AgreementAt), Method: string(s.Method), Status: string(s.Status), LinkSendsDay: s.LinkSendsDay,
		LinkSendsToday: s.LinkSendsToday, TransfersDay: s.TransfersDay, TransfersToday: s.TransfersToday,
		EnterpriseID: string(s.EnterpriseID), CreatedAt: utc(s.CreatedAt), UpdatedAt: utc(s.UpdatedAt), Version: s.Version}
	var err error
	if row.LegalRepIDEnc, err = r.seal([]byte(s.LegalRepIDNumber), aadVerLegalRepID); err != nil {
		return nil, nil, err
	}
	if row.LegalRepPhoneEnc, err = r.seal([]byte(s.LegalRepPhone), aadVerLegalRepPhone); err != nil {
		return nil, nil, err
	}
	if s.Signing != nil {
		if row.SigningEnc, err = r.sealJSON(s.Signing, aadVerSigning); err != nil {
			return nil, nil, err
		}
	}
	if s.Transfer != nil {
		if row.TransferEnc, err = r.sealJSON(s.Transfer, aadVerTransfer); err != nil {
			return nil, nil, err
		}
	}
	links := make([]linkRow, len(s.Links))
	for i, l := range s.Links {
		lr := linkRow{TokenHash: tokenHash(l.Token), VerificationID: row.ID, Seq: i, IssuedAt: utc(l.IssuedAt), ExpiresAt: utc(l.ExpiresAt),
			UsedAt: utc(l.UsedAt), RevokedAt: utc(l.RevokedAt), PhoneVerifiedAt: utc(l.PhoneVerifiedAt),
			LivenessSession: l.LivenessSession, LivenessURL: l.LivenessURL, LivenessPassed: utc(l.LivenessPassed)}
		if lr.TokenEnc, err = r.seal([]byte(l.Token), aadLinkToken); err != nil {
			return nil, nil, err
		}
		if lr.PhoneEnc, err = r.seal([]byte(l.Phone), aadLinkPhone); err != nil {
			return nil, nil, err
		}
		links[i] = lr
	}
	return row, links, nil
}

func (r verifications) fromRows(row *verificationRow, links []linkRow) (*enterprise.Verification, error) {
	s := enterprise.Snapshot{ID: kernel.VerificationID(row.ID), InitiatorID: kernel.UserID(row.InitiatorID), Role: enterprise.Role(row.Role),
		EnterpriseName: row.EnterpriseName, CreditCode: kernel.CreditCode(row.CreditCode), LegalRepName: row.LegalRepName,
		LicenceFileID: kernel.FileID(row.LicenceFileID), AgreementAt: utc(row.AgreementAt), Method: enterprise.Method(row.Method),
		Status: enterprise.Status(row.Status), LinkSendsDay: row.LinkSendsDay, LinkSendsToday: row.LinkSendsToday,
		TransfersDay: row.TransfersDay, TransfersToday: row.TransfersToday, EnterpriseID: kernel.EnterpriseID(row.EnterpriseID),
		CreatedAt: utc(row.CreatedAt), UpdatedAt: utc(row.UpdatedAt), Version: row.Version}
	id, err := r.open(row.LegalRepIDEnc, aadVerLegalRepID)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: verification %s: %w", row.ID, err)
	}
	phone, err := r.open(row.LegalRepPhoneEnc, aadVerLegalRepPhone)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: verification %s: %w", row.ID, err)
	}
	s.LegalRepIDNumber, s.LegalRepPhone = kernel.IDNumber(id), kernel.Phone(phone)
	if len(row.SigningEnc) > 0 {
		b, err := r.open(row.SigningEnc, aadVerSigning)
		if err != nil {
			return nil, err
		}
		s.Signing = new(enterprise.Signing)
		if err := json.Unmarshal(b, s.Signing); err != nil {
			return nil, err
		}
	}
	if len(row.TransferEnc) > 0 {
		b, err := r.open(row.TransferEnc, aadVerTransfer)
		if err != nil {
			return nil, err
		}
		s.Transfer = new(enterprise.Transfer)
		if err := json.Unmarshal(b, s.Transfer); err != nil {
			return nil, err
		}
	}
	for _, lr := range links {
		tok, err := r.open(lr.TokenEnc, aadLinkToken)
		if err != nil {
			return nil, err
		}
		ph, err := r.open(lr.PhoneEnc, aadLinkPhone)
		if err != nil {
			return nil, err
		}
		s.Links = append(s.Links, enterprise.Link{Token: string(tok), Phone: kernel.Phone(ph), IssuedAt: utc(lr.IssuedAt),
			ExpiresAt: utc(lr.ExpiresAt), UsedAt: utc(lr.UsedAt), RevokedAt: utc(lr.RevokedAt), PhoneVerifiedAt: utc(lr.PhoneVerifiedAt),
			LivenessSession: lr.LivenessSession, LivenessURL: lr.LivenessURL, LivenessPassed: utc(lr.LivenessPassed)})
	}
	return enterprise.FromSnapshot(s), nil
}

func (r verifications) saveLinks(ctx context.Context, id string, links []linkRow) error {
	if _, err := r.t.idb.NewDelete().Model((*linkRow)(nil)).Where("verification_id = ?", id).Exec(ctx); err != nil {
		return err
	}
	if len(links) == 0 {
		return nil
	}
	_, err := r.t.idb.NewInsert().Model(&links).Exec(ctx)
	return err
}

func (r verifications) Add(ctx context.Context, v *enterprise.Verification) error {
	if err := r.t.mustWrite(); err != nil {
		return err
	}
	row, links, err := r.toRows(v)
	if err != nil {
		return err
	}
	row.Version = 1
	if _, err := r.t.idb.NewInsert().Model(row).Exec(ctx); err != nil {
		if isUnique(err) {
			return kernel.Conflict("verification-open", "you already have an open verification of this enterprise; continue it instead")
		}
		return err
	}
	if err := r.saveLinks(ctx, row.ID, links); err != nil {
		return err
	}
	r.t.record(v)
	return nil
}

func (r verifications) load(ctx context.Context, id string, lock bool) (*enterprise.Verification, error) {
	row := new(verificationRow)
	q := r.t.idb.NewSelect().Model(row).Where("id = ?", id)
	if lock {
		q = r.t.forUpdate(q)
	}
	if err := q.Scan(ctx); err != nil {
		return nil, notFound(err, "verification-not-found", "no such enterprise verification")
	}
	var links []linkRow
	if err := r.t.idb.NewSelect().Model(&links).Where("verification_id = ?", id).Order("seq").Scan(ctx); err != nil {
		return nil, err
	}
	return r.fromRows(row, links)
}

func (r verifications) Get(ctx context.Context, id kernel.VerificationID) (*enterprise.Verification, error) {
	return r.load(ctx, string(id), false)
}

func (r verifications) GetByLinkToken(ctx context.Context, token string) (*enterprise.Verification, error) {
	var vid string
	err := r.t.idb.NewSelect().Model((*linkRow)(nil)).Column("verification_id").Where("token_hash = ?", tokenHash(token)).Scan(ctx, &vid)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, enterprise.ErrLinkNotFound
	}
	if err != nil {
		return nil, err
	}
	return r.load(ctx, vid, false)
}

func (r verifications) Update(ctx context.Context, id kernel.VerificationID, fn func(v *enterprise.Verification) error) error {
	if err := r.t.mustWrite(); err != nil {
		return err
	}
	v, err := r.load(ctx, string(id), true)
	if err != nil {
		return err
	}
	if err := fn(v); err != nil {
		return err
	}
	row, links, err := r.toRows(v)
	if err != nil {
		return err
	}
	row.Version = v.Version() + 1
	res, err := r.t.idb.NewUpdate().Model(row).ExcludeColumn("id", "initiator_id", "created_at").
		Where("id = ? AND version = ?", row.ID, v.Version()).Exec(ctx)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return kernel.Conflict("concurrent-update", "the verification was changed concurrently; try again")
	}
	if err := r.saveLinks(ctx, row.ID, links); err != nil {
		return err
	}
	r.t.record(v)
	return nil
}

type enterpriseRow struct {
	bun.BaseModel `bun:"table:enterprises"`

	ID             string    `bun:"id,pk"`
	Name           string    `bun:"name"`
	CreditCode     string    `bun:"credit_code"`
	LegalRepName   string    `bun:"legal_rep_name"`
	LegalRepIDEnc  []byte    `bun:"legal_rep_id_enc"`
	Method         string    `bun:"method"`
	VerificationID string    `bun:"verification_id"`
	VerifiedAt     time.Time `bun:"verified_at"`
	CertSerial     string    `bun:"cert_serial"`
	CertSubject    string    `bun:"cert_subject"`
	CertNotBefore  time.Time `bun:"cert_not_before,nullzero"`
	CertNotAfter   time.Time `bun:"cert_not_after,nullzero"`
	CertDER        []byte    `bun:"cert_der"`
	CertKeyEnc     []byte    `bun:"cert_key_enc"`
	CertIssuedAt   time.Time `bun:"cert_issued_at,nullzero"`
	DeactivatedAt  time.Time `bun:"deactivated_at,nullzero"`
}

type enterprises struct{ t *txn }

func (r enterprises) toRow(e *enterprise.Enterprise) (*enterpriseRow, error) {
	s := e.Snapshot()
	row := &enterpriseRow{ID: string(s.ID), Name: s.Name, CreditCode: string(s.CreditCode), LegalRepName: s.LegalRepName,
		Method: string(s.Method), VerificationID: string(s.VerificationID), VerifiedAt: utc(s.VerifiedAt), DeactivatedAt: utc(s.DeactivatedAt)}
	var err error
	if row.LegalRepIDEnc, err = r.t.store.cipher.Seal([]byte(s.LegalRepIDNumber), aadEntLegalRepID); err != nil {
		return nil, err
	}
	if c := s.Certificate; c != nil {
		row.CertSerial, row.CertSubject, row.CertNotBefore, row.CertNotAfter = c.Serial, c.Subject, utc(c.NotBefore), utc(c.NotAfter)
		row.CertDER, row.CertIssuedAt = c.DER, utc(c.IssuedAt)
		if row.CertKeyEnc, err = r.t.store.cipher.Seal(c.KeyPKCS8, aadEntKey+":"+row.ID); err != nil {
			return nil, err
		}
	}
	return row, nil
}

func (r enterprises) fromRow(row *enterpriseRow) (*enterprise.Enterprise, error) {
	id, err := r.t.store.cipher.Open(row.LegalRepIDEnc, aadEntLegalRepID)
	if err != nil {
		return nil, err
	}
	s := enterprise.EnterpriseSnapshot{ID: kernel.EnterpriseID(row.ID), Name: row.Name, CreditCode: kernel.CreditCode(row.CreditCode),
		LegalRepName: row.LegalRepName, LegalRepIDNumber: kernel.IDNumber(id), Method: enterprise.Method(row.Method),
		VerificationID: kernel.VerificationID(row.VerificationID), VerifiedAt: utc(row.VerifiedAt), DeactivatedAt: utc(row.DeactivatedAt)}
	if row.CertSerial != "" {
		key, err := r.t.store.cipher.Open(row.CertKeyEnc, aadEntKey+":"+row.ID)
		if err != nil {
			return nil, err
		}
		s.Certificate = &enterprise.OrgCertificate{Serial: row.CertSerial, Subject: row.CertSubject, NotBefore: utc(row.CertNotBefore),
			NotAfter: utc(row.CertNotAfter), DER: row.CertDER, KeyPKCS8: key, IssuedAt: utc(row.CertIssuedAt)}
	}
	return enterprise.EnterpriseFromSnapshot(s), nil
}

func (r enterprises) Add(ctx context.Context, e *enterprise.Enterprise) error {
	if err := r.t.mustWrite(); err != nil {
		return err
	}
	row, err := r.toRow(e)
	if err != nil {
		return err
	}
	if _, err := r.t.idb.NewInsert().Model(row).Exec(ctx); err != nil {
		if isUnique(err) {
			return kernel.Conflict("enterprise-already-verified", "this enterprise is already verified; ask its admin to add you instead").
				WithDetail("hint", "join")
		}
		return err
	}
	r.t.record(e)
	return nil
}

func (r enterprises) get(ctx context.Context, where string, arg any, lock bool) (*enterprise.Enterprise, error) {
	row := new(enterpriseRow)
	q := r.t.idb.NewSelect().Model(row).Where(where, arg)
	if lock {
		q = r.t.forUpdate(q)
	}
	if err := q.Scan(ctx); err != nil {
		return nil, notFound(err, "enterprise-not-found", "no such enterprise")
	}
	return r.fromRow(row)
}

func (r enterprises) Get(ctx context.Context, id kernel.EnterpriseID) (*enterprise.Enterprise, error) {
	return r.get(ctx, "id = ?", string(id), false)
}

func (r enterprises) GetByCreditCode(ctx context.Context, code kernel.CreditCode) (*enterprise.Enterprise, error) {
	return r.get(ctx, "credit_code = ?", string(code), false)
}

func (r enterprises) Update(ctx context.Context, id kernel.EnterpriseID, fn func(e *enterprise.Enterprise) error) error {
	if err := r.t.mustWrite(); err != nil {
		return err
	}
	e, err := r.get(ctx, "id = ?", string(id), true)
	if err != nil {
		return err
	}
	if err := fn(e); err != nil {
		return err
	}
	row, err := r.toRow(e)
	if err != nil {
		return err
	}
	if _, err := r.t.idb.NewUpdate().Model(row).ExcludeColumn("id", "credit_code", "verification_id").WherePK().Exec(ctx); err != nil {
		return err
	}
	r.t.record(e)
	return nil
}

// GetByIDNumber finds the account that verified an ID number.
func (r users) GetByIDNumber(ctx context.Context, id kernel.IDNumber) (*user.User, error) {
	return r.get(ctx, "id_number_idx = ?", r.idNumberIdx(id), false)
}

func (r enterprises) SearchByName(ctx context.Context, name string) ([]*enterprise.Enterprise, error) {
	var rows []enterpriseRow
	if err := r.t.idb.NewSelect().Model(&rows).Where("name = ?", name).Order("verified_at").Limit(20).Scan(ctx); err != nil {
		return nil, err
	}
	out := make([]*enterprise.Enterprise, 0, len(rows))
	for i := range rows {
		e, err := r.fromRow(&rows[i])
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

func (r enterprises) Lock(ctx context.Context, id kernel.EnterpriseID) error {
	if err := r.t.mustWrite(); err != nil {
		return err
	}
	var got string
	err := r.t.forUpdate(r.t.idb.NewSelect().Table("enterprises").Column("id").Where("id = ?", string(id))).Scan(ctx, &got)
	return notFound(err, "enterprise-not-found", "no such enterprise")
}

// ListOfMember lists the caller's enterprises in one query joining the active memberships.
func (r enterprises) ListOfMember(ctx context.Context, uid kernel.UserID) ([]ports.EnterpriseSummary, error) {
	var rows []struct {
		ID            string    `bun:"id"`
		Name          string    `bun:"name"`
		CreditCode    string    `bun:"credit_code"`
		LegalRepName  string    `bun:"legal_rep_name"`
		Method        string    `bun:"method"`
		VerifiedAt    time.Time `bun:"verified_at"`
		CertSerial    string    `bun:"cert_serial"`
		CertSubject   string    `bun:"cert_subject"`
		CertNotBefore time.Time `bun:"cert_not_before,nullzero"`
		CertNotAfter  time.Time `bun:"cert_not_after,nullzero"`
		Role          string    `bun:"role"`
	}
	err := r.t.selectInto(ctx, "enterprises-of-member", &rows, func(q *bun.SelectQuery, arg placeholder) *bun.SelectQuery {
		return q.ColumnExpr("e.id, e.name, e.credit_code, e.legal_rep_name, e.method, e.verified_at").
			ColumnExpr("e.cert_serial, e.cert_subject, e.cert_not_before, e.cert_not_after, m.role").
			TableExpr("memberships AS m").
			Join("JOIN enterprises AS e ON e.id = m.enterprise_id").
			// An active membership's open_key is its person (memberships_open_key leads with it).
			// CAST: on an analysed SQLite database (sqlite_stat4) the planner would probe the
			// statistics of the index with the bound value and mark the statement to be prepared
			// again whenever that value changes, i.e. on every call.
			Where("m.open_key = CAST(? AS TEXT)", arg(string(uid))).Where("m.status = ?", string(membership.StatusActive)).
			OrderExpr("m.joined_at, m.id").Limit(500)
	})
	if err != nil {
		return nil, err
	}
	out := make([]ports.EnterpriseSummary, len(rows))
	for i, row := range rows {
		out[i] = ports.EnterpriseSummary{ID: kernel.EnterpriseID(row.ID), Name: row.Name, CreditCode: kernel.CreditCode(row.CreditCode),
			LegalRepName: row.LegalRepName, Method: enterprise.Method(row.Method), VerifiedAt: utc(row.VerifiedAt),
			Role: membership.Role(row.Role), CertSerial: row.CertSerial, CertSubject: row.CertSubject,
			CertNotBefore: utc(row.CertNotBefore), CertNotAfter: utc(row.CertNotAfter)}
	}
	return out, nil
}
