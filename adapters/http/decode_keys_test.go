package http

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"
)

// checkDuplicateKeysByTokens is the earlier checkDuplicateKeys, on encoding/json's Token: the
// reference the byte scan is held to.
func checkDuplicateKeysByTokens(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	type frame struct {
		obj    bool
		keys   map[string]bool
		expKey bool
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return nil //nolint:nilerr // syntax errors were reported by the decoder already
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{', '[':
				if top != nil && top.obj {
					top.expKey = true
				}
				stack = append(stack, &frame{obj: t == '{', keys: map[string]bool{}, expKey: true})
			case '}', ']':
				stack = stack[:len(stack)-1]
			}
			continue
		case string:
			if top != nil && top.obj && top.expKey {
				k := strings.ToLower(t)
				if top.keys[k] {
					return badRequest("body-duplicate-key", fmt.Sprintf("the key %q appears twice", safeName(t)))
				}
				top.keys[k] = true
				top.expKey = false
				continue
			}
		}
		if top != nil && top.obj {
			top.expKey = true
		}
	}
}

func dupVerdict(err error) string {
	if err == nil {
		return "ok"
	}
	return err.Error()
}

// The byte scan finds the duplicate keys the token reading found, with the same message, on
// hand-picked bodies (escapes, case, nesting, strings holding quotes and brackets, bytes that are
// not UTF-8) and on 20,000 random ones.
func TestCheckDuplicateKeysMatchesTokens(t *testing.T) {
	cases := []string{
		`{"a":1,"b":2}`, `{"a":1,"a":2}`, `{"phone":"1","Phone":"2"}`, `{"a":{"a":1},"b":[{"a":1,"a":2}]}`,
		`{"a":"\"a\":1,","b":"}{]["}`, `{"\u0061":1,"a":2}`, `{"\u0041":1,"a":2}`, `{"a\\":1,"a\\":2}`,
		`[{"x":1},{"x":1}]`, `{"x":[1,2,{"y":null,"Y":true}]}`, `"just a string"`, `null`, `[]`, `{}`,
		"{\"\xff\":1,\"\xfe\":2}", "{\"k\xff\":1,\"K\xfe\":2}", `{"\ud800":1,"\ufffd":2}`,
		`{"ſ":1,"S":2}`, `{"K":1,"k":2}`, ` { "a" : 1 , "A" : 2 } `, `{"a":{"b":{"c":{"d":1,"D":2}}}}`,
		`{"a":[[],[[{}]],{"a":1}],"A":0}`, `{"a":-1.5e3,"b":"x","c":[true,false,null],"B":1}`,
	}
	if k := jsonKey([]byte("\"k\xff\"")); k != "k\ufffd" {
		t.Errorf("jsonKey of a key that is not UTF-8: %q, want it as encoding/json decodes it", k)
	}
	for _, c := range cases {
		if got, want := dupVerdict(checkDuplicateKeys([]byte(c))), dupVerdict(checkDuplicateKeysByTokens([]byte(c))); got != want {
			t.Errorf("%q: %s, by tokens %s", c, got, want)
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	keys := []string{"a", "A", "b", "phone", "Phone", `\u0061`, `\u0041`, "\xff", "\xfe", `\"`, `\\`, "id", "ID", "ſ", "s"}
	var value func(depth int) string
	value = func(depth int) string {
		n := r.IntN(7)
		if depth > 4 {
			n = r.IntN(4)
		}
		switch n {
		case 0:
			return fmt.Sprint(r.IntN(100))
		case 1:
			return `"` + keys[r.IntN(len(keys))] + `,]}{"`
		case 2:
			return []string{"true", "false", "null"}[r.IntN(3)]
		case 3:
			return `"x"`
		case 4, 5:
			parts := make([]string, r.IntN(4))
			for i := range parts {
				parts[i] = `"` + keys[r.IntN(len(keys))] + `": ` + value(depth+1)
			}
			return "{" + strings.Join(parts, ", ") + "}"
		default:
			parts := make([]string, r.IntN(4))
			for i := range parts {
				parts[i] = value(depth + 1)
			}
			return "[" + strings.Join(parts, ",") + "]"
		}
	}
	dups := 0
	for range 20000 {
		body := []byte(value(0))
		if !json.Valid(body) && !bytes.ContainsAny(body, "\xff\xfe") {
			t.Fatalf("generated invalid JSON %q", body)
		}
		got, want := dupVerdict(checkDuplicateKeys(body)), dupVerdict(checkDuplicateKeysByTokens(body))
		if got != want {
			t.Fatalf("%q: %s, by tokens %s", body, got, want)
		}
		if got != "ok" {
			dups++
		}
	}
	if dups < 1000 {
		t.Fatalf("only %d of 20,000 random bodies had a duplicate key: the generator does not exercise the check", dups)
	}
}

// FuzzCheckDuplicateKeys holds the byte scan to the token reading on any body encoding/json
// accepts (go test -fuzz=FuzzCheckDuplicateKeys ./adapters/http).
func FuzzCheckDuplicateKeys(f *testing.F) {
	for _, s := range []string{`{"a":1,"A":2}`, `{"a":"\"}","b":[{"c":1}]}`, `{"\u0061":1,"a":1}`, "{\"\xff\":1,\"\xfe\":1}"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var v any
		dec := json.NewDecoder(bytes.NewReader(body))
		if err := dec.Decode(&v); err != nil {
			return
		}
		if err := dec.Decode(&struct{}{}); !errors.Is(err, io.EOF) {
			return
		}
		if got, want := dupVerdict(checkDuplicateKeys(body)), dupVerdict(checkDuplicateKeysByTokens(body)); got != want {
			t.Fatalf("%q: %s, by tokens %s", body, got, want)
		}
	})
}

// cleanText's ASCII path answers as the rune-by-rune check does: every rune up to U+3000 alone
// and after printable ASCII, the format characters, and bytes that are not UTF-8.
func TestCleanTextMatchesRuneCheck(t *testing.T) {
	ref := func(s string) bool { return utf8.ValidString(s) && strings.IndexFunc(s, badRune) < 0 }
	var inputs []string
	for r := rune(0); r < 0x3000; r++ {
		inputs = append(inputs, string(r), "id-01"+string(r), string(r)+"x")
	}
	inputs = append(inputs, "", "\u202e", "ab\u200dcd", "\ufeff", "ok text", "x\xff", "\xc3", "abc\xc3\xa9", "tab\there", "del\x7f")
	for _, s := range inputs {
		if got, want := cleanText(s), ref(s); got != want {
			t.Errorf("cleanText(%q) = %t, the rune check says %t", s, got, want)
		}
	}
}
