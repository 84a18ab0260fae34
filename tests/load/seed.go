package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"time"

	"github.com/shuxinqian/server/adapters/crypto"
	"github.com/shuxinqian/server/adapters/sqlstore"
	"github.com/shuxinqian/server/adapters/system"
	"github.com/shuxinqian/server/application"
	"github.com/shuxinqian/server/domain/channel"
	"github.com/shuxinqian/server/domain/enterprise"
	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/membership"
	"github.com/shuxinqian/server/domain/order"
	"github.com/shuxinqian/server/domain/session"
	"github.com/shuxinqian/server/domain/user"
	"github.com/shuxinqian/server/ports"
)

// sizes of the seeded data set.
type sizes struct {
	Members    int // active members of the enterprise (the first is its admin)
	Orders     int // orders, spread over the members who have sessions
	Sessions   int // members with a session token (the load's callers)
	Applicants int // users with a pending join request (for the approval measurements)
}

// dataset is what the load needs to know about the seeded data.
type dataset struct {
	EnterpriseID string
	AdminToken   string
	Tokens       []string // sessions of members (Tokens[0] is the admin's)
	Pending      []string // pending membership ids, consumed by the approval measurements
	AdminID      kernel.UserID
}

// openStore opens the server's database from the harness with the server's master key.
func openStore(dsn, dataDir string, masterKey []byte) (*sqlstore.DB, *sqlstore.Store, error) {
	db, err := sqlstore.Open(dsn, dataDir)
	if err != nil {
		return nil, nil, err
	}
	keys, err := crypto.NewKeys(masterKey)
	if err != nil {
		_ = db.Close()
		return nil, nil, err
	}
	return db, sqlstore.NewStore(db, keys, keys, nil), nil
}

func newMasterKey() (raw []byte, b64 string) {
	raw = make([]byte, 32)
	_, _ = rand.Read(raw)
	return raw, base64.StdEncoding.EncodeToString(raw)
}

// idNumber makes the i-th checksum-valid resident ID number (Beijing, born from 1970 on).
func idNumber(i int) kernel.IDNumber {
	birth := time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, i/1000)
	first17 := fmt.Sprintf("110101%s%03d", birth.Format("20060102"), i%1000)
	c, err := kernel.IDNumberCheckChar(first17)
	if err != nil {
		panic(err)
	}
	return kernel.IDNumber(first17 + string(c))
}

func creditCode(n int) kernel.CreditCode {
	first17 := fmt.Sprintf("91440300%09d", n)
	c, err := kernel.CreditCodeCheckChar(first17)
	if err != nil {
		panic(err)
	}
	return kernel.CreditCode(first17 + string(c))
}

// seed writes an enterprise with its members, their sessions and orders, and pending join
// requests, in bulk through sqlstore.Store.Seed. channelCode must name a channel with a catalog
// (the sandbox's demo channel q86804).
func seed(ctx context.Context, store *sqlstore.Store, sz sizes, channelCode string) (*dataset, error) {
	var ch *channel.Channel
	if err := store.Read(ctx, func(ctx context.Context, tx ports.Tx) error {
		var err error
		ch, err = tx.Channels().GetByCode(ctx, channelCode)
		return err
	}); err != nil {
		return nil, fmt.Errorf("channel %s: %w", channelCode, err)
	}
	items := ch.Snapshot().Catalog
	if len(items) == 0 {
		return nil, fmt.Errorf("channel %s has no catalog", channelCode)
	}
	ids := system.NewIDs()
	now := time.Now().UTC()
	ds := &dataset{EnterpriseID: ids.NewID()}
	var b sqlstore.BulkSeed
	newUser := func(i int) *user.User {
		u := user.FromSnapshot(user.Snapshot{
			ID: kernel.UserID(ids.NewID()), Phone: kernel.Phone(fmt.Sprintf("139%08d", i)), RealName: user.RealNameVerified,
			CreatedAt: now.AddDate(0, 0, -100), UpdatedAt: now.AddDate(0, 0, -100), Version: 1, ChannelCode: channelCode,
			Identity: user.Identity{Name: fmt.Sprintf("成员%05d", i), IDNumber: idNumber(i), Method: "id2", VerifiedAt: now.AddDate(0, 0, -100)},
		})
		b.Users = append(b.Users, u)
		return u
	}
	eid := kernel.EnterpriseID(ds.EnterpriseID)
	b.Enterprises = append(b.Enterprises, enterprise.EnterpriseFromSnapshot(enterprise.EnterpriseSnapshot{
		ID: eid, Name: "压测招标代理有限公司" + ds.EnterpriseID[len(ds.EnterpriseID)-6:], CreditCode: creditCode(int(now.UnixNano() % 1e9)),
		LegalRepName: "成员00000", LegalRepIDNumber: idNumber(0), Method: enterprise.MethodLegalRepAuthorization,
		VerificationID: kernel.VerificationID(ids.NewID()), VerifiedAt: now.AddDate(0, 0, -100),
	}))
	buyers := make([]kernel.UserID, 0, sz.Sessions)
	for i := 0; i < sz.Members; i++ {
		u := newUser(i)
		role := membership.RoleMember
		if i == 0 {
			role = membership.RoleAdmin
			ds.AdminID = u.ID()
		}
		m, err := membership.Founder(kernel.MembershipID(ids.NewID()), eid, u.ID(), role, now.AddDate(0, 0, -99).Add(time.Duration(i)*time.Second))
		if err != nil {
			return nil, err
		}
		b.Memberships = append(b.Memberships, m)
		if i < sz.Sessions {
			tok := fmt.Sprintf("load-%s-%06d", ds.EnterpriseID, i)
			b.Sessions = append(b.Sessions, session.FromSnapshot(session.Snapshot{ID: kernel.SessionID(ids.NewID()), UserID: u.ID(),
				TokenHash: application.HashToken(tok), CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(30 * 24 * time.Hour)}))
			ds.Tokens = append(ds.Tokens, tok)
			buyers = append(buyers, u.ID())
		}
	}
	ds.AdminToken = ds.Tokens[0]
	for i := 0; i < sz.Applicants; i++ {
		u := newUser(sz.Members + i)
		m, err := membership.Apply(kernel.MembershipID(ids.NewID()), eid, u.ID(), now.Add(-time.Hour))
		if err != nil {
			return nil, err
		}
		b.Memberships = append(b.Memberships, m)
		ds.Pending = append(ds.Pending, string(m.ID))
	}
	// Orders: placed over the last 90 days, mostly paid or closed as in a live system.
	for i := 0; i < sz.Orders; i++ {
		at := now.Add(-90 * 24 * time.Hour).Add(time.Duration(i) * (90 * 24 * time.Hour / time.Duration(max(sz.Orders, 1))))
		it := items[i%len(items)]
		o, err := order.Place(kernel.OrderID(ids.NewID()), eid, buyers[i%len(buyers)], ch, []order.Line{{SKU: it.SKU, Quantity: 1 + i%3}}, at)
		if err != nil {
			return nil, err
		}
		switch i % 10 {
		case 0, 1, 2: // closed unpaid
			o.Status, o.ClosedAt, o.CloseReason, o.UpdatedAt = order.StatusClosed, o.ExpiresAt, "expired", o.ExpiresAt
		default:
			paid := at.Add(time.Minute)
			o.Status, o.PaidAt, o.TransactionID, o.TradeType, o.UpdatedAt = order.StatusPaid, paid, fmt.Sprintf("42000%015d", i), "APP", paid
		}
		b.Orders = append(b.Orders, o)
	}
	if err := store.Seed(ctx, b); err != nil {
		return nil, err
	}
	return ds, nil
}
