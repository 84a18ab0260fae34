package contract

import (
	"context"
	"strings"
	"testing"

	"github.com/shuxinqian/server/adapters/identity"
	"github.com/shuxinqian/server/adapters/tencentcloud"
	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/ports"
)

// idcAdapter is one IdentityVerifier under the contract.
type idcAdapter struct {
	name string
	v    ports.IdentityVerifier
}

// idcAdapters returns the sandbox verifier and the Tencent Cloud verifier talking to the fake
// API, whose "authority" holds the same records as the sandbox's fixtures.
func idcAdapters(t *testing.T) []idcAdapter {
	fake := tencentcloud.NewFakeServer(t)
	fake.OnIDCard(func(name, id string) string { return idcAuthority(name, id) })
	fake.OnPhone(func(name, id, phone string) string {
		if idcAuthority(name, id) != "0" {
			return "-4" // the carrier's record is somebody else's
		}
		for _, p := range identity.SandboxPhoneRejected {
			if string(p.Phone) == phone {
				return map[string]string{identity.ReasonPhoneNotOwned: "-4", identity.ReasonPhoneNoRealName: "-5"}[p.Reason]
			}
		}
		return "0"
	})
	tc, err := tencentcloud.NewIdentityVerifier(fake.Config())
	if err != nil {
		t.Fatal(err)
	}
	return []idcAdapter{{name: "sandbox", v: identity.NewSandboxVerifier()}, {name: "tencentcloud", v: tc}}
}

// idcAuthority answers IdCardVerification codes from the sandbox's fixtures.
func idcAuthority(name, id string) string {
	for _, f := range identity.SandboxRejected {
		if f.Name == name || string(f.IDNumber) == id {
			return map[string]string{identity.ReasonMismatch: "-1", identity.ReasonNoRecord: "-5"}[f.Reason]
		}
	}
	if strings.Contains(name, "假") {
		return "-1"
	}
	return "0"
}

func TestIdentityVerifierContract(t *testing.T) {
	const name, id, phone = "韦小宝", kernel.IDNumber("11010519491231002X"), kernel.Phone("13800138000")
	for _, a := range idcAdapters(t) {
		t.Run(a.name, func(t *testing.T) {
			ctx := context.Background()
			refs := map[string]bool{}
			check := func(what string, got ports.IdentityCheck, err error, reason string) {
				t.Helper()
				if err != nil {
					t.Fatalf("%s: %v", what, err)
				}
				if got.Match != (reason == "") || got.Reason != reason {
					t.Errorf("%s = %+v, want reason %q", what, got, reason)
				}
				if got.Reference == "" || refs[got.Reference] {
					t.Errorf("%s: reference %q is empty or repeated", what, got.Reference)
				}
				refs[got.Reference] = true
				for _, personal := range []string{name, string(id), string(phone)} {
					if strings.Contains(got.Reason, personal) {
						t.Errorf("%s: reason %q quotes personal data", what, got.Reason)
					}
				}
			}

			res, err := a.v.VerifyID2(ctx, name, id)
			check("id2 match", res, err, "")
			for _, f := range identity.SandboxRejected {
				res, err := a.v.VerifyID2(ctx, f.Name, f.IDNumber)
				check("id2 "+f.Name, res, err, f.Reason)
				res, err = a.v.VerifyID2(ctx, name, f.IDNumber)
				check("id2 fixture ID with another name", res, err, f.Reason)
			}
			res, err = a.v.VerifyID2(ctx, "假"+name, id)
			check("id2 fake name", res, err, identity.ReasonMismatch)
			res, err = a.v.VerifyID2(ctx, name, "110105194912310021") // wrong check character
			check("id2 bad checksum", res, err, identity.ReasonInvalidID)
			res, err = a.v.VerifyID2(ctx, "", id)
			check("id2 no name", res, err, identity.ReasonInvalidName)

			res, err = a.v.VerifyID3(ctx, name, id, phone)
			check("id3 match", res, err, "")
			for _, p := range identity.SandboxPhoneRejected {
				res, err := a.v.VerifyID3(ctx, name, id, p.Phone)
				check("id3 "+p.Phone.String(), res, err, p.Reason)
			}
			f := identity.SandboxRejected[0]
			if res, err := a.v.VerifyID3(ctx, f.Name, f.IDNumber, phone); err != nil || res.Match || res.Reason == "" {
				t.Errorf("id3 with a rejected identity: %+v, %v", res, err)
			}
		})
	}
}
