package kernel

import (
	"strings"
	"unicode/utf8"
)

// MaskMiddle replaces every rune of s except the first keepStart and the last keepEnd runes
// with '*'. If s has no more than keepStart+keepEnd runes, every rune is masked, so the
// result never reveals the whole string; the rune count is preserved either way. Negative
// keep counts are treated as zero.
func MaskMiddle(s string, keepStart, keepEnd int) string {
	keepStart, keepEnd = max(keepStart, 0), max(keepEnd, 0)
	n := utf8.RuneCountInString(s)
	if n <= keepStart+keepEnd {
		return strings.Repeat("*", n)
	}
	var b strings.Builder
	b.Grow(len(s))
	i := 0
	for _, r := range s {
		if i < keepStart || i >= n-keepEnd {
			b.WriteRune(r)
		} else {
			b.WriteByte('*')
		}
		i++
	}
	return b.String()
}

// MaskName keeps the first rune of a name and masks the rest with '*', one per rune:
// "张三" → "张*", "欧阳娜娜" → "欧***". A one-rune name is masked entirely ("*") so it is
// never shown in full; the empty string stays empty.
func MaskName(name string) string {
	n := utf8.RuneCountInString(name)
	if n <= 1 {
		return strings.Repeat("*", n)
	}
	_, size := utf8.DecodeRuneInString(name)
	return name[:size] + strings.Repeat("*", n-1)
}

// MaskBankAccount shows only the last four characters of a bank account number behind a
// fixed "****" ("6222 0000 1234 5678" → "****5678"); spaces and hyphens used for grouping are
// ignored. An account of four characters or fewer is shown as "****" and the empty string
// stays empty.
func MaskBankAccount(acct string) string {
	rs := make([]rune, 0, len(acct))
	for _, r := range acct {
		if r != ' ' && r != '-' {
			rs = append(rs, r)
		}
	}
	switch {
	case len(rs) == 0:
		return ""
	case len(rs) <= 4:
		return "****"
	}
	return "****" + string(rs[len(rs)-4:])
}
