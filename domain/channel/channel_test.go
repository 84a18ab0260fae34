package channel_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/shuxinqian/server/domain/channel"
	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/kernel/kerneltest"
)

const qrToken = "tok-0123456789abcdef" // 20 characters

var t0 = time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)

// wantErr asserts the kind and the stable code of err.
var wantErr = kerneltest.WantErr

func item(sku string) channel.Item {
	return channel.Item{
		SKU: sku, Name: "签名包 " + sku, Description: "100 signatures", Kind: channel.KindPackage,
		UnitPrice: kernel.Fen(9900), Grants: channel.Grants{Signatures: 100},
	}
}

func validSnapshot() channel.Snapshot {
	return channel.Snapshot{
		ID:                  "01HCHANNEL",
		Code:                "q86804",
		Name:                "华东渠道",
		QRToken:             qrToken,
		Active:              true,
		PersonalCertService: true,
		Method:              channel.MethodFace,
		Catalog: []channel.Item{
			item("sig-100"),
			{SKU: "cert-1y", Name: "个人证书一年", Kind: channel.KindService, UnitPrice: kernel.Fen(1), Grants: channel.Grants{CertificateYears: 1}},
		},
		CreatedAt: t0,
	}
}

func mustNew(t *testing.T, s channel.Snapshot) *channel.Channel {
	t.Helper()
	c, err := channel.New(s)
	if err != nil {
		t.Fatalf("New(%+v): %v", s, err)
	}
	return c
}

func TestParseMethod(t *testing.T) {
	cases := []struct {
		in   string
		want channel.RealNameMethod
		ok   bool
	}{
		{"id2", channel.MethodID2, true},
		{"id3", channel.MethodID3, true},
		{"face", channel.MethodFace, true},
		{"", "", false},
		{"ID2", "", false},
		{"Face", "", false},
		{" id2", "", false},
		{"id2 ", "", false},
		{"id4", "", false},
		{"sms", "", false},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			got, err := channel.ParseMethod(tc.in)
			if tc.ok {
				if err != nil || got != tc.want {
					t.Fatalf("ParseMethod(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
				}
				return
			}
			_ = wantErr(t, err, kernel.KindInvalid, "real-name-method-invalid")
			if got != "" {
				t.Errorf("ParseMethod(%q) = %q with an error, want empty", tc.in, got)
			}
		})
	}
	if string(channel.MethodID2) != "id2" || string(channel.MethodID3) != "id3" || string(channel.MethodFace) != "face" {
		t.Error("published method values changed")
	}
}

func TestNewValid(t *testing.T) {
	local := time.Date(2026, 11, 26, 17, 0, 0, 123456789, time.FixedZone("CST", 8*3600))
	s := validSnapshot()
	s.Code = "  Q86804 "
	s.Name = "  华东渠道\t"
	s.CreatedAt = local
	c := mustNew(t, s)

	if c.ID() != "01HCHANNEL" {
		t.Errorf("ID = %q", c.ID())
	}
	if c.Code() != "q86804" {
		t.Errorf("Code = %q, want trimmed lower-case q86804", c.Code())
	}
	if c.Name() != "华东渠道" {
		t.Errorf("Name = %q, want trimmed", c.Name())
	}
	if !c.Active() || !c.PersonalCertService() || c.Method() != channel.MethodFace {
		t.Errorf("Active/PersonalCertService/Method = %v/%v/%q", c.Active(), c.PersonalCertService(), c.Method())
	}
	want := kernel.OccurredAt(local)
	snap := c.Snapshot()
	if snap.CreatedAt != want || snap.CreatedAt.Location() != time.UTC {
		t.Errorf("CreatedAt = %v, want %v (UTC, µs)", snap.CreatedAt, want)
	}
	wantCat := validSnapshot().Catalog
	for n := range wantCat { // items without a classification get the default one
		wantCat[n].Tax, wantCat[n].Unit = channel.DefaultTax, channel.DefaultUnit
	}
	if !reflect.DeepEqual(c.Catalog(), wantCat) {
		t.Errorf("Catalog = %+v", c.Catalog())
	}
	if snap.QRToken != qrToken {
		t.Errorf("QRToken = %q", snap.QRToken)
	}
}

func TestNewBoundaries(t *testing.T) {
	cases := []struct {
		name string
		edit func(*channel.Snapshot)
	}{
		{"code 2 characters", func(s *channel.Snapshot) { s.Code = "q8" }},
		{"code 32 characters", func(s *channel.Snapshot) { s.Code = strings.Repeat("a", 32) }},
		{"code digits only", func(s *channel.Snapshot) { s.Code = "86804" }},
		{"name 1 rune", func(s *channel.Snapshot) { s.Name = "渠" }},
		{"name 64 runes", func(s *channel.Snapshot) { s.Name = strings.Repeat("渠", 64) }},
		{"token exactly 16", func(s *channel.Snapshot) { s.QRToken = strings.Repeat("t", 16) }},
		{"method id2", func(s *channel.Snapshot) { s.Method = channel.MethodID2 }},
		{"method id3", func(s *channel.Snapshot) { s.Method = channel.MethodID3 }},
		{"inactive", func(s *channel.Snapshot) { s.Active = false }},
		{"empty catalog", func(s *channel.Snapshot) { s.Catalog = nil }},
		{"SKU 1 character", func(s *channel.Snapshot) { s.Catalog = []channel.Item{item("a")} }},
		{"SKU 40 characters", func(s *channel.Snapshot) { s.Catalog = []channel.Item{item("a" + strings.Repeat("-", 39))} }},
		{"SKU starting with a digit", func(s *channel.Snapshot) { s.Catalog = []channel.Item{item("1y")} }},
		{"item name 64 runes", func(s *channel.Snapshot) {
			it := item("x")
			it.Name = strings.Repeat("包", 64)
			s.Catalog = []channel.Item{it}
		}},
		{"price 1 fen", func(s *channel.Snapshot) {
			it := item("x")
			it.UnitPrice = 1
			s.Catalog = []channel.Item{it}
		}},
		{"service kind", func(s *channel.Snapshot) {
			it := item("x")
			it.Kind = channel.KindService
			s.Catalog = []channel.Item{it}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := validSnapshot()
			tc.edit(&s)
			_ = mustNew(t, s)
		})
	}
}

func TestNewRefusals(t *testing.T) {
	withItem := func(edit func(*channel.Item)) func(*channel.Snapshot) {
		return func(s *channel.Snapshot) {
			it := item("pkg-1")
			edit(&it)
			s.Catalog = append(s.Catalog, it)
		}
	}
	cases := []struct {
		name string
		edit func(*channel.Snapshot)
		code string
	}{
		{"missing id", func(s *channel.Snapshot) { s.ID = "" }, "channel-id-missing"},

		{"empty code", func(s *channel.Snapshot) { s.Code = "" }, "channel-code-invalid"},
		{"blank code", func(s *channel.Snapshot) { s.Code = "   " }, "channel-code-invalid"},
		{"code 1 character", func(s *channel.Snapshot) { s.Code = "q" }, "channel-code-invalid"},
		{"code 33 characters", func(s *channel.Snapshot) { s.Code = strings.Repeat("a", 33) }, "channel-code-invalid"},
		{"code with hyphen", func(s *channel.Snapshot) { s.Code = "q-86804" }, "channel-code-invalid"},
		{"code with underscore", func(s *channel.Snapshot) { s.Code = "q_86804" }, "channel-code-invalid"},
		{"code with inner space", func(s *channel.Snapshot) { s.Code = "q 86804" }, "channel-code-invalid"},
		{"code with Han", func(s *channel.Snapshot) { s.Code = "渠道1" }, "channel-code-invalid"},
		{"code with full-width digit", func(s *channel.Snapshot) { s.Code = "q８" }, "channel-code-invalid"},

		{"empty name", func(s *channel.Snapshot) { s.Name = "" }, "channel-name-invalid"},
		{"blank name", func(s *channel.Snapshot) { s.Name = " \t\n" }, "channel-name-invalid"},
		{"name 65 runes", func(s *channel.Snapshot) { s.Name = strings.Repeat("渠", 65) }, "channel-name-invalid"},

		{"empty QR token", func(s *channel.Snapshot) { s.QRToken = "" }, "channel-qr-token-invalid"},
		{"QR token 15", func(s *channel.Snapshot) { s.QRToken = strings.Repeat("t", 15) }, "channel-qr-token-invalid"},

		{"empty method", func(s *channel.Snapshot) { s.Method = "" }, "real-name-method-invalid"},
		{"bad method", func(s *channel.Snapshot) { s.Method = "sms" }, "real-name-method-invalid"},
		{"upper-case method", func(s *channel.Snapshot) { s.Method = "FACE" }, "real-name-method-invalid"},

		{"empty SKU", withItem(func(it *channel.Item) { it.SKU = "" }), "catalog-sku-invalid"},
		{"upper-case SKU", withItem(func(it *channel.Item) { it.SKU = "PKG-1" }), "catalog-sku-invalid"},
		{"SKU starting with hyphen", withItem(func(it *channel.Item) { it.SKU = "-pkg" }), "catalog-sku-invalid"},
		{"SKU with underscore", withItem(func(it *channel.Item) { it.SKU = "pkg_1" }), "catalog-sku-invalid"},
		{"SKU with space", withItem(func(it *channel.Item) { it.SKU = "pkg 1" }), "catalog-sku-invalid"},
		{"SKU 41 characters", withItem(func(it *channel.Item) { it.SKU = "a" + strings.Repeat("b", 40) }), "catalog-sku-invalid"},
		{"duplicate SKU", func(s *channel.Snapshot) { s.Catalog = append(s.Catalog, item("sig-100")) }, "catalog-sku-duplicate"},
		{"empty item name", withItem(func(it *channel.Item) { it.Name = "" }), "catalog-name-invalid"},
		{"item name 65 runes", withItem(func(it *channel.Item) { it.Name = strings.Repeat("包", 65) }), "catalog-name-invalid"},
		{"zero price", withItem(func(it *channel.Item) { it.UnitPrice = 0 }), "catalog-price-invalid"},
		{"negative price", withItem(func(it *channel.Item) { it.UnitPrice = -1 }), "catalog-price-invalid"},
		{"empty kind", withItem(func(it *channel.Item) { it.Kind = "" }), "catalog-kind-invalid"},
		{"bad kind", withItem(func(it *channel.Item) { it.Kind = "bundle" }), "catalog-kind-invalid"},
		{"upper-case kind", withItem(func(it *channel.Item) { it.Kind = "Package" }), "catalog-kind-invalid"},

		// Checks run in order: the first failing rule decides the code.
		{"missing id before bad code", func(s *channel.Snapshot) { s.ID, s.Code = "", "!" }, "channel-id-missing"},
		{"bad code before bad name", func(s *channel.Snapshot) { s.Code, s.Name = "!", "" }, "channel-code-invalid"},
		{"bad name before short token", func(s *channel.Snapshot) { s.Name, s.QRToken = "", "" }, "channel-name-invalid"},
		{"short token before bad method", func(s *channel.Snapshot) { s.QRToken, s.Method = "", "" }, "channel-qr-token-invalid"},
		{"bad method before bad catalog", func(s *channel.Snapshot) {
			s.Method = ""
			s.Catalog = []channel.Item{{}}
		}, "real-name-method-invalid"},
		{"bad SKU before everything else in the item", func(s *channel.Snapshot) {
			s.Catalog = []channel.Item{{SKU: "BAD"}}
		}, "catalog-sku-invalid"},
		{"duplicate before bad name", func(s *channel.Snapshot) {
			s.Catalog = []channel.Item{item("a"), {SKU: "a"}}
		}, "catalog-sku-duplicate"},
		{"bad name before bad price", func(s *channel.Snapshot) {
			s.Catalog = []channel.Item{{SKU: "a", Kind: channel.KindPackage}}
		}, "catalog-name-invalid"},
		{"bad price before bad kind", func(s *channel.Snapshot) {
			s.Catalog = []channel.Item{{SKU: "a", Name: "n"}}
		}, "catalog-price-invalid"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := validSnapshot()
			tc.edit(&s)
			c, err := channel.New(s)
			_ = wantErr(t, err, kernel.KindInvalid, tc.code)
			if c != nil {
				t.Errorf("New returned a channel with an error: %+v", c.Snapshot())
			}
		})
	}
}

func TestSnapshotRoundTrip(t *testing.T) {
	s := validSnapshot()
	c := channel.FromSnapshot(s)
	if got := c.Snapshot(); !reflect.DeepEqual(got, s) {
		t.Errorf("round trip = %+v, want %+v", got, s)
	}

	// The catalog is copied in and out: callers cannot change the channel through slices.
	s.Catalog[0].Name = "changed"
	if it, _ := c.Item("sig-100"); it.Name == "changed" {
		t.Error("FromSnapshot keeps the caller's catalog slice")
	}
	cat := c.Catalog()
	cat[0].Name = "changed"
	if it, _ := c.Item("sig-100"); it.Name == "changed" {
		t.Error("Catalog() exposes the channel's slice")
	}
	snap := c.Snapshot()
	snap.Catalog[0].Name = "changed"
	if it, _ := c.Item("sig-100"); it.Name == "changed" {
		t.Error("Snapshot() exposes the channel's slice")
	}
}

func TestItem(t *testing.T) {
	c := mustNew(t, validSnapshot())
	cases := []struct {
		sku  string
		ok   bool
		kind channel.ItemKind
	}{
		{"sig-100", true, channel.KindPackage},
		{"cert-1y", true, channel.KindService},
		{"", false, ""},
		{"SIG-100", false, ""},
		{"sig-10", false, ""},
		{"sig-100 ", false, ""},
		{"unknown", false, ""},
	}
	for _, tc := range cases {
		t.Run(tc.sku, func(t *testing.T) {
			it, ok := c.Item(tc.sku)
			if ok != tc.ok {
				t.Fatalf("Item(%q) ok = %v, want %v", tc.sku, ok, tc.ok)
			}
			if !ok {
				if !reflect.DeepEqual(it, channel.Item{}) {
					t.Errorf("Item(%q) = %+v when not found, want zero", tc.sku, it)
				}
				return
			}
			if it.SKU != tc.sku || it.Kind != tc.kind {
				t.Errorf("Item(%q) = %+v", tc.sku, it)
			}
		})
	}
	it, _ := c.Item("cert-1y")
	if it.UnitPrice != kernel.Fen(1) || it.Grants != (channel.Grants{CertificateYears: 1}) {
		t.Errorf("cert-1y = %+v", it)
	}
}

func TestJoinURLRoundTrip(t *testing.T) {
	cases := []struct {
		name, base, token, wantPrefix string
	}{
		{"plain base", "https://app.shuxinqian.cn", qrToken, "https://app.shuxinqian.cn/join?"},
		{"trailing slash", "https://app.shuxinqian.cn/", qrToken, "https://app.shuxinqian.cn/join?"},
		{"several trailing slashes", "https://app.shuxinqian.cn///", qrToken, "https://app.shuxinqian.cn/join?"},
		{"base with a path", "https://shuxinqian.cn/app", qrToken, "https://shuxinqian.cn/app/join?"},
		{"token needing escapes", "https://app.shuxinqian.cn", "a+b/c=d&e?f#g h%25i", "https://app.shuxinqian.cn/join?"},
		{"unicode token", "https://app.shuxinqian.cn", "令牌令牌令牌令牌令牌令牌", "https://app.shuxinqian.cn/join?"},
		{"empty base", "", qrToken, "/join?"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := validSnapshot()
			s.QRToken = tc.token
			c := mustNew(t, s)
			u := c.JoinURL(tc.base)
			if !strings.HasPrefix(u, tc.wantPrefix) {
				t.Errorf("JoinURL(%q) = %q, want prefix %q", tc.base, u, tc.wantPrefix)
			}
			code, token, err := channel.ParseQR(u)
			if err != nil {
				t.Fatalf("ParseQR(%q): %v", u, err)
			}
			if code != c.Code() || token != tc.token {
				t.Errorf("ParseQR(%q) = %q, %q; want %q, %q", u, code, token, c.Code(), tc.token)
			}
			if err := c.CheckJoin(token); err != nil {
				t.Errorf("CheckJoin(parsed token) = %v", err)
			}
			// Surrounding white space from the scanner is ignored.
			if code2, token2, err := channel.ParseQR("  " + u + "\n"); err != nil || code2 != code || token2 != token {
				t.Errorf("ParseQR with spaces = %q, %q, %v", code2, token2, err)
			}
		})
	}
	c := mustNew(t, validSnapshot())
	if got, want := c.JoinURL("https://a.cn"), "https://a.cn/join?channel=q86804&t="+qrToken; got != want {
		t.Errorf("JoinURL = %q, want %q", got, want)
	}
}

func TestParseQR(t *testing.T) {
	valid := "https://app.shuxinqian.cn/join?channel=q86804&t=" + qrToken
	okCases := []struct {
		name, in, code, token string
	}{
		{"canonical", valid, "q86804", qrToken},
		{"upper-case code is lowered", "https://a.cn/join?channel=Q86804&t=Tok", "q86804", "Tok"},
		{"parameters reversed", "https://a.cn/join?t=abc&channel=q86804", "q86804", "abc"},
		{"extra parameters", "https://a.cn/join?channel=q86804&t=abc&utm=x", "q86804", "abc"},
		{"path prefix", "https://a.cn/app/join?channel=q86804&t=abc", "q86804", "abc"},
		{"path only", "/join?channel=q86804&t=abc", "q86804", "abc"},
		{"escaped token", "https://a.cn/join?channel=q86804&t=a%2Bb%20c", "q86804", "a+b c"},
		{"exactly 512 characters", padTo("https://a.cn/join?channel=q86804&t=", 512), "q86804",
			strings.Repeat("x", 512-len("https://a.cn/join?channel=q86804&t="))},
		{"512 after trimming", " \t" + padTo("https://a.cn/join?channel=q86804&t=", 512) + "\n", "q86804",
			strings.Repeat("x", 512-len("https://a.cn/join?channel=q86804&t="))},
	}
	for _, tc := range okCases {
		t.Run(tc.name, func(t *testing.T) {
			code, token, err := channel.ParseQR(tc.in)
			if err != nil || code != tc.code || token != tc.token {
				t.Errorf("ParseQR(%q) = %q, %q, %v; want %q, %q", tc.in, code, token, err, tc.code, tc.token)
			}
		})
	}

	bad := []struct{ name, in string }{
		{"empty", ""},
		{"blank", "   "},
		{"junk", "hello world"},
		{"plain code", "q86804"},
		{"not a URL", "%zz"},
		{"bad escape in URL", "https://a.cn/join?channel=q86804&t=%zz"},
		{"control character", "https://a.cn/join\x7f?channel=q86804&t=abc"},
		{"other path", "https://a.cn/login?channel=q86804&t=abc"},
		{"path ends with join but not /join", "https://a.cn/rejoin?channel=q86804&t=abc"},
		{"join not last", "https://a.cn/join/x?channel=q86804&t=abc"},
		{"trailing slash", "https://a.cn/join/?channel=q86804&t=abc"},
		{"relative join", "join?channel=q86804&t=abc"},
		{"root", "https://a.cn/?channel=q86804&t=abc"},
		{"missing token", "https://a.cn/join?channel=q86804"},
		{"empty token", "https://a.cn/join?channel=q86804&t="},
		{"missing channel", "https://a.cn/join?t=abc"},
		{"empty channel", "https://a.cn/join?channel=&t=abc"},
		{"short channel", "https://a.cn/join?channel=q&t=abc"},
		{"channel with hyphen", "https://a.cn/join?channel=q-1&t=abc"},
		{"channel 33", "https://a.cn/join?channel=" + strings.Repeat("a", 33) + "&t=abc"},
		{"no query", "https://a.cn/join"},
		{"parameters in fragment", "https://a.cn/join#channel=q86804&t=abc"},
		{"513 characters", padTo("https://a.cn/join?channel=q86804&t=", 513)},
		{"very long", padTo("https://a.cn/join?channel=q86804&t=", 100000)},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			code, token, err := channel.ParseQR(tc.in)
			_ = wantErr(t, err, kernel.KindInvalid, "channel-qr-invalid")
			if !errors.Is(err, channel.ErrQRInvalid) {
				t.Errorf("errors.Is(%v, ErrQRInvalid) = false", err)
			}
			if code != "" || token != "" {
				t.Errorf("ParseQR(%q) = %q, %q with an error, want empty", tc.in, code, token)
			}
		})
	}
}

// padTo appends 'x' to prefix until it is n bytes long.
func padTo(prefix string, n int) string { return prefix + strings.Repeat("x", n-len(prefix)) }

func TestCheckJoin(t *testing.T) {
	cases := []struct {
		name    string
		active  bool
		scanned string
		kind    kernel.Kind
		code    string // "" means allowed
	}{
		{"active, by code", true, "", 0, ""},
		{"active, scanned right token", true, qrToken, 0, ""},
		{"active, wrong token", true, "tok-0123456789abcdeF", kernel.KindInvalid, "channel-qr-invalid"},
		{"active, token prefix", true, qrToken[:16], kernel.KindInvalid, "channel-qr-invalid"},
		{"active, token with suffix", true, qrToken + "x", kernel.KindInvalid, "channel-qr-invalid"},
		{"active, token with space", true, qrToken + " ", kernel.KindInvalid, "channel-qr-invalid"},
		{"inactive, by code", false, "", kernel.KindPrecondition, "channel-inactive"},
		{"inactive, right token", false, qrToken, kernel.KindPrecondition, "channel-inactive"},
		{"inactive, wrong token", false, "nope", kernel.KindPrecondition, "channel-inactive"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := validSnapshot()
			s.Active = tc.active
			c := mustNew(t, s)
			err := c.CheckJoin(tc.scanned)
			if tc.code == "" {
				if err != nil {
					t.Fatalf("CheckJoin(%q) = %v, want nil", tc.scanned, err)
				}
				return
			}
			_ = wantErr(t, err, tc.kind, tc.code)
		})
	}
}

func TestErrQRInvalid(t *testing.T) {
	_ = wantErr(t, channel.ErrQRInvalid, kernel.KindInvalid, "channel-qr-invalid")
	if strings.Contains(channel.ErrQRInvalid.Error(), qrToken) {
		t.Error("ErrQRInvalid mentions a token")
	}
}

func TestPlatform(t *testing.T) {
	if channel.DefaultPlatform.ChargingEnabled {
		t.Error("DefaultPlatform.ChargingEnabled = true, want false")
	}
	if channel.DefaultPlatform.DefaultMethod != channel.MethodID2 {
		t.Errorf("DefaultPlatform.DefaultMethod = %q, want id2", channel.DefaultPlatform.DefaultMethod)
	}
	if _, err := channel.ParseMethod(string(channel.DefaultPlatform.DefaultMethod)); err != nil {
		t.Errorf("DefaultPlatform.DefaultMethod is not a valid method: %v", err)
	}
}

func TestItemKindsAndGrants(t *testing.T) {
	if channel.KindPackage != "package" || channel.KindService != "service" {
		t.Error("published item kinds changed")
	}
	// Grants are serialised with omitempty tags.
	ty := reflect.TypeOf(channel.Grants{})
	for name, tag := range map[string]string{"Signatures": "signatures,omitempty", "CertificateYears": "certificate_years,omitempty"} {
		f, ok := ty.FieldByName(name)
		if !ok || f.Tag.Get("json") != tag {
			t.Errorf("Grants.%s json tag = %q, want %q", name, f.Tag.Get("json"), tag)
		}
	}
}

func TestNewCatalogTax(t *testing.T) {
	withItem := func(f func(*channel.Item)) channel.Snapshot {
		s := validSnapshot()
		f(&s.Catalog[0])
		return s
	}
	c, err := channel.New(withItem(func(it *channel.Item) {
		it.Tax = channel.Tax{Code: "3040205000000000000", Category: " 信息技术服务 ", Rate: kernel.TaxRate6}
		it.Unit, it.Spec = " 套 ", "50次/年"
	}))
	if err != nil {
		t.Fatal(err)
	}
	got := c.Catalog()[0]
	if got.Tax != (channel.Tax{Code: "3040205000000000000", Category: "信息技术服务", Rate: 600}) || got.Unit != "套" || got.Spec != "50次/年" {
		t.Errorf("item %+v", got)
	}
	for _, tc := range []struct {
		name string
		f    func(*channel.Item)
		code string
	}{
		{"18 digits", func(it *channel.Item) {
			it.Tax = channel.Tax{Code: "304020100000000000", Category: "信息技术服务", Rate: 600}
		}, "tax-code-invalid"},
		{"20 digits", func(it *channel.Item) {
			it.Tax = channel.Tax{Code: "30402010000000000000", Category: "信息技术服务", Rate: 600}
		}, "tax-code-invalid"},
		{"letter", func(it *channel.Item) {
			it.Tax = channel.Tax{Code: "304020100000000000X", Category: "信息技术服务", Rate: 600}
		}, "tax-code-invalid"},
		{"class 0", func(it *channel.Item) {
			it.Tax = channel.Tax{Code: "0040201000000000000", Category: "信息技术服务", Rate: 600}
		}, "tax-code-invalid"},
		{"rate 7%", func(it *channel.Item) {
			it.Tax = channel.Tax{Code: "3040201000000000000", Category: "信息技术服务", Rate: 700}
		}, "tax-rate-invalid"},
		{"no category", func(it *channel.Item) { it.Tax = channel.Tax{Code: "3040201000000000000", Rate: 600} }, "catalog-tax-category-invalid"},
		{"star in category", func(it *channel.Item) {
			it.Tax = channel.Tax{Code: "3040201000000000000", Category: "*信息*", Rate: 600}
		}, "catalog-tax-category-invalid"},
		{"long unit", func(it *channel.Item) { it.Unit = "一二三四五六七八九" }, "catalog-unit-invalid"},
	} {
		if _, err := channel.New(withItem(tc.f)); kernel.CodeOf(err) != tc.code {
			t.Errorf("%s: %v, want %s", tc.name, err, tc.code)
		}
	}
}
