package api

import (
	"fmt"
	"strings"
	"testing"
)

// authzCase is one enterprise-scoped route with the status each kind of caller gets. Requests
// are chosen so that a caller who passes authorization gets a deterministic answer without
// changing what the other callers see.
type authzCase struct {
	body func(fx *authzFixture, who string) any
	path func(fx *authzFixture) string // the route with its ids filled in
	want map[string]int                // admin, member, other, removed, anonymous
}

type authzFixture struct {
	eid, adminMemberID, removedMemberID string
	phones                              int
	// sealID is the automatic official seal; doomedSealID a seal the admin deletes;
	// revokedGrantID a grant of sealID already revoked.
	sealID, doomedSealID, revokedGrantID string
	// webhookID is an endpoint the admin registered; doomedWebhookID one the admin deletes.
	webhookID, doomedWebhookID string
}

// The table: a route added under /api/v1/enterprises/{enterprise_id} without an entry here
// fails TestEnterpriseScopedAuthorization.
var authzTable = map[string]authzCase{
	"GET /api/v1/enterprises/{enterprise_id}": {
		path: func(fx *authzFixture) string { return "/api/v1/enterprises/" + fx.eid },
		want: map[string]int{"admin": 200, "member": 200, "other": 404, "removed": 404, "anonymous": 401},
	},
	"GET /api/v1/enterprises/{enterprise_id}/certificate": {
		path: func(fx *authzFixture) string { return "/api/v1/enterprises/" + fx.eid + "/certificate" },
		want: map[string]int{"admin": 200, "member": 200, "other": 404, "removed": 404, "anonymous": 401},
	},
	"GET /api/v1/enterprises/{enterprise_id}/members": {
		path: func(fx *authzFixture) string { return "/api/v1/enterprises/" + fx.eid + "/members" },
		want: map[string]int{"admin": 200, "member": 200, "other": 404, "removed": 404, "anonymous": 401},
	},
	"POST /api/v1/enterprises/{enterprise_id}/members": {
		path: func(fx *authzFixture) string { return "/api/v1/enterprises/" + fx.eid + "/members" },
		body: func(fx *authzFixture, who string) any {
			fx.phones++
			return map[string]string{"name": "受邀人", "phone": fmt.Sprintf("1590000%04d", fx.phones), "role": "member"}
		},
		want: map[string]int{"admin": 201, "member": 403, "other": 404, "removed": 404, "anonymous": 401},
	},
	"GET /api/v1/enterprises/{enterprise_id}/members/{member_id}": {
		path: func(fx *authzFixture) string { return "/api/v1/enterprises/" + fx.eid + "/members/" + fx.adminMemberID },
		want: map[string]int{"admin": 200, "member": 200, "other": 404, "removed": 404, "anonymous": 401},
	},
	"POST /api/v1/enterprises/{enterprise_id}/members/{member_id}/approve": {
		path: func(fx *authzFixture) string {
			return "/api/v1/enterprises/" + fx.eid + "/members/" + fx.removedMemberID + "/approve"
		},
		want: map[string]int{"admin": 409, "member": 403, "other": 404, "removed": 404, "anonymous": 401},
	},
	"POST /api/v1/enterprises/{enterprise_id}/members/{member_id}/reject": {
		path: func(fx *authzFixture) string {
			return "/api/v1/enterprises/" + fx.eid + "/members/" + fx.removedMemberID + "/reject"
		},
		want: map[string]int{"admin": 409, "member": 403, "other": 404, "removed": 404, "anonymous": 401},
	},
	"POST /api/v1/enterprises/{enterprise_id}/members/batch": {
		path: func(fx *authzFixture) string { return "/api/v1/enterprises/" + fx.eid + "/members/batch" },
		body: func(fx *authzFixture, _ string) any {
			return map[string]any{"member_ids": []string{fx.removedMemberID}, "decision": "approve"}
		},
		want: map[string]int{"admin": 200, "member": 403, "other": 404, "removed": 404, "anonymous": 401},
	},
	"DELETE /api/v1/enterprises/{enterprise_id}/members/{member_id}": {
		path: func(fx *authzFixture) string {
			return "/api/v1/enterprises/" + fx.eid + "/members/" + fx.removedMemberID
		},
		want: map[string]int{"admin": 409, "member": 403, "other": 404, "removed": 404, "anonymous": 401},
	},
	// Orders need a current channel: the callers passing authorization have none, so 422.
	"GET /api/v1/enterprises/{enterprise_id}/catalog": {
		path: func(fx *authzFixture) string { return "/api/v1/enterprises/" + fx.eid + "/catalog" },
		want: map[string]int{"admin": 422, "member": 422, "other": 404, "removed": 404, "anonymous": 401},
	},
	"POST /api/v1/enterprises/{enterprise_id}/orders": {
		path: func(fx *authzFixture) string { return "/api/v1/enterprises/" + fx.eid + "/orders" },
		body: func(*authzFixture, string) any {
			return map[string]any{"items": []map[string]any{{"sku": "pkg-sign-50", "quantity": 1}}}
		},
		want: map[string]int{"admin": 422, "member": 422, "other": 404, "removed": 404, "anonymous": 401},
	},
	// Webhooks: admins only.
	"GET /api/v1/enterprises/{enterprise_id}/webhooks": {
		path: func(fx *authzFixture) string { return "/api/v1/enterprises/" + fx.eid + "/webhooks" },
		want: map[string]int{"admin": 200, "member": 403, "other": 404, "removed": 404, "anonymous": 401},
	},
	"POST /api/v1/enterprises/{enterprise_id}/webhooks": {
		path: func(fx *authzFixture) string { return "/api/v1/enterprises/" + fx.eid + "/webhooks" },
		body: func(*authzFixture, string) any {
			return map[string]any{"url": "http://127.0.0.1:9/hook", "events": []string{"order.paid"}}
		},
		want: map[string]int{"admin": 201, "member": 403, "other": 404, "removed": 404, "anonymous": 401},
	},
	"DELETE /api/v1/enterprises/{enterprise_id}/webhooks/{webhook_id}": {
		path: func(fx *authzFixture) string {
			return "/api/v1/enterprises/" + fx.eid + "/webhooks/" + fx.doomedWebhookID
		},
		want: map[string]int{"admin": 204, "member": 403, "other": 404, "removed": 404, "anonymous": 401},
	},
	"GET /api/v1/enterprises/{enterprise_id}/webhooks/{webhook_id}/deliveries": {
		path: func(fx *authzFixture) string {
			return "/api/v1/enterprises/" + fx.eid + "/webhooks/" + fx.webhookID + "/deliveries"
		},
		want: map[string]int{"admin": 200, "member": 403, "other": 404, "removed": 404, "anonymous": 401},
	},
	"POST /api/v1/enterprises/{enterprise_id}/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver": {
		path: func(fx *authzFixture) string {
			return "/api/v1/enterprises/" + fx.eid + "/webhooks/" + fx.webhookID + "/deliveries/none/redeliver"
		},
		want: map[string]int{"admin": 404, "member": 403, "other": 404, "removed": 404, "anonymous": 401},
	},
	// Seals: members see them, admins manage them.
	"GET /api/v1/enterprises/{enterprise_id}/seals": {
		path: func(fx *authzFixture) string { return "/api/v1/enterprises/" + fx.eid + "/seals" },
		want: map[string]int{"admin": 200, "member": 200, "other": 404, "removed": 404, "anonymous": 401},
	},
	"POST /api/v1/enterprises/{enterprise_id}/seals": {
		path: func(fx *authzFixture) string { return "/api/v1/enterprises/" + fx.eid + "/seals" },
		body: func(*authzFixture, string) any {
			return map[string]string{"type": "contract", "template": "round_star"}
		},
		want: map[string]int{"admin": 201, "member": 403, "other": 404, "removed": 404, "anonymous": 401},
	},
	"GET /api/v1/enterprises/{enterprise_id}/seals/{seal_id}": {
		path: func(fx *authzFixture) string { return "/api/v1/enterprises/" + fx.eid + "/seals/" + fx.sealID },
		want: map[string]int{"admin": 200, "member": 200, "other": 404, "removed": 404, "anonymous": 401},
	},
	"PUT /api/v1/enterprises/{enterprise_id}/seals/{seal_id}": {
		path: func(fx *authzFixture) string { return "/api/v1/enterprises/" + fx.eid + "/seals/" + fx.sealID },
		body: func(*authzFixture, string) any { return map[string]string{"name": "公章"} },
		want: map[string]int{"admin": 200, "member": 403, "other": 404, "removed": 404, "anonymous": 401},
	},
	"DELETE /api/v1/enterprises/{enterprise_id}/seals/{seal_id}": {
		path: func(fx *authzFixture) string { return "/api/v1/enterprises/" + fx.eid + "/seals/" + fx.doomedSealID },
		want: map[string]int{"admin": 204, "member": 403, "other": 404, "removed": 404, "anonymous": 401},
	},
	"GET /api/v1/enterprises/{enterprise_id}/seals/{seal_id}/image": {
		path: func(fx *authzFixture) string {
			return "/api/v1/enterprises/" + fx.eid + "/seals/" + fx.sealID + "/image"
		},
		want: map[string]int{"admin": 200, "member": 200, "other": 404, "removed": 404, "anonymous": 401},
	},
	"GET /api/v1/enterprises/{enterprise_id}/seals/{seal_id}/grants": {
		path: func(fx *authzFixture) string {
			return "/api/v1/enterprises/" + fx.eid + "/seals/" + fx.sealID + "/grants"
		},
		want: map[string]int{"admin": 200, "member": 403, "other": 404, "removed": 404, "anonymous": 401},
	},
	// The removed member cannot be granted: the admin passes authorization and is refused for that.
	"POST /api/v1/enterprises/{enterprise_id}/seals/{seal_id}/grants": {
		path: func(fx *authzFixture) string {
			return "/api/v1/enterprises/" + fx.eid + "/seals/" + fx.sealID + "/grants"
		},
		body: func(fx *authzFixture, _ string) any { return map[string]string{"member_id": fx.removedMemberID} },
		want: map[string]int{"admin": 422, "member": 403, "other": 404, "removed": 404, "anonymous": 401},
	},
	"DELETE /api/v1/enterprises/{enterprise_id}/seals/{seal_id}/grants/{grant_id}": {
		path: func(fx *authzFixture) string {
			return "/api/v1/enterprises/" + fx.eid + "/seals/" + fx.sealID + "/grants/" + fx.revokedGrantID
		},
		want: map[string]int{"admin": 409, "member": 403, "other": 404, "removed": 404, "anonymous": 401},
	},
	// Joining is the one enterprise-scoped route for non-members: members are refused as such.
	"POST /api/v1/enterprises/{enterprise_id}/join-requests": {
		path: func(fx *authzFixture) string { return "/api/v1/enterprises/" + fx.eid + "/join-requests" },
		want: map[string]int{"admin": 409, "member": 409, "other": 201, "removed": 201, "anonymous": 401},
	},
}

// TestEnterpriseScopedAuthorization walks every enterprise-scoped route as an admin, a plain
// member, a member of another enterprise, a removed member and without a token.
func TestEnterpriseScopedAuthorization(t *testing.T) {
	s := start(t, "")
	fx := s.fixtures()
	admin := s.verifiedUser("13400000001", "甲管理", idNumber(t, "440106", "19800606", "401"))
	eid := s.verifiedEnterprise(admin, fx[0])
	otherAdmin := s.verifiedUser("13400000002", "乙管理", idNumber(t, "440106", "19800707", "402"))
	s.verifiedEnterprise(otherAdmin, fx[1])
	member := s.verifiedUser("13400000003", "丙成员", idNumber(t, "440106", "19800808", "403"))
	removed := s.verifiedUser("13400000004", "丁离开", idNumber(t, "440106", "19800909", "404"))
	for _, tok := range []string{member, removed} {
		s.do("POST", "/api/v1/enterprises/"+eid+"/join-requests", tok, nil).expect(t, 201, "")
	}
	pending := s.memberIDs(admin, eid, "pending")
	for _, id := range pending {
		s.do("POST", "/api/v1/enterprises/"+eid+"/members/"+id+"/approve", admin, nil).expect(t, 200, "")
	}
	s.do("DELETE", "/api/v1/enterprises/"+eid+"/members/"+pending["丁离开"], admin, nil).expect(t, 204, "")
	s.eventually("organisation certificate", func() bool {
		st, _, _ := s.get("/api/v1/enterprises/"+eid+"/certificate", admin, "")
		return st == 200
	})
	f := &authzFixture{eid: eid, adminMemberID: s.memberIDs(admin, eid, "active")["甲管理"], removedMemberID: pending["丁离开"]}
	f.sealID = s.officialSeal(admin, eid)
	f.doomedSealID = s.do("POST", "/api/v1/enterprises/"+eid+"/seals", admin, map[string]string{"type": "hr", "template": "oval"}).
		expect(t, 201, "").str("id")
	f.revokedGrantID = s.do("POST", "/api/v1/enterprises/"+eid+"/seals/"+f.sealID+"/grants", admin,
		map[string]string{"member_id": f.adminMemberID}).expect(t, 201, "").str("id")
	s.do("DELETE", "/api/v1/enterprises/"+eid+"/seals/"+f.sealID+"/grants/"+f.revokedGrantID, admin, nil).expect(t, 204, "")
	for _, id := range []*string{&f.webhookID, &f.doomedWebhookID} {
		*id = s.do("POST", "/api/v1/enterprises/"+eid+"/webhooks", admin, map[string]any{"url": "http://127.0.0.1:9/hook",
			"events": []string{"*"}}).expect(t, 201, "").str("id")
	}
	callers := map[string]string{"admin": admin, "member": member, "other": otherAdmin, "removed": removed, "anonymous": ""}

	seen := 0
	for _, rt := range s.rt.HTTP.Routes() {
		if !strings.HasPrefix(rt.Pattern, "/api/v1/enterprises/{enterprise_id}") {
			continue
		}
		key := rt.Method + " " + rt.Pattern
		c, ok := authzTable[key]
		if !ok {
			t.Errorf("%s is enterprise-scoped but has no entry in authzTable: add one", key)
			continue
		}
		seen++
		for _, who := range []string{"anonymous", "other", "removed", "member", "admin"} {
			var body any
			if c.body != nil {
				body = c.body(f, who)
			}
			st, _, raw := s.try(rt.Method, c.path(f), callers[who], body)
			if st != c.want[who] {
				t.Errorf("%s as %s: %d, want %d: %s", key, who, st, c.want[who], raw)
			}
		}
	}
	if seen != len(authzTable) {
		t.Errorf("authzTable has %d entries but %d enterprise-scoped routes are registered", len(authzTable), seen)
	}
}
