package identity_test

import (
	"context"
	"testing"
	"time"

	"github.com/shuxinqian/server/adapters/identity"
	"github.com/shuxinqian/server/domain/kernel"
)

func TestSandboxFixturesAreValidIDNumbers(t *testing.T) {
	if len(identity.SandboxRejected) < 3 {
		t.Fatalf("only %d fixtures", len(identity.SandboxRejected))
	}
	for _, f := range identity.SandboxRejected {
		if id, err := kernel.ParseIDNumber(f.IDNumber.String(), time.Now()); err != nil || id != f.IDNumber {
			t.Errorf("fixture %s: %v", f.Name, err)
		}
		if f.Reason == "" {
			t.Errorf("fixture %s has no reason", f.Name)
		}
	}
	for _, p := range identity.SandboxPhoneRejected {
		if got, err := kernel.ParsePhone(p.Phone.String()); err != nil || got != p.Phone {
			t.Errorf("phone fixture %s: %v", p.Phone, err)
		}
	}
}

func TestSandboxVerifierID2(t *testing.T) {
	v := identity.NewSandboxVerifier()
	ctx := context.Background()
	cases := []struct {
		name   string
		id     kernel.IDNumber
		reason string // empty: match
	}{
		{"韦小宝", "11010519491231002X", ""},
		{" 韦小宝 ", "11010519491231002X", ""},
		{"王不符", "11010519491231002X", identity.ReasonMismatch}, // a fixture name fails with any ID
		{"韦小宝", "110101199003070011", identity.ReasonMismatch}, // a fixture ID fails with any name
		{"王不符", "110101199003070011", identity.ReasonMismatch},
		{"李冒名", "310104198511200021", identity.ReasonMismatch},
		{"赵无档", "510107199202280049", identity.ReasonNoRecord},
		{"假名字", "11010519491231002X", identity.ReasonMismatch},
		{"韦小宝", "110105194912310021", identity.ReasonInvalidID}, // wrong check character
		{"韦小宝", "11010519491231002x", identity.ReasonInvalidID}, // not canonical
		{"韦小宝", "", identity.ReasonInvalidID},
		{"", "11010519491231002X", identity.ReasonInvalidName},
		{"韦小宝9", "11010519491231002X", identity.ReasonInvalidName},
	}
	seen := map[string]bool{}
	for _, tc := range cases {
		res, err := v.VerifyID2(ctx, tc.name, tc.id)
		if err != nil {
			t.Fatal(err)
		}
		if res.Match != (tc.reason == "") || res.Reason != tc.reason {
			t.Errorf("VerifyID2(%q, %q) = %+v, want reason %q", tc.name, tc.id, res, tc.reason)
		}
		if res.Reference == "" || seen[res.Reference] {
			t.Errorf("reference %q is empty or repeated", res.Reference)
		}
		seen[res.Reference] = true
	}
}

func TestSandboxVerifierID3(t *testing.T) {
	v := identity.NewSandboxVerifier()
	ctx := context.Background()
	if res, err := v.VerifyID3(ctx, "韦小宝", "11010519491231002X", "13800138000"); err != nil || !res.Match {
		t.Fatalf("match: %+v, %v", res, err)
	}
	for _, p := range identity.SandboxPhoneRejected {
		if res, err := v.VerifyID3(ctx, "韦小宝", "11010519491231002X", p.Phone); err != nil || res.Match || res.Reason != p.Reason {
			t.Errorf("phone %s: %+v, %v", p.Phone, res, err)
		}
	}
	if res, _ := v.VerifyID3(ctx, "王不符", "110101199003070011", "13800138000"); res.Match || res.Reason != identity.ReasonMismatch {
		t.Errorf("rejected identity: %+v", res)
	}
	if res, _ := v.VerifyID3(ctx, "韦小宝", "11010519491231002X", "12345"); res.Match || res.Reason != identity.ReasonInvalidPhone {
		t.Errorf("bad phone: %+v", res)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := v.VerifyID3(cancelled, "韦小宝", "11010519491231002X", "13800138000"); err == nil {
		t.Error("a cancelled context was ignored")
	}
}
