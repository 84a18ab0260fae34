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

	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/signflow"
	"github.com/shuxinqian/server/ports"
)

// Sign flows (issue 15): the flow row, its documents with their versions, signers (names and
// phones sealed, phones looked up by digest), fields, signings, the hash chain of its events,
// signing turns and the signatures used of enterprises' quota.

type signFlowRow struct {
	bun.BaseModel `bun:"table:sign_flows"`

	ID           string    `bun:"id,pk"`
	InitiatorID  string    `bun:"initiator_id"`
	EnterpriseID string    `bun:"enterprise_id"`
	Title        string    `bun:"title"`
	Ordered      bool      `bun:"ordered"`
	Certify      bool      `bun:"certify"`
	Status       string    `bun:"status"`
	ExpiresAt    time.Time `bun:"expires_at"`
	CreatedAt    time.Time `bun:"created_at"`
	StartedAt    time.Time `bun:"started_at,nullzero"`
	EndedAt      time.Time `bun:"ended_at,nullzero"`
	EndReason    string    `bun:"end_reason"`
	ChainSeq     int       `bun:"chain_seq"`
	ChainHead    string    `bun:"chain_head"`
	Version      int64     `bun:"version"`
}

type signFlowDocRow struct {
	bun.BaseModel `bun:"table:sign_flow_documents"`

	FlowID         string `bun:"flow_id,pk"`
	Idx            int    `bun:"idx,pk"`
	Name           string `bun:"name"`
	Pages          int    `bun:"pages"`
	PageSizes      string `bun:"page_sizes"`
	OriginalFileID string `bun:"original_file_id"`
	OriginalSHA256 string `bun:"original_sha256"`
	Version        int    `bun:"version"`
	CurrentFileID  string `bun:"current_file_id"`
	CurrentSHA256  string `bun:"current_sha256"`
}

type signFlowVersionRow struct {
	bun.BaseModel `bun:"table:sign_flow_versions"`

	FlowID    string    `bun:"flow_id,pk"`
	Idx       int       `bun:"idx,pk"`
	Version   int       `bun:"version,pk"`
	FileID    string    `bun:"file_id"`
	SHA256    string    `bun:"sha256"`
	CreatedAt time.Time `bun:"created_at"`
}

type signFlowSignerRow struct {
	bun.BaseModel `bun:"table:sign_flow_signers"`

	ID           string    `bun:"id,pk"`
	FlowID       string    `bun:"flow_id"`
	Seq          int       `bun:"seq"`
	Kind         string    `bun:"kind"`
	NameEnc      []byte    `bun:"name_enc"`
	PhoneEnc     []byte    `bun:"phone_enc"`
	PhoneIdx     *string   `bun:"phone_idx"`
	EnterpriseID string    `bun:"enterprise_id"`
	State        string    `bun:"state"`
	SignedAt     time.Time `bun:"signed_at,nullzero"`
	SignedBy     string    `bun:"signed_by"`
	RejectReason string    `bun:"reject_reason"`
}

type signFlowFieldRow struct {
	bun.BaseModel `bun:"table:sign_flow_fields"`

	SignerID string  `bun:"signer_id,pk"`
	Seq      int     `bun:"seq,pk"`
	FlowID   string  `bun:"flow_id"`
	Document int     `bun:"document"`
	Page     int     `bun:"page"`
	X        float64 `bun:"x"`
	Y        float64 `bun:"y"`
	W        float64 `bun:"w"`
	H        float64 `bun:"h"`
	Keyword  string  `bun:"keyword"`
}

type signFlowSigningRow struct {
	bun.BaseModel `bun:"table:sign_flow_signings"`

	FlowID      string    `bun:"flow_id,pk"`
	SignerID    string    `bun:"signer_id,pk"`
	UserID      string    `bun:"user_id"`
	SealID      string    `bun:"seal_id"`
	SignatureID string    `bun:"signature_id"`
	IPEnc       []byte    `bun:"ip_enc"`
	CertSerial  string    `bun:"cert_serial"`
	Hashes      string    `bun:"hashes"`
	At          time.Time `bun:"at"`
}

type signFlowEventRow struct {
	bun.BaseModel `bun:"table:sign_flow_events"`

	FlowID   string    `bun:"flow_id,pk"`
	Seq      int       `bun:"seq,pk"`
	Type     string    `bun:"type"`
	Actor    string    `bun:"actor"`
	Detail   string    `bun:"detail"`
	At       time.Time `bun:"at"`
	PrevHash string    `bun:"prev_hash"`
	Hash     string    `bun:"hash"`
}

type signFlowTurnRow struct {
	bun.BaseModel `bun:"table:sign_flow_turns"`

	FlowID       string    `bun:"flow_id,pk"`
	SignerID     string    `bun:"signer_id,pk"`
	UserID       string    `bun:"user_id"`
	EnterpriseID string    `bun:"enterprise_id"`
	Until        time.Time `bun:"until"`
}

type signatureUsageRow struct {
	bun.BaseModel `bun:"table:signature_usage"`

	FlowID       string    `bun:"flow_id,pk"`
	SignerID     string    `bun:"signer_id,pk"`
	EnterpriseID string    `bun:"enterprise_id"`
	Used         bool      `bun:"used"`
	At           time.Time `bun:"at"`
}

const (
	aadSignerName  = "sign_flow_signers.name"
	aadSignerPhone = "sign_flow_signers.phone"
	aadSigningIP   = "sign_flow_signings.ip"
)

type signFlows struct{ t *txn }

func (t *txn) SignFlows() ports.SignFlowRepository { return signFlows{t} }

func (r signFlows) phoneIdx(p kernel.Phone) string {
	return r.t.store.secrets.Digest("phone", string(p))
}

func flowRowOf(f *signflow.Flow) *signFlowRow {
	p := f.Snapshot()
	return &signFlowRow{ID: string(p.ID), InitiatorID: string(p.InitiatorID), EnterpriseID: string(p.EnterpriseID), Title: p.Title,
		Ordered: p.Ordered, Certify: p.Certify, Status: string(p.Status), ExpiresAt: utc(p.ExpiresAt), CreatedAt: utc(p.CreatedAt),
		StartedAt: utc(p.StartedAt), EndedAt: utc(p.EndedAt), EndReason: p.EndReason, Version: p.Version}
}

func (r signFlows) signerRow(fid signflow.ID, seq int, s signflow.Signer) (*signFlowSignerRow, error) {
	row := &signFlowSignerRow{ID: string(s.ID), FlowID: string(fid), Seq: seq, Kind: string(s.Kind), EnterpriseID: string(s.EnterpriseID),
		State: string(s.State), SignedAt: utc(s.SignedAt), SignedBy: string(s.SignedBy), RejectReason: s.RejectReason}
	var err error
	if row.NameEnc, err = r.t.store.cipher.Seal([]byte(s.Name), aadSignerName); err != nil {
		return nil, err
	}
	if !s.Phone.IsZero() {
		if row.PhoneEnc, err = r.t.store.cipher.Seal([]byte(s.Phone), aadSignerPhone); err != nil {
			return nil, err
		}
		idx := r.phoneIdx(s.Phone)
		row.PhoneIdx = &idx
	}
	return row, nil
}

func docRowOf(fid signflow.ID, d ports.SignFlowDocument) *signFlowDocRow {
	sizes, _ := json.Marshal(d.PageSizes)
	return &signFlowDocRow{FlowID: string(fid), Idx: d.Index, Name: d.Name, Pages: d.Pages, PageSizes: string(sizes),
		OriginalFileID: string(d.OriginalFileID), OriginalSHA256: d.OriginalSHA256, Version: d.Version,
		CurrentFileID: string(d.CurrentFileID), CurrentSHA256: d.CurrentSHA256}
}

func (r signFlows) Add(ctx context.Context, v *ports.SignFlowView) error {
	if err := r.t.mustWrite(); err != nil {
		return err
	}
	f := v.Flow
	row := flowRowOf(f)
	row.Version = 1
	if _, err := r.t.idb.NewInsert().Model(row).Exec(ctx); err != nil {
		return err
	}
	docs := make([]*signFlowDocRow, len(v.Documents))
	vers := make([]*signFlowVersionRow, len(v.Documents))
	for i, d := range v.Documents {
		docs[i] = docRowOf(f.ID(), d)
		vers[i] = &signFlowVersionRow{FlowID: string(f.ID()), Idx: d.Index, Version: d.Version, FileID: string(d.CurrentFileID),
			SHA256: d.CurrentSHA256, CreatedAt: utc(f.CreatedAt())}
	}
	if _, err := r.t.idb.NewInsert().Model(&docs).Exec(ctx); err != nil {
		return err
	}
	if _, err := r.t.idb.NewInsert().Model(&vers).Exec(ctx); err != nil {
		return err
	}
	var signers []*signFlowSignerRow
	var fields []*signFlowFieldRow
	for i, s := range f.Signers() {
		sr, err := r.signerRow(f.ID(), i, s)
		if err != nil {
			return err
		}
		signers = append(signers, sr)
		for j, fd := range s.Fields {
			fields = append(fields, &signFlowFieldRow{SignerID: string(s.ID), Seq: j, FlowID: string(f.ID()), Document: fd.Document,
				Page: fd.Page, X: fd.X, Y: fd.Y, W: fd.W, H: fd.H, Keyword: fd.Keyword})
		}
	}
	if _, err := r.t.idb.NewInsert().Model(&signers).Exec(ctx); err != nil {
		return err
	}
	if _, err := r.t.idb.NewInsert().Model(&fields).Exec(ctx); err != nil {
		return err
	}
	return r.chain(ctx, row, v)
}

// chain appends the flow's pending events and the view's notes to its hash chain, moves the
// events to the outbox, and writes the chain head on the flow row.
func (r signFlows) chain(ctx context.Context, row *signFlowRow, v *ports.SignFlowView) error {
	evs := v.Flow.PullEvents()
	type entry struct {
		typ, actor, detail string
		at                 time.Time
	}
	var entries []entry
	for _, ev := range evs {
		b, err := json.Marshal(ev)
		if err != nil {
			return err
		}
		actor, at := eventActor(ev)
		entries = append(entries, entry{ev.EventName(), actor, string(b), at})
	}
	for _, n := range v.Notes {
		entries = append(entries, entry{n.Type, n.Actor, n.Detail, kernel.OccurredAt(n.At)})
	}
	v.Notes = nil
	r.t.events = append(r.t.events, evs...)
	if len(entries) == 0 {
		return nil
	}
	var head struct {
		Seq  int    `bun:"chain_seq"`
		Head string `bun:"chain_head"`
	}
	if err := r.t.idb.NewSelect().Table("sign_flows").Column("chain_seq", "chain_head").Where("id = ?", row.ID).Scan(ctx, &head.Seq, &head.Head); err != nil {
		return err
	}
	rows := make([]*signFlowEventRow, len(entries))
	for i, e := range entries {
		head.Seq++
		hash := ChainHash(head.Head, head.Seq, e.typ, e.actor, e.detail, e.at)
		rows[i] = &signFlowEventRow{FlowID: row.ID, Seq: head.Seq, Type: e.typ, Actor: e.actor, Detail: e.detail, At: e.at.UTC(),
			PrevHash: head.Head, Hash: hash}
		head.Head = hash
	}
	if _, err := r.t.idb.NewInsert().Model(&rows).Exec(ctx); err != nil {
		return err
	}
	_, err := r.t.idb.NewUpdate().Table("sign_flows").Set("chain_seq = ?", head.Seq).Set("chain_head = ?", head.Head).
		Where("id = ?", row.ID).Exec(ctx)
	return err
}

// ChainHash is one link of a flow's hash chain: SHA-256 over the previous hash's bytes and the
// canonical bytes of the entry (JSON with fixed key order: seq, type, actor, at, detail).
func ChainHash(prevHex string, seq int, typ, actor, detail string, at time.Time) string {
	prev, _ := hex.DecodeString(prevHex)
	canon, _ := json.Marshal(struct {
		Seq    int    `json:"seq"`
		Type   string `json:"type"`
		Actor  string `json:"actor"`
		At     string `json:"at"`
		Detail string `json:"detail"`
	}{seq, typ, actor, at.UTC().Format(time.RFC3339Nano), detail})
	h := sha256.New()
	h.Write(prev)
	h.Write(canon)
	return hex.EncodeToString(h.Sum(nil))
}

func eventActor(ev kernel.Event) (string, time.Time) {
	switch e := ev.(type) {
	case signflow.Created:
		return string(e.InitiatorID), e.At
	case signflow.Started:
		return "", e.At
	case signflow.Signed:
		return string(e.By), e.At
	case signflow.Completed:
		return "", e.At
	case signflow.Rejected:
		return string(e.SignerID), e.At
	case signflow.Revoked:
		return string(e.By), e.At
	case signflow.Expired:
		return "", e.At
	}
	return "", time.Now()
}

func (r signFlows) Get(ctx context.Context, id signflow.ID) (*ports.SignFlowView, error) {
	return r.load(ctx, id, false)
}

func (r signFlows) load(ctx context.Context, id signflow.ID, lock bool) (*ports.SignFlowView, error) {
	row := new(signFlowRow)
	q := r.t.idb.NewSelect().Model(row).Where("id = ?", string(id))
	if lock {
		q = r.t.forUpdate(q)
	}
	if err := q.Scan(ctx); err != nil {
		return nil, notFound(err, "flow-not-found", "no such sign flow")
	}
	views, err := r.assemble(ctx, []signFlowRow{*row})
	if err != nil {
		return nil, err
	}
	v := views[0]
	var srows []signFlowSigningRow
	if err := r.t.idb.NewSelect().Model(&srows).Where("flow_id = ?", row.ID).Order("at").Scan(ctx); err != nil {
		return nil, err
	}
	for _, s := range srows {
		sg := ports.SignFlowSigning{SignerID: signflow.SignerID(s.SignerID), UserID: kernel.UserID(s.UserID), SealID: s.SealID,
			SignatureID: s.SignatureID, CertSerial: s.CertSerial, At: utc(s.At)}
		if len(s.IPEnc) > 0 {
			ip, err := r.t.store.cipher.Open(s.IPEnc, aadSigningIP)
			if err != nil {
				return nil, fmt.Errorf("sqlstore: signing ip: %w", err)
			}
			sg.IP = string(ip)
		}
		var hs struct{ Before, After map[int]string }
		if err := json.Unmarshal([]byte(s.Hashes), &hs); err != nil {
			return nil, err
		}
		sg.HashBefore, sg.HashAfter = hs.Before, hs.After
		v.Signings = append(v.Signings, sg)
	}
	return v, nil
}

// assemble loads the signers, fields and documents of a page of flows: three queries.
func (r signFlows) assemble(ctx context.Context, rows []signFlowRow) ([]*ports.SignFlowView, error) {
	out := make([]*ports.SignFlowView, len(rows))
	if len(rows) == 0 {
		return out, nil
	}
	ids := make([]string, len(rows))
	for i := range rows {
		ids[i] = rows[i].ID
	}
	var signers []signFlowSignerRow
	if err := r.t.idb.NewSelect().Model(&signers).Where("flow_id IN (?)", bun.List(ids)).Order("flow_id", "seq").Scan(ctx); err != nil {
		return nil, err
	}
	var fields []signFlowFieldRow
	if err := r.t.idb.NewSelect().Model(&fields).Where("flow_id IN (?)", bun.List(ids)).Order("signer_id", "seq").Scan(ctx); err != nil {
		return nil, err
	}
	var docs []signFlowDocRow
	if err := r.t.idb.NewSelect().Model(&docs).Where("flow_id IN (?)", bun.List(ids)).Order("flow_id", "idx").Scan(ctx); err != nil {
		return nil, err
	}
	fieldsOf := map[string][]signflow.Field{}
	for _, f := range fields {
		fieldsOf[f.SignerID] = append(fieldsOf[f.SignerID], signflow.Field{Document: f.Document, Page: f.Page, X: f.X, Y: f.Y, W: f.W, H: f.H, Keyword: f.Keyword})
	}
	signersOf := map[string][]signflow.Signer{}
	for _, s := range signers {
		name, err := r.t.store.cipher.Open(s.NameEnc, aadSignerName)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: signer %s: %w", s.ID, err)
		}
		sg := signflow.Signer{ID: signflow.SignerID(s.ID), Kind: signflow.Kind(s.Kind), Name: string(name), EnterpriseID: kernel.EnterpriseID(s.EnterpriseID),
			Fields: fieldsOf[s.ID], State: signflow.SignerState(s.State), SignedAt: utc(s.SignedAt), SignedBy: kernel.UserID(s.SignedBy), RejectReason: s.RejectReason}
		if len(s.PhoneEnc) > 0 {
			phone, err := r.t.store.cipher.Open(s.PhoneEnc, aadSignerPhone)
			if err != nil {
				return nil, fmt.Errorf("sqlstore: signer %s: %w", s.ID, err)
			}
			sg.Phone = kernel.Phone(phone)
		}
		signersOf[s.FlowID] = append(signersOf[s.FlowID], sg)
	}
	docsOf := map[string][]ports.SignFlowDocument{}
	for _, d := range docs {
		var sizes [][2]float64
		_ = json.Unmarshal([]byte(d.PageSizes), &sizes)
		docsOf[d.FlowID] = append(docsOf[d.FlowID], ports.SignFlowDocument{Index: d.Idx, Name: d.Name, Pages: d.Pages, PageSizes: sizes,
			OriginalFileID: kernel.FileID(d.OriginalFileID), OriginalSHA256: d.OriginalSHA256, Version: d.Version,
			CurrentFileID: kernel.FileID(d.CurrentFileID), CurrentSHA256: d.CurrentSHA256})
	}
	for i := range rows {
		row := &rows[i]
		var documents []signflow.Document
		for _, d := range docsOf[row.ID] {
			documents = append(documents, signflow.Document{FileID: d.OriginalFileID, Name: d.Name})
		}
		f := signflow.FromSnapshot(signflow.Snapshot{ID: signflow.ID(row.ID), InitiatorID: kernel.UserID(row.InitiatorID),
			EnterpriseID: kernel.EnterpriseID(row.EnterpriseID), Title: row.Title, Documents: documents, Signers: signersOf[row.ID],
			Ordered: row.Ordered, Certify: row.Certify, ExpiresAt: utc(row.ExpiresAt), Status: signflow.Status(row.Status),
			CreatedAt: utc(row.CreatedAt), StartedAt: utc(row.StartedAt), EndedAt: utc(row.EndedAt), EndReason: row.EndReason, Version: row.Version})
		out[i] = &ports.SignFlowView{Flow: f, Documents: docsOf[row.ID]}
	}
	return out, nil
}

func (r signFlows) Update(ctx context.Context, id signflow.ID, fn func(v *ports.SignFlowView) error) error {
	if err := r.t.mustWrite(); err != nil {
		return err
	}
	v, err := r.load(ctx, id, true)
	if err != nil {
		return err
	}
	beforeSigners := v.Flow.Signers()
	beforeDocs := append([]ports.SignFlowDocument(nil), v.Documents...)
	signed := map[signflow.SignerID]bool{}
	for _, s := range v.Signings {
		signed[s.SignerID] = true
	}
	if err := fn(v); err != nil {
		return err
	}
	row := flowRowOf(v.Flow)
	row.Version = v.Flow.Version() + 1
	res, err := r.t.idb.NewUpdate().Model(row).Column("status", "started_at", "ended_at", "end_reason", "version").
		Where("id = ? AND version = ?", row.ID, v.Flow.Version()).Exec(ctx)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return kernel.Conflict("concurrent-update", "the flow was changed concurrently; try again")
	}
	for i, s := range v.Flow.Signers() {
		b := beforeSigners[i]
		if s.State == b.State && s.SignedAt.Equal(b.SignedAt) && s.RejectReason == b.RejectReason {
			continue
		}
		if _, err := r.t.idb.NewUpdate().Table("sign_flow_signers").Set("state = ?", string(s.State)).
			Set("signed_at = ?", nullTime(s.SignedAt)).Set("signed_by = ?", string(s.SignedBy)).Set("reject_reason = ?", s.RejectReason).
			Where("id = ?", string(s.ID)).Exec(ctx); err != nil {
			return err
		}
	}
	now := time.Now().UTC()
	for i, d := range v.Documents {
		if i >= len(beforeDocs) || d.Version == beforeDocs[i].Version {
			continue
		}
		if _, err := r.t.idb.NewUpdate().Model(docRowOf(v.Flow.ID(), d)).Column("version", "current_file_id", "current_sha256").
			WherePK().Exec(ctx); err != nil {
			return err
		}
		if _, err := r.t.idb.NewInsert().Model(&signFlowVersionRow{FlowID: row.ID, Idx: d.Index, Version: d.Version,
			FileID: string(d.CurrentFileID), SHA256: d.CurrentSHA256, CreatedAt: now}).Exec(ctx); err != nil {
			return err
		}
	}
	for _, s := range v.Signings {
		if signed[s.SignerID] {
			continue
		}
		hashes, _ := json.Marshal(struct{ Before, After map[int]string }{s.HashBefore, s.HashAfter})
		sr := &signFlowSigningRow{FlowID: row.ID, SignerID: string(s.SignerID), UserID: string(s.UserID), SealID: s.SealID,
			SignatureID: s.SignatureID, CertSerial: s.CertSerial, Hashes: string(hashes), At: utc(s.At)}
		if s.IP != "" {
			if sr.IPEnc, err = r.t.store.cipher.Seal([]byte(s.IP), aadSigningIP); err != nil {
				return err
			}
		}
		if _, err := r.t.idb.NewInsert().Model(sr).Exec(ctx); err != nil {
			return err
		}
	}
	return r.chain(ctx, row, v)
}

func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC()
}

func pageLimit(f ports.SignFlowFilter) int {
	if f.Limit <= 0 || f.Limit > 100 {
		return 100
	}
	return f.Limit
}

func (r signFlows) ListByInitiator(ctx context.Context, uid kernel.UserID, f ports.SignFlowFilter) ([]*ports.SignFlowView, error) {
	var rows []signFlowRow
	q := r.t.idb.NewSelect().Model(&rows).Where("initiator_id = ?", string(uid))
	if f.Status != "" {
		q = q.Where("status = ?", string(f.Status))
	}
	if f.Before != "" {
		q = q.Where("id < ?", string(f.Before))
	}
	if err := q.OrderExpr("id DESC").Limit(int64(pageLimit(f))).Scan(ctx); err != nil {
		return nil, err
	}
	return r.assemble(ctx, rows)
}

func (r signFlows) ListBySigner(ctx context.Context, phone kernel.Phone, enterprises []kernel.EnterpriseID, f ports.SignFlowFilter) ([]*ports.SignFlowView, error) {
	var rows []signFlowRow
	eids := make([]string, 0, len(enterprises)+1)
	for _, e := range enterprises {
		eids = append(eids, string(e))
	}
	if len(eids) == 0 {
		eids = append(eids, "-")
	}
	sub := r.t.idb.NewSelect().Table("sign_flow_signers").Column("flow_id").
		Where("(kind = 'person' AND phone_idx = ?) OR (kind = 'organization' AND enterprise_id IN (?))", r.phoneIdx(phone), bun.List(eids))
	q := r.t.idb.NewSelect().Model(&rows).Where("id IN (?)", sub).Where("status <> ?", string(signflow.StatusDraft))
	if f.Status != "" {
		q = q.Where("status = ?", string(f.Status))
	}
	if f.Before != "" {
		q = q.Where("id < ?", string(f.Before))
	}
	if err := q.OrderExpr("id DESC").Limit(int64(pageLimit(f))).Scan(ctx); err != nil {
		return nil, err
	}
	return r.assemble(ctx, rows)
}

func (r signFlows) Due(ctx context.Context, now time.Time, limit int) ([]signflow.ID, error) {
	var ids []string
	if err := r.t.idb.NewSelect().Table("sign_flows").Column("id").Where("status IN ('draft', 'signing') AND expires_at <= ?", now.UTC()).
		Order("expires_at").Limit(int64(limit)).Scan(ctx, &ids); err != nil {
		return nil, err
	}
	out := make([]signflow.ID, len(ids))
	for i, id := range ids {
		out[i] = signflow.ID(id)
	}
	return out, nil
}

func (r signFlows) Chain(ctx context.Context, id signflow.ID) ([]ports.EvidenceEvent, error) {
	var rows []signFlowEventRow
	if err := r.t.idb.NewSelect().Model(&rows).Where("flow_id = ?", string(id)).Order("seq").Scan(ctx); err != nil {
		return nil, err
	}
	out := make([]ports.EvidenceEvent, len(rows))
	for i, e := range rows {
		out[i] = ports.EvidenceEvent{Seq: e.Seq, At: utc(e.At), Type: e.Type, Actor: e.Actor, Detail: e.Detail, PrevHash: e.PrevHash, Hash: e.Hash}
	}
	return out, nil
}

func (r signFlows) TakeTurn(ctx context.Context, t ports.SigningTurn, now time.Time) error {
	if err := r.t.mustWrite(); err != nil {
		return err
	}
	var old signFlowTurnRow
	err := r.t.idb.NewSelect().Model(&old).Where("flow_id = ? AND signer_id = ?", string(t.FlowID), string(t.SignerID)).Scan(ctx)
	switch {
	case err == nil && old.Until.After(now):
		return kernel.Conflict("flow-signing-in-progress", "this signer is being signed for right now; try again in a moment")
	case err == nil:
		if err := r.EndTurn(ctx, t.FlowID, t.SignerID, false); err != nil {
			return err
		}
	case !errors.Is(err, sql.ErrNoRows):
		return err
	}
	if t.EnterpriseID != "" {
		if err := r.reserveSignature(ctx, t, now); err != nil {
			return err
		}
	}
	_, err = r.t.idb.NewInsert().Model(&signFlowTurnRow{FlowID: string(t.FlowID), SignerID: string(t.SignerID), UserID: string(t.UserID),
		EnterpriseID: string(t.EnterpriseID), Until: t.Until.UTC()}).Exec(ctx)
	return err
}

// reserveSignature takes one signature of the enterprise's quota under the enterprise's quota
// lock (lockQuota), the lock a refund's check of the unused quota takes too.
func (r signFlows) reserveSignature(ctx context.Context, t ports.SigningTurn, now time.Time) error {
	eid := string(t.EnterpriseID)
	if err := lockQuota(ctx, r.t, t.EnterpriseID); err != nil {
		return err
	}
	// Turns of runs that died (past their Until) give their reserved signature back.
	var stale []signFlowTurnRow
	if err := r.t.idb.NewSelect().Model(&stale).Where("enterprise_id = ? AND until <= ?", eid, now.UTC()).Scan(ctx); err != nil {
		return err
	}
	for _, st := range stale {
		if err := r.release(ctx, signflow.ID(st.FlowID), signflow.SignerID(st.SignerID)); err != nil {
			return err
		}
	}
	q, err := quota(r).Totals(ctx, t.EnterpriseID)
	if err != nil {
		return err
	}
	if q.Signatures <= 0 {
		return kernel.PaymentRequired("quota-exhausted", "the enterprise has no signatures left; buy a signature package").
			WithDetail("sku_hint", "quota.signatures")
	}
	_, err = r.t.idb.NewInsert().Model(&signatureUsageRow{FlowID: string(t.FlowID), SignerID: string(t.SignerID), EnterpriseID: eid,
		At: now.UTC()}).Exec(ctx)
	return err
}

func (r signFlows) EndTurn(ctx context.Context, flow signflow.ID, signer signflow.SignerID, used bool) error {
	if err := r.t.mustWrite(); err != nil {
		return err
	}
	if !used {
		return r.release(ctx, flow, signer)
	}
	// The turn must still be this run's: a turn taken over as stale has given its signature back.
	res, err := r.t.idb.NewDelete().Table("sign_flow_turns").Where("flow_id = ? AND signer_id = ?", string(flow), string(signer)).Exec(ctx)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return kernel.Conflict("flow-signing-expired", "the signing took too long and was given up; sign again")
	}
	_, err = r.t.idb.NewUpdate().Table("signature_usage").Set("used = ?", true).
		Where("flow_id = ? AND signer_id = ?", string(flow), string(signer)).Exec(ctx)
	return err
}

// release removes a turn and gives its reserved (not used) signature back.
func (r signFlows) release(ctx context.Context, flow signflow.ID, signer signflow.SignerID) error {
	if _, err := r.t.idb.NewDelete().Table("sign_flow_turns").Where("flow_id = ? AND signer_id = ?", string(flow), string(signer)).Exec(ctx); err != nil {
		return err
	}
	_, err := r.t.idb.NewDelete().Table("signature_usage").
		Where("flow_id = ? AND signer_id = ? AND NOT used", string(flow), string(signer)).Exec(ctx)
	return err
}

func (r signFlows) SignaturesUsed(ctx context.Context, eid kernel.EnterpriseID) (int, error) {
	n, err := r.t.idb.NewSelect().Table("signature_usage").Where("enterprise_id = ?", string(eid)).Count(ctx)
	return int(n), err
}

// lockQuota takes the enterprise's quota lock until the transaction ends: its row in
// signature_quota_locks, created if missing, then locked FOR UPDATE on Postgres. Every check
// against the enterprise's free quota that is followed by a change of it runs under this one
// lock: a signing reserving a signature (reserveSignature) and a refund taking units back
// (QuotaUsage.LockEnterprise), so the two cannot both pass against the same free count. On
// SQLite, write transactions begin IMMEDIATE and are serialised for the whole database; the
// insert makes this transaction a writer there too.
func lockQuota(ctx context.Context, t *txn, eid kernel.EnterpriseID) error {
	if err := t.mustWrite(); err != nil {
		return err
	}
	if _, err := t.idb.NewInsert().Model(&struct {
		bun.BaseModel `bun:"table:signature_quota_locks"`
		EnterpriseID  string `bun:"enterprise_id,pk"`
	}{EnterpriseID: string(eid)}).On("CONFLICT DO NOTHING").Exec(ctx); err != nil {
		return err
	}
	var locked []string
	return t.forUpdate(t.idb.NewSelect().Table("signature_quota_locks").Column("enterprise_id").Where("enterprise_id = ?", string(eid))).
		Scan(ctx, &locked)
}
