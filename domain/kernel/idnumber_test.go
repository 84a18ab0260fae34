package kernel_test

import (
	"testing"
	"time"

	"github.com/shuxinqian/server/domain/kernel"
)

var voToday = time.Date(2024, 6, 15, 10, 0, 0, 0, time.UTC)

// voMkID appends the correct check character to 17 digits.
func voMkID(t *testing.T, first17 string) string {
	t.Helper()
	c, err := kernel.IDNumberCheckChar(first17)
	if err != nil {
		t.Fatalf("IDNumberCheckChar(%q): %v", first17, err)
	}
	return first17 + string(c)
}

// voBadCheck returns a number with a valid prefix and a wrong check character.
func voBadCheck(t *testing.T, first17 string) string {
	t.Helper()
	good := voMkID(t, first17)
	bad := byte('0')
	if good[17] == '0' {
		bad = '1'
	}
	return first17 + string(bad)
}

func TestIDNumberCheckChar(t *testing.T) {
	cases := []struct {
		in   string
		want byte
	}{
		{"11010519491231002", 'X'}, // the example published with GB 11643-1999
		{"00000000000000000", '1'}, // sum 0
		{"44052418800101001", '4'},
	}
	for _, tc := range cases {
		got, err := kernel.IDNumberCheckChar(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("IDNumberCheckChar(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, in := range []string{"", "1101051949123100", "110105194912310021", "1101051949123100A", "１1010519491231002"} {
		if _, err := kernel.IDNumberCheckChar(in); err == nil {
			t.Errorf("IDNumberCheckChar(%q) succeeded, want error", in)
		} else {
			voWantInvalid(t, err, "id-number-format", in)
		}
	}
}

func TestParseIDNumber(t *testing.T) {
	shanghai := time.FixedZone("CST", 8*3600)
	valid := []struct {
		in    string
		want  string
		today time.Time
		birth time.Time
	}{
		{"11010519491231002X", "11010519491231002X", voToday, time.Date(1949, 12, 31, 0, 0, 0, 0, time.UTC)},
		{"11010519491231002x", "11010519491231002X", voToday, time.Date(1949, 12, 31, 0, 0, 0, 0, time.UTC)},
		{"  11010519491231002X\n", "11010519491231002X", voToday, time.Date(1949, 12, 31, 0, 0, 0, 0, time.UTC)},
		{voMkID(t, "44030019900101123"), voMkID(t, "44030019900101123"), voToday, time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC)},
		{voMkID(t, "65010220000229001"), voMkID(t, "65010220000229001"), voToday, time.Date(2000, 2, 29, 0, 0, 0, 0, time.UTC)},
		{voMkID(t, "11000019000101001"), voMkID(t, "11000019000101001"), voToday, time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)},
		{voMkID(t, "71000019800101001"), voMkID(t, "71000019800101001"), voToday, time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)},
		{voMkID(t, "81000019800101001"), voMkID(t, "81000019800101001"), voToday, time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)}, // Hong Kong residence permit
		{voMkID(t, "82000019800101001"), voMkID(t, "82000019800101001"), voToday, time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)}, // Macao residence permit
		{voMkID(t, "83000019800101001"), voMkID(t, "83000019800101001"), voToday, time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)}, // Taiwan residence permit
		// Born today.
		{voMkID(t, "11010520240615001"), voMkID(t, "11010520240615001"), voToday, time.Date(2024, 6, 15, 0, 0, 0, 0, time.UTC)},
		// Born on 16 June: already "today" in Beijing although it is still 15 June in UTC.
		{voMkID(t, "11010520240616001"), voMkID(t, "11010520240616001"),
			time.Date(2024, 6, 16, 1, 0, 0, 0, shanghai), time.Date(2024, 6, 16, 0, 0, 0, 0, time.UTC)},
	}
	for _, tc := range valid {
		got, err := kernel.ParseIDNumber(tc.in, tc.today)
		if err != nil {
			t.Errorf("ParseIDNumber(%q) error: %v", tc.in, err)
			continue
		}
		if got.String() != tc.want {
			t.Errorf("ParseIDNumber(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if !got.BirthDate().Equal(tc.birth) {
			t.Errorf("ParseIDNumber(%q).BirthDate() = %v, want %v", tc.in, got.BirthDate(), tc.birth)
		}
		if got.IsZero() {
			t.Errorf("ParseIDNumber(%q).IsZero() = true", tc.in)
		}
	}

	invalid := []struct {
		in    string
		code  string
		today time.Time
	}{
		{"", "id-number-format", voToday},
		{"11010519491231002", "id-number-format", voToday},
		{"11010519491231002X0", "id-number-format", voToday},
		{"1101051949123100XX", "id-number-format", voToday},
		{"11010519491231002Y", "id-number-format", voToday},
		{"110105 9491231002X", "id-number-format", voToday},
		{"A1010519491231002X", "id-number-format", voToday},
		{"１1010519491231002X", "id-number-format", voToday},
		{"110105194912310", "id-number-format", voToday}, // old 15-digit numbers are not accepted
		{voMkID(t, "00010519491231002"), "id-number-region", voToday},
		{voMkID(t, "10010519491231002"), "id-number-region", voToday},
		{voMkID(t, "16010519491231002"), "id-number-region", voToday},
		{voMkID(t, "20010519491231002"), "id-number-region", voToday},
		{voMkID(t, "38010519491231002"), "id-number-region", voToday},
		{voMkID(t, "47010519491231002"), "id-number-region", voToday},
		{voMkID(t, "55010519491231002"), "id-number-region", voToday},
		{voMkID(t, "66010519491231002"), "id-number-region", voToday},
		{voMkID(t, "72010519491231002"), "id-number-region", voToday},
		{voMkID(t, "84010519491231002"), "id-number-region", voToday},
		{voMkID(t, "91010519491231002"), "id-number-region", voToday},
		{voMkID(t, "99010519491231002"), "id-number-region", voToday},
		{voBadCheck(t, "99010519491231002"), "id-number-region", voToday}, // region is checked before the checksum
		{voMkID(t, "11010518991231002"), "id-number-birth-date", voToday},
		{voMkID(t, "11010500000101002"), "id-number-birth-date", voToday},
		{voMkID(t, "11010519900230002"), "id-number-birth-date", voToday},
		{voMkID(t, "11010520230229002"), "id-number-birth-date", voToday},
		{voMkID(t, "11010519001329002"), "id-number-birth-date", voToday}, // 1900 was not a leap year
		{voMkID(t, "11010519901301002"), "id-number-birth-date", voToday},
		{voMkID(t, "11010519900001002"), "id-number-birth-date", voToday},
		{voMkID(t, "11010519900100002"), "id-number-birth-date", voToday},
		{voMkID(t, "11010519900431002"), "id-number-birth-date", voToday},
		{voMkID(t, "11010520240616002"), "id-number-birth-date", voToday}, // tomorrow
		{voMkID(t, "11010530000101002"), "id-number-birth-date", voToday},
		{voBadCheck(t, "11010520240616002"), "id-number-birth-date", voToday},
		{"110105194912310021", "id-number-checksum", voToday},
		{"110105194912310020", "id-number-checksum", voToday},
		{voBadCheck(t, "44030019900101123"), "id-number-checksum", voToday},
	}
	for _, tc := range invalid {
		got, err := kernel.ParseIDNumber(tc.in, tc.today)
		if err == nil {
			t.Errorf("ParseIDNumber(%q) = %q, want error %s", tc.in, got, tc.code)
			continue
		}
		voWantInvalid(t, err, tc.code, tc.in)
		if !got.IsZero() {
			t.Errorf("ParseIDNumber(%q) returned non-zero %q with error", tc.in, got)
		}
	}
}

func TestIDNumberMasked(t *testing.T) {
	n, err := kernel.ParseIDNumber("11010519491231002X", voToday)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := n.Masked(), "110***********002X"; got != want {
		t.Errorf("Masked() = %q, want %q", got, want)
	}
	n, err = kernel.ParseIDNumber(voMkID(t, "11010519900101123"), voToday)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := n.Masked(), "110***********123"+n.String()[17:]; got != want {
		t.Errorf("Masked() = %q, want %q", got, want)
	}
	var zero kernel.IDNumber
	if !zero.IsZero() || zero.Masked() != "" || !zero.BirthDate().IsZero() {
		t.Errorf("zero IDNumber: IsZero=%v Masked=%q BirthDate=%v", zero.IsZero(), zero.Masked(), zero.BirthDate())
	}
}
