package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// Issue 11 acceptance: a schema-driven fuzz of EVERY operation of the served OpenAPI document
// finds no 5xx. For each operation it sends, with and without a session, bad values for every
// path parameter, every query and header parameter and every JSON body field (one at a time, the
// rest of the body well-formed from the schema), whole-body oddities, and for multipart uploads
// malformed forms. Bounded: a fixed list of values, no randomness, a few thousand requests.

// badStrings are the string values every parameter and field gets.
var badStrings = []string{
	"\x00", "a\x00b", "\x1b[31mred", "\x7f", "\u0085", "\r\nX-Injected: 1", "\t",
	"\u202eevil", "\ufeff", "\u200b", "😀\u0301\u0301", "\U0010FFFF", "\xff\xfe", "%00", "../../etc/passwd",
	"", " ", strings.Repeat("a", 300), strings.Repeat("甲", 4000), "-1", "0", "1e309", "NaN", "null",
	"01ARZ3NDEKTSV4RRFFQ69G5FAV", "' OR 1=1 --", "<script>",
}

// badJSON are the non-string JSON values every body field gets (wrong types, extremes).
var badJSON = []any{nil, true, -1, 0, 1e308, 9223372036854775807, -9223372036854775808, 1.5, []any{}, []any{"\x00"}, map[string]any{}, map[string]any{"\x00": 1}}

// badBodies are whole bodies.
var badBodies = []string{"", "null", "[]", "{", "{}", `{"a":1}`, "\xff\xfe{}", `{"x":"\u0000"}`, strings.Repeat("[", 5000), `"str"`, "1e999"}

type fuzzDoc struct {
	Paths      map[string]map[string]json.RawMessage `json:"paths"`
	Components struct {
		Schemas    map[string]map[string]any `json:"schemas"`
		Parameters map[string]map[string]any `json:"parameters"`
	} `json:"components"`
}

type fuzzParam struct{ name, in string }

type fuzzOp struct {
	method, path string
	params       []fuzzParam
	jsonBody     map[string]any // schema, nil when none
	multipart    bool
}

func TestFuzzEveryOperation(t *testing.T) {
	if testing.Short() {
		t.Skip("bounded fuzz of every operation; skipped with -short")
	}
	forEachBackend(t, func(t *testing.T, s *server) {
		st, _, raw := s.get("/api/v1/openapi.json", "", "")
		if st != 200 {
			t.Fatalf("openapi.json: %d", st)
		}
		var doc fuzzDoc
		if err := json.Unmarshal(raw, &doc); err != nil {
			t.Fatal(err)
		}
		ops := fuzzOperations(t, &doc)
		if len(ops) < 60 {
			t.Fatalf("only %d operations in the served document", len(ops))
		}
		token := s.login("13900000099")
		// The console routes are fuzzed with an admin operator session too.
		opToken := s.operatorLogin("fuzzadmin", "admin")
		var sent, fivexx, skipped atomic.Int64
		send := func(op fuzzOp, what string, req *http.Request) int {
			sent.Add(1)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				// The client refuses to send some values (it validates header values); that is
				// not an answer of the server.
				return 0
			}
			var b bytes.Buffer
			_, _ = b.ReadFrom(res.Body)
			_ = res.Body.Close()
			if res.StatusCode >= 500 {
				fivexx.Add(1)
				t.Errorf("%s %s (%s): %d %s", op.method, op.path, what, res.StatusCode, truncate(b.String(), 300))
			}
			return res.StatusCode
		}
		// The variants of an operation are sent by a few concurrent clients (the base request
		// first, alone): the server also meets its bad input concurrently, as in production.
		jobs := make(chan func(), 64)
		var workers sync.WaitGroup
		for range 4 {
			workers.Add(1)
			go func() {
				defer workers.Done()
				for j := range jobs {
					j()
				}
			}()
		}
		defer func() { close(jobs); workers.Wait() }()
		var pending sync.WaitGroup
		var refused bool // the base request of this operation and caller was refused (401/403)
		check := func(op fuzzOp, what string, req *http.Request) {
			pending.Add(1)
			jobs <- func() { defer pending.Done(); send(op, what, req) }
		}
		for _, op := range ops {
			auths := []string{"", token}
			if strings.HasPrefix(op.path, "/api/v1/admin/") {
				auths = append(auths, opToken)
			}
			for _, auth := range auths {
				if auth != "" && op.method == "DELETE" && (op.path == "/api/v1/sessions/current" || op.path == "/api/v1/admin/sessions/current") {
					continue // would log the fuzzing session out; fuzzed without a session
				}
				build := func(path string, query url.Values, headers map[string]string, body []byte, ct string) *http.Request {
					u := s.base + path
					if len(query) > 0 {
						u += "?" + query.Encode()
					}
					req, err := http.NewRequest(op.method, u, bytes.NewReader(body))
					if err != nil {
						return nil
					}
					if ct != "" {
						req.Header.Set("Content-Type", ct)
					}
					if auth != "" {
						req.Header.Set("Authorization", "Bearer "+auth)
					}
					for k, v := range headers {
						req.Header.Set(k, v)
					}
					return req
				}
				base := fuzzBody(&doc, op.jsonBody, 0)
				baseJSON, _ := json.Marshal(base)
				ct := ""
				if op.jsonBody != nil {
					ct = "application/json"
				}
				pathWith := func(name, v string) string {
					p := op.path
					for _, prm := range op.params {
						if prm.in != "path" {
							continue
						}
						val := "01jzzzzzzzzzzzzzzzzzzzzzzz"
						if prm.name == "code" {
							val = "q86804"
						}
						if prm.name == name {
							val = v
						}
						p = strings.ReplaceAll(p, "{"+prm.name+"}", url.PathEscape(val))
					}
					return p
				}
				// Well-formed request first, then each parameter with each bad value.
				refused = false
				if req := build(pathWith("", ""), nil, nil, baseJSON, ct); req != nil {
					st := send(op, "base", req)
					refused = st == http.StatusUnauthorized || st == http.StatusForbidden
				}
				for _, prm := range op.params {
					for _, v := range badStrings {
						var req *http.Request
						switch prm.in {
						case "path":
							if v == "" {
								continue
							}
							req = build(pathWith(prm.name, v), nil, nil, baseJSON, ct)
						case "query":
							req = build(pathWith("", ""), url.Values{prm.name: {v}}, nil, baseJSON, ct)
						case "header":
							req = build(pathWith("", ""), nil, map[string]string{prm.name: v}, baseJSON, ct)
						}
						if req != nil {
							check(op, fmt.Sprintf("%s %s=%q", prm.in, prm.name, truncate(v, 20)), req)
						}
					}
				}
				// A caller refused by authentication or permission never gets its body read: its
				// body variants would all meet the same refusal (the parameters above are still
				// sent, in case one were read before the caller is checked).
				if refused {
					skipped.Add(1)
					pending.Wait()
					continue
				}
				if op.jsonBody != nil {
					for _, b := range badBodies {
						if req := build(pathWith("", ""), nil, nil, []byte(b), ct); req != nil {
							check(op, "body "+truncate(b, 20), req)
						}
					}
					for _, cts := range []string{"application/json; charset=utf-16", "text/plain", "application/json; charset"} {
						if req := build(pathWith("", ""), nil, nil, baseJSON, cts); req != nil {
							check(op, "content-type "+cts, req)
						}
					}
					if obj, ok := base.(map[string]any); ok {
						for _, field := range sortedKeys(obj) {
							for _, v := range append(stringsAsAny(badStrings), badJSON...) {
								mut := map[string]any{}
								for k, x := range obj {
									mut[k] = x
								}
								mut[field] = v
								body, _ := json.Marshal(mut)
								if req := build(pathWith("", ""), nil, nil, body, ct); req != nil {
									check(op, fmt.Sprintf("field %s=%v", field, truncate(fmt.Sprint(v), 20)), req)
								}
							}
						}
					}
				}
				if op.multipart {
					for _, form := range fuzzForms(t) {
						if req := build(pathWith("", ""), nil, nil, form.body, form.ct); req != nil {
							check(op, "multipart "+form.what, req)
						}
					}
				}
				pending.Wait()
			}
		}
		t.Logf("fuzz: %d operations, %d requests, %d answered 5xx, %d refused callers' bodies not sent",
			len(ops), sent.Load(), fivexx.Load(), skipped.Load())
	})
}

func fuzzOperations(t *testing.T, doc *fuzzDoc) []fuzzOp {
	var ops []fuzzOp
	for _, path := range sortedKeys(doc.Paths) {
		item := doc.Paths[path]
		var shared []fuzzParam
		if raw, ok := item["parameters"]; ok {
			shared = fuzzParams(t, doc, raw)
		}
		for _, method := range sortedKeys(item) {
			if method == "parameters" || method == "summary" || method == "description" {
				continue
			}
			var op struct {
				Parameters  json.RawMessage `json:"parameters"`
				RequestBody struct {
					Content map[string]struct {
						Schema map[string]any `json:"schema"`
					} `json:"content"`
				} `json:"requestBody"`
			}
			if err := json.Unmarshal(item[method], &op); err != nil {
				t.Fatalf("%s %s: %v", method, path, err)
			}
			o := fuzzOp{method: strings.ToUpper(method), path: path, params: append([]fuzzParam(nil), shared...)}
			if len(op.Parameters) > 0 {
				o.params = append(o.params, fuzzParams(t, doc, op.Parameters)...)
			}
			if c, ok := op.RequestBody.Content["application/json"]; ok {
				o.jsonBody = c.Schema
				if o.jsonBody == nil {
					o.jsonBody = map[string]any{}
				}
			}
			_, o.multipart = op.RequestBody.Content["multipart/form-data"]
			ops = append(ops, o)
		}
	}
	return ops
}

func fuzzParams(t *testing.T, doc *fuzzDoc, raw json.RawMessage) []fuzzParam {
	var ps []map[string]any
	if err := json.Unmarshal(raw, &ps); err != nil {
		t.Fatal(err)
	}
	var out []fuzzParam
	for _, p := range ps {
		if ref, ok := p["$ref"].(string); ok {
			p = doc.Components.Parameters[strings.TrimPrefix(ref, "#/components/parameters/")]
		}
		out = append(out, fuzzParam{name: fmt.Sprint(p["name"]), in: fmt.Sprint(p["in"])})
	}
	return out
}

// fuzzBody builds a well-formed value for a schema (enum, example or a plausible default).
func fuzzBody(doc *fuzzDoc, schema map[string]any, depth int) any {
	if schema == nil || depth > 6 {
		return nil
	}
	if ref, ok := schema["$ref"].(string); ok {
		return fuzzBody(doc, doc.Components.Schemas[strings.TrimPrefix(ref, "#/components/schemas/")], depth+1)
	}
	for _, k := range []string{"allOf", "oneOf", "anyOf"} {
		if list, ok := schema[k].([]any); ok && len(list) > 0 {
			m, _ := list[0].(map[string]any)
			return fuzzBody(doc, m, depth+1)
		}
	}
	if ex, ok := schema["example"]; ok {
		return ex
	}
	if enum, ok := schema["enum"].([]any); ok && len(enum) > 0 {
		return enum[0]
	}
	switch schema["type"] {
	case "string":
		return "x"
	case "integer", "number":
		return 1
	case "boolean":
		return true
	case "array":
		items, _ := schema["items"].(map[string]any)
		return []any{fuzzBody(doc, items, depth+1)}
	default:
		props, _ := schema["properties"].(map[string]any)
		out := map[string]any{}
		for k, v := range props {
			m, _ := v.(map[string]any)
			out[k] = fuzzBody(doc, m, depth+1)
		}
		return out
	}
}

type fuzzForm struct {
	what string
	ct   string
	body []byte
}

func fuzzForms(t *testing.T) []fuzzForm {
	var out []fuzzForm
	add := func(what, purpose, filename string, data []byte) {
		var b bytes.Buffer
		mw := multipart.NewWriter(&b)
		_ = mw.WriteField("purpose", purpose)
		fw, _ := mw.CreateFormFile("file", filename)
		_, _ = fw.Write(data)
		_ = mw.Close()
		out = append(out, fuzzForm{what, mw.FormDataContentType(), b.Bytes()})
	}
	png := pngBytes(t, 64, 64)
	for _, p := range []string{"\x00", "signature\x00", strings.Repeat("p", 5000), "signature", "business_licence", "authorization_letter_scan"} {
		add("purpose "+truncate(p, 12), p, "a.png", png)
	}
	add("bomb", "signature", "a.png", bombPNG(100000, 100000))
	add("truncated png", "signature", "a.png", png[:40])
	add("garbage", "business_licence", "a.jpg", []byte("\x00\x01garbage"))
	add("nul filename", "signature", "a\x00.png", png)
	add("empty file", "signature", "a.png", nil)
	out = append(out, fuzzForm{"no boundary", "multipart/form-data", []byte("--x\r\n")},
		fuzzForm{"broken", "multipart/form-data; boundary=zz", []byte("--zz\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\n\x00")},
		fuzzForm{"json to multipart", "application/json", []byte(`{}`)})
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func stringsAsAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
