package contract

import (
	"context"
	"strings"
	"testing"

	"github.com/shuxinqian/server/adapters/identity"
	"github.com/shuxinqian/server/adapters/registry"
	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/ports"
)

// regAdapter is one BusinessRegistry under the contract, with names it knows.
type regAdapter struct {
	name  string
	r     ports.BusinessRegistry
	known []string
	// fixtures are enterprises whose legal rep the adapter can confirm.
	fixtures []registry.Fixture
}

func regAdapters() []regAdapter {
	sb := registry.NewSandbox()
	var known []string
	for _, f := range sb.Fixtures() {
		known = append(known, f.Name)
	}
	return []regAdapter{{name: "sandbox", r: sb, known: known, fixtures: sb.Fixtures()}}
}

// regWant fails unless err is a *kernel.Error of kind and code.
func regWant(t *testing.T, err error, kind kernel.Kind, code, what string) {
	t.Helper()
	if kernel.KindOf(err) != kind || kernel.CodeOf(err) != code {
		t.Fatalf("%s: error %v, want %s %s", what, err, kind, code)
	}
}

// regSwapParens turns full-width parentheses into half-width ones and back.
var regSwapParens = strings.NewReplacer("（", "(", "）", ")", "(", "（", ")", "）")

func TestBusinessRegistryContract(t *testing.T) {
	for _, a := range regAdapters() {
		t.Run(a.name, func(t *testing.T) {
			ctx := context.Background()
			if len(a.known) == 0 {
				t.Fatal("no known enterprises")
			}
			parens := false
			for _, name := range a.known {
				e, err := a.r.LookupByName(ctx, name)
				if err != nil {
					t.Fatalf("LookupByName(%q): %v", name, err)
				}
				if e.Name != name || e.LegalRepName == "" {
					t.Fatalf("LookupByName(%q) = %+v", name, e)
				}
				if c, err := kernel.ParseCreditCode(e.CreditCode.String()); err != nil || c != e.CreditCode {
					t.Fatalf("LookupByName(%q): credit code %q: %v", name, e.CreditCode, err)
				}
				if again, err := a.r.LookupByName(ctx, " "+name+"  "); err != nil || again != e {
					t.Fatalf("LookupByName with spaces around %q = %+v, %v", name, again, err)
				}
				if swapped := regSwapParens.Replace(name); swapped != name {
					parens = true
					if again, err := a.r.LookupByName(ctx, swapped); err != nil || again != e {
						t.Fatalf("LookupByName(%q) = %+v, %v; want %+v", swapped, again, err, e)
					}
				}
				_, err = a.r.LookupByName(ctx, name+"分公司")
				regWant(t, err, kernel.KindNotFound, "registry-enterprise-not-found", "longer name")
			}
			if !parens {
				t.Error("no known name with parentheses: the variants are untested")
			}
			for _, name := range []string{"不存在的企业有限公司", "东莞市", "x"} {
				_, err := a.r.LookupByName(ctx, name)
				regWant(t, err, kernel.KindNotFound, "registry-enterprise-not-found", name)
			}
			for _, name := range []string{"", "   ", strings.Repeat("企", 101)} {
				_, err := a.r.LookupByName(ctx, name)
				regWant(t, err, kernel.KindInvalid, "registry-name-invalid", "invalid name")
			}
		})
	}
}

// TestRegistrySandboxFixtures checks the published fixtures: they parse, and their legal reps pass
// the identity sandbox (so a person can verify real name as the legal rep).
func TestRegistrySandboxFixtures(t *testing.T) {
	ctx := context.Background()
	reg := registry.NewSandbox()
	idv := identity.NewSandboxVerifier()
	for _, f := range reg.Fixtures() {
		e, err := reg.LookupByName(ctx, f.Name)
		if err != nil || e.CreditCode != f.CreditCode || e.LegalRepName != f.LegalRepName {
			t.Fatalf("%s: %+v, %v", f.Name, e, err)
		}
		res, err := idv.VerifyID3(ctx, f.LegalRepName, f.LegalRepIDNumber, f.LegalRepPhone)
		if err != nil || !res.Match {
			t.Fatalf("%s: legal rep fails the identity sandbox: %+v, %v", f.Name, res, err)
		}
	}
}

func TestBusinessRegistryLegalRepCheck(t *testing.T) {
	for _, a := range regAdapters() {
		t.Run(a.name, func(t *testing.T) {
			ctx := context.Background()
			for _, f := range a.fixtures {
				if ok, err := a.r.CheckLegalRep(ctx, f.CreditCode, f.LegalRepName, f.LegalRepIDNumber); err != nil || !ok {
					t.Fatalf("%s: the registry's own legal rep failed: %v %v", f.Name, ok, err)
				}
				other := a.fixtures[0].LegalRepIDNumber
				if f.LegalRepIDNumber == other {
					other = a.fixtures[1].LegalRepIDNumber
				}
				if ok, _ := a.r.CheckLegalRep(ctx, f.CreditCode, f.LegalRepName, other); ok {
					t.Fatalf("%s: another person's ID passed", f.Name)
				}
				if ok, _ := a.r.CheckLegalRep(ctx, f.CreditCode, "某某某", f.LegalRepIDNumber); ok {
					t.Fatalf("%s: another name passed", f.Name)
				}
			}
			if _, err := a.r.CheckLegalRep(ctx, "91350100M000100Y43", "张三", "11010519491231002X"); kernel.KindOf(err) != kernel.KindNotFound {
				t.Fatalf("unknown credit code: %v", err)
			}
		})
	}
}
