package http

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

var httpMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// loadOpenAPI parses the embedded document into plain JSON-like values (maps with string keys).
func loadOpenAPI(t *testing.T) map[string]any {
	t.Helper()
	var doc map[string]any
	if err := yaml.Unmarshal(OpenAPIYAML, &doc); err != nil {
		t.Fatalf("openapi.yaml does not parse: %v", err)
	}
	if doc == nil {
		t.Fatal("openapi.yaml is empty")
	}
	return doc
}

func obj(t *testing.T, v any, where string) map[string]any {
	t.Helper()
	m, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("%s: want a mapping with string keys, got %T", where, v)
	}
	return m
}

// docOp is one operation of the document.
type docOp struct {
	method, path string
	op           map[string]any
	item         map[string]any // the path item, for path-level parameters
}

func (o docOp) key() string { return strings.ToUpper(o.method) + " " + o.path }

func docOperations(t *testing.T, doc map[string]any) []docOp {
	t.Helper()
	var ops []docOp
	for path, v := range obj(t, doc["paths"], "paths") {
		item := obj(t, v, "paths."+path)
		for _, m := range httpMethods {
			if op, ok := item[m]; ok {
				ops = append(ops, docOp{method: m, path: path, op: obj(t, op, path+"."+m), item: item})
			}
		}
	}
	sort.Slice(ops, func(i, j int) bool { return ops[i].key() < ops[j].key() })
	return ops
}

// openapiPath turns a ServeMux pattern's path into OpenAPI's template syntax:
// "{name...}" → "{name}", and a trailing "{$}" is dropped.
func openapiPath(pattern string) string {
	p := strings.TrimSuffix(pattern, "{$}")
	return regexp.MustCompile(`\{([A-Za-z0-9_]+)\.\.\.\}`).ReplaceAllString(p, "{$1}")
}

func routeKey(r Route) string { return strings.ToUpper(r.Method) + " " + openapiPath(r.Pattern) }

func diffKeys(a, b map[string]bool) []string {
	var out []string
	for k := range a {
		if !b[k] {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// TestOpenAPIMatchesRoutes is the agreement test of DESIGN.md §5: the document describes exactly
// the registered routes (sandbox ones included), with the right security.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	doc := loadOpenAPI(t)
	s := newTestServer(t, Options{Sandbox: true})
	routes := s.Routes()
	if len(routes) == 0 {
		t.Fatal("no routes registered")
	}

	inCode := map[string]bool{}
	byKey := map[string]Route{}
	for _, r := range routes {
		k := routeKey(r)
		if inCode[k] {
			t.Errorf("route %s registered twice", k)
		}
		inCode[k], byKey[k] = true, r
	}
	inDoc := map[string]bool{}
	ops := docOperations(t, doc)
	for _, o := range ops {
		inDoc[o.key()] = true
	}
	if missing, extra := diffKeys(inCode, inDoc), diffKeys(inDoc, inCode); len(missing)+len(extra) > 0 {
		var b strings.Builder
		b.WriteString("openapi.yaml and registerRoutes disagree:\n")
		for _, k := range missing {
			fmt.Fprintf(&b, "  + %s is registered but not documented: add it to openapi.yaml\n", k)
		}
		for _, k := range extra {
			fmt.Fprintf(&b, "  - %s is documented but not registered: remove it or register it\n", k)
		}
		t.Error(b.String())
	}

	for _, o := range ops {
		r, ok := byKey[o.key()]
		if !ok {
			continue // reported above
		}
		sec, ok := o.op["security"]
		if !ok {
			t.Errorf("%s: no security declared; authed routes need [{bearerAuth: []}], public ones []", o.key())
			continue
		}
		reqs, ok := sec.([]any)
		if !ok {
			t.Errorf("%s: security is %T, want a list", o.key(), sec)
			continue
		}
		anonymous, bearer := len(reqs) == 0, false
		for _, q := range reqs {
			m := obj(t, q, o.key()+".security[]")
			if len(m) == 0 {
				anonymous = true
			}
			if _, ok := m["bearerAuth"]; ok {
				bearer = true
			}
		}
		switch {
		case r.Auth && (!bearer || anonymous):
			t.Errorf("%s needs a session: security must require bearerAuth (and not allow {}), got %v", o.key(), reqs)
		case !r.Auth && !anonymous:
			t.Errorf("%s is public: security must be [] (or include {} when a token is optional), got %v", o.key(), reqs)
		}
	}
}

// Only POST /api/v1/sms-codes accepts an optional token (for the purposes sign and verify_phone);
// every other public route declares exactly security: [].
func TestOpenAPIPublicSecurityIsEmptyList(t *testing.T) {
	doc := loadOpenAPI(t)
	s := newTestServer(t, Options{Sandbox: true})
	optional := map[string]bool{"POST /api/v1/sms-codes": true}
	auth := map[string]bool{}
	for _, r := range s.Routes() {
		auth[routeKey(r)] = r.Auth
	}
	for _, o := range docOperations(t, doc) {
		if auth[o.key()] {
			continue
		}
		reqs, _ := o.op["security"].([]any)
		if optional[o.key()] {
			if len(reqs) != 2 {
				t.Errorf("%s: want [{}, {bearerAuth: []}], got %v", o.key(), reqs)
			}
			continue
		}
		if reqs == nil || len(reqs) != 0 {
			t.Errorf("%s: public route must declare security: [], got %v", o.key(), o.op["security"])
		}
	}
}

func TestNoSandboxRoutesOutsideSandbox(t *testing.T) {
	s := newTestServer(t, Options{Sandbox: false})
	for _, r := range s.Routes() {
		if strings.HasPrefix(r.Pattern, "/api/v1/sandbox/") {
			t.Errorf("sandbox route %s %s registered with Sandbox: false", r.Method, r.Pattern)
		}
	}
	rec := serve(t, s, req{method: "GET", target: "/api/v1/sandbox/sms"})
	expectError(t, rec, http.StatusNotFound, "route-not-found")

	// And the sandbox build has them, so the check above is not vacuous.
	n := 0
	for _, r := range newTestServer(t, Options{Sandbox: true}).Routes() {
		if strings.HasPrefix(r.Pattern, "/api/v1/sandbox/") {
			n++
		}
	}
	if n == 0 {
		t.Fatal("no sandbox route registered with Sandbox: true")
	}
}

func TestRoutesReturnsACopy(t *testing.T) {
	s := newTestServer(t, Options{})
	r := s.Routes()
	r[0].Pattern = "/mutated"
	if s.Routes()[0].Pattern == "/mutated" {
		t.Fatal("Routes exposes the server's own slice")
	}
}

func TestOpenAPIDocumentShape(t *testing.T) {
	doc := loadOpenAPI(t)
	if v, _ := doc["openapi"].(string); !strings.HasPrefix(v, "3.1.") {
		t.Errorf("openapi = %v, want 3.1.x", doc["openapi"])
	}
	info := obj(t, doc["info"], "info")
	if info["title"] != "数信签 Shuxinqian API" || info["version"] != "1.0.0" {
		t.Errorf("info = %v", info)
	}
	servers, _ := doc["servers"].([]any)
	if len(servers) != 1 || obj(t, servers[0], "servers[0]")["url"] != "/" {
		t.Errorf("servers = %v, want [{url: /}]", doc["servers"])
	}
	if _, ok := doc["security"]; ok {
		t.Error("no document-wide security: each operation declares its own")
	}
	comps := obj(t, doc["components"], "components")
	bearer := obj(t, obj(t, comps["securitySchemes"], "securitySchemes")["bearerAuth"], "bearerAuth")
	if bearer["type"] != "http" || bearer["scheme"] != "bearer" {
		t.Errorf("bearerAuth = %v, want type http, scheme bearer", bearer)
	}

	responses := obj(t, comps["responses"], "components.responses")
	for name, status := range map[string]string{
		"BadRequest": "400", "Unauthorized": "401", "PayloadTooLarge": "413", "UnsupportedMediaType": "415",
		"UnprocessableEntity": "422", "TooManyRequests": "429", "ServiceUnavailable": "503",
	} {
		r, ok := responses[name]
		if !ok {
			t.Errorf("components.responses.%s (%s) missing", name, status)
			continue
		}
		schema := obj(t, obj(t, obj(t, obj(t, r, name)["content"], name+".content")["application/json"], name+".json")["schema"], name+".schema")
		if schema["$ref"] != "#/components/schemas/Error" {
			t.Errorf("%s: schema %v, want the Error schema", name, schema)
		}
	}
	if h, _ := obj(t, responses["TooManyRequests"], "429")["headers"].(map[string]any); h["Retry-After"] == nil {
		t.Error("429 response has no Retry-After header")
	}
	if h, _ := obj(t, responses["Unauthorized"], "401")["headers"].(map[string]any); h["WWW-Authenticate"] == nil {
		t.Error("401 response has no WWW-Authenticate header")
	}

	ids := map[string]string{}
	for _, o := range docOperations(t, doc) {
		id, _ := o.op["operationId"].(string)
		if id == "" {
			t.Errorf("%s: no operationId", o.key())
		} else if prev, dup := ids[id]; dup {
			t.Errorf("operationId %q used by %s and %s", id, prev, o.key())
		}
		ids[id] = o.key()
		if s, _ := o.op["summary"].(string); s == "" {
			t.Errorf("%s: no summary", o.key())
		}
		resp, _ := o.op["responses"].(map[string]any)
		if len(resp) == 0 {
			t.Errorf("%s: no responses", o.key())
		}
		for code := range resp {
			if !regexp.MustCompile(`^([1-5][0-9][0-9]|[1-5]XX|default)$`).MatchString(code) {
				t.Errorf("%s: response key %q", o.key(), code)
			}
		}
		// Path parameters: every {name} of the template is declared, and nothing else.
		want := map[string]bool{}
		for _, m := range regexp.MustCompile(`\{([^}]+)\}`).FindAllStringSubmatch(o.path, -1) {
			want[m[1]] = true
		}
		got := map[string]bool{}
		for _, params := range []any{o.item["parameters"], o.op["parameters"]} {
			list, _ := params.([]any)
			for _, p := range list {
				pm := obj(t, p, o.key()+".parameters[]")
				if pm["in"] == "path" {
					got[fmt.Sprint(pm["name"])] = true
					if pm["required"] != true {
						t.Errorf("%s: path parameter %v must be required", o.key(), pm["name"])
					}
				}
			}
		}
		if !reflect.DeepEqual(want, got) {
			t.Errorf("%s: path parameters %v, template has %v", o.key(), keys(got), keys(want))
		}
		// Operations with a JSON body can fail decoding.
		if _, ok := o.op["requestBody"]; ok {
			for _, code := range []string{"400", "413", "415", "422"} {
				if _, ok := resp[code]; !ok {
					t.Errorf("%s takes a JSON body but documents no %s", o.key(), code)
				}
			}
		}
		// Authed operations can answer 401.
		if reqs, _ := o.op["security"].([]any); len(reqs) > 0 {
			if _, ok := resp["401"]; !ok {
				t.Errorf("%s accepts a token but documents no 401", o.key())
			}
		}
	}
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestOpenAPIRefsResolve checks every local $ref points at something.
func TestOpenAPIRefsResolve(t *testing.T) {
	doc := loadOpenAPI(t)
	var walk func(v any, at string)
	walk = func(v any, at string) {
		switch x := v.(type) {
		case map[string]any:
			if ref, ok := x["$ref"].(string); ok {
				if !strings.HasPrefix(ref, "#/") {
					t.Errorf("%s: non-local $ref %q", at, ref)
				} else if _, err := resolvePointer(doc, ref[1:]); err != nil {
					t.Errorf("%s: $ref %q: %v", at, ref, err)
				}
			}
			for k, c := range x {
				walk(c, at+"/"+k)
			}
		case []any:
			for i, c := range x {
				walk(c, fmt.Sprintf("%s/%d", at, i))
			}
		case map[any]any:
			t.Errorf("%s: mapping with non-string keys (quote them, e.g. \"200\"): it cannot be served as JSON", at)
		}
	}
	walk(doc, "#")
}

func resolvePointer(doc any, ptr string) (any, error) {
	cur := doc
	for _, part := range strings.Split(strings.TrimPrefix(ptr, "/"), "/") {
		part = strings.ReplaceAll(strings.ReplaceAll(part, "~1", "/"), "~0", "~")
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%q is not inside a mapping", part)
		}
		if cur, ok = m[part]; !ok {
			return nil, fmt.Errorf("no %q", part)
		}
	}
	return cur, nil
}

// jsonFields lists the JSON names of a struct's fields and those that are always sent
// (no omitempty).
func jsonFields(typ reflect.Type) (all, always []string) {
	for i := range typ.NumField() {
		f := typ.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if name == "" {
			name = f.Name
		}
		all = append(all, name)
		if !slices.Contains(strings.Split(opts, ","), "omitempty") {
			always = append(always, name)
		}
	}
	sort.Strings(all)
	sort.Strings(always)
	return all, always
}

func stringList(v any) []string {
	list, _ := v.([]any)
	out := make([]string, 0, len(list))
	for _, x := range list {
		out = append(out, fmt.Sprint(x))
	}
	sort.Strings(out)
	return out
}

// TestOpenAPISchemasMatchGoStructs checks each documented body against the Go struct that
// produces or consumes it: same property names as the json tags, required = the fields without
// omitempty, and additionalProperties: false.
func TestOpenAPISchemasMatchGoStructs(t *testing.T) {
	doc := loadOpenAPI(t)
	schemas := obj(t, obj(t, doc["components"], "components")["schemas"], "components.schemas")
	for name, typ := range map[string]reflect.Type{
		"SmsCodeRequest":     reflect.TypeFor[smsCodeRequest](),
		"SmsCodeResponse":    reflect.TypeFor[smsCodeResponse](),
		"LoginRequest":       reflect.TypeFor[loginRequest](),
		"LoginResponse":      reflect.TypeFor[loginResponse](),
		"User":               reflect.TypeFor[userJSON](),
		"Me":                 reflect.TypeFor[meResponse](),
		"SetPasswordRequest": reflect.TypeFor[setPasswordRequest](),
		"ActivityItem":       reflect.TypeFor[activityItem](),
		"SentSms":            reflect.TypeFor[SentSMS](),
		"Error":              reflect.TypeFor[errorBody](),
	} {
		t.Run(name, func(t *testing.T) {
			s := obj(t, schemas[name], "schemas."+name)
			checkStructSchema(t, name, s, typ)
			if name == "Error" {
				inner := obj(t, obj(t, s["properties"], "Error.properties")["error"], "Error.properties.error")
				checkStructSchema(t, "Error.error", inner, reflect.TypeFor[errorPayload]())
			}
		})
	}
}

func checkStructSchema(t *testing.T, name string, s map[string]any, typ reflect.Type) {
	t.Helper()
	all, always := jsonFields(typ)
	if s["type"] != "object" {
		t.Errorf("%s: type %v, want object", name, s["type"])
	}
	if s["additionalProperties"] != false {
		t.Errorf("%s: additionalProperties must be false", name)
	}
	var props []string
	for k := range obj(t, s["properties"], name+".properties") {
		props = append(props, k)
	}
	sort.Strings(props)
	if !slices.Equal(props, all) {
		t.Errorf("%s: properties %v, Go json fields %v", name, props, all)
	}
	if req := stringList(s["required"]); !slices.Equal(req, always) {
		t.Errorf("%s: required %v, Go fields without omitempty %v", name, req, always)
	}
}

// TestOpenAPIOperationBodies ties each operation to its request and success schemas.
func TestOpenAPIOperationBodies(t *testing.T) {
	doc := loadOpenAPI(t)
	type want struct {
		request string // schema name, "" for none
		status  string
		body    string // success schema name, "" for no content
	}
	table := map[string]want{
		"GET /healthz":                    {"", "200", "Status"},
		"GET /readyz":                     {"", "200", "Status"},
		"POST /api/v1/sms-codes":          {"SmsCodeRequest", "202", "SmsCodeResponse"},
		"POST /api/v1/sessions":           {"LoginRequest", "201", "LoginResponse"},
		"DELETE /api/v1/sessions/current": {"", "204", ""},
		"GET /api/v1/me":                  {"", "200", "Me"},
		"PUT /api/v1/me/password":         {"SetPasswordRequest", "204", ""},
		"GET /api/v1/me/activity":         {"", "200", "ActivityList"},
		"GET /api/v1/sandbox/sms":         {"", "200", "SentSmsList"},
	}
	ops := map[string]docOp{}
	for _, o := range docOperations(t, doc) {
		ops[o.key()] = o
	}
	for key, w := range table {
		t.Run(key, func(t *testing.T) {
			o, ok := ops[key]
			if !ok {
				t.Fatalf("%s not documented", key)
			}
			rb, hasBody := o.op["requestBody"].(map[string]any)
			if (w.request != "") != hasBody {
				t.Fatalf("requestBody present = %v, want %v", hasBody, w.request != "")
			}
			if hasBody {
				if rb["required"] != true {
					t.Error("requestBody must be required")
				}
				content := obj(t, rb["content"], "requestBody.content")
				if len(content) != 1 || content["application/json"] == nil {
					t.Errorf("requestBody content %v, want only application/json", keysAny(content))
				}
				ref := obj(t, obj(t, content["application/json"], "json")["schema"], "schema")["$ref"]
				if ref != "#/components/schemas/"+w.request {
					t.Errorf("request schema %v, want %s", ref, w.request)
				}
			}
			resp := obj(t, obj(t, o.op["responses"], "responses")[w.status], "responses."+w.status)
			content, hasContent := resp["content"].(map[string]any)
			if (w.body != "") != hasContent {
				t.Fatalf("%s content present = %v, want %v", w.status, hasContent, w.body != "")
			}
			if hasContent {
				ref := obj(t, obj(t, content["application/json"], "json")["schema"], "schema")["$ref"]
				if ref != "#/components/schemas/"+w.body {
					t.Errorf("%s schema %v, want %s", w.status, ref, w.body)
				}
			}
		})
	}
}

func keysAny(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestOpenAPIDocumentsDomainRules pins the facts the brief asks the document to state.
func TestOpenAPIDocumentsDomainRules(t *testing.T) {
	doc := loadOpenAPI(t)
	schemas := obj(t, obj(t, doc["components"], "components")["schemas"], "schemas")

	purposes := stringList(obj(t, schemas["SmsPurpose"], "SmsPurpose")["enum"])
	if !slices.Equal(purposes, []string{"login", "reset_password", "sign", "verify_phone"}) {
		t.Errorf("SmsPurpose enum = %v", purposes)
	}
	re := func(schema string) *regexp.Regexp {
		p, _ := obj(t, schemas[schema], schema)["pattern"].(string)
		r, err := regexp.Compile(p)
		if err != nil {
			t.Fatalf("%s pattern %q: %v", schema, p, err)
		}
		return r
	}
	code := re("SmsCode")
	for s, ok := range map[string]bool{"123456": true, "000000": true, "12345": false, "1234567": false, "12345a": false} {
		if code.MatchString(s) != ok {
			t.Errorf("SmsCode pattern on %q = %v", s, !ok)
		}
	}
	masked := re("MaskedPhone")
	for s, ok := range map[string]bool{"138****1234": true, "13800001234": false, "138***1234": false} {
		if masked.MatchString(s) != ok {
			t.Errorf("MaskedPhone pattern on %q = %v", s, !ok)
		}
	}
	pw := obj(t, schemas["NewPassword"], "NewPassword")
	if pw["minLength"] != 8 || pw["maxLength"] != 32 {
		t.Errorf("NewPassword length %v–%v, want 8–32", pw["minLength"], pw["maxLength"])
	}
	desc, _ := pw["description"].(string)
	for _, w := range []string{"8–32", "digit", "upper-case", "lower-case"} {
		if !strings.Contains(desc, w) {
			t.Errorf("NewPassword description does not mention %q", w)
		}
	}
}

// TestServedOpenAPI checks both served forms against the embedded document.
func TestServedOpenAPI(t *testing.T) {
	s := newTestServer(t, Options{Sandbox: true})

	rec := serve(t, s, req{method: "GET", target: "/api/v1/openapi.json"})
	if rec.Code != http.StatusOK {
		t.Fatalf("openapi.json: %d %s", rec.Code, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("openapi.json Content-Type = %q", ct)
	}
	if !json.Valid(rec.Body.Bytes()) {
		t.Fatal("openapi.json is not valid JSON")
	}
	var served map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &served); err != nil {
		t.Fatal(err)
	}
	// The YAML's paths, normalised through JSON so numbers and maps compare alike.
	b, err := json.Marshal(loadOpenAPI(t))
	if err != nil {
		t.Fatalf("openapi.yaml cannot be encoded as JSON: %v", err)
	}
	var fromYAML map[string]any
	if err := json.Unmarshal(b, &fromYAML); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(served["paths"], fromYAML["paths"]) {
		t.Error("openapi.json paths differ from openapi.yaml")
	}
	if !reflect.DeepEqual(served, fromYAML) {
		t.Error("openapi.json differs from openapi.yaml")
	}
	if served["openapi"] != "3.1.0" {
		t.Errorf("served openapi = %v", served["openapi"])
	}

	rec = serve(t, s, req{method: "GET", target: "/api/v1/openapi.yaml"})
	if rec.Code != http.StatusOK || !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/yaml") {
		t.Fatalf("openapi.yaml: %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	if rec.Body.String() != string(OpenAPIYAML) {
		t.Error("served openapi.yaml differs from the embedded document")
	}
}
