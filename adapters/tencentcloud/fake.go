package tencentcloud

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/shuxinqian/server/domain/kernel"
)

// FakeTB is the part of testing.TB that NewFakeServer uses.
type FakeTB interface {
	Helper()
	Fatalf(format string, args ...any)
	Cleanup(func())
}

// FakeServer is a local stand-in for the Tencent Cloud API, for tests only. It checks what the
// real API checks first (POST, JSON, X-TC-Action and X-TC-Version, and the TC3-HMAC-SHA256
// signature under its secret key) and answers SendSms, IdCardVerification, PhoneVerification,
// DetectAuth and GetDetectInfoEnhanced with bodies shaped like the real ones, including
// {"Response":{"Error":{...}}} error answers. Its behaviour is set with the On* and Fail* methods.
type FakeServer struct {
	// URL is the server's base URL ("http://127.0.0.1:port"), Host its host:port.
	URL, Host string

	srv *http.Server
	cfg Config

	mu        sync.Mutex
	idCard    func(name, idCard string) string
	phone     func(name, idCard, phone string) string
	smsStatus func(phone string) (code, message string)
	failNext  map[string]fakeError
	delay     time.Duration
	sms       []FakeSMS
	requests  []FakeRequest
	sessions  map[string]*FakeLivenessSession
}

// FakeSMS is a message that reached the fake (status "Ok").
type FakeSMS struct {
	Phone          string // 11 digits, without +86
	AppID          string
	SignName       string
	TemplateID     string
	Params         []string
	SessionContext string
}

// FakeRequest is a correctly signed request the fake received.
type FakeRequest struct {
	Action string
	Body   map[string]any
}

// FakeLivenessSession is a DetectAuth session held by the fake.
type FakeLivenessSession struct {
	BizToken, RuleID, Name, IDCard, RedirectURL, Extra string

	done    bool
	expired bool
	errCode int64
	errMsg  string
	live    int64
	compare int64
	resName string
	resID   string
}

type fakeError struct{ code, message string }

// NewFakeServer starts a fake on a random local port and closes it when the test ends.
func NewFakeServer(tb FakeTB) *FakeServer {
	tb.Helper()
	ln, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("tencentcloud fake: %v", err)
	}
	f := &FakeServer{
		Host:     ln.Addr().String(),
		failNext: map[string]fakeError{},
		sessions: map[string]*FakeLivenessSession{},
	}
	f.URL = "http://" + f.Host
	f.cfg = Config{
		SecretID: "AKIDfakeSecretId0000000000000000", SecretKey: "fakeSecretKey000000000000000000",
		Region: "ap-guangzhou", Endpoint: f.Host, Scheme: "http",
		SMSAppID: "1400000001", SMSSignName: "数信签",
		SMSTemplates: map[string]string{"code": "1000001", "welcome": "1000002"},
		FaceIDRuleID: "1", Timeout: 5 * time.Second,
	}
	f.srv = &http.Server{Handler: http.HandlerFunc(f.serve), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = f.srv.Serve(ln) }()
	tb.Cleanup(f.Close)
	return f
}

// Config returns a configuration pointing the adapters at the fake, with its credentials.
func (f *FakeServer) Config() Config {
	c := f.cfg
	c.SMSTemplates = map[string]string{}
	for k, v := range f.cfg.SMSTemplates {
		c.SMSTemplates[k] = v
	}
	return c
}

// Close stops the server; later calls find nobody listening.
func (f *FakeServer) Close() { _ = f.srv.Close() }

// OnIDCard sets the IdCardVerification result code ("0" match, "-1" mismatch...) for a name and
// ID number. The default answers "-2" for an ID number that does not parse, "-3" for an empty
// name and "0" otherwise.
func (f *FakeServer) OnIDCard(fn func(name, idCard string) string) { f.set(func() { f.idCard = fn }) }

// OnPhone sets the PhoneVerification result code ("0" match, "-4" not this person's phone...).
// The default answers "-7" for a bad ID number, "-8" for an empty name and "0" otherwise.
func (f *FakeServer) OnPhone(fn func(name, idCard, phone string) string) {
	f.set(func() { f.phone = fn })
}

// OnSMSStatus sets the SendSms status of each phone ("+86..."); the default is "Ok".
func (f *FakeServer) OnSMSStatus(fn func(phone string) (code, message string)) {
	f.set(func() { f.smsStatus = fn })
}

// FailNext makes the next call to action answer the API error code (e.g. "InternalError").
func (f *FakeServer) FailNext(action, code, message string) {
	f.set(func() { f.failNext[action] = fakeError{code, message} })
}

// SetDelay makes every answer wait d (to exercise timeouts).
func (f *FakeServer) SetDelay(d time.Duration) { f.set(func() { f.delay = d }) }

// SMS returns the messages received, oldest first.
func (f *FakeServer) SMS() []FakeSMS {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]FakeSMS(nil), f.sms...)
}

// Requests returns the correctly signed requests received, oldest first.
func (f *FakeServer) Requests() []FakeRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]FakeRequest(nil), f.requests...)
}

// LivenessSession returns a copy of a DetectAuth session.
func (f *FakeServer) LivenessSession(bizToken string) (FakeLivenessSession, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.sessions[bizToken]
	if !ok {
		return FakeLivenessSession{}, false
	}
	return *s, true
}

// FinishLiveness ends a session as the H5 page would: passed by the claimed person, or failed
// on face comparison.
func (f *FakeServer) FinishLiveness(bizToken string, passed bool) error {
	return f.finish(bizToken, func(s *FakeLivenessSession) {
		if passed {
			s.errCode, s.errMsg, s.resName, s.resID = 0, "成功", s.Name, s.IDCard
		} else {
			s.errCode, s.errMsg, s.compare = 2015, "比对失败", 2015
		}
	})
}

// FinishLivenessAs passes a session as another person (name and ID number).
func (f *FakeServer) FinishLivenessAs(bizToken, name, idCard string) error {
	return f.finish(bizToken, func(s *FakeLivenessSession) {
		s.errCode, s.errMsg, s.resName, s.resID = 0, "成功", name, idCard
	})
}

// FailLiveness ends a session at the liveness stage with the given FaceID error code.
func (f *FakeServer) FailLiveness(bizToken string, errCode int64) error {
	return f.finish(bizToken, func(s *FakeLivenessSession) {
		s.errCode, s.errMsg, s.live = errCode, "活体检测未通过", errCode
	})
}

// ExpireLiveness makes the BizToken answer InvalidParameterValue.BizTokenExpired.
func (f *FakeServer) ExpireLiveness(bizToken string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.sessions[bizToken]
	if !ok {
		return errors.New("tencentcloud fake: unknown BizToken")
	}
	s.expired = true
	return nil
}

func (f *FakeServer) finish(bizToken string, fn func(*FakeLivenessSession)) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.sessions[bizToken]
	if !ok || s.done || s.expired {
		return errors.New("tencentcloud fake: unknown or finished BizToken")
	}
	s.done = true
	fn(s)
	return nil
}

func (f *FakeServer) set(fn func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn()
}

// fakeAPIs maps actions to their service and version.
var fakeAPIs = map[string][2]string{
	"SendSms":               {serviceSMS, versionSMS},
	"IdCardVerification":    {serviceFaceID, versionFaceID},
	"PhoneVerification":     {serviceFaceID, versionFaceID},
	"DetectAuth":            {serviceFaceID, versionFaceID},
	"GetDetectInfoEnhanced": {serviceFaceID, versionFaceID},
}

func (f *FakeServer) serve(w http.ResponseWriter, r *http.Request) {
	rid := fakeUUID()
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return
	}
	f.mu.Lock()
	delay := f.delay
	f.mu.Unlock()
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
	}
	action := r.Header.Get("X-TC-Action")
	api, known := fakeAPIs[action]
	var answer any
	switch {
	case r.Method != http.MethodPost || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json"):
		answer = fakeError{"InvalidParameter", "expected a JSON POST"}
	case !known:
		answer = fakeError{"InvalidAction", "unknown action"}
	case r.Header.Get("X-TC-Version") != api[1]:
		answer = fakeError{"NoSuchVersion", "unknown version"}
	default:
		if e := f.verify(r, body, api[0]); e != nil {
			answer = *e
			break
		}
		var in map[string]any
		if err := json.Unmarshal(body, &in); err != nil {
			answer = fakeError{"InvalidParameter", "body is not JSON"}
			break
		}
		answer = f.handle(action, in, body)
	}
	out := map[string]any{"RequestId": rid}
	if e, ok := answer.(fakeError); ok {
		out["Error"] = map[string]string{"Code": e.code, "Message": e.message}
	} else {
		for k, v := range answer.(map[string]any) {
			out[k] = v
		}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"Response": out})
}

// verify checks the TC3-HMAC-SHA256 signature as the API does.
func (f *FakeServer) verify(r *http.Request, body []byte, service string) *fakeError {
	auth, ok := strings.CutPrefix(r.Header.Get("Authorization"), "TC3-HMAC-SHA256 ")
	if !ok {
		return &fakeError{"AuthFailure.SignatureFailure", "missing TC3-HMAC-SHA256 authorization"}
	}
	parts := map[string]string{}
	for _, p := range strings.Split(auth, ", ") {
		if k, v, ok := strings.Cut(p, "="); ok {
			parts[k] = v
		}
	}
	scope := strings.Split(parts["Credential"], "/") // id/date/service/tc3_request
	ts := r.Header.Get("X-TC-Timestamp")
	sec, err := strconv.ParseInt(ts, 10, 64)
	switch {
	case len(scope) != 4 || scope[3] != "tc3_request" || parts["Signature"] == "":
		return &fakeError{"AuthFailure.SignatureFailure", "malformed authorization"}
	case scope[0] != f.cfg.SecretID:
		return &fakeError{"AuthFailure.SecretIdNotFound", "unknown SecretId"}
	case err != nil || time.Since(time.Unix(sec, 0)).Abs() > 5*time.Minute:
		return &fakeError{"AuthFailure.SignatureExpire", "timestamp too far from now"}
	case scope[1] != time.Unix(sec, 0).UTC().Format("2006-01-02") || scope[2] != service:
		return &fakeError{"AuthFailure.SignatureFailure", "credential scope does not match"}
	}
	var headers strings.Builder
	for _, h := range strings.Split(parts["SignedHeaders"], ";") {
		v := r.Header.Get(h)
		if h == "host" {
			v = r.Host
		}
		headers.WriteString(h + ":" + strings.ToLower(strings.TrimSpace(v)) + "\n")
	}
	payload := fakeSHA256(string(body))
	if r.Header.Get("X-TC-Content-SHA256") == "UNSIGNED-PAYLOAD" {
		payload = fakeSHA256("UNSIGNED-PAYLOAD")
	}
	canonical := strings.Join([]string{r.Method, "/", r.URL.RawQuery, headers.String(), parts["SignedHeaders"], payload}, "\n")
	toSign := "TC3-HMAC-SHA256\n" + ts + "\n" + strings.Join(scope[1:], "/") + "\n" + fakeSHA256(canonical)
	key := fakeHMAC([]byte("TC3"+f.cfg.SecretKey), scope[1])
	key = fakeHMAC(fakeHMAC(key, service), "tc3_request")
	if !hmac.Equal([]byte(hex.EncodeToString(fakeHMAC(key, toSign))), []byte(parts["Signature"])) {
		return &fakeError{"AuthFailure.SignatureFailure", "the signature does not match"}
	}
	return nil
}

func (f *FakeServer) handle(action string, in map[string]any, body []byte) any {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests = append(f.requests, FakeRequest{Action: action, Body: in})
	if e, ok := f.failNext[action]; ok {
		delete(f.failNext, action)
		return e
	}
	s := func(k string) string { v, _ := in[k].(string); return v }
	switch action {
	case "SendSms":
		var req struct {
			PhoneNumberSet, TemplateParamSet                  []string
			SmsSdkAppId, TemplateId, SignName, SessionContext string
		}
		if err := json.Unmarshal(body, &req); err != nil {
			return fakeError{"InvalidParameter", "bad SendSms body"}
		}
		return f.sendSMS(req.PhoneNumberSet, req.TemplateParamSet, req.SmsSdkAppId, req.TemplateId, req.SignName, req.SessionContext)
	case "IdCardVerification":
		code := fakeIDRule(s("Name"), s("IdCard"), "-2", "-3")
		if code == "0" && f.idCard != nil {
			code = f.idCard(s("Name"), s("IdCard"))
		}
		return map[string]any{"Result": code, "Description": fakeDescriptions[code]}
	case "PhoneVerification":
		code := fakeIDRule(s("Name"), s("IdCard"), "-7", "-8")
		if code == "0" && f.phone != nil {
			code = f.phone(s("Name"), s("IdCard"), s("Phone"))
		}
		return map[string]any{"Result": code, "Description": fakePhoneDescriptions[code]}
	case "DetectAuth":
		if s("RuleId") != f.cfg.FaceIDRuleID {
			return fakeError{"InvalidParameterValue.RuleIdNotExist", "RuleId不存在"}
		}
		if s("Name") == "" || s("IdCard") == "" {
			return fakeError{"InvalidParameter", "Name and IdCard are required"}
		}
		tok := strings.ToUpper(fakeUUID())
		f.sessions[tok] = &FakeLivenessSession{
			BizToken: tok, RuleID: s("RuleId"), Name: s("Name"), IDCard: s("IdCard"),
			RedirectURL: s("RedirectUrl"), Extra: s("Extra"),
		}
		return map[string]any{"BizToken": tok, "Url": f.URL + "/faceid/h5?token=" + tok}
	default: // GetDetectInfoEnhanced
		return f.detectInfo(s("BizToken"), s("RuleId"))
	}
}

var fakeDescriptions = map[string]string{
	"0": "姓名和身份证号一致", "-1": "姓名和身份证号不一致", "-2": "非法身份证号", "-3": "非法姓名",
	"-4": "证件库服务异常", "-5": "证件库中无此身份证记录",
}

var fakePhoneDescriptions = map[string]string{
	"0": "认证通过", "-4": "信息不一致", "-5": "手机号未实名", "-6": "手机号码不合法", "-7": "身份证号码有误",
	"-8": "姓名校验不通过", "-9": "没有记录", "-10": "认证未通过", "-11": "验证中心服务繁忙",
}

func (f *FakeServer) sendSMS(phones, params []string, appID, templateID, sign, sessionCtx string) any {
	if appID != f.cfg.SMSAppID {
		return fakeError{"InvalidParameterValue.SdkAppIdNotExist", "SdkAppId not found"}
	}
	if len(phones) == 0 || len(phones) > 200 {
		return fakeError{"InvalidParameterValue.IncorrectPhoneNumber", "PhoneNumberSet needs 1 to 200 numbers"}
	}
	known := false
	for _, id := range f.cfg.SMSTemplates {
		known = known || id == templateID
	}
	var statuses []map[string]any
	for _, p := range phones {
		code, msg := "Ok", "send success"
		switch local, ok := strings.CutPrefix(p, "+86"); {
		case !ok || len(local) != 11:
			code, msg = "InvalidParameterValue.IncorrectPhoneNumber", "incorrect phone number"
		case sign != f.cfg.SMSSignName:
			code, msg = "FailedOperation.SignatureIncorrectOrUnapproved", "signature not approved"
		case !known:
			code, msg = "FailedOperation.TemplateIncorrectOrUnapproved", "template not approved"
		case f.smsStatus != nil:
			code, msg = f.smsStatus(p)
		}
		if code == "Ok" {
			f.sms = append(f.sms, FakeSMS{Phone: strings.TrimPrefix(p, "+86"), AppID: appID, SignName: sign,
				TemplateID: templateID, Params: append([]string(nil), params...), SessionContext: sessionCtx})
		}
		statuses = append(statuses, map[string]any{"SerialNo": "2433:" + fakeUUID()[:8], "PhoneNumber": p, "Fee": 1,
			"SessionContext": sessionCtx, "Code": code, "Message": msg, "IsoCode": "CN"})
	}
	return map[string]any{"SendStatusSet": statuses}
}

func (f *FakeServer) detectInfo(tok, ruleID string) any {
	s, ok := f.sessions[tok]
	switch {
	case !ok:
		return fakeError{errBizTokenIllegal, "BizToken不合法"}
	case s.expired:
		return fakeError{errBizTokenExpired, "BizToken过期"}
	case ruleID != s.RuleID:
		return fakeError{"InvalidParameterValue.RuleIdNotExist", "RuleId不存在"}
	}
	text := map[string]any{"ErrCode": nil, "ErrMsg": nil, "IdCard": "", "Name": "", "LiveStatus": nil, "LiveMsg": nil,
		"Comparestatus": nil, "Comparemsg": nil, "Sim": nil, "Extra": s.Extra, "Mobile": "", "LivenessDetail": []any{}}
	if s.done {
		text["ErrCode"], text["ErrMsg"] = s.errCode, s.errMsg
		text["LiveStatus"], text["Comparestatus"] = s.live, s.compare
		text["IdCard"], text["Name"] = s.resID, s.resName
		text["Sim"] = "96.50"
		if s.compare != 0 {
			text["Sim"] = "12.30"
		}
	}
	return map[string]any{"Text": text, "IdCardData": nil, "BestFrame": nil, "VideoData": nil, "Encryption": nil}
}

// fakeIDRule gives the authority's answer to malformed input: bad for an ID number that does not
// parse, badName for an empty name, "0" otherwise.
func fakeIDRule(name, idCard, bad, badName string) string {
	if id, err := kernel.ParseIDNumber(idCard, time.Now()); err != nil || id.String() != idCard {
		return bad
	}
	if strings.TrimSpace(name) == "" {
		return badName
	}
	return "0"
}

func fakeSHA256(s string) string {
	b := sha256.Sum256([]byte(s))
	return hex.EncodeToString(b[:])
}

func fakeHMAC(key []byte, s string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(s))
	return m.Sum(nil)
}

func fakeUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
