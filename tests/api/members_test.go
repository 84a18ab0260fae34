package api

import (
	"net/url"
	"strings"
	"testing"
)

// verifiedEnterprise has a verified user (operator) verify fixture f by bank transfer and returns
// the enterprise id. The operator becomes admin; the legal rep becomes legal_rep if registered.
func (s *server) verifiedEnterprise(opToken string, f registryFixture) string {
	s.t.Helper()
	id := s.startVerification(opToken, f, f.repPhone).expect(s.t, 201, "").str("id")
	s.do("POST", "/api/v1/enterprise-verifications/"+id+"/bank-transfer", opToken, map[string]string{
		"account_number": "6222021234567890", "bank_name": "中国银行", "bank_province": "广东省"}).expect(s.t, 202, "")
	amount := s.remitted(opToken, id)
	scan := s.upload(opToken, "authorization_letter_scan", "l.gif", gifBytes(s.t)).expect(s.t, 201, "").str("file_id")
	return s.do("POST", "/api/v1/enterprise-verifications/"+id+"/bank-transfer/confirm", opToken,
		map[string]any{"amount_fen": amount, "authorization_letter_file_id": scan}).expect(s.t, 200, "").str("enterprise_id")
}

func (s *server) memberIDs(token, eid, status string) map[string]string {
	s.t.Helper()
	r := s.do("GET", "/api/v1/enterprises/"+eid+"/members?status="+status, token, nil).expect(s.t, 200, "")
	out := map[string]string{}
	for _, it := range r.body["items"].([]any) {
		m := it.(map[string]any)
		out[fmtAny(m["name"])] = fmtAny(m["id"])
	}
	return out
}

func (s *server) enterpriseCount(token string) int {
	s.t.Helper()
	return len(s.do("GET", "/api/v1/enterprises", token, nil).expect(s.t, 200, "").body["items"].([]any))
}

// Manual §5.3 and §5.4: join, approve, reject, add by phone before registering, remove.
func TestMembersFlow(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *server) {
		f := s.fixtures()[0]
		admin := s.verifiedUser("13100000001", "管理员", idNumber(t, "440106", "19800101", "101"))
		eid := s.verifiedEnterprise(admin, f)

		// A second user finds the enterprise by its full name and applies.
		bob := s.verifiedUser("13100000002", "鲍勃", idNumber(t, "440106", "19810101", "102"))
		found := s.do("GET", "/api/v1/enterprises/search?name="+url.QueryEscape(f.name), bob, nil).expect(t, 200, "")
		if items := found.body["items"].([]any); len(items) != 1 || items[0].(map[string]any)["id"] != eid {
			t.Fatalf("search %s", found.raw)
		}
		if items := s.do("GET", "/api/v1/enterprises/search?name="+url.QueryEscape(f.name[:6]), bob, nil).body["items"].([]any); len(items) != 0 {
			t.Fatal("search matched a partial name")
		}
		s.do("POST", "/api/v1/enterprises/"+eid+"/join-requests", bob, nil).expect(t, 201, "")
		s.do("POST", "/api/v1/enterprises/"+eid+"/join-requests", bob, nil).expect(t, 409, "join-request-pending")
		if s.enterpriseCount(bob) != 0 {
			t.Fatal("a pending applicant sees the enterprise")
		}
		s.do("GET", "/api/v1/enterprises/"+eid, bob, nil).expect(t, 404, "enterprise-not-found")
		// The admin sees the request and approves it; the applicant is told by SMS.
		pending := s.memberIDs(admin, eid, "pending")
		bobID := pending["鲍勃"]
		if bobID == "" {
			t.Fatalf("pending %v", pending)
		}
		r := s.do("POST", "/api/v1/enterprises/"+eid+"/members/"+bobID+"/approve", admin, nil).expect(t, 200, "")
		if r.str("status") != "active" || r.body["certificate_authorized"] != true || r.str("phone") != "131****0002" {
			t.Fatalf("approve %s", r.raw)
		}
		if s.enterpriseCount(bob) != 1 {
			t.Fatal("the approved member does not see the enterprise")
		}
		s.eventually("approval SMS", func() bool {
			return strings.Contains(fmtAny(s.do("GET", "/api/v1/sandbox/sms?phone=13100000002", "", nil).body["items"]), "申请已通过")
		})
		// A plain member sees active members only.
		s.do("GET", "/api/v1/enterprises/"+eid+"/members?status=pending", bob, nil).expect(t, 403, "admin-only")
		if got := s.memberIDs(bob, eid, ""); len(got) != 2 {
			t.Fatalf("member view %v", got)
		}
		s.do("POST", "/api/v1/enterprises/"+eid+"/members/"+bobID+"/approve", bob, nil).expect(t, 403, "admin-only")

		// A third request is rejected and shows under rejected.
		carol := s.verifiedUser("13100000003", "卡罗", idNumber(t, "440106", "19820101", "103"))
		s.do("POST", "/api/v1/enterprises/"+eid+"/join-requests", carol, nil).expect(t, 201, "")
		carolID := s.memberIDs(admin, eid, "pending")["卡罗"]
		s.do("POST", "/api/v1/enterprises/"+eid+"/members/"+carolID+"/reject", admin, nil).expect(t, 200, "")
		if s.memberIDs(admin, eid, "rejected")["卡罗"] != carolID || s.enterpriseCount(carol) != 0 {
			t.Fatal("rejected request not listed or granted access")
		}
		s.do("POST", "/api/v1/enterprises/"+eid+"/members/"+carolID+"/approve", admin, nil).expect(t, 409, "member-not-pending")

		// A member added by phone before registering becomes active after registering and
		// verifying the same name.
		add := s.do("POST", "/api/v1/enterprises/"+eid+"/members", admin, map[string]string{"name": "孙七", "phone": "13100000004", "role": "member"}).expect(t, 201, "")
		if add.str("status") != "invited" {
			t.Fatalf("add %s", add.raw)
		}
		s.do("POST", "/api/v1/enterprises/"+eid+"/members", admin, map[string]string{"name": "孙七", "phone": "13100000004", "role": "member"}).expect(t, 409, "already-invited")
		s.do("POST", "/api/v1/enterprises/"+eid+"/members", admin, map[string]string{"name": "孙七", "phone": "13100000005", "role": "legal_rep"}).expect(t, 422, "role-not-assignable")
		s.eventually("invitation SMS", func() bool {
			return strings.Contains(fmtAny(s.do("GET", "/api/v1/sandbox/sms?phone=13100000004", "", nil).body["items"]), "邀请您加入企业")
		})
		sun := s.verifiedUser("13100000004", "孙七", idNumber(t, "440106", "19830101", "104"))
		s.eventually("invitation activated", func() bool { return s.enterpriseCount(sun) == 1 })
		if s.memberIDs(admin, eid, "active")["孙七"] != add.str("id") {
			t.Fatal("the invited membership is not the active one")
		}
		// Adding a verified user with the right name is active at once.
		dave := s.verifiedUser("13100000006", "戴夫", idNumber(t, "440106", "19840101", "106"))
		added := s.do("POST", "/api/v1/enterprises/"+eid+"/members", admin, map[string]string{"name": "戴夫", "phone": "13100000006", "role": "admin"}).expect(t, 201, "")
		if added.str("status") != "active" || added.str("role") != "admin" || s.enterpriseCount(dave) != 1 {
			t.Fatalf("added %s", added.raw)
		}
		s.do("POST", "/api/v1/enterprises/"+eid+"/join-requests", dave, nil).expect(t, 409, "already-member")

		// Removing a member revokes the certificate authorization; the next request is refused.
		s.do("DELETE", "/api/v1/enterprises/"+eid+"/members/"+bobID, admin, nil).expect(t, 204, "")
		detail := s.do("GET", "/api/v1/enterprises/"+eid+"/members/"+bobID, admin, nil).expect(t, 200, "")
		if detail.str("status") != "removed" || detail.body["certificate_authorized"] != false || detail.str("certificate_authorization_revoked_at") == "" {
			t.Fatalf("removed detail %s", detail.raw)
		}
		s.do("GET", "/api/v1/enterprises/"+eid, bob, nil).expect(t, 404, "enterprise-not-found")
		s.do("GET", "/api/v1/enterprises/"+eid+"/members", bob, nil).expect(t, 404, "enterprise-not-found")
		if s.enterpriseCount(bob) != 0 {
			t.Fatal("a removed member still lists the enterprise")
		}
		s.do("DELETE", "/api/v1/enterprises/"+eid+"/members/"+bobID, admin, nil).expect(t, 409, "member-not-active")
		// The unverified cannot apply.
		plain := s.login("13100000007")
		s.do("POST", "/api/v1/enterprises/"+eid+"/join-requests", plain, nil).expect(t, 403, "real-name-required")
		// Another enterprise's ids are not found.
		s.do("GET", "/api/v1/enterprises/"+eid+"/members/nope", admin, nil).expect(t, 404, "member-not-found")
	})
}

func TestMemberRemovalRules(t *testing.T) {
	s := start(t, "")
	fx := s.fixtures()
	// The legal rep has an account: it becomes a legal_rep member and cannot be removed.
	f := fx[1]
	rep := s.verifiedUser(f.repPhone, f.rep, f.repID)
	admin := s.verifiedUser("13200000001", "王管理", idNumber(t, "440106", "19800202", "201"))
	eid := s.verifiedEnterprise(admin, f)
	ids := s.memberIDs(admin, eid, "active")
	s.do("DELETE", "/api/v1/enterprises/"+eid+"/members/"+ids[f.rep], admin, nil).expect(t, 422, "cannot-remove-legal-rep")
	// With the legal rep there, the admin may leave.
	s.do("DELETE", "/api/v1/enterprises/"+eid+"/members/"+ids["王管理"], admin, nil).expect(t, 204, "")
	if s.enterpriseCount(rep) != 1 {
		t.Fatal("the legal rep lost access")
	}
	// Without a legal rep account, the only admin cannot remove itself.
	g := fx[2]
	admin2 := s.verifiedUser("13200000002", "李管理", idNumber(t, "440106", "19800303", "202"))
	eid2 := s.verifiedEnterprise(admin2, g)
	s.do("DELETE", "/api/v1/enterprises/"+eid2+"/members/"+s.memberIDs(admin2, eid2, "active")["李管理"], admin2, nil).expect(t, 422, "cannot-remove-last-admin")
}

func TestBatchDecisions(t *testing.T) {
	s := start(t, "")
	fx := s.fixtures()
	admin := s.verifiedUser("13300000001", "批管理", idNumber(t, "440106", "19800404", "301"))
	eid := s.verifiedEnterprise(admin, fx[3])
	other := s.verifiedUser("13300000002", "他管理", idNumber(t, "440106", "19800505", "302"))
	eid2 := s.verifiedEnterprise(other, fx[4])
	var ids []string
	for i := range 4 {
		tok := s.verifiedUser("1330000010"+string(rune('0'+i)), "申请"+string([]rune("甲乙丙丁")[i]), idNumber(t, "440106", "19900101", "31"+string(rune('0'+i))))
		s.do("POST", "/api/v1/enterprises/"+eid+"/join-requests", tok, nil).expect(t, 201, "")
		if i == 3 { // one also applies to the other enterprise
			s.do("POST", "/api/v1/enterprises/"+eid2+"/join-requests", tok, nil).expect(t, 201, "")
		}
	}
	for _, id := range s.memberIDs(admin, eid, "pending") {
		ids = append(ids, id)
	}
	foreign := s.memberIDs(other, eid2, "pending")["申请丁"]
	self := s.memberIDs(admin, eid, "active")["批管理"]
	r := s.do("POST", "/api/v1/enterprises/"+eid+"/members/batch", admin, map[string]any{
		"member_ids": append(append([]string{}, ids...), foreign, self, "nope"), "decision": "approve"}).expect(t, 200, "")
	results := r.body["results"].([]any)
	if len(results) != len(ids)+3 {
		t.Fatalf("results %s", r.raw)
	}
	for i, it := range results {
		m := it.(map[string]any)
		switch {
		case i < len(ids):
			if m["status"] != "active" || m["error"] != nil {
				t.Fatalf("item %d: %v", i, m)
			}
		case i == len(ids) || i == len(ids)+2: // another enterprise's request, an unknown id
			if e, _ := m["error"].(map[string]any); e == nil || e["code"] != "member-not-found" {
				t.Fatalf("item %d: %v", i, m)
			}
		default: // an active member is not pending
			if e, _ := m["error"].(map[string]any); e == nil || e["code"] != "member-not-pending" {
				t.Fatalf("item %d: %v", i, m)
			}
		}
	}
	if len(s.memberIDs(admin, eid, "active")) != 1+len(ids) || s.memberIDs(other, eid2, "pending")["申请丁"] != foreign {
		t.Fatal("batch changed the wrong memberships")
	}
	s.do("POST", "/api/v1/enterprises/"+eid+"/members/batch", admin, map[string]any{"member_ids": []string{}, "decision": "approve"}).expect(t, 422, "batch-size-invalid")
	s.do("POST", "/api/v1/enterprises/"+eid+"/members/batch", admin, map[string]any{"member_ids": ids, "decision": "maybe"}).expect(t, 422, "decision-invalid")
}
