package browser

import (
	"bytes"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"mime/multipart"
	"net/http"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/shuxinqian/server/domain/operator"
)

var secretRe = regexp.MustCompile(`TOTP secret[^:]*: ([A-Z2-7]+)`)

// adminToken creates an operator with `shuxinqian operator create --password-stdin` against the
// server's database and logs it in with a TOTP code.
func (s *server) adminToken() string {
	s.t.Helper()
	const pw = "browser-operator-password"
	cmd := exec.Command(binPath, "operator", "create", "--username", "browseradmin", "--role", "admin", "--password-stdin")
	cmd.Env = s.env
	cmd.Stdin = strings.NewReader(pw + "\n")
	out, err := cmd.CombinedOutput()
	if err != nil {
		s.t.Fatalf("operator create: %v\n%s", err, out)
	}
	m := secretRe.FindSubmatch(out)
	if m == nil {
		s.t.Fatalf("no TOTP secret printed:\n%s", out)
	}
	secret, err := operator.DecodeSecret(string(m[1]))
	if err != nil {
		s.t.Fatal(err)
	}
	body, _ := json.Marshal(map[string]string{"username": "browseradmin", "password": pw, "totp": operator.Code(secret, operator.Step(time.Now()))})
	res, err := http.Post(s.base+"/api/v1/admin/sessions", "application/json", bytes.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	defer func() { _ = res.Body.Close() }()
	var got struct{ Token string }
	_ = json.NewDecoder(res.Body).Decode(&got)
	if res.StatusCode != 201 || got.Token == "" {
		s.t.Fatalf("operator login: %d", res.StatusCode)
	}
	return got.Token
}

func (s *server) adminCall(token, method, path, ct string, body []byte) map[string]any {
	s.t.Helper()
	req, _ := http.NewRequest(method, s.base+path, bytes.NewReader(body))
	req.Header.Set("Content-Type", ct)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer func() { _ = res.Body.Close() }()
	var out map[string]any
	_ = json.NewDecoder(res.Body).Decode(&out)
	if res.StatusCode >= 300 {
		s.t.Fatalf("%s %s: %d %v", method, path, res.StatusCode, out)
	}
	return out
}

// An operator's banner shows on the H5 home page in the swipe, and a catalog banner opens the
// purchase page of its channel.
func TestHomeBanners(t *testing.T) {
	s := startServer(t)
	op := s.adminToken()
	img := image.NewRGBA(image.Rect(0, 0, 750, 300))
	for x := 0; x < 750; x++ {
		for y := 0; y < 300; y++ {
			img.Set(x, y, color.RGBA{R: 200, G: uint8(x % 256), B: 80, A: 255})
		}
	}
	var pngBuf, form bytes.Buffer
	_ = png.Encode(&pngBuf, img)
	mw := multipart.NewWriter(&form)
	fw, _ := mw.CreateFormFile("file", "banner.png")
	_, _ = fw.Write(pngBuf.Bytes())
	_ = mw.Close()
	fid := s.adminCall(op, "POST", "/api/v1/admin/banner-images", mw.FormDataContentType(), form.Bytes())["file_id"].(string)
	body, _ := json.Marshal(map[string]any{"title": "新用户礼包", "image_file_id": fid, "target_type": "catalog", "target_value": "q86804"})
	s.adminCall(op, "POST", "/api/v1/admin/banners", "application/json", body)

	b := s.browser(t, "banners")
	b.login(newPhone())
	b.click("稍后")
	b.open("/")
	b.poll("the banner swipe", `(function(){ const i = document.querySelector('.banner-swipe img'); return i && i.complete && i.naturalWidth === 750 && i.getAttribute('src').startsWith('/api/v1/banners/') ? 'ok' : 'wait' })()`)
	b.check("/ with banners")
	b.shot("home-banners")
	b.clickCSS(".banner-swipe .van-swipe-item")
	b.poll("the purchase page", `location.pathname === '/purchase' ? 'ok' : 'wait'`)
}
