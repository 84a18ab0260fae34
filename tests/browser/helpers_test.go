package browser

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/gif"
	"image/png"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// call is a JSON API call with a bearer token, for the people the browser does not play.
func (s *server) call(method, path, token string, body any) map[string]any {
	s.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, s.base+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer func() { _ = res.Body.Close() }()
	raw, _ := io.ReadAll(res.Body)
	if res.StatusCode >= 300 {
		s.t.Fatalf("%s %s: %d %s", method, path, res.StatusCode, raw)
	}
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return out
}

// verifiedPerson logs a phone in over the API and verifies its real name; it returns the token.
func (s *server) verifiedPerson(phone, name string) string {
	s.t.Helper()
	n := s.smsCount(phone)
	s.call("POST", "/api/v1/sms-codes", "", map[string]string{"phone": phone, "purpose": "login"})
	tok := s.call("POST", "/api/v1/sessions", "", map[string]string{"phone": phone, "code": s.smsCode(phone, n)})["token"].(string)
	s.call("POST", "/api/v1/me/real-name", tok, map[string]any{"name": name, "id_number": idNumber(), "consent": true})
	return tok
}

// applyToJoin has a verified person apply to join the enterprise named name.
func (s *server) applyToJoin(token, name string) {
	s.t.Helper()
	items := s.call("GET", "/api/v1/enterprises/search?name="+url.QueryEscape(name), token, nil)["items"].([]any)
	s.call("POST", "/api/v1/enterprises/"+items[0].(map[string]any)["id"].(string)+"/join-requests", token, map[string]any{})
}

func writePNG(t *testing.T, w, h int) string {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for x := 0; x < w; x++ {
		for y := 0; y < h; y++ {
			img.Set(x, y, color.RGBA{uint8(x), uint8(y), 200, 255})
		}
	}
	p := filepath.Join(t.TempDir(), "licence.png")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
	return p
}

func writeGIF(t *testing.T) string {
	t.Helper()
	img := image.NewPaletted(image.Rect(0, 0, 200, 280), []color.Color{color.White, color.Black})
	for i := 20; i < 180; i++ {
		img.SetColorIndex(i, 40, 1)
	}
	p := filepath.Join(t.TempDir(), "letter.gif")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	if err := gif.Encode(f, img, nil); err != nil {
		t.Fatal(err)
	}
	return p
}

// clickCSS clicks the last visible element matching a CSS selector (controls without text: the
// stepper's plus, a signature tile), once it stays put and nothing covers it.
func (b *browser) clickCSS(sel string) {
	b.t.Helper()
	js := `(function(){ const e=[...document.querySelectorAll(` + jsString(sel) + `)].filter(e=>e.getBoundingClientRect().height>0).pop(); if(!e) return 'wait';
	  e.scrollIntoView({block:'center'}); const r=e.getBoundingClientRect(); const x=r.left+r.width/2, y=r.top+r.height/2;
	  const hit=document.elementFromPoint(x,y); if(!hit || !(e===hit || e.contains(hit) || hit.contains(e))) return 'wait';
	  return Math.round(x)+','+Math.round(y); })()`
	prev := ""
	for i := 0; ; i++ {
		cur := b.poll("element "+sel, js)
		if cur == prev {
			var x, y float64
			_, _ = fmt.Sscanf(cur, "%f,%f", &x, &y)
			b.run(chromedp.MouseClickXY(x, y))
			return
		}
		prev = cur
		time.Sleep(80 * time.Millisecond)
		if i > 100 {
			b.t.Fatalf("%s keeps moving", sel)
		}
	}
}

// codeSheet gets the SMS code for phone in the 签署验证 pop-up and confirms it; a signing
// password, when given, is typed into the pop-up's 签署密码 field (the signer's own key signs).
func (b *browser) codeSheet(phone string, signingPassword ...string) {
	b.t.Helper()
	b.see("签署验证")
	n := b.s.smsCount(phone)
	b.click("获取验证码")
	b.fill("验证码", b.s.smsCode(phone, n))
	for _, pw := range signingPassword {
		b.fill("签署密码", pw)
	}
	b.shot("sign-code")
	b.click("确定")
}

// setSigningPassword types pw twice on the 设置签署密码 page and confirms it.
func (b *browser) setSigningPassword(pw string) {
	b.t.Helper()
	b.fill("新密码", pw)
	b.fill("确认密码", pw)
	b.click("确定")
}
