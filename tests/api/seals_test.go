package api

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"testing"
)

// officialSeal waits for the enterprise's automatic official seal and returns its id.
func (s *server) officialSeal(token, eid string) string {
	s.t.Helper()
	var id string
	s.eventually("the automatic official seal", func() bool {
		st, _, _ := s.try("GET", "/api/v1/enterprises/"+eid+"/seals", token, nil)
		if st != 200 {
			return false
		}
		items, _ := s.do("GET", "/api/v1/enterprises/"+eid+"/seals", token, nil).body["items"].([]any)
		for _, it := range items {
			m := it.(map[string]any)
			if m["automatic"] == true && m["type"] == "official" {
				id = fmtAny(m["id"])
				return true
			}
		}
		return false
	})
	return id
}

// sealPNG is a red ring on a transparent background (opaque: on white).
func sealPNG(t *testing.T, opaque bool) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, 300, 300))
	for y := 0; y < 300; y++ {
		for x := 0; x < 300; x++ {
			dx, dy := x-150, y-150
			switch d := dx*dx + dy*dy; {
			case d < 140*140 && d > 125*125:
				img.Set(x, y, color.NRGBA{220, 20, 20, 255})
			case opaque:
				img.Set(x, y, color.White)
			}
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func grantStates(s *server, token, eid, sealID string) map[string]string {
	s.t.Helper()
	r := s.do("GET", "/api/v1/enterprises/"+eid+"/seals/"+sealID+"/grants", token, nil).expect(s.t, 200, "")
	out := map[string]string{}
	for _, it := range r.body["items"].([]any) {
		m := it.(map[string]any)
		out[fmtAny(m["member_id"])] = fmtAny(m["state"]) + "/" + fmtAny(m["revoke_reason"])
	}
	return out
}

// 印章管理: the automatic official seal, template and uploaded seals, grants, removal of a member.
func TestSeals(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *server) {
		fx := s.fixtures()
		admin := s.verifiedUser("13500000001", "甲管理", idNumber(t, "440106", "19800606", "501"))
		eid := s.verifiedEnterprise(admin, fx[0])
		member := s.verifiedUser("13500000003", "丙成员", idNumber(t, "440106", "19800808", "503"))
		s.do("POST", "/api/v1/enterprises/"+eid+"/join-requests", member, nil).expect(t, 201, "")
		mid := s.memberIDs(admin, eid, "pending")["丙成员"]
		s.do("POST", "/api/v1/enterprises/"+eid+"/members/"+mid+"/approve", admin, nil).expect(t, 200, "")
		base := "/api/v1/enterprises/" + eid + "/seals"

		// The verified enterprise got its round official seal: a 42 mm, 300 dpi transparent PNG.
		official := s.officialSeal(admin, eid)
		st, h, raw := s.get(base+"/"+official+"/image", member, "")
		if st != 200 || h.Get("Content-Type") != "image/png" {
			t.Fatalf("image: %d %s", st, h.Get("Content-Type"))
		}
		img, err := png.Decode(bytes.NewReader(raw))
		if err != nil || img.Bounds().Dx() != 496 || img.Bounds().Dy() != 496 {
			t.Fatalf("official seal image %v %v", img.Bounds(), err)
		}
		if _, _, _, a := img.At(0, 0).RGBA(); a != 0 {
			t.Fatal("the seal's corner is not transparent")
		}
		if r, _, _, a := img.At(248, 248).RGBA(); a < 0xC000 || r < 0xA000 {
			t.Fatal("no red star in the centre")
		}

		// A template seal and an uploaded one; a plain member may not make seals.
		s.do("POST", base, member, map[string]string{"type": "contract", "template": "round_star"}).expect(t, 403, "admin-only")
		contract := s.do("POST", base, admin, map[string]string{"type": "contract", "template": "round_star"}).expect(t, 201, "")
		if contract.str("name") != "合同专用章" || contract.str("status") != "active" || contract.str("source") != "template" ||
			contract.str("image_url") != base+"/"+contract.str("id")+"/image" {
			t.Fatalf("contract seal %s", contract.raw)
		}
		s.do("POST", base, admin, map[string]any{"type": "finance", "template": "oval", "file_id": "x"}).expect(t, 422, "seal-source-invalid")
		s.do("POST", base, admin, map[string]any{"type": "stamp", "template": "oval"}).expect(t, 422, "seal-type-invalid")
		opaque := s.upload(admin, "seal", "s.png", sealPNG(t, true)).expect(t, 201, "").str("file_id")
		s.do("POST", base, admin, map[string]string{"type": "finance", "file_id": opaque}).expect(t, 422, "seal-image-not-transparent")
		sig := s.upload(admin, "signature", "s.png", sealPNG(t, false)).expect(t, 201, "").str("file_id")
		s.do("POST", base, admin, map[string]string{"type": "finance", "file_id": sig}).expect(t, 422, "file-purpose-mismatch")
		mine := s.upload(member, "seal", "s.png", sealPNG(t, false)).expect(t, 201, "").str("file_id")
		s.do("POST", base, admin, map[string]string{"type": "finance", "file_id": mine}).expect(t, 404, "file-not-found")
		good := s.upload(admin, "seal", "s.png", sealPNG(t, false)).expect(t, 201, "").str("file_id")
		uploaded := s.do("POST", base, admin, map[string]string{"type": "finance", "file_id": good, "name": "财务章"}).expect(t, 201, "")
		if uploaded.str("source") != "upload" || uploaded.str("name") != "财务章" {
			t.Fatalf("uploaded seal %s", uploaded.raw)
		}
		if st, _, got := s.get(base+"/"+uploaded.str("id")+"/image", admin, ""); st != 200 || !bytes.Equal(got, sealPNG(t, false)) {
			t.Fatalf("uploaded image: %d", st)
		}

		// The list pages with a cursor.
		page := s.do("GET", base+"?limit=2", member, nil).expect(t, 200, "")
		if items := page.body["items"].([]any); len(items) != 2 || page.str("next_cursor") == "" {
			t.Fatalf("page 1 %s", page.raw)
		}
		page = s.do("GET", base+"?limit=2&cursor="+page.str("next_cursor"), member, nil).expect(t, 200, "")
		if items := page.body["items"].([]any); len(items) != 1 || page.str("next_cursor") != "" {
			t.Fatalf("page 2 %s", page.raw)
		}

		// Grants: to an active member; once; visible to admins only.
		cid := contract.str("id")
		g := s.do("POST", base+"/"+cid+"/grants", admin, map[string]string{"member_id": mid, "expires_at": "2099-01-01T00:00:00Z"}).expect(t, 201, "")
		if g.str("state") != "active" || g.str("member_id") != mid || g.str("expires_at") != "2099-01-01T00:00:00Z" {
			t.Fatalf("grant %s", g.raw)
		}
		s.do("POST", base+"/"+cid+"/grants", admin, map[string]string{"member_id": mid}).expect(t, 409, "seal-grant-exists")
		s.do("POST", base+"/"+official+"/grants", admin, map[string]string{"member_id": mid, "expires_at": "2001-01-01T00:00:00Z"}).
			expect(t, 422, "seal-grant-expiry-invalid")
		s.do("POST", base+"/"+official+"/grants", admin, map[string]string{"member_id": "nope"}).expect(t, 404, "member-not-found")
		s.do("POST", base+"/"+official+"/grants", admin, map[string]string{"member_id": mid}).expect(t, 201, "")
		s.do("GET", base+"/"+cid+"/grants", member, nil).expect(t, 403, "admin-only")
		// Revoke one at once; revoking again is a conflict.
		s.do("DELETE", base+"/"+cid+"/grants/"+g.str("id"), admin, nil).expect(t, 204, "")
		s.do("DELETE", base+"/"+cid+"/grants/"+g.str("id"), admin, nil).expect(t, 409, "seal-grant-revoked")
		if got := grantStates(s, admin, eid, cid); got[mid] != "revoked/revoked" {
			t.Fatalf("after revoke %v", got)
		}
		s.do("POST", base+"/"+cid+"/grants", admin, map[string]string{"member_id": mid}).expect(t, 201, "")

		// Removing the member revokes its grants on every seal at once (same transaction).
		s.do("DELETE", "/api/v1/enterprises/"+eid+"/members/"+mid, admin, nil).expect(t, 204, "")
		for _, id := range []string{cid, official} {
			for m, st := range grantStates(s, admin, eid, id) {
				if m == mid && st != "revoked/member_removed" && st != "revoked/revoked" {
					t.Fatalf("seal %s: the removed member's grant is %s", id, st)
				}
			}
		}
		if got := grantStates(s, admin, eid, official); got[mid] != "revoked/member_removed" {
			t.Fatalf("official seal grants after removal %v", got)
		}
		s.do("GET", base, member, nil).expect(t, 404, "enterprise-not-found")

		// Disable, enable, rename; delete a never-used seal; another enterprise's seal is 404.
		s.do("PUT", base+"/"+cid, admin, map[string]string{"status": "disabled"}).expect(t, 200, "")
		if s.do("GET", base+"/"+cid, admin, nil).expect(t, 200, "").str("status") != "disabled" {
			t.Fatal("not disabled")
		}
		s.do("PUT", base+"/"+cid, admin, map[string]string{"status": "deleted"}).expect(t, 422, "seal-status-invalid")
		s.do("PUT", base+"/"+cid, admin, map[string]string{}).expect(t, 422, "seal-update-empty")
		s.do("PUT", base+"/"+cid, admin, map[string]string{"status": "active", "name": "合同章"}).expect(t, 200, "")
		s.do("DELETE", base+"/"+uploaded.str("id"), admin, nil).expect(t, 204, "")
		s.do("GET", base+"/"+uploaded.str("id"), admin, nil).expect(t, 404, "seal-not-found")

		other := s.verifiedUser("13500000002", "乙管理", idNumber(t, "440106", "19800707", "502"))
		oid := s.verifiedEnterprise(other, fx[1])
		otherSeal := s.officialSeal(other, oid)
		s.do("GET", base+"/"+otherSeal, admin, nil).expect(t, 404, "seal-not-found")
		s.do("GET", "/api/v1/enterprises/"+oid+"/seals/"+otherSeal, admin, nil).expect(t, 404, "enterprise-not-found")
		s.do("PUT", base+"/"+otherSeal, admin, map[string]string{"status": "disabled"}).expect(t, 404, "seal-not-found")
	})
}
