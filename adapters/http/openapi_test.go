package http

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"os"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/shuxinqian/server/application"
	"github.com/shuxinqian/server/domain/channel"
	"github.com/shuxinqian/server/domain/enterprise"
	"github.com/shuxinqian/server/domain/file"
	"github.com/shuxinqian/server/domain/invoice"
	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/membership"
	"github.com/shuxinqian/server/domain/order"
	"github.com/shuxinqian/server/domain/otp"
	"github.com/shuxinqian/server/domain/signature"
	"github.com/shuxinqian/server/domain/signflow"
	"github.com/shuxinqian/server/domain/user"
	"github.com/shuxinqian/server/ports"
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

// openapiLiveness is a do-nothing sandbox face check, so that its route is mounted.
type openapiLiveness struct{}

func (openapiLiveness) Result(context.Context, string) (ports.LivenessResult, error) {
	return ports.LivenessResult{Status: ports.LivenessPending}, nil
}
func (openapiLiveness) Play(string, bool) error                      { return nil }
func (openapiLiveness) PlayAs(string, string, kernel.IDNumber) error { return nil }

// fullSandbox mounts every route the server can register, the sandbox ones included.
func fullSandbox() Options {
	return Options{Sandbox: true, SandboxLiveness: openapiLiveness{},
		SandboxWeChatPay: func(context.Context, string) error { return nil },
		SandboxRefund:    func(context.Context, string, string) error { return nil }}
}

// TestOpenAPIMatchesRoutes is the agreement test of DESIGN.md §5: the document describes exactly
// the registered routes (sandbox ones included), with the right security.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	doc := loadOpenAPI(t)
	s := newTestServer(t, fullSandbox())
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
		anonymous, bearer, operatorAuth := len(reqs) == 0, false, false
		for _, q := range reqs {
			m := obj(t, q, o.key()+".security[]")
			if len(m) == 0 {
				anonymous = true
			}
			if _, ok := m["bearerAuth"]; ok {
				bearer = true
			}
			if _, ok := m["operatorAuth"]; ok {
				operatorAuth = true
			}
		}
		switch {
		case r.Operator && (!operatorAuth || bearer || anonymous):
			t.Errorf("%s is a console route: security must be exactly [{operatorAuth: []}], got %v", o.key(), reqs)
		case r.Operator:
		case operatorAuth:
			t.Errorf("%s is not a console route but declares operatorAuth", o.key())
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
	s := newTestServer(t, fullSandbox())
	optional := map[string]bool{"POST /api/v1/sms-codes": true}
	auth := map[string]bool{}
	for _, r := range s.Routes() {
		auth[routeKey(r)] = r.Auth || r.Operator
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
	s := newTestServer(t, Options{Sandbox: false, SandboxLiveness: openapiLiveness{}})
	for _, r := range s.Routes() {
		if strings.HasPrefix(r.Pattern, "/api/v1/sandbox/") {
			t.Errorf("sandbox route %s %s registered with Sandbox: false", r.Method, r.Pattern)
		}
	}
	rec := serve(t, s, req{method: "GET", target: "/api/v1/sandbox/sms"})
	expectError(t, rec, http.StatusNotFound, "route-not-found")

	// And the sandbox build has them, so the check above is not vacuous.
	n := 0
	for _, r := range newTestServer(t, fullSandbox()).Routes() {
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
		"Forbidden": "403", "NotFound": "404", "Conflict": "409", "Gone": "410",
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
				pm := deref(t, doc, obj(t, p, o.key()+".parameters[]"))
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
		// Operations with a JSON body can fail decoding (WeChat Pay's callback answers in
		// WeChat's format instead; TestOpenAPIWeChatPayCallback checks it).
		if rb, ok := o.op["requestBody"].(map[string]any); ok && o.key() != wechatCallbackKey && o.key() != wechatRefundCallbackKey && !binaryRequest(rb) {
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

// deref follows a local $ref (one level is all the document uses for parameters and responses).
func deref(t *testing.T, doc map[string]any, m map[string]any) map[string]any {
	t.Helper()
	ref, ok := m["$ref"].(string)
	if !ok {
		return m
	}
	v, err := resolvePointer(doc, strings.TrimPrefix(ref, "#"))
	if err != nil {
		t.Fatalf("$ref %q: %v", ref, err)
	}
	return obj(t, v, ref)
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
// (neither omitempty nor omitzero).
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
		if o := strings.Split(opts, ","); !slices.Contains(o, "omitempty") && !slices.Contains(o, "omitzero") {
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

		"Channel":                      reflect.TypeFor[channelJSON](),
		"CatalogItem":                  reflect.TypeFor[catalogItemJSON](),
		"Grants":                       reflect.TypeFor[channel.Grants](),
		"SwitchChannelRequest":         reflect.TypeFor[switchChannelRequest](),
		"RealNameRequest":              reflect.TypeFor[realNameRequest](),
		"RealName":                     reflect.TypeFor[realNameJSON](),
		"Liveness":                     reflect.TypeFor[livenessJSON](),
		"SigningPasswordRequest":       reflect.TypeFor[signingPasswordRequest](),
		"VerifySigningPasswordRequest": reflect.TypeFor[verifySigningPasswordRequest](),
		"Certificate":                  reflect.TypeFor[certificateJSON](),
		"Signature":                    reflect.TypeFor[signatureJSON](),
		"CreateSignatureRequest":       reflect.TypeFor[createSignatureRequest](),
		"UpdateSignatureRequest":       reflect.TypeFor[updateSignatureRequest](),
		"File":                         reflect.TypeFor[fileJSON](),
		"SandboxLivenessRequest":       reflect.TypeFor[sandboxLivenessRequest](),

		"StartVerificationRequest": reflect.TypeFor[startVerificationRequest](),
		"Verification":             reflect.TypeFor[verificationJSON](),
		"AuthorizationLink":        reflect.TypeFor[linkJSON](),
		"BankTransfer":             reflect.TypeFor[transferJSON](),
		"LegalRepPhoneRequest":     reflect.TypeFor[legalRepPhoneRequest](),
		"SignLetterRequest":        reflect.TypeFor[signRequest](),
		"BankTransferRequest":      reflect.TypeFor[bankTransferRequest](),
		"ConfirmTransferRequest":   reflect.TypeFor[confirmTransferRequest](),
		"AuthorizationLinkPage":    reflect.TypeFor[linkPageJSON](),
		"AuthorizationLinkSteps":   reflect.TypeFor[linkStepsJSON](),
		"LinkSmsCodeRequest":       reflect.TypeFor[linkCodeRequest](),
		"LinkLivenessRequest":      reflect.TypeFor[linkLivenessRequest](),
		"LinkSignRequest":          reflect.TypeFor[linkSignRequest](),
		"OrgCertificate":           reflect.TypeFor[orgCertJSON](),
		"Enterprise":               reflect.TypeFor[enterpriseJSON](),
		"SandboxRegistryEntry":     reflect.TypeFor[SandboxRegistryEntry](),
		"SandboxTransfer":          reflect.TypeFor[SandboxTransfer](),

		"EnterpriseSearchResult": reflect.TypeFor[enterpriseSearchJSON](),
		"Member":                 reflect.TypeFor[memberJSON](),
		"AddMemberRequest":       reflect.TypeFor[addMemberRequest](),
		"BatchRequest":           reflect.TypeFor[batchRequest](),
		"BatchResultItem":        reflect.TypeFor[batchItemJSON](),

		"Quota":             reflect.TypeFor[quotaJSON](),
		"OrderLine":         reflect.TypeFor[orderLineJSON](),
		"PlaceOrderRequest": reflect.TypeFor[placeOrderRequest](),
		"OrderItem":         reflect.TypeFor[orderItemJSON](),
		"Order":             reflect.TypeFor[orderJSON](),
		"WeChatPayRequest":  reflect.TypeFor[wechatPayRequest](),
		"WeChatPayAnswer":   reflect.TypeFor[wechatAnswer](),

		"RefundRequest":              reflect.TypeFor[refundRequest](),
		"Refund":                     reflect.TypeFor[refundJSON](),
		"QuotaReduction":             reflect.TypeFor[reductionJSON](),
		"RefundAnswer":               reflect.TypeFor[refundAnswer](),
		"SandboxSettleRefundRequest": reflect.TypeFor[sandboxSettleRequest](),

		"InvoiceRequest": reflect.TypeFor[invoiceRequest](),
		"Invoice":        reflect.TypeFor[invoiceJSON](),

		"Seal":                  reflect.TypeFor[sealJSON](),
		"SignFlow":              reflect.TypeFor[flowJSON](),
		"SignFlowDocument":      reflect.TypeFor[flowDocumentJSON](),
		"SignFlowSigner":        reflect.TypeFor[flowSignerJSON](),
		"SignFlowField":         reflect.TypeFor[flowFieldJSON](),
		"CreateSignFlowRequest": reflect.TypeFor[createFlowRequest](),
		"SignFlowDocumentInput": reflect.TypeFor[flowDocumentInput](),
		"SignFlowSignerInput":   reflect.TypeFor[flowSignerInput](),
		"SignFlowReasonRequest": reflect.TypeFor[reasonRequest](),
		"SignFlowSignRequest":   reflect.TypeFor[signFlowRequest](),
		"CreateSealRequest":     reflect.TypeFor[createSealRequest](),
		"UpdateSealRequest":     reflect.TypeFor[updateSealRequest](),
		"SealGrant":             reflect.TypeFor[sealGrantJSON](),
		"GrantSealRequest":      reflect.TypeFor[grantSealRequest](),
		"AdminLoginRequest":     reflect.TypeFor[adminLoginRequest](),
		"AdminLoginResponse":    reflect.TypeFor[adminLoginResponse](),
		"Operator":              reflect.TypeFor[operatorJSON](),
		"AuditEntry":            reflect.TypeFor[auditJSON](),
		"AuditPage":             reflect.TypeFor[auditPage](),

		"CreateChannelRequest":        reflect.TypeFor[createChannelRequest](),
		"EditChannelRequest":          reflect.TypeFor[editChannelRequest](),
		"AdminChannel":                reflect.TypeFor[adminChannelJSON](),
		"AdminChannelPage":            reflect.TypeFor[adminChannelPage](),
		"CatalogItemRequest":          reflect.TypeFor[catalogItemRequest](),
		"PlatformSettings":            reflect.TypeFor[settingsJSON](),
		"PlatformSettingsRequest":     reflect.TypeFor[settingsRequest](),
		"BannerImage":                 reflect.TypeFor[fileJSON](),
		"BannerRequest":               reflect.TypeFor[bannerRequest](),
		"Banner":                      reflect.TypeFor[bannerJSON](),
		"BannerList":                  reflect.TypeFor[bannerList](),
		"PublicBanner":                reflect.TypeFor[publicBannerJSON](),
		"PublicBannerList":            reflect.TypeFor[publicBannerList](),
		"AdminVerification":           reflect.TypeFor[adminVerificationJSON](),
		"AdminEnterprise":             reflect.TypeFor[adminEnterpriseJSON](),
		"AdminEnterprisePage":         reflect.TypeFor[adminEnterprisePage](),
		"DeactivateEnterpriseRequest": reflect.TypeFor[deactivateRequest](),
		"PaymentAnomaly":              reflect.TypeFor[anomalyJSON](),
		"AnomalyPage":                 reflect.TypeFor[anomalyPage](),
		"ResolveAnomalyRequest":       reflect.TypeFor[resolveRequest](),
		"DeadLetter":                  reflect.TypeFor[deadLetterJSON](),
		"DeadLetterPage":              reflect.TypeFor[deadLetterPage](),
		"AdminOrder":                  reflect.TypeFor[adminOrderJSON](),
		"AdminOrderPage":              reflect.TypeFor[adminOrderPage](),
		"AdminOrderDetail":            reflect.TypeFor[adminOrderDetail](),
	} {
		t.Run(name, func(t *testing.T) {
			s := obj(t, schemas[name], "schemas."+name)
			checkStructSchema(t, name, s, typ)
			props := obj(t, s["properties"], name+".properties")
			switch name {
			case "Error":
				inner := obj(t, props["error"], "Error.properties.error")
				checkStructSchema(t, "Error.error", inner, reflect.TypeFor[errorPayload]())
			case "SandboxLivenessRequest":
				f, _ := typ.FieldByName("As")
				checkStructSchema(t, name+".as", obj(t, props["as"], name+".properties.as"), f.Type.Elem())
			case "BatchResultItem":
				checkStructSchema(t, name+".error", obj(t, props["error"], name+".properties.error"), reflect.TypeFor[errorPayload]())
			}
			// Nested structs are their own schemas: the property refers to the one of the table.
			for prop, target := range map[string]map[string]string{
				"Verification":          {"link": "AuthorizationLink", "transfer": "BankTransfer"},
				"AuthorizationLinkPage": {"steps": "AuthorizationLinkSteps", "liveness": "Liveness"},
				"Member":                {"role": "MembershipRole", "status": "MembershipStatus", "phone": "MaskedPhone"},
				"BatchResultItem":       {"status": "MembershipStatus"},
				"Enterprise":            {"quota": "Quota"},
				"Order":                 {"status": "OrderStatus", "trade_type": "TradeType"},
				"RefundAnswer":          {"refund": "Refund", "order": "Order"},
				"WeChatPayRequest":      {"trade_type": "TradeType"},
				"InvoiceRequest":        {"type": "InvoiceType", "title_type": "InvoiceTitleType"},
				"Invoice":               {"status": "InvoiceStatus", "type": "InvoiceType", "title_type": "InvoiceTitleType", "tax_id": "CreditCode"},
			}[name] {
				if ref := obj(t, props[prop], name+"."+prop)["$ref"]; ref != "#/components/schemas/"+target {
					t.Errorf("%s.%s refers to %v, want %s", name, prop, ref, target)
				}
			}
		})
	}
}

// TestOpenAPIDerivedSchemas checks the schemas that narrow a struct schema (allOf the base plus
// required fields the answer always carries) and the bodies the handlers build as maps.
func TestOpenAPIDerivedSchemas(t *testing.T) {
	doc := loadOpenAPI(t)
	schemas := obj(t, obj(t, doc["components"], "components")["schemas"], "components.schemas")
	for name, w := range map[string]struct {
		base     string
		required []string
	}{
		"ChannelSummary":        {"Channel", []string{"qr_png_url"}},
		"ChannelDetail":         {"Channel", []string{"join_url", "qr_png_url"}},
		"CertificateWithPem":    {"Certificate", []string{"pem"}},
		"OrgCertificateWithPem": {"OrgCertificate", []string{"pem"}},
		"EnterpriseDetail":      {"Enterprise", []string{"quota"}},
	} {
		t.Run(name, func(t *testing.T) {
			all, _ := obj(t, schemas[name], name)["allOf"].([]any)
			if len(all) != 2 {
				t.Fatalf("want allOf [base, {required}], got %v", all)
			}
			if ref := obj(t, all[0], name+".allOf[0]")["$ref"]; ref != "#/components/schemas/"+w.base {
				t.Errorf("allOf[0] = %v, want %s", ref, w.base)
			}
			extra := obj(t, all[1], name+".allOf[1]")
			if len(extra) != 1 || !slices.Equal(stringList(extra["required"]), w.required) {
				t.Errorf("allOf[1] = %v, want only required %v", extra, w.required)
			}
			base := obj(t, obj(t, schemas[w.base], w.base)["properties"], w.base+".properties")
			for _, f := range w.required {
				if base[f] == nil {
					t.Errorf("%s requires %q, which %s does not have", name, f, w.base)
				}
			}
		})
	}

	// Bodies written as maps: property → the $ref of the property (of its items for arrays).
	for name, props := range map[string]map[string]string{
		"ChannelList":             {"items": "ChannelSummary"},
		"SignatureList":           {"items": "Signature"},
		"SigningPasswordResponse": {"certificate": "Certificate"},
		"SandboxLivenessResponse": {"session_id": "", "result": ""},
		"ActivityList":            {"items": "ActivityItem"},
		"SentSmsList":             {"items": "SentSms"},
		// GET /business-registry and POST /authorization-links/{token}/sign answer maps.
		"RegistryEntry":       {"name": "", "credit_code": "CreditCode", "legal_rep_name": "MaskedName"},
		"LinkSignResponse":    {"status": "VerificationStatus", "enterprise_name": "", "signed": ""},
		"EnterpriseList":      {"items": "Enterprise"},
		"SandboxRegistryList": {"items": "SandboxRegistryEntry"},
		"SandboxTransferList": {"items": "SandboxTransfer"},
		// The members routes answer maps around their structs.
		"EnterpriseSearchList": {"items": "EnterpriseSearchResult"},
		"JoinRequest":          {"id": "", "status": "MembershipStatus", "created_at": ""},
		"BatchResult":          {"results": "BatchResultItem"},
		// The payment routes answer maps.
		"WeChatPayment":      {"trade_type": "TradeType", "prepay_id": "", "params": ""},
		"SandboxPayResponse": {"order_id": "", "result": ""},
	} {
		t.Run(name, func(t *testing.T) {
			s := obj(t, schemas[name], name)
			if s["type"] != "object" || s["additionalProperties"] != false {
				t.Errorf("want a closed object, got type %v additionalProperties %v", s["type"], s["additionalProperties"])
			}
			got := obj(t, s["properties"], name+".properties")
			if !slices.Equal(keysAny(got), keysAny(anyMap(props))) || !slices.Equal(stringList(s["required"]), keysAny(anyMap(props))) {
				t.Errorf("properties %v required %v, want both %v", keysAny(got), stringList(s["required"]), keysAny(anyMap(props)))
			}
			for p, target := range props {
				if target == "" {
					continue
				}
				ps := obj(t, got[p], name+"."+p)
				if ps["type"] == "array" {
					ps = obj(t, ps["items"], name+"."+p+".items")
				}
				if ps["$ref"] != "#/components/schemas/"+target {
					t.Errorf("%s.%s refers to %v, want %s", name, p, ps["$ref"], target)
				}
			}
		})
	}

	// The order and member lists: items, and next_before only when the page is full.
	for list, item := range map[string]string{"OrderList": "Order", "MemberList": "Member"} {
		ol := obj(t, schemas[list], list)
		olp := obj(t, ol["properties"], list+".properties")
		if ol["type"] != "object" || ol["additionalProperties"] != false || !slices.Equal(keysAny(olp), []string{"items", "next_before"}) ||
			!slices.Equal(stringList(ol["required"]), []string{"items"}) {
			t.Errorf("%s: want a closed object of items (required) and next_before, got %v", list, ol)
		}
		if ref := obj(t, obj(t, olp["items"], list+".items")["items"], list+".items.items")["$ref"]; ref != "#/components/schemas/"+item {
			t.Errorf("%s.items refers to %v, want %s", list, ref, item)
		}
	}

	// The nullable parts (pointers sent without omitempty) are the struct schemas or null.
	for _, n := range []struct{ schema, prop, target string }{
		{"Me", "channel", "ChannelSummary"}, {"Me", "certificate", "Certificate"}, {"Me", "id_number", "MaskedIDNumber"},
		{"Enterprise", "certificate", "OrgCertificate"},
	} {
		props := obj(t, obj(t, schemas[n.schema], n.schema)["properties"], n.schema+".properties")
		alts, _ := obj(t, props[n.prop], n.schema+"."+n.prop)["oneOf"].([]any)
		if len(alts) != 2 || obj(t, alts[0], n.prop)["$ref"] != "#/components/schemas/"+n.target || obj(t, alts[1], n.prop)["type"] != "null" {
			t.Errorf("%s.%s: want oneOf [%s, null], got %v", n.schema, n.prop, n.target, alts)
		}
	}
}

func anyMap[V any](m map[string]V) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
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
		t.Errorf("%s: required %v, Go fields without omitempty/omitzero %v", name, req, always)
	}
}

// TestOpenAPIOperationBodies ties each operation to its request and success schemas.
func TestOpenAPIOperationBodies(t *testing.T) {
	doc := loadOpenAPI(t)
	type want struct {
		request string // schema name, "" for none
		status  string
		body    string // success schema name, "" for no content or a binary body
		// media are the success media types besides application/json (binary bodies).
		media []string
		// also are further success statuses answering the same body schema.
		also []string
	}
	table := map[string]want{
		"GET /healthz":                                                 {request: "", status: "200", body: "Status"},
		"POST /api/v1/admin/sessions":                                  {request: "AdminLoginRequest", status: "201", body: "AdminLoginResponse"},
		"DELETE /api/v1/admin/sessions/current":                        {status: "204"},
		"GET /api/v1/admin/me":                                         {status: "200", body: "Operator"},
		"GET /api/v1/admin/audit":                                      {status: "200", body: "AuditPage"},
		"GET /api/v1/admin/channels":                                   {status: "200", body: "AdminChannelPage"},
		"POST /api/v1/admin/channels":                                  {request: "CreateChannelRequest", status: "201", body: "AdminChannel"},
		"GET /api/v1/admin/channels/{code}":                            {status: "200", body: "AdminChannel"},
		"PUT /api/v1/admin/channels/{code}":                            {request: "EditChannelRequest", status: "200", body: "AdminChannel"},
		"PUT /api/v1/admin/channels/{code}/catalog/{sku}":              {request: "CatalogItemRequest", status: "200", body: "CatalogItem"},
		"DELETE /api/v1/admin/channels/{code}/catalog/{sku}":           {status: "204"},
		"GET /api/v1/admin/settings":                                   {status: "200", body: "PlatformSettings"},
		"PUT /api/v1/admin/settings":                                   {request: "PlatformSettingsRequest", status: "200", body: "PlatformSettings"},
		"GET /api/v1/admin/banners":                                    {status: "200", body: "BannerList"},
		"POST /api/v1/admin/banners":                                   {request: "BannerRequest", status: "201", body: "Banner"},
		"PUT /api/v1/admin/banners/{banner_id}":                        {request: "BannerRequest", status: "200", body: "Banner"},
		"DELETE /api/v1/admin/banners/{banner_id}":                     {status: "204"},
		"GET /api/v1/banners":                                          {status: "200", body: "PublicBannerList"},
		"GET /api/v1/banners/{banner_id}/image":                        {status: "200", media: []string{"image/jpeg", "image/png"}},
		"GET /api/v1/admin/enterprises":                                {status: "200", body: "AdminEnterprisePage"},
		"GET /api/v1/admin/enterprises/{enterprise_id}":                {status: "200", body: "AdminEnterprise"},
		"POST /api/v1/admin/enterprises/{enterprise_id}/deactivate":    {request: "DeactivateEnterpriseRequest", status: "200", body: "AdminEnterprise"},
		"GET /api/v1/admin/enterprise-verifications/{verification_id}": {status: "200", body: "AdminVerification"},
		"GET /api/v1/admin/payment-anomalies":                          {status: "200", body: "AnomalyPage"},
		"POST /api/v1/admin/payment-anomalies/{anomaly_id}/resolve":    {request: "ResolveAnomalyRequest", status: "200", body: "PaymentAnomaly"},
		"GET /api/v1/admin/dead-letters":                               {status: "200", body: "DeadLetterPage"},
		"GET /api/v1/admin/dead-letters/{dead_letter_id}":              {status: "200", body: "DeadLetter"},
		"POST /api/v1/admin/dead-letters/{dead_letter_id}/replay":      {status: "202", body: "DeadLetter"},
		"POST /api/v1/admin/orders/{order_id}/refunds":                 {request: "RefundRequest", status: "202", body: "RefundAnswer"},
		"GET /api/v1/admin/operators":                                  {status: "200", body: "AdminOperatorPage"},
		"PUT /api/v1/admin/operators/{operator_id}":                    {request: "UpdateOperatorRequest", status: "200", body: "AdminOperator"},
		"POST /api/v1/admin/operators/{operator_id}/unlock":            {status: "200", body: "AdminOperator"},
		"POST /api/v1/admin/operators/{operator_id}/totp":              {status: "200", body: "RotatedOperatorTOTP"},
		"POST /api/v1/admin/operators/{operator_id}/password":          {status: "200", body: "ResetOperatorPassword"},
		"GET /api/v1/admin/orders/{order_id}/refunds":                  {status: "200", body: "RefundList"},
		"GET /api/v1/admin/orders":                                     {status: "200", body: "AdminOrderPage"},
		"GET /api/v1/admin/orders/{order_id}":                          {status: "200", body: "AdminOrderDetail"},
		"POST /api/v1/callbacks/wechat-pay/refunds":                    {request: "WeChatPayNotification", status: "204"},
		"POST /api/v1/sandbox/wechat-pay/refunds/{refund_no}/settle": {request: "SandboxSettleRefundRequest", status: "200",
			body: "SandboxSettleRefundResponse"},
		"GET /readyz":                     {request: "", status: "200", body: "Status"},
		"POST /api/v1/sms-codes":          {request: "SmsCodeRequest", status: "202", body: "SmsCodeResponse"},
		"POST /api/v1/sessions":           {request: "LoginRequest", status: "201", body: "LoginResponse"},
		"DELETE /api/v1/sessions/current": {status: "204"},
		"GET /api/v1/me":                  {status: "200", body: "Me"},
		"PUT /api/v1/me/password":         {request: "SetPasswordRequest", status: "204"},
		"GET /api/v1/me/activity":         {status: "200", body: "ActivityList"},
		"GET /api/v1/sandbox/sms":         {status: "200", body: "SentSmsList"},

		"GET /api/v1/channels":                           {status: "200", body: "ChannelList"},
		"GET /api/v1/channels/{code}":                    {status: "200", body: "ChannelDetail"},
		"GET /api/v1/channels/{code}/qr.png":             {status: "200", media: []string{"image/png"}},
		"PUT /api/v1/me/channel":                         {request: "SwitchChannelRequest", status: "200", body: "ChannelDetail"},
		"POST /api/v1/me/real-name":                      {request: "RealNameRequest", status: "200", body: "RealName", also: []string{"202"}},
		"GET /api/v1/me/real-name":                       {status: "200", body: "RealName"},
		"PUT /api/v1/me/signing-password":                {request: "SigningPasswordRequest", status: "201", body: "SigningPasswordResponse", also: []string{"200"}},
		"POST /api/v1/me/signing-password/verify":        {request: "VerifySigningPasswordRequest", status: "204"},
		"GET /api/v1/me/certificate":                     {status: "200", body: "CertificateWithPem", media: []string{"application/x-pem-file"}},
		"GET /api/v1/ca.pem":                             {status: "200", media: []string{"application/x-pem-file"}},
		"POST /api/v1/me/certificate/reissue":            {request: "ReissueCertificateRequest", status: "201", body: "SigningPasswordResponse"},
		"GET /api/v1/tsa.pem":                            {status: "200", media: []string{"application/x-pem-file"}},
		"GET /api/v1/ca/crl":                             {status: "200", media: []string{"application/pkix-crl"}},
		"GET /api/v1/me/signatures":                      {status: "200", body: "SignatureList"},
		"POST /api/v1/me/signatures":                     {request: "CreateSignatureRequest", status: "201", body: "Signature"},
		"PUT /api/v1/me/signatures/{signature_id}":       {request: "UpdateSignatureRequest", status: "200", body: "Signature"},
		"DELETE /api/v1/me/signatures/{signature_id}":    {status: "204"},
		"GET /api/v1/me/signatures/{signature_id}/image": {status: "200", media: []string{"image/png"}},
		"POST /api/v1/sandbox/liveness/{session_id}":     {request: "SandboxLivenessRequest", status: "200", body: "SandboxLivenessResponse"},
		"GET /api/v1/sandbox/liveness/{session_id}":      {status: "200", body: "SandboxLivenessPage"},

		"GET /api/v1/business-registry":                                       {status: "200", body: "RegistryEntry"},
		"POST /api/v1/enterprise-verifications":                               {request: "StartVerificationRequest", status: "201", body: "Verification"},
		"GET /api/v1/enterprise-verifications/{id}":                           {status: "200", body: "Verification"},
		"POST /api/v1/enterprise-verifications/{id}/authorization-link":       {status: "200", body: "AuthorizationLink"},
		"GET /api/v1/enterprise-verifications/{id}/authorization-link/qr.png": {status: "200", media: []string{"image/png"}},
		"PUT /api/v1/enterprise-verifications/{id}/legal-rep-phone":           {request: "LegalRepPhoneRequest", status: "200", body: "Verification"},
		"GET /api/v1/enterprise-verifications/{id}/authorization-letter.pdf":  {status: "200", media: []string{"application/pdf"}},
		"GET /api/v1/enterprise-verifications/{id}/authorization-letter.p7s":  {status: "200", media: []string{"application/pkcs7-signature"}},
		"POST /api/v1/enterprise-verifications/{id}/sign":                     {request: "SignLetterRequest", status: "200", body: "Verification"},
		"POST /api/v1/enterprise-verifications/{id}/bank-transfer":            {request: "BankTransferRequest", status: "202", body: "Verification"},
		"POST /api/v1/enterprise-verifications/{id}/bank-transfer/confirm":    {request: "ConfirmTransferRequest", status: "200", body: "Verification"},
		"GET /api/v1/authorization-letter-template.pdf":                       {status: "200", media: []string{"application/pdf"}},
		"GET /api/v1/authorization-links/{token}":                             {status: "200", body: "AuthorizationLinkPage"},
		"POST /api/v1/authorization-links/{token}/sms-codes":                  {request: "LinkSmsCodeRequest", status: "202", body: "SmsCodeResponse"},
		"POST /api/v1/authorization-links/{token}/liveness":                   {request: "LinkLivenessRequest", status: "200", body: "Liveness"},
		"POST /api/v1/authorization-links/{token}/sign":                       {request: "LinkSignRequest", status: "200", body: "LinkSignResponse"},
		"GET /api/v1/authorization-links/{token}/authorization-letter.pdf":    {status: "200", media: []string{"application/pdf"}},
		"GET /api/v1/enterprises":                                             {status: "200", body: "EnterpriseList"},
		"GET /api/v1/enterprises/{enterprise_id}":                             {status: "200", body: "EnterpriseDetail"},
		"GET /api/v1/enterprises/{enterprise_id}/certificate":                 {status: "200", body: "OrgCertificateWithPem", media: []string{"application/x-pem-file"}},
		"GET /api/v1/sandbox/business-registry":                               {status: "200", body: "SandboxRegistryList"},
		"GET /api/v1/sandbox/bank-transfers":                                  {status: "200", body: "SandboxTransferList"},

		"GET /api/v1/enterprises/search":                                       {status: "200", body: "EnterpriseSearchList"},
		"POST /api/v1/enterprises/{enterprise_id}/join-requests":               {status: "201", body: "JoinRequest"},
		"GET /api/v1/enterprises/{enterprise_id}/members":                      {status: "200", body: "MemberList"},
		"POST /api/v1/enterprises/{enterprise_id}/members":                     {request: "AddMemberRequest", status: "201", body: "Member"},
		"POST /api/v1/enterprises/{enterprise_id}/members/batch":               {request: "BatchRequest", status: "200", body: "BatchResult"},
		"GET /api/v1/enterprises/{enterprise_id}/members/{member_id}":          {status: "200", body: "Member"},
		"POST /api/v1/enterprises/{enterprise_id}/members/{member_id}/approve": {status: "200", body: "Member"},
		"POST /api/v1/enterprises/{enterprise_id}/members/{member_id}/reject":  {status: "200", body: "Member"},
		"DELETE /api/v1/enterprises/{enterprise_id}/members/{member_id}":       {status: "204"},

		"GET /api/v1/enterprises/{enterprise_id}/seals":                                                     {status: "200", body: "SealList"},
		"POST /api/v1/enterprises/{enterprise_id}/seals":                                                    {request: "CreateSealRequest", status: "201", body: "Seal"},
		"GET /api/v1/enterprises/{enterprise_id}/seals/{seal_id}":                                           {status: "200", body: "Seal"},
		"PUT /api/v1/enterprises/{enterprise_id}/seals/{seal_id}":                                           {request: "UpdateSealRequest", status: "200", body: "Seal"},
		"DELETE /api/v1/enterprises/{enterprise_id}/seals/{seal_id}":                                        {status: "204"},
		"GET /api/v1/enterprises/{enterprise_id}/seals/{seal_id}/image":                                     {status: "200", media: []string{"image/png"}},
		"GET /api/v1/enterprises/{enterprise_id}/seals/{seal_id}/grants":                                    {status: "200", body: "SealGrantList"},
		"POST /api/v1/enterprises/{enterprise_id}/seals/{seal_id}/grants":                                   {request: "GrantSealRequest", status: "201", body: "SealGrant"},
		"DELETE /api/v1/enterprises/{enterprise_id}/seals/{seal_id}/grants/{grant_id}":                      {status: "204"},
		"POST /api/v1/sign-flows":                                                                           {request: "CreateSignFlowRequest", status: "201", body: "SignFlow"},
		"GET /api/v1/sign-flows":                                                                            {status: "200", body: "SignFlowList"},
		"GET /api/v1/sign-flows/{flow_id}":                                                                  {status: "200", body: "SignFlow"},
		"POST /api/v1/sign-flows/{flow_id}/start":                                                           {status: "200", body: "SignFlow"},
		"POST /api/v1/sign-flows/{flow_id}/revoke":                                                          {request: "SignFlowReasonRequest", status: "200", body: "SignFlow"},
		"POST /api/v1/sign-flows/{flow_id}/sign":                                                            {request: "SignFlowSignRequest", status: "200", body: "SignFlow"},
		"POST /api/v1/sign-flows/{flow_id}/reject":                                                          {request: "SignFlowReasonRequest", status: "200", body: "SignFlow"},
		"GET /api/v1/sign-flows/{flow_id}/documents/{document}/pdf":                                         {status: "200", media: []string{"application/pdf"}},
		"GET /api/v1/sign-flows/{flow_id}/evidence.pdf":                                                     {status: "200", media: []string{"application/pdf"}},
		"GET /api/v1/enterprises/{enterprise_id}/webhooks":                                                  {status: "200", body: "WebhookList"},
		"POST /api/v1/enterprises/{enterprise_id}/webhooks":                                                 {request: "CreateWebhookRequest", status: "201", body: "WebhookWithSecret"},
		"DELETE /api/v1/enterprises/{enterprise_id}/webhooks/{webhook_id}":                                  {status: "204"},
		"GET /api/v1/enterprises/{enterprise_id}/webhooks/{webhook_id}/deliveries":                          {status: "200", body: "WebhookDeliveryList"},
		"POST /api/v1/enterprises/{enterprise_id}/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver": {status: "202", body: "WebhookDelivery"},

		"GET /api/v1/enterprises/{enterprise_id}/catalog":       {status: "200", body: "ChannelDetail"},
		"POST /api/v1/enterprises/{enterprise_id}/orders":       {request: "PlaceOrderRequest", status: "201", body: "Order"},
		"GET /api/v1/orders":                                    {status: "200", body: "OrderList"},
		"GET /api/v1/orders/{order_id}":                         {status: "200", body: "Order"},
		"POST /api/v1/orders/{order_id}/cancel":                 {status: "200", body: "Order"},
		"POST /api/v1/orders/{order_id}/wechat-pay":             {request: "WeChatPayRequest", status: "200", body: "WeChatPayment"},
		wechatCallbackKey:                                       {request: "WeChatPayNotification", status: "204"},
		"POST /api/v1/sandbox/wechat-pay/orders/{order_id}/pay": {status: "200", body: "SandboxPayResponse"},

		"POST /api/v1/orders/{order_id}/invoice": {request: "InvoiceRequest", status: "202", body: "Invoice"},
		"GET /api/v1/invoices/{invoice_id}":      {status: "200", body: "Invoice"},
		"GET /api/v1/invoices/{invoice_id}/pdf":  {status: "200", media: []string{"application/pdf"}},
		"GET /api/v1/invoice-links/{token}":      {status: "200", media: []string{"application/pdf"}},
	}
	// The uploads take a multipart form rather than JSON; their forms are checked on their own below.
	multipart := map[string]want{
		"POST /api/v1/files":                                       {request: "FileUpload", status: "201", body: "File"},
		"POST /api/v1/admin/banner-images":                         {request: "BannerImageUpload", status: "201", body: "BannerImage"},
		"POST /api/v1/signature-verifications":                     {request: "SignatureVerificationForm", status: "200", body: "SignatureVerifications"},
		"POST /api/v1/authorization-links/{token}/signature-image": {request: "SignatureImageUpload", status: "201", body: "File"},
	}
	ops := map[string]docOp{}
	for _, o := range docOperations(t, doc) {
		ops[o.key()] = o
	}
	// Every documented operation is in one of the tables, so a new one gets its bodies pinned.
	// Binary bodies (DER of the trust services), with their media type.
	binary := map[string]struct {
		w     want
		media string
	}{
		"POST /api/v1/ca/ocsp": {want{request: "DERBody", status: "200", media: []string{"application/ocsp-response"}}, "application/ocsp-request"},
		"POST /api/v1/tsa":     {want{request: "DERBody", status: "200", media: []string{"application/timestamp-reply"}}, "application/timestamp-query"},
	}
	for key := range ops {
		if _, ok := table[key]; !ok && multipart[key].status == "" && binary[key].media == "" && !strings.HasPrefix(key, "GET /api/v1/openapi.") {
			t.Errorf("%s is not in the table of TestOpenAPIOperationBodies", key)
		}
	}
	check := func(key string, w want, reqMedia string) {
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
				if len(content) != 1 || content[reqMedia] == nil {
					t.Fatalf("requestBody content %v, want only %s", keysAny(content), reqMedia)
				}
				ref := obj(t, obj(t, content[reqMedia], reqMedia)["schema"], "schema")["$ref"]
				if ref != "#/components/schemas/"+w.request {
					t.Errorf("request schema %v, want %s", ref, w.request)
				}
			}
			responses := obj(t, o.op["responses"], "responses")
			for _, status := range append([]string{w.status}, w.also...) {
				r, ok := responses[status]
				if !ok {
					t.Errorf("no %s response", status)
					continue
				}
				resp := obj(t, r, "responses."+status)
				content, hasContent := resp["content"].(map[string]any)
				wantMedia := slices.Clone(w.media)
				if w.body != "" {
					wantMedia = append(wantMedia, "application/json")
				}
				sort.Strings(wantMedia)
				if got := keysAny(content); !slices.Equal(got, wantMedia) {
					t.Errorf("%s content %v, want %v", status, got, wantMedia)
				}
				if !hasContent || w.body == "" {
					continue
				}
				ref := obj(t, obj(t, content["application/json"], "json")["schema"], "schema")["$ref"]
				if ref != "#/components/schemas/"+w.body {
					t.Errorf("%s schema %v, want %s", status, ref, w.body)
				}
			}
		})
	}
	for key, w := range table {
		check(key, w, "application/json")
	}
	for key, w := range multipart {
		check(key, w, "multipart/form-data")
	}
	for key, b := range binary {
		check(key, b.w, b.media)
	}
	// The upload forms have the fields the handlers read, all required.
	for name, fields := range map[string][]string{"FileUpload": {"file", "purpose"}, "SignatureImageUpload": {"file"}} {
		form := obj(t, obj(t, obj(t, doc["components"], "components")["schemas"], "schemas")[name], name)
		if got := keysAny(obj(t, form["properties"], name+".properties")); !slices.Equal(got, fields) ||
			!slices.Equal(stringList(form["required"]), fields) || form["additionalProperties"] != false {
			t.Errorf("%s properties %v required %v, want %v, all required, and no others", name, got, form["required"], fields)
		}
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

	enum := func(schema string, want []string) {
		t.Helper()
		got := stringList(obj(t, schemas[schema], schema)["enum"])
		sort.Strings(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s enum = %v, want %v", schema, got, want)
		}
	}
	var purposes, filePurposes []string
	for _, p := range otp.Purposes {
		purposes = append(purposes, string(p))
	}
	for _, p := range file.Purposes {
		filePurposes = append(filePurposes, string(p))
	}
	enum("SmsPurpose", purposes)
	enum("FilePurpose", filePurposes)
	enum("RealNameStatus", []string{string(user.RealNameUnverified), string(user.RealNameVerifying), string(user.RealNameVerified)})
	enum("RealNameMethod", []string{string(channel.MethodID2), string(channel.MethodID3), string(channel.MethodFace)})
	enum("VerificationStatus", []string{string(enterprise.StatusInProgress), string(enterprise.StatusVerified), string(enterprise.StatusSuperseded)})
	enum("InitiatorRole", []string{string(enterprise.RoleLegalRep), string(enterprise.RoleOperator)})
	enum("VerificationMethod", []string{string(enterprise.MethodLegalRepAuthorization), string(enterprise.MethodBankTransfer)})
	enum("TransferStatus", []string{string(enterprise.TransferRemitting), string(enterprise.TransferRemitted),
		string(enterprise.TransferRemitFailed), string(enterprise.TransferConfirmed), string(enterprise.TransferFailed)})
	enum("MembershipRole", []string{string(membership.RoleLegalRep), string(membership.RoleAdmin), string(membership.RoleMember)})
	var states []string
	for _, st := range []membership.Status{membership.StatusPending, membership.StatusInvited, membership.StatusActive,
		membership.StatusRejected, membership.StatusRemoved} {
		if _, err := membership.ParseStatus(string(st)); err != nil {
			t.Errorf("membership.ParseStatus(%q): %v", st, err)
		}
		states = append(states, string(st))
	}
	enum("MembershipStatus", states)
	// The role an admin gives: the roles ParseAssignableRole accepts, not legal_rep.
	ar := obj(t, obj(t, schemas["AddMemberRequest"], "AddMemberRequest")["properties"], "AddMemberRequest.properties")
	roles := stringList(obj(t, ar["role"], "AddMemberRequest.role")["enum"])
	if !slices.Equal(roles, []string{string(membership.RoleAdmin), string(membership.RoleMember)}) {
		t.Errorf("AddMemberRequest.role enum = %v, want admin and member", roles)
	}
	for _, r := range []membership.Role{membership.RoleLegalRep, membership.RoleAdmin, membership.RoleMember} {
		_, err := membership.ParseAssignableRole(string(r))
		if documented := slices.Contains(roles, string(r)); documented != (err == nil) {
			t.Errorf("AddMemberRequest.role: %q documented %v, ParseAssignableRole error %v", r, documented, err)
		}
	}
	br := obj(t, obj(t, schemas["BatchRequest"], "BatchRequest")["properties"], "BatchRequest.properties")
	decisions := stringList(obj(t, br["decision"], "BatchRequest.decision")["enum"])
	if !slices.Equal(decisions, []string{string(application.Approve), string(application.Reject)}) {
		t.Errorf("BatchRequest.decision enum = %v, want approve and reject", decisions)
	}
	for _, d := range decisions {
		if _, err := application.ParseDecision(d); err != nil {
			t.Errorf("BatchRequest.decision %q: %v", d, err)
		}
	}
	ids := obj(t, br["member_ids"], "BatchRequest.member_ids")
	if ids["minItems"] != 1 || ids["maxItems"] != application.BatchLimit {
		t.Errorf("BatchRequest.member_ids items %v–%v, want 1–%d", ids["minItems"], ids["maxItems"], application.BatchLimit)
	}
	ml := obj(t, obj(t, obj(t, schemas["MemberList"], "MemberList")["properties"], "MemberList.properties")["items"], "MemberList.items")
	if ml["maxItems"] != application.MemberListLimit {
		t.Errorf("MemberList.items maxItems = %v, want %d", ml["maxItems"], application.MemberListLimit)
	}
	enum("NextStep", nextSteps(t))
	lp := obj(t, obj(t, schemas["LinkSmsCodeRequest"], "LinkSmsCodeRequest")["properties"], "LinkSmsCodeRequest.properties")
	if got := stringList(obj(t, lp["purpose"], "LinkSmsCodeRequest.purpose")["enum"]); !slices.Equal(got, []string{string(otp.PurposeSign), string(otp.PurposeVerifyPhone)}) {
		t.Errorf("LinkSmsCodeRequest.purpose enum = %v, want sign and verify_phone", got)
	}
	bt := obj(t, obj(t, schemas["BankTransfer"], "BankTransfer")["properties"], "BankTransfer.properties")
	if mx := obj(t, bt["attempts_left"], "BankTransfer.attempts_left")["maximum"]; mx != enterprise.TransferWrongTries {
		t.Errorf("BankTransfer.attempts_left maximum = %v, want %d", mx, enterprise.TransferWrongTries)
	}
	sp := obj(t, obj(t, schemas["Signature"], "Signature")["properties"], "Signature.properties")
	if got := stringList(obj(t, sp["kind"], "Signature.kind")["enum"]); !slices.Equal(got, []string{string(signature.KindGenerated), string(signature.KindUploaded)}) {
		t.Errorf("Signature.kind enum = %v", got)
	}
	cp := obj(t, obj(t, schemas["Certificate"], "Certificate")["properties"], "Certificate.properties")
	if got := stringList(obj(t, cp["status"], "Certificate.status")["enum"]); !slices.Equal(got, []string{string(user.CertificateActive), string(user.CertificateRevoked)}) {
		t.Errorf("Certificate.status enum = %v", got)
	}
	fp := obj(t, obj(t, schemas["File"], "File")["properties"], "File.properties")
	if got := stringList(obj(t, fp["content_type"], "File.content_type")["enum"]); !slices.Equal(got,
		[]string{file.TypePDF, file.TypeGIF, file.TypeJPEG, file.TypePNG}) {
		t.Errorf("File.content_type enum = %v", got)
	}
	if mx := obj(t, fp["size"], "File.size")["maximum"]; mx != file.MaxDocumentSize {
		t.Errorf("File.size maximum = %v, want %d", mx, file.MaxDocumentSize)
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
	// The ID number as answered: masked by the domain's own rule.
	const idn = "11010519491231002X"
	if _, err := kernel.ParseIDNumber(idn, time.Now()); err != nil {
		t.Fatalf("example ID number: %v", err)
	}
	maskedID := re("MaskedIDNumber")
	for s, ok := range map[string]bool{kernel.IDNumber(idn).Masked(): true, "110***********0021": true, idn: false, "110**********002X": false} {
		if maskedID.MatchString(s) != ok {
			t.Errorf("MaskedIDNumber pattern on %q = %v", s, !ok)
		}
	}
	idNumber := re("IDNumber")
	for s, ok := range map[string]bool{idn: true, "11010519491231002x": true, "110105194912310021": true, "1101051949123100": false, "11010519491231002Y": false} {
		if idNumber.MatchString(s) != ok {
			t.Errorf("IDNumber pattern on %q = %v", s, !ok)
		}
	}
	credit := re("CreditCode")
	for s, ok := range map[string]bool{"91310115MA1K4B2C3J": true, "91310115MA1K4B2C3": false, "91310115MA1K4B2C3I": false, "91310115ma1k4b2c3j": false} {
		if credit.MatchString(s) != ok {
			t.Errorf("CreditCode pattern on %q = %v", s, !ok)
		}
	}
	if _, err := kernel.ParseCreditCode("91310115MA1K4B2C3J"); err != nil {
		t.Errorf("the document's example credit code: %v", err)
	}
	price := obj(t, obj(t, obj(t, schemas["CatalogItem"], "CatalogItem")["properties"], "CatalogItem.properties")["unit_price"], "unit_price")
	pr, err := regexp.Compile(price["pattern"].(string))
	if err != nil {
		t.Fatal(err)
	}
	for _, fen := range []int64{1, 15000, 99, 123456789} {
		if s := kernel.Fen(fen).String(); !pr.MatchString(s) {
			t.Errorf("CatalogItem.unit_price pattern refuses %q", s)
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

// nextSteps reads the values application's nextStep can answer from its source: the string
// literals it returns.
func nextSteps(t *testing.T) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "../../application/verification.go", nil, 0)
	if err != nil {
		t.Fatalf("read nextStep: %v", err)
	}
	var out []string
	for _, d := range f.Decls {
		fn, ok := d.(*ast.FuncDecl)
		if !ok || fn.Name.Name != "nextStep" {
			continue
		}
		ast.Inspect(fn.Body, func(n ast.Node) bool {
			if r, ok := n.(*ast.ReturnStmt); ok {
				for _, e := range r.Results {
					if lit, ok := e.(*ast.BasicLit); ok && lit.Kind == token.STRING {
						v, err := strconv.Unquote(lit.Value)
						if err != nil {
							t.Fatal(err)
						}
						out = append(out, v)
					}
				}
			}
			return true
		})
	}
	if len(out) == 0 {
		t.Fatal("application/verification.go has no nextStep returning string literals")
	}
	return out
}

// TestOpenAPIEnterpriseErrors pins the not-found and gone answers of the enterprise routes to
// the errors the application and the domain return.
func TestOpenAPIEnterpriseErrors(t *testing.T) {
	doc := loadOpenAPI(t)
	gone := obj(t, obj(t, obj(t, doc["components"], "components")["responses"], "components.responses")["Gone"], "Gone")
	desc, _ := gone["description"].(string)
	for _, e := range []*kernel.Error{enterprise.ErrLinkExpired, enterprise.ErrLinkUsed, enterprise.ErrLinkRevoked} {
		if got := statusOf(e.Kind); got != http.StatusGone {
			t.Errorf("%s answers %d, want 410", e.Code, got)
		}
		if !strings.Contains(desc, "`"+e.Code+"`") {
			t.Errorf("the Gone response does not name %s", e.Code)
		}
	}
	if got := statusOf(enterprise.ErrLinkNotFound.Kind); got != http.StatusNotFound {
		t.Errorf("%s answers %d, want 404", enterprise.ErrLinkNotFound.Code, got)
	}
	if got := statusOf(application.ErrEnterpriseVerified.Kind); got != http.StatusConflict {
		t.Errorf("%s answers %d, want 409", application.ErrEnterpriseVerified.Code, got)
	}

	// Each family of routes names its not-found code; the signing-link ones also answer 410.
	families := []struct {
		prefix   string
		notFound string
		gone     bool
	}{
		{"/api/v1/authorization-links/{token}", enterprise.ErrLinkNotFound.Code, true},
		{"/api/v1/enterprise-verifications/{id}", "verification-not-found", false},
		{"/api/v1/enterprises/{enterprise_id}", application.ErrEnterpriseNotFound.Code, false},
	}
	for _, f := range families {
		n := 0
		for _, o := range docOperations(t, doc) {
			if o.path != f.prefix && !strings.HasPrefix(o.path, f.prefix+"/") {
				continue
			}
			n++
			resp := obj(t, o.op["responses"], o.key()+".responses")
			nf, _ := resp["404"].(map[string]any)
			if nf == nil || nf["$ref"] != "#/components/responses/NotFound" || !strings.Contains(fmt.Sprint(nf["description"]), "`"+f.notFound+"`") {
				t.Errorf("%s: want a 404 NotFound naming `%s`, got %v", o.key(), f.notFound, nf)
			}
			g, _ := resp["410"].(map[string]any)
			switch {
			case f.gone && (g == nil || g["$ref"] != "#/components/responses/Gone"):
				t.Errorf("%s: want 410 $ref Gone, got %v", o.key(), g)
			case !f.gone && g != nil:
				t.Errorf("%s: documents a 410 it never answers", o.key())
			}
		}
		if n == 0 {
			t.Errorf("no operation under %s", f.prefix)
		}
	}
	// Only the signing-link routes answer 410, and the shared invoice link (its own 410).
	for _, o := range docOperations(t, doc) {
		g, ok := obj(t, o.op["responses"], o.key())["410"].(map[string]any)
		switch {
		case o.key() == "GET /api/v1/invoice-links/{token}":
			if !ok || g["$ref"] != "#/components/responses/InvoiceLinkExpired" {
				t.Errorf("%s: want 410 $ref InvoiceLinkExpired, got %v", o.key(), g)
			}
		case ok && strings.HasPrefix(o.path, "/api/v1/sign-flows/"):
			// A sign flow past its deadline: flow-expired (signflow.ErrExpired).
			if g["$ref"] != "#/components/responses/Gone" || !strings.Contains(fmt.Sprint(g["description"]), "`"+signflow.ErrExpired.Code+"`") ||
				statusOf(signflow.ErrExpired.Kind) != http.StatusGone {
				t.Errorf("%s: want 410 $ref Gone naming `%s`, got %v", o.key(), signflow.ErrExpired.Code, g)
			}
		case ok && !strings.HasPrefix(o.path, "/api/v1/authorization-links/"):
			t.Errorf("%s documents a 410", o.key())
		}
	}
}

// TestServedOpenAPI checks both served forms against the embedded document.
func TestServedOpenAPI(t *testing.T) {
	s := newTestServer(t, fullSandbox())

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

// TestOpenAPIMemberErrors pins the error codes each members operation documents, each under the
// status its kind answers. The codes come from the domain and the application where they are
// exported or can be provoked, else from the sources that return them (application, sqlstore).
func TestOpenAPIMemberErrors(t *testing.T) {
	doc := loadOpenAPI(t)
	ops := map[string]docOp{}
	for _, o := range docOperations(t, doc) {
		ops[o.key()] = o
	}

	must := func(_ any, err error) *kernel.Error {
		t.Helper()
		var ke *kernel.Error
		if !errors.As(err, &ke) {
			t.Fatalf("want a *kernel.Error, got %v", err)
		}
		return ke
	}
	now := time.Now()
	removal := func(role membership.Role, otherAdmins int) *kernel.Error {
		t.Helper()
		m, err := membership.Founder("m1", "e1", "u1", role, now)
		if err != nil {
			t.Fatal(err)
		}
		return must(nil, m.Remove("u2", otherAdmins, now))
	}
	known := map[string]*kernel.Error{}
	for _, e := range []*kernel.Error{
		application.ErrEnterpriseNotFound,
		membership.ErrNotPending,
		membership.ErrNotActive,
		must(membership.ParseAssignableRole(string(membership.RoleLegalRep))),
		must(membership.ParseAssignableRole("owner")),
		must(membership.ParseStatus("left")),
		must(application.ParseDecision("maybe")),
		must(kernel.ParsePhone("12345")),
		must(user.ValidateRealName("x")),
		removal(membership.RoleLegalRep, 1),
		removal(membership.RoleAdmin, 0),
	} {
		known[e.Code] = e
	}

	const (
		ent   = "/api/v1/enterprises/{enterprise_id}"
		admin = "admin-only"
	)
	notFound, notPending, notActive := application.ErrEnterpriseNotFound.Code, membership.ErrNotPending.Code, membership.ErrNotActive.Code
	decided := []string{admin, notFound, "member-not-found", notPending, "concurrent-update"}
	checkOperationErrors(t, []string{"../../application/members.go", "../../application/enterprises.go",
		"../../adapters/sqlstore/memberships.go", "../../adapters/sqlstore/enterprises.go"}, known, map[string][]string{
		"GET /api/v1/enterprises/search":               {"enterprise-name-invalid"},
		"POST " + ent + "/join-requests":               {"real-name-required", notFound, "already-member", "join-request-pending"},
		"GET " + ent + "/members":                      {admin, notFound, "member-status-invalid", "limit-invalid"},
		"POST " + ent + "/members":                     {admin, notFound, "already-member", "already-invited", "join-request-pending", "role-invalid", "role-not-assignable", "phone-invalid", "real-name-invalid"},
		"POST " + ent + "/members/batch":               {admin, notFound, "concurrent-update", "decision-invalid", "batch-size-invalid", "batch-duplicate-id"},
		"GET " + ent + "/members/{member_id}":          {notFound, "member-not-found"},
		"POST " + ent + "/members/{member_id}/approve": decided,
		"POST " + ent + "/members/{member_id}/reject":  decided,
		"DELETE " + ent + "/members/{member_id}":       {admin, notFound, "member-not-found", notActive, "concurrent-update", "cannot-remove-legal-rep", "cannot-remove-last-admin"},
	})

	// A batch item fails alone with the errors of one decision on a member of the enterprise.
	batch := ops["POST "+ent+"/members/batch"].op
	item := obj(t, obj(t, obj(t, obj(t, doc["components"], "components")["schemas"], "schemas")["BatchResultItem"], "BatchResultItem")["properties"], "BatchResultItem.properties")
	itemDesc, _ := obj(t, item["error"], "BatchResultItem.error")["description"].(string)
	for _, c := range []string{"member-not-found", notPending} {
		if d, _ := batch["description"].(string); !strings.Contains(d, "`"+c+"`") {
			t.Errorf("the batch operation does not name the item error %s", c)
		}
		if !strings.Contains(itemDesc, "`"+c+"`") {
			t.Errorf("BatchResultItem.error does not name %s", c)
		}
	}
}

const (
	wechatCallbackKey       = "POST /api/v1/callbacks/wechat-pay"
	wechatRefundCallbackKey = "POST /api/v1/callbacks/wechat-pay/refunds"
)

// TestOpenAPIOrderRules pins the order and payment facts of the document to the domain's.
func TestOpenAPIOrderRules(t *testing.T) {
	doc := loadOpenAPI(t)
	schemas := obj(t, obj(t, doc["components"], "components")["schemas"], "schemas")
	props := func(schema string) map[string]any {
		t.Helper()
		return obj(t, obj(t, schemas[schema], schema)["properties"], schema+".properties")
	}

	// The order states: exactly those order.ParseStatus accepts.
	states := stringList(obj(t, schemas["OrderStatus"], "OrderStatus")["enum"])
	want := []string{string(order.StatusPendingPayment), string(order.StatusPaid), string(order.StatusClosed), string(order.StatusRefunding),
		string(order.StatusPartiallyRefunded), string(order.StatusRefunded)}
	sort.Strings(want)
	if !slices.Equal(states, want) {
		t.Errorf("OrderStatus enum = %v, want %v", states, want)
	}
	for _, st := range states {
		if _, err := order.ParseStatus(st); err != nil {
			t.Errorf("order.ParseStatus(%q): %v", st, err)
		}
	}
	// The trade types: the ones the application accepts.
	tt := stringList(obj(t, schemas["TradeType"], "TradeType")["enum"])
	if want := []string{string(ports.TradeApp), string(ports.TradeJSAPI), string(ports.TradeNative)}; !slices.Equal(tt, want) {
		t.Errorf("TradeType enum = %v, want %v", tt, want)
	}
	// The item kinds: the catalog's.
	kinds := []string{string(channel.KindPackage), string(channel.KindService)}
	for _, s := range []string{"OrderItem", "CatalogItem"} {
		if got := stringList(obj(t, props(s)["kind"], s+".kind")["enum"]); !slices.Equal(got, kinds) {
			t.Errorf("%s.kind enum = %v, want %v", s, got, kinds)
		}
	}
	// Lines and quantities: the domain's bounds.
	items := obj(t, props("PlaceOrderRequest")["items"], "PlaceOrderRequest.items")
	if items["minItems"] != 1 || items["maxItems"] != order.MaxItems {
		t.Errorf("PlaceOrderRequest.items %v–%v, want 1–%d", items["minItems"], items["maxItems"], order.MaxItems)
	}
	for _, s := range []string{"OrderLine", "OrderItem"} {
		q := obj(t, props(s)["quantity"], s+".quantity")
		if q["minimum"] != 1 || q["maximum"] != order.MaxQuantity {
			t.Errorf("%s.quantity %v–%v, want 1–%d", s, q["minimum"], q["maximum"], order.MaxQuantity)
		}
	}
	if mx := obj(t, props("OrderList")["items"], "OrderList.items")["maxItems"]; mx != application.OrderListLimit {
		t.Errorf("OrderList.items maxItems = %v, want %d", mx, application.OrderListLimit)
	}
	// The total in yuan is the domain's rendering of the fen amount.
	pr, err := regexp.Compile(fmt.Sprint(obj(t, props("Order")["total"], "Order.total")["pattern"]))
	if err != nil {
		t.Fatal(err)
	}
	for _, fen := range []int64{1, 15000, 99, 123456789} {
		if s := kernel.Fen(fen).String(); !pr.MatchString(s) {
			t.Errorf("Order.total pattern refuses %q", s)
		}
	}
	// out_trade_no: what order.OutTradeNo makes of an order id.
	otn, err := regexp.Compile(fmt.Sprint(obj(t, props("Order")["out_trade_no"], "Order.out_trade_no")["pattern"]))
	if err != nil {
		t.Fatal(err)
	}
	if s := order.OutTradeNo("01JDT2C4E6G8J0K2M4N6P8R0S2"); !otn.MatchString(s) {
		t.Errorf("Order.out_trade_no pattern refuses %q", s)
	}

	ops := map[string]docOp{}
	for _, o := range docOperations(t, doc) {
		ops[o.key()] = o
	}
	param := func(key, name string) map[string]any {
		t.Helper()
		list, _ := ops[key].op["parameters"].([]any)
		for _, p := range list {
			if pm := deref(t, doc, obj(t, p, key+".parameters[]")); pm["name"] == name {
				return pm
			}
		}
		t.Fatalf("%s: no parameter %s", key, name)
		return nil
	}
	limit := obj(t, param("GET /api/v1/orders", "limit")["schema"], "limit.schema")
	if limit["minimum"] != 1 || limit["maximum"] != application.OrderListLimit {
		t.Errorf("limit %v–%v, want 1–%d", limit["minimum"], limit["maximum"], application.OrderListLimit)
	}
	if ref := obj(t, param("GET /api/v1/orders", "status")["schema"], "status.schema")["$ref"]; ref != "#/components/schemas/OrderStatus" {
		t.Errorf("status parameter refers to %v, want OrderStatus", ref)
	}
	for _, q := range []string{"enterprise_id", "before"} {
		if p := param("GET /api/v1/orders", q); p["in"] != "query" || p["required"] == true {
			t.Errorf("%s: want an optional query parameter, got %v", q, p)
		}
	}
	// Placing an order takes an optional Idempotency-Key of at most 128 characters.
	ik := param("POST /api/v1/enterprises/{enterprise_id}/orders", "Idempotency-Key")
	if ik["in"] != "header" || ik["required"] == true || obj(t, ik["schema"], "Idempotency-Key.schema")["maxLength"] != 128 {
		t.Errorf("Idempotency-Key: want an optional header of at most 128 characters, got %v", ik)
	}
	// The client parameters of each trade type, as the gateway answers them.
	for schema, fields := range map[string][]string{
		"WeChatPayJsapiParams":  {"appId", "timeStamp", "nonceStr", "package", "signType", "paySign"},
		"WeChatPayAppParams":    {"appid", "partnerid", "prepayid", "package", "noncestr", "timestamp", "sign"},
		"WeChatPayNativeParams": {"code_url"},
	} {
		s := obj(t, schemas[schema], schema)
		sort.Strings(fields)
		if got := keysAny(props(schema)); !slices.Equal(got, fields) || !slices.Equal(stringList(s["required"]), fields) || s["additionalProperties"] != false {
			t.Errorf("%s: properties %v required %v, want %v all required and no others", schema, got, s["required"], fields)
		}
	}
	alts, _ := obj(t, props("WeChatPayment")["params"], "WeChatPayment.params")["oneOf"].([]any)
	if len(alts) != 3 || obj(t, alts[0], "params")["$ref"] != "#/components/schemas/WeChatPayJsapiParams" ||
		obj(t, alts[1], "params")["$ref"] != "#/components/schemas/WeChatPayAppParams" ||
		obj(t, alts[2], "params")["$ref"] != "#/components/schemas/WeChatPayNativeParams" {
		t.Errorf("WeChatPayment.params: want oneOf [WeChatPayJsapiParams, WeChatPayAppParams, WeChatPayNativeParams], got %v", alts)
	}
	if got := stringList(obj(t, props("WeChatPayAnswer")["code"], "WeChatPayAnswer.code")["enum"]); !slices.Equal(got, []string{"FAIL"}) {
		t.Errorf("WeChatPayAnswer.code enum = %v, want [FAIL]", got)
	}
}

// TestOpenAPIWeChatPayCallback checks the callback is documented in WeChat Pay's terms: its
// signature headers, 204 with no body, and WeChat's {code, message} on failure, never our Error.
func TestOpenAPIWeChatPayCallback(t *testing.T) {
	for key, statuses := range map[string][]string{
		wechatCallbackKey:       {"204", "400", "401", "413", "500"},
		wechatRefundCallbackKey: {"204", "400", "401", "413", "500", "503"},
	} {
		t.Run(key, func(t *testing.T) { checkWeChatCallback(t, key, statuses) })
	}
}

func checkWeChatCallback(t *testing.T, key string, statuses []string) {
	doc := loadOpenAPI(t)
	var op map[string]any
	for _, o := range docOperations(t, doc) {
		if o.key() == key {
			op = o.op
		}
	}
	if op == nil {
		t.Fatalf("%s not documented", key)
	}
	headers := map[string]bool{}
	list, _ := op["parameters"].([]any)
	for _, p := range list {
		pm := deref(t, doc, obj(t, p, "parameters[]"))
		if pm["in"] == "header" {
			headers[fmt.Sprint(pm["name"])] = true
		}
	}
	if got := keys(headers); !slices.Equal(got, []string{"Wechatpay-Nonce", "Wechatpay-Serial", "Wechatpay-Signature",
		"Wechatpay-Signature-Type", "Wechatpay-Timestamp"}) {
		t.Errorf("header parameters %v, want the five Wechatpay-* headers the handler reads", got)
	}
	responses := obj(t, op["responses"], "responses")
	if got := keysAny(responses); !slices.Equal(got, statuses) {
		t.Errorf("responses %v, want %v", got, statuses)
	}
	for status, r := range responses {
		rm := obj(t, r, status)
		if _, isRef := rm["$ref"]; isRef {
			t.Errorf("%s refers to %v: the callback answers in WeChat's format, not ours", status, rm["$ref"])
			continue
		}
		content, _ := rm["content"].(map[string]any)
		if status == "204" {
			if content != nil {
				t.Errorf("204 has content %v", keysAny(content))
			}
			continue
		}
		if len(content) != 1 || content["application/json"] == nil {
			t.Errorf("%s content %v, want only application/json", status, keysAny(content))
			continue
		}
		if ref := obj(t, obj(t, content["application/json"], status)["schema"], status+".schema")["$ref"]; ref != "#/components/schemas/WeChatPayAnswer" {
			t.Errorf("%s schema %v, want WeChatPayAnswer", status, ref)
		}
	}
}

// TestOpenAPIOrderErrors pins the error codes each order and payment operation documents, each
// under the status its kind answers: from the domain where they can be provoked, else from the
// constructor that returns them in the sources.
func TestOpenAPIOrderErrors(t *testing.T) {
	known := map[string]*kernel.Error{application.ErrEnterpriseNotFound.Code: application.ErrEnterpriseNotFound}
	for _, err := range []error{
		func() error { _, err := order.ParseStatus("unpaid"); return err }(),
		func() error { _, err := kernel.Money(1 << 62).Mul(4); return err }(),
	} {
		var ke *kernel.Error
		if !errors.As(err, &ke) {
			t.Fatalf("want a *kernel.Error, got %v", err)
		}
		known[ke.Code] = ke
	}
	const ent = "/api/v1/enterprises/{enterprise_id}"
	notFound := application.ErrEnterpriseNotFound.Code
	checkOperationErrors(t, []string{"../../application/orders.go", "../../domain/order/order.go", "../../adapters/sqlstore/orders.go",
		"../../adapters/wechatpay/gateway.go", "orders.go"}, known, map[string][]string{
		"GET " + ent + "/catalog": {notFound, "channel-required"},
		"POST " + ent + "/orders": {notFound, "idempotency-key-in-use", "idempotency-key-invalid", "idempotency-key-reused",
			"channel-required", "order-items-invalid", "order-sku-duplicate", "order-quantity-invalid", "order-sku-unknown", "money-overflow"},
		"GET /api/v1/orders":            {"order-status-invalid", "limit-invalid"},
		"GET /api/v1/orders/{order_id}": {"order-not-found"},
		"POST /api/v1/orders/{order_id}/cancel": {"order-not-found", "order-not-cancellable", "order-already-paid", "order-payment-anomaly",
			"concurrent-update", "payment-unavailable"},
		"POST /api/v1/orders/{order_id}/wechat-pay": {"order-not-found", "order-already-paid", "payment-already-paid", "payment-closed",
			"payment-out-trade-no-reused", "concurrent-update", "trade-type-invalid", "openid-required", "order-not-payable",
			"order-expired", "payment-request-invalid", "payment-unavailable"},
	})
}

// checkOperationErrors checks that each operation of table names exactly its codes (in
// backquotes, in its responses' descriptions), each under the status its kind answers: from
// known, else from the kernel constructor that returns it in the source files.
func checkOperationErrors(t *testing.T, files []string, known map[string]*kernel.Error, table map[string][]string) {
	t.Helper()
	doc := loadOpenAPI(t)
	ops := map[string]docOp{}
	for _, o := range docOperations(t, doc) {
		ops[o.key()] = o
	}
	var src strings.Builder
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		src.Write(b)
	}
	// The gateway names its codes by constants: substitute their values.
	text := src.String()
	for _, m := range regexp.MustCompile(`\b(Code[A-Za-z]+)\s*=\s*"([a-z0-9-]+)"`).FindAllStringSubmatch(text, -1) {
		text = regexp.MustCompile(`\(`+m[1]+`\b`).ReplaceAllString(text, `("`+m[2]+`"`)
	}
	ctors := map[string]func(code, msg string) *kernel.Error{"Invalid": kernel.Invalid, "Forbidden": kernel.Forbidden,
		"NotFound": kernel.NotFound, "notFound": kernel.NotFound, "Conflict": kernel.Conflict, "Precondition": kernel.Precondition,
		"Gone": kernel.Gone, "Unavailable": func(code, msg string) *kernel.Error { return kernel.Unavailable(code, msg, nil) }}
	statusFor := func(code string) int {
		t.Helper()
		if e, ok := known[code]; ok {
			return statusOf(e.Kind)
		}
		re := regexp.MustCompile(`\b(Invalid|Forbidden|NotFound|Conflict|Precondition|Gone|Unavailable)\("` + regexp.QuoteMeta(code) + `"|\b(notFound)\(err, "` + regexp.QuoteMeta(code) + `"`)
		statuses := map[int]bool{}
		for _, m := range re.FindAllStringSubmatch(text, -1) {
			statuses[statusOf(ctors[m[1]+m[2]](code, "").Kind)] = true
		}
		if len(statuses) != 1 {
			t.Fatalf("code %s: returned with statuses %v in the sources, want exactly one", code, statuses)
		}
		for s := range statuses {
			return s
		}
		return 0
	}

	for key, codes := range table {
		t.Run(key, func(t *testing.T) {
			o, ok := ops[key]
			if !ok {
				t.Fatalf("%s not documented", key)
			}
			responses := obj(t, o.op["responses"], key+".responses")
			want := map[string][]string{}
			for _, c := range codes {
				s := strconv.Itoa(statusFor(c))
				want[s] = append(want[s], c)
			}
			kebab := regexp.MustCompile("`([a-z0-9]+(?:-[a-z0-9]+)+)`")
			for status, r := range responses {
				desc, _ := obj(t, r, key+"."+status)["description"].(string)
				var got []string
				for _, m := range kebab.FindAllStringSubmatch(desc, -1) {
					if !slices.Contains(got, m[1]) {
						got = append(got, m[1])
					}
				}
				sort.Strings(got)
				sort.Strings(want[status])
				if (len(got) > 0 || len(want[status]) > 0) && !slices.Equal(got, want[status]) {
					t.Errorf("%s names %v, want %v", status, got, want[status])
				}
			}
			for status := range want {
				if _, ok := responses[status]; !ok {
					t.Errorf("no %s response for %v", status, want[status])
				}
			}
		})
	}
}

// TestOpenAPIInvoiceErrors pins the error codes each invoice operation documents.
func TestOpenAPIInvoiceErrors(t *testing.T) {
	// The reasons an enterprise title's tax id is refused (details.reason), from the domain.
	known := map[string]*kernel.Error{}
	for _, s := range []string{"9131011", "91310115MA1K4B2C3A"} {
		_, err := kernel.ParseCreditCode(s)
		var ke *kernel.Error
		if !errors.As(err, &ke) {
			t.Fatalf("ParseCreditCode(%q): want a *kernel.Error, got %v", s, err)
		}
		known[ke.Code] = ke
	}
	if len(known) != 2 {
		t.Fatalf("want the format and checksum errors, got %v", known)
	}
	checkOperationErrors(t, []string{"../../application/invoices.go", "../../application/orders.go", "../../domain/invoice/invoice.go",
		"../../adapters/sqlstore/invoices.go", "../../adapters/sqlstore/orders.go", "invoices.go"}, known, map[string][]string{
		"POST /api/v1/orders/{order_id}/invoice": {"order-not-found", "order-not-paid", "invoice-exists",
			"idempotency-key-in-use", "idempotency-key-invalid", "idempotency-key-reused",
			"invoice-type-not-offered", "invoice-title-type-invalid", "invoice-title-invalid", "invoice-tax-id-invalid",
			"invoice-email-invalid", "credit-code-format", "credit-code-checksum"},
		"GET /api/v1/invoices/{invoice_id}":     {"invoice-not-found"},
		"GET /api/v1/invoices/{invoice_id}/pdf": {"invoice-not-found", "invoice-not-issued"},
		"GET /api/v1/invoice-links/{token}":     {"invoice-link-invalid", "invoice-link-expired"},
	})
}

// TestOpenAPIInvoiceRules pins the invoice facts of the document to the domain's.
func TestOpenAPIInvoiceRules(t *testing.T) {
	doc := loadOpenAPI(t)
	schemas := obj(t, obj(t, doc["components"], "components")["schemas"], "schemas")
	props := func(schema string) map[string]any {
		t.Helper()
		return obj(t, obj(t, schemas[schema], schema)["properties"], schema+".properties")
	}
	enum := func(where string, v any, want []string) {
		t.Helper()
		sort.Strings(want)
		if got := stringList(obj(t, v, where)["enum"]); !slices.Equal(got, want) {
			t.Errorf("%s enum = %v, want %v", where, got, want)
		}
	}
	statuses := []string{string(invoice.StatusRequested), string(invoice.StatusIssuing), string(invoice.StatusIssued), string(invoice.StatusFailed)}
	enum("InvoiceStatus", schemas["InvoiceStatus"], statuses)
	// An order's invoice_status: none, else its invoice's status.
	enum("Order.invoice_status", props("Order")["invoice_status"], append([]string{"none"}, statuses...))
	enum("InvoiceTitleType", schemas["InvoiceTitleType"], []string{invoice.TitlePersonal, invoice.TitleEnterprise})
	enum("InvoiceType", schemas["InvoiceType"], []string{invoice.TypeVATOrdinaryDigital})

	// The request's rules are the domain's: the title length, the only type, the title types.
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	newInvoice := func(r invoice.Request) error {
		_, err := invoice.New("inv", "ord", "ent", "usr", kernel.Fen(30000), r, now)
		return err
	}
	title := obj(t, props("InvoiceRequest")["title"], "InvoiceRequest.title")
	maxTitle, _ := title["maxLength"].(int)
	if title["minLength"] != 1 || maxTitle < 1 {
		t.Fatalf("InvoiceRequest.title length %v–%v, want 1–n", title["minLength"], title["maxLength"])
	}
	if err := newInvoice(invoice.Request{TitleType: invoice.TitlePersonal, Title: strings.Repeat("张", maxTitle)}); err != nil {
		t.Errorf("a title of %d characters is refused: %v", maxTitle, err)
	}
	if err := newInvoice(invoice.Request{TitleType: invoice.TitlePersonal, Title: strings.Repeat("张", maxTitle+1)}); kernel.CodeOf(err) != "invoice-title-invalid" {
		t.Errorf("a title of %d characters: got %v, want invoice-title-invalid", maxTitle+1, err)
	}
	for _, typ := range []string{"", invoice.TypeVATOrdinaryDigital} {
		if err := newInvoice(invoice.Request{Type: typ, TitleType: invoice.TitlePersonal, Title: "张三"}); err != nil {
			t.Errorf("type %q is refused: %v", typ, err)
		}
	}
	if err := newInvoice(invoice.Request{Type: "vat_special", TitleType: invoice.TitlePersonal, Title: "张三"}); kernel.CodeOf(err) != "invoice-type-not-offered" {
		t.Errorf("type vat_special: got %v, want invoice-type-not-offered", err)
	}
	if err := newInvoice(invoice.Request{TitleType: invoice.TitleEnterprise, Title: "上海数信科技有限公司", TaxID: "91310115MA1K4B2C3J"}); err != nil {
		t.Errorf("an enterprise title with the example credit code is refused: %v", err)
	}
	if err := newInvoice(invoice.Request{TitleType: "company", Title: "张三"}); kernel.CodeOf(err) != "invoice-title-type-invalid" {
		t.Errorf("title_type company: got %v, want invoice-title-type-invalid", err)
	}
	if mx := obj(t, props("InvoiceRequest")["email"], "InvoiceRequest.email")["maxLength"]; mx != 254 {
		t.Errorf("InvoiceRequest.email maxLength = %v, want 254", mx)
	}

	// The amount in yuan is the domain's rendering of the fen amount.
	pr, err := regexp.Compile(fmt.Sprint(obj(t, props("Invoice")["amount"], "Invoice.amount")["pattern"]))
	if err != nil {
		t.Fatal(err)
	}
	for _, fen := range []int64{1, 15000, 99, 123456789} {
		if s := kernel.Fen(fen).String(); !pr.MatchString(s) {
			t.Errorf("Invoice.amount pattern refuses %q", s)
		}
	}
	// The number: what Issued accepts.
	np, err := regexp.Compile(fmt.Sprint(obj(t, props("Invoice")["number"], "Invoice.number")["pattern"]))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"26312000000012345678", "2631200000001234567", "2631200000001234567X"} {
		inv := &invoice.Invoice{Status: invoice.StatusIssuing}
		if accepted := inv.Issued(n, now, "key", now) == nil; accepted != np.MatchString(n) {
			t.Errorf("number %q: Issued accepts %v, the pattern %v", n, accepted, !accepted)
		}
	}

	// Requesting an invoice takes the same optional Idempotency-Key as placing an order.
	var list []any
	for _, o := range docOperations(t, doc) {
		if o.key() == "POST /api/v1/orders/{order_id}/invoice" {
			list, _ = o.op["parameters"].([]any)
		}
	}
	found := false
	for _, p := range list {
		if obj(t, p, "parameters[]")["$ref"] == "#/components/parameters/IdempotencyKey" {
			found = true
		}
	}
	if !found {
		t.Error("POST /api/v1/orders/{order_id}/invoice: want the IdempotencyKey header parameter")
	}
}

// binaryRequest tells whether a request body is a binary (non-JSON, non-form) document.
func binaryRequest(rb map[string]any) bool {
	content, _ := rb["content"].(map[string]any)
	for media := range content {
		if media == "application/json" || media == "multipart/form-data" {
			return false
		}
	}
	return len(content) > 0
}
