// Package registry implements ports.BusinessRegistry. The sandbox registry answers from a fixed
// list of fictitious Guangdong enterprises (see Fixtures); it is the embedded default until a
// real business-registry provider is wired in.
package registry

import (
	"context"
	"strings"
	"unicode/utf8"

	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/ports"
)

// Error codes of the registry.
const (
	CodeNotFound    = "registry-enterprise-not-found"
	CodeNameInvalid = "registry-name-invalid"
)

// MaxNameRunes is the longest enterprise name LookupByName accepts.
const MaxNameRunes = 100

// Fixture is an enterprise the sandbox registry knows, with its legal representative's personal
// data. The fixtures are fictitious: they are published UNMASKED by the sandbox endpoint so that a
// person can try both initiator roles of an enterprise verification — verify real name as the
// legal rep (LegalRepName + LegalRepIDNumber) to start as the legal rep, or as anyone else to start
// as an operator — and receive the legal rep's SMS (LegalRepPhone) in the sandbox SMS box.
type Fixture struct {
	Name             string
	CreditCode       kernel.CreditCode
	LegalRepName     string
	LegalRepIDNumber kernel.IDNumber
	LegalRepPhone    kernel.Phone
}

// fixtures is the sandbox registry's content.
//
// Every credit code is valid per GB 32100-2015: registration-authority code 9 (industry and
// commerce), type 1 (enterprise), the 6-digit administrative division of the registering
// authority (441900 Dongguan, 440101 Guangzhou, 440300 Shenzhen, 440600 Foshan), a 9-character
// organisation code ("MA…" style, itself carrying a GB 11714 check character) and the check
// character. Every legal rep ID number is valid per GB 11643-1999 (Guangdong region codes 441900,
// 440106, 440305, 440604; birth dates 1968–1983) and none is rejected by the identity sandbox.
// The phones are distinct and are not among the identity sandbox's rejected phones.
// The registry test asserts that all of them parse.
//
//nolint:gosec // G101: fictitious, published sandbox data, not credentials
var fixtures = []Fixture{
	{
		Name:             "东莞市建设工程招标代理有限公司",
		CreditCode:       "91441900MA4UK7R28R",
		LegalRepName:     "陈建国",
		LegalRepIDNumber: "441900196803150037",
		LegalRepPhone:    "13802561234",
	},
	{
		Name:             "广州市公共资源交易咨询有限公司",
		CreditCode:       "91440101MA59C3HN42",
		LegalRepName:     "林志强",
		LegalRepIDNumber: "440106197209080054",
		LegalRepPhone:    "13922876543",
	},
	{
		Name:             "深圳市数信招标代理有限公司",
		CreditCode:       "91440300MA5F8GQ61A",
		LegalRepName:     "黄晓明",
		LegalRepIDNumber: "440305198005270015",
		LegalRepPhone:    "13631415926",
	},
	{
		Name:             "佛山市正诚工程咨询有限公司",
		CreditCode:       "91440600MA4WL2D81G",
		LegalRepName:     "梁伟华",
		LegalRepIDNumber: "440604197511120074",
		LegalRepPhone:    "13794561238",
	},
	{
		// A name with (full-width) parentheses, to try the parenthesis variants.
		Name:             "广东粤信工程咨询（东莞）有限公司",
		CreditCode:       "91441900MA51T6PE5K",
		LegalRepName:     "何丽娟",
		LegalRepIDNumber: "441900198304190025",
		LegalRepPhone:    "15017283946",
	},
}

// Sandbox is an in-memory business registry over the fixtures. It is read-only after
// construction and safe for concurrent use.
type Sandbox struct {
	fixtures []Fixture
	byName   map[string]int // normalized name → index in fixtures
}

// NewSandbox makes the sandbox registry.
func NewSandbox() *Sandbox {
	s := &Sandbox{fixtures: append([]Fixture(nil), fixtures...), byName: make(map[string]int, len(fixtures))}
	for i, f := range s.fixtures {
		s.byName[normalizeName(f.Name)] = i
	}
	return s
}

var _ ports.BusinessRegistry = (*Sandbox)(nil)

// Fixtures returns a copy of the sandbox's enterprises, with the legal reps' data unmasked.
func (s *Sandbox) Fixtures() []Fixture {
	return append([]Fixture(nil), s.fixtures...)
}

// LookupByName finds the enterprise with exactly this name. Surrounding white space is ignored
// and full-width and half-width parentheses are equal ("（东莞）" matches "(东莞)"). An empty name,
// a name longer than MaxNameRunes runes, or one that is not valid UTF-8 is kernel invalid
// "registry-name-invalid"; an unknown name is kernel not-found "registry-enterprise-not-found".
func (s *Sandbox) LookupByName(ctx context.Context, name string) (ports.RegistryEntry, error) {
	if err := ctx.Err(); err != nil {
		return ports.RegistryEntry{}, err
	}
	name = strings.TrimSpace(name)
	if name == "" || !utf8.ValidString(name) || utf8.RuneCountInString(name) > MaxNameRunes {
		return ports.RegistryEntry{}, kernel.Invalid(CodeNameInvalid, "enterprise name must be 1 to 100 characters")
	}
	i, ok := s.byName[normalizeName(name)]
	if !ok {
		return ports.RegistryEntry{}, kernel.NotFound(CodeNotFound, "no enterprise with this name in the business registry")
	}
	f := s.fixtures[i]
	return ports.RegistryEntry{Name: f.Name, CreditCode: f.CreditCode, LegalRepName: f.LegalRepName}, nil
}

// CheckLegalRep compares the legal rep's name and ID number with the fixture of the credit code.
func (s *Sandbox) CheckLegalRep(ctx context.Context, code kernel.CreditCode, legalRepName string, id kernel.IDNumber) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	for _, f := range s.fixtures {
		if f.CreditCode == code {
			return f.LegalRepName == strings.TrimSpace(legalRepName) && f.LegalRepIDNumber == id, nil
		}
	}
	return false, kernel.NotFound(CodeNotFound, "no enterprise with this credit code in the business registry")
}

// parenReplacer maps full-width parentheses to their half-width forms.
var parenReplacer = strings.NewReplacer("（", "(", "）", ")")

// normalizeName is the form names are compared in: trimmed, with half-width parentheses.
func normalizeName(name string) string {
	return parenReplacer.Replace(strings.TrimSpace(name))
}
