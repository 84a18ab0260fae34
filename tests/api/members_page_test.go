package api

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// membersPage is one GET …/members answer: the ids in order, the masked phones and the cursor.
type membersPage struct {
	ids, phones []string
	next        string
	hasNext     bool
}

func (s *server) membersPage(t *testing.T, token, eid, query string) membersPage {
	t.Helper()
	r := s.do("GET", "/api/v1/enterprises/"+eid+"/members"+query, token, nil).expect(t, 200, "")
	var p membersPage
	for _, it := range r.body["items"].([]any) {
		m := it.(map[string]any)
		p.ids = append(p.ids, fmtAny(m["id"]))
		p.phones = append(p.phones, fmtAny(m["phone"]))
	}
	if v, ok := r.body["next_before"]; ok {
		p.next, p.hasNext = fmtAny(v), true
	}
	return p
}

// pageAll follows next_before from the first page and returns every id in order.
func (s *server) pageAll(t *testing.T, token, eid, query string, limit int) ([]string, int) {
	t.Helper()
	var ids []string
	before := ""
	for pages := 1; ; pages++ {
		q := fmt.Sprintf("?limit=%d%s", limit, query)
		if before != "" {
			q += "&before=" + url.QueryEscape(before)
		}
		p := s.membersPage(t, token, eid, q)
		if len(p.ids) > limit {
			t.Fatalf("page of %d, limit %d", len(p.ids), limit)
		}
		for _, ph := range p.phones {
			if !strings.Contains(ph, "****") {
				t.Fatalf("phone %q not masked", ph)
			}
		}
		ids = append(ids, p.ids...)
		if p.hasNext != (len(p.ids) == limit) {
			t.Fatalf("page %d: %d items, next_before present %v", pages, len(p.ids), p.hasNext)
		}
		if !p.hasNext {
			return ids, pages
		}
		if p.next != p.ids[len(p.ids)-1] {
			t.Fatalf("next_before %q is not the page's last id %q", p.next, p.ids[len(p.ids)-1])
		}
		before = p.next
	}
}

// The members list pages with before/limit/next_before as the orders list does: admins page
// through every state, plain members through the active ones only.
func TestMembersPagination(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *server) {
		f := s.fixtures()[0]
		admin := s.verifiedUser("13100000001", "管理员", idNumber(t, "440106", "19800101", "101"))
		eid := s.verifiedEnterprise(admin, f)
		dave := s.verifiedUser("13100000006", "戴夫", idNumber(t, "440106", "19840101", "106"))
		s.do("POST", "/api/v1/enterprises/"+eid+"/members", admin, map[string]string{"name": "戴夫", "phone": "13100000006", "role": "member"}).expect(t, 201, "")
		for i := range 10 {
			s.do("POST", "/api/v1/enterprises/"+eid+"/members", admin,
				map[string]string{"name": "邀请" + string(rune('甲'+i)), "phone": fmt.Sprintf("1320000%04d", i), "role": "member"}).expect(t, 201, "")
		}
		// 12 memberships: the admin, dave (active), 10 invited.
		all := s.membersPage(t, admin, eid, "")
		if len(all.ids) != 12 || all.hasNext {
			t.Fatalf("default page: %d items, next_before %v", len(all.ids), all.hasNext)
		}
		if !slices.IsSortedFunc(all.ids, func(a, b string) int { return strings.Compare(b, a) }) {
			t.Fatalf("not newest first: %v", all.ids)
		}
		for _, limit := range []int{1, 5, 6, 12, 200} {
			ids, pages := s.pageAll(t, admin, eid, "", limit)
			if !slices.Equal(ids, all.ids) {
				t.Fatalf("limit %d: paged %v, want %v", limit, ids, all.ids)
			}
			if want := 12/limit + 1; pages != want {
				t.Fatalf("limit %d: %d pages, want %d", limit, pages, want)
			}
		}
		if ids, _ := s.pageAll(t, admin, eid, "&status=invited", 4); len(ids) != 10 {
			t.Fatalf("invited: %d", len(ids))
		}
		// A plain member pages through the active ones and may not ask for others.
		if ids, _ := s.pageAll(t, dave, eid, "", 1); len(ids) != 2 {
			t.Fatalf("a member sees %d memberships, want the 2 active", len(ids))
		}
		s.do("GET", "/api/v1/enterprises/"+eid+"/members?limit=5&status=invited", dave, nil).expect(t, 403, "admin-only")
		// Bad paging input is a 422 with a stable code.
		for _, q := range []string{"limit=0", "limit=201", "limit=x", "limit=-1"} {
			s.do("GET", "/api/v1/enterprises/"+eid+"/members?"+q, admin, nil).expect(t, 422, "limit-invalid")
		}
		s.do("GET", "/api/v1/enterprises/"+eid+"/members?before=%00", admin, nil).expect(t, 422, "")
	})
}
