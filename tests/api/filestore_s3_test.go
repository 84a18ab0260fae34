package api

import (
	"bytes"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// TestFilesOnS3: with FILE_STORE=s3 an uploaded file and a generated appearance land in the
// bucket (under S3_PREFIX, with keys the server chose) and are read back from it.
func TestFilesOnS3(t *testing.T) {
	backend := s3mem.New()
	if err := backend.CreateBucket("shuxinqian"); err != nil {
		t.Fatal(err)
	}
	fake := httptest.NewServer(gofakes3.New(backend).Server())
	defer fake.Close()
	s := startWith(t, map[string]string{"FILE_STORE": "s3", "S3_ENDPOINT": strings.TrimPrefix(fake.URL, "http://"), "S3_BUCKET": "shuxinqian",
		"S3_ACCESS_KEY": "test", "S3_SECRET_KEY": "test-secret", "S3_USE_SSL": "false", "S3_PREFIX": "files/"})
	token := s.login("13700137002")
	img := pngBytes(t, 300, 120)
	up := s.upload(token, "signature", "../../etc/mine.png", img).expect(t, 201, "")
	sig := s.do("POST", "/api/v1/me/signatures", token, map[string]any{"file_id": up.str("file_id")}).expect(t, 201, "")
	st, _, got := s.get("/api/v1/me/signatures/"+sig.str("id")+"/image", token, "")
	if st != 200 || !bytes.Equal(got, img) {
		t.Fatalf("image from S3: %d, %d bytes (want %d)", st, len(got), len(img))
	}
	list, err := backend.ListBucket("shuxinqian", &gofakes3.Prefix{}, gofakes3.ListBucketPage{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Contents) == 0 {
		t.Fatal("nothing stored in the bucket")
	}
	for _, c := range list.Contents {
		if !strings.HasPrefix(c.Key, "files/") || strings.Contains(c.Key, "mine") || strings.Contains(c.Key, "..") {
			t.Errorf("object key %q", c.Key)
		}
	}
}
