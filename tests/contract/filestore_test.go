package contract

import (
	"bytes"
	"context"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/shuxinqian/server/adapters/filestore"
	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/ports"
)

// fsAdapter is one FileStore under test, fresh and empty.
type fsAdapter struct {
	name string
	make func(t *testing.T) ports.FileStore
}

func fsAdapters() []fsAdapter {
	return []fsAdapter{{name: "local", make: func(t *testing.T) ports.FileStore {
		s, err := filestore.NewLocal(filepath.Join(t.TempDir(), "files"))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}}, {name: "s3", make: newFakeS3Store}}
}

// newFakeS3Store is the S3 adapter against an S3 server started in process (gofakes3 with its
// in-memory backend), on a fresh bucket, under a key prefix.
func newFakeS3Store(t *testing.T) ports.FileStore {
	t.Helper()
	backend := s3mem.New()
	if err := backend.CreateBucket("shuxinqian-test"); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gofakes3.New(backend).Server())
	t.Cleanup(srv.Close)
	s, err := filestore.NewS3(context.Background(), filestore.S3Config{Endpoint: strings.TrimPrefix(srv.URL, "http://"),
		Bucket: "shuxinqian-test", AccessKey: "test", SecretKey: "test-secret", Region: "us-east-1", Prefix: "files/"})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestS3FileStoreRefusesMissingBucket(t *testing.T) {
	srv := httptest.NewServer(gofakes3.New(s3mem.New()).Server())
	defer srv.Close()
	_, err := filestore.NewS3(context.Background(), filestore.S3Config{Endpoint: strings.TrimPrefix(srv.URL, "http://"),
		Bucket: "absent", AccessKey: "test", SecretKey: "test-secret", Region: "us-east-1"})
	if err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("NewS3 on a missing bucket = %v", err)
	}
}

func fsMustGet(t *testing.T, s ports.FileStore, key string) []byte {
	t.Helper()
	got, err := s.Get(context.Background(), key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	return got
}

func TestFileStoreContract(t *testing.T) {
	for _, a := range fsAdapters() {
		t.Run(a.name, func(t *testing.T) {
			ctx := context.Background()

			t.Run("put get overwrite delete", func(t *testing.T) {
				s := a.make(t)
				key := "verifications/01hxyz/scan"
				if err := s.Put(ctx, key, []byte("first")); err != nil {
					t.Fatal(err)
				}
				if got := fsMustGet(t, s, key); string(got) != "first" {
					t.Fatalf("got %q", got)
				}
				if err := s.Put(ctx, key, []byte("second, longer")); err != nil {
					t.Fatal(err)
				}
				if got := fsMustGet(t, s, key); string(got) != "second, longer" {
					t.Fatalf("after overwrite %q", got)
				}
				if err := s.Put(ctx, key, []byte("3")); err != nil {
					t.Fatal(err)
				}
				if got := fsMustGet(t, s, key); string(got) != "3" {
					t.Fatalf("overwrite with shorter data left %q", got)
				}
				if err := s.Delete(ctx, key); err != nil {
					t.Fatal(err)
				}
				if _, err := s.Get(ctx, key); kernel.CodeOf(err) != "file-not-found" || kernel.KindOf(err) != kernel.KindNotFound {
					t.Fatalf("Get after Delete = %v", err)
				}
			})

			t.Run("returned bytes are the caller's", func(t *testing.T) {
				s := a.make(t)
				data := []byte("keep")
				if err := s.Put(ctx, "k", data); err != nil {
					t.Fatal(err)
				}
				data[0] = 'X'
				got := fsMustGet(t, s, "k")
				got[1] = 'X'
				if again := fsMustGet(t, s, "k"); string(again) != "keep" {
					t.Fatalf("stored contents changed through a slice: %q", again)
				}
			})

			t.Run("missing", func(t *testing.T) {
				s := a.make(t)
				if _, err := s.Get(ctx, "no/such/key"); kernel.CodeOf(err) != "file-not-found" {
					t.Fatalf("Get missing = %v", err)
				}
				if err := s.Delete(ctx, "no/such/key"); err != nil {
					t.Fatalf("Delete missing = %v", err)
				}
			})

			t.Run("traversal keys refused", func(t *testing.T) {
				s := a.make(t)
				for _, key := range []string{"", "../escape", "a/../../escape", "/etc/passwd", "..", "a/..", "./a", "a\\..\\b", "a\x00"} {
					if err := s.Put(ctx, key, []byte("x")); err == nil {
						t.Errorf("Put(%q) accepted", key)
					} else if kernel.KindOf(err) != kernel.KindInvalid {
						t.Errorf("Put(%q) = %v, want an invalid error", key, err)
					}
					if _, err := s.Get(ctx, key); kernel.KindOf(err) != kernel.KindInvalid {
						t.Errorf("Get(%q) = %v, want an invalid error", key, err)
					}
					if err := s.Delete(ctx, key); kernel.KindOf(err) != kernel.KindInvalid {
						t.Errorf("Delete(%q) = %v, want an invalid error", key, err)
					}
				}
			})

			t.Run("concurrent puts of different keys", func(t *testing.T) {
				s := a.make(t)
				const n = 32
				var wg sync.WaitGroup
				errs := make(chan error, n)
				for i := range n {
					wg.Go(func() {
						key := fmt.Sprintf("concurrent/%02d/file-%02d", i%4, i)
						errs <- s.Put(ctx, key, bytes.Repeat([]byte{byte(i)}, 4096+i))
					})
				}
				wg.Wait()
				close(errs)
				for err := range errs {
					if err != nil {
						t.Fatal(err)
					}
				}
				for i := range n {
					key := fmt.Sprintf("concurrent/%02d/file-%02d", i%4, i)
					if got := fsMustGet(t, s, key); !bytes.Equal(got, bytes.Repeat([]byte{byte(i)}, 4096+i)) {
						t.Fatalf("%s: %d bytes, wrong contents", key, len(got))
					}
				}
			})

			t.Run("concurrent puts of one key leave one whole version", func(t *testing.T) {
				s := a.make(t)
				var wg sync.WaitGroup
				for i := range 8 {
					wg.Go(func() { _ = s.Put(ctx, "same", bytes.Repeat([]byte{byte('a' + i)}, 64<<10)) })
				}
				wg.Wait()
				got := fsMustGet(t, s, "same")
				if len(got) != 64<<10 || !bytes.Equal(got, bytes.Repeat(got[:1], len(got))) {
					t.Fatalf("torn write: %d bytes", len(got))
				}
			})
		})
	}
}
