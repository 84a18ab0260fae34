package registry_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/shuxinqian/server/adapters/registry"
	"github.com/shuxinqian/server/domain/kernel"
)

func TestFixturesParse(t *testing.T) {
	fx := registry.NewSandbox().Fixtures()
	if len(fx) < 4 {
		t.Fatalf("%d fixtures, want at least 4", len(fx))
	}
	today := time.Now()
	names, codes, reps, ids, phones := map[string]bool{}, map[kernel.CreditCode]bool{}, map[string]bool{}, map[kernel.IDNumber]bool{}, map[kernel.Phone]bool{}
	for _, f := range fx {
		if c, err := kernel.ParseCreditCode(string(f.CreditCode)); err != nil || c != f.CreditCode {
			t.Errorf("%s: credit code %q: %v", f.Name, f.CreditCode, err)
		}
		id, err := kernel.ParseIDNumber(string(f.LegalRepIDNumber), today)
		if err != nil || id != f.LegalRepIDNumber {
			t.Errorf("%s: ID number %q: %v", f.Name, f.LegalRepIDNumber, err)
		}
		if y := id.BirthDate().Year(); err == nil && (y < 1965 || y > 1985) {
			t.Errorf("%s: legal rep born in %d", f.Name, y)
		}
		if !strings.HasPrefix(string(f.LegalRepIDNumber), "44") {
			t.Errorf("%s: ID number %q is not from Guangdong", f.Name, f.LegalRepIDNumber)
		}
		if p, err := kernel.ParsePhone(string(f.LegalRepPhone)); err != nil || p != f.LegalRepPhone {
			t.Errorf("%s: phone %q: %v", f.Name, f.LegalRepPhone, err)
		}
		if f.LegalRepName == "" || strings.Contains(f.LegalRepName, "假") {
			t.Errorf("%s: legal rep name %q", f.Name, f.LegalRepName)
		}
		if names[f.Name] || codes[f.CreditCode] || reps[f.LegalRepName] || ids[f.LegalRepIDNumber] || phones[f.LegalRepPhone] {
			t.Errorf("%s: duplicate fixture data", f.Name)
		}
		names[f.Name], codes[f.CreditCode], reps[f.LegalRepName], ids[f.LegalRepIDNumber], phones[f.LegalRepPhone] = true, true, true, true, true
	}
}

func TestFixturesAreCopies(t *testing.T) {
	s := registry.NewSandbox()
	fx := s.Fixtures()
	name := fx[0].Name
	fx[0].Name = "changed"
	if s.Fixtures()[0].Name != name {
		t.Fatal("Fixtures exposes the sandbox's own slice")
	}
	if _, err := s.LookupByName(context.Background(), name); err != nil {
		t.Fatal(err)
	}
}

func TestLookupByName(t *testing.T) {
	s := registry.NewSandbox()
	ctx := context.Background()
	for _, f := range s.Fixtures() {
		for _, q := range []string{f.Name, "  " + f.Name + "\t", "\u3000" + f.Name} {
			e, err := s.LookupByName(ctx, q)
			if err != nil {
				t.Fatalf("LookupByName(%q): %v", q, err)
			}
			if e.Name != f.Name || e.CreditCode != f.CreditCode || e.LegalRepName != f.LegalRepName {
				t.Fatalf("LookupByName(%q) = %+v", q, e)
			}
		}
	}
	const full, half = "广东粤信工程咨询（东莞）有限公司", "广东粤信工程咨询(东莞)有限公司"
	for _, q := range []string{full, half, "广东粤信工程咨询(东莞）有限公司", "广东粤信工程咨询（东莞)有限公司"} {
		e, err := s.LookupByName(ctx, q)
		if err != nil || e.Name != full {
			t.Fatalf("LookupByName(%q) = %+v, %v", q, e, err)
		}
	}

	for _, q := range []string{"东莞市建设工程招标代理", "东莞市建设工程招标代理有限公司 分公司", "东莞市建设 工程招标代理有限公司", "不存在的公司"} {
		_, err := s.LookupByName(ctx, q)
		if kernel.KindOf(err) != kernel.KindNotFound || kernel.CodeOf(err) != registry.CodeNotFound {
			t.Fatalf("LookupByName(%q): %v, want not found", q, err)
		}
	}
	for _, q := range []string{"", "   ", strings.Repeat("公", 101), "\xff\xfe"} {
		_, err := s.LookupByName(ctx, q)
		if kernel.KindOf(err) != kernel.KindInvalid || kernel.CodeOf(err) != registry.CodeNameInvalid {
			t.Fatalf("LookupByName(%q): %v, want invalid", q, err)
		}
	}
	if _, err := s.LookupByName(ctx, strings.Repeat("公", 100)); kernel.CodeOf(err) != registry.CodeNotFound {
		t.Fatalf("100-rune name: %v, want not found", err)
	}

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.LookupByName(cctx, "东莞市建设工程招标代理有限公司"); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled context: %v", err)
	}
}
