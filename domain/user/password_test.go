package user_test

import (
	"strings"
	"testing"

	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/user"
)

func TestValidatePassword(t *testing.T) {
	if user.PasswordMinLen != 8 || user.PasswordMaxLen != 32 {
		t.Fatalf("figures changed: PasswordMinLen=%d PasswordMaxLen=%d", user.PasswordMinLen, user.PasswordMaxLen)
	}
	const (
		ok       = ""
		length   = "password-length"
		weak     = "password-too-weak"
		badChars = "password-invalid-characters"
	)
	cases := []struct {
		name, in, code string
	}{
		{"typical", "Passw0rd", ok},
		{"exactly 8", "Abcdef12", ok},
		{"exactly 32", "Ab1" + strings.Repeat("x", 29), ok},
		{"symbols allowed", "Ab1!@#$%^&*()_+-=[]{};':\",./<>?`~|\\", length}, // 35 characters
		{"symbols allowed, 32", "Ab1!@#$%^&*()_+-=[]{};':\",./<>?", ok},
		{"digits first", "12345678aB", ok},

		{"empty", "", length},
		{"too short 7", "Abcde12", length},
		{"too short 1", "A", length},
		{"too long 33", "Ab1" + strings.Repeat("x", 30), length},
		{"too long 100", "Ab1" + strings.Repeat("x", 97), length},

		{"no digit", "Abcdefgh", weak},
		{"no upper", "abcdefg1", weak},
		{"no lower", "ABCDEFG1", weak},
		{"digits only", "12345678", weak},
		{"symbols only", "!@#$%^&*", weak},
		{"no letters", "1234!@#$", weak},

		{"space inside", "Abc 1234", badChars},
		{"leading space", " Abcd1234", badChars},
		{"trailing space", "Abcd1234 ", badChars},
		{"tab", "Abcd\t1234", badChars},
		{"newline", "Abcd1234\n", badChars},
		{"NUL", "Abcd\x001234", badChars},
		{"DEL", "Abcd\x7f1234", badChars},
		{"non-ASCII letter", "Abcdé1234", badChars},
		{"Chinese", "Abcd1234密码", badChars},
		{"full-width digit", "Abcdefg１", badChars},
		{"non-breaking space", "Abcd\u00a01234", badChars},
		{"invalid UTF-8", "Abcd\xff1234", badChars},
		{"bad character in a short password", "A b1", badChars},
		{"bad character in a long password", "Ab1 " + strings.Repeat("x", 40), badChars},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := user.ValidatePassword(tc.in)
			if tc.code == ok {
				if err != nil {
					t.Fatalf("ValidatePassword(%q) = %v, want nil", tc.in, err)
				}
				return
			}
			e := wantErr(t, err, kernel.KindInvalid, tc.code)
			if strings.TrimSpace(tc.in) != "" && strings.Contains(e.Error(), tc.in) {
				t.Errorf("error %q echoes the password", e.Error())
			}
			if tc.code == length {
				if e.Details["min"] != 8 || e.Details["max"] != 32 {
					t.Errorf("details = %v, want min 8 max 32", e.Details)
				}
			}
		})
	}
}

func TestValidatePasswordEveryLength(t *testing.T) {
	for n := 0; n <= 40; n++ {
		p := ""
		if n >= 3 {
			p = "aB3" + strings.Repeat("z", n-3)
		} else {
			p = "aB3"[:n]
		}
		err := user.ValidatePassword(p)
		switch {
		case n >= 8 && n <= 32:
			if err != nil {
				t.Errorf("length %d: %v, want nil", n, err)
			}
		default:
			_ = wantErr(t, err, kernel.KindInvalid, "password-length")
		}
	}
}

func TestValidatePasswordEveryASCII(t *testing.T) {
	for c := 0; c < 128; c++ {
		p := "Abcd1234" + string(rune(c))
		err := user.ValidatePassword(p)
		if c > ' ' && c < 0x7f {
			if err != nil {
				t.Errorf("character %q: %v, want nil", rune(c), err)
			}
		} else {
			_ = wantErr(t, err, kernel.KindInvalid, "password-invalid-characters")
		}
	}
}
