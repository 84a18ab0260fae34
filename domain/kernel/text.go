package kernel

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// PlainText reports whether s is valid UTF-8 without control characters (C0, DEL, C1) or
// invisible format characters (bidi overrides, zero-width marks, BOM): the rule for every
// single-line free-text value (names, bank names, titles).
func PlainText(s string) bool {
	return utf8.ValidString(s) && strings.IndexFunc(s, func(r rune) bool {
		return r == utf8.RuneError || unicode.IsControl(r) || unicode.Is(unicode.Cf, r)
	}) < 0
}
