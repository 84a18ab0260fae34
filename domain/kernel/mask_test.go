package kernel_test

import (
	"testing"

	"github.com/shuxinqian/server/domain/kernel"
)

func TestMaskMiddle(t *testing.T) {
	cases := []struct {
		in         string
		start, end int
		want       string
	}{
		{"13800138000", 3, 4, "138****8000"},
		{"abcde", 2, 2, "ab*de"},
		{"abcdef", 0, 0, "******"},
		{"abcdef", 6, 0, "******"}, // nothing left to hide: mask all
		{"abcd", 2, 2, "****"},
		{"abc", 2, 2, "***"},
		{"", 1, 1, ""},
		{"张三丰", 1, 0, "张**"},
		{"张三丰", 0, 1, "**丰"},
		{"上海市浦东新区", 2, 2, "上海***新区"},
		{"abcdef", -1, 2, "****ef"},
		{"abcdef", 2, -3, "ab****"},
	}
	for _, tc := range cases {
		if got := kernel.MaskMiddle(tc.in, tc.start, tc.end); got != tc.want {
			t.Errorf("MaskMiddle(%q, %d, %d) = %q, want %q", tc.in, tc.start, tc.end, got, tc.want)
		}
	}
}

func TestMaskName(t *testing.T) {
	cases := []struct{ in, want string }{
		{"张三", "张*"},
		{"欧阳娜娜", "欧***"},
		{"王小明", "王**"},
		{"张", "*"},
		{"", ""},
		{"Li Lei", "L*****"},
	}
	for _, tc := range cases {
		if got := kernel.MaskName(tc.in); got != tc.want {
			t.Errorf("MaskName(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestMaskBankAccount(t *testing.T) {
	cases := []struct{ in, want string }{
		{"6222000012345678", "****5678"},
		{"6222 0000 1234 5678", "****5678"},
		{"6222-0000-1234-5678", "****5678"},
		{"12345", "****2345"},
		{"1234", "****"},
		{"123", "****"},
		{"", ""},
	}
	for _, tc := range cases {
		if got := kernel.MaskBankAccount(tc.in); got != tc.want {
			t.Errorf("MaskBankAccount(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
