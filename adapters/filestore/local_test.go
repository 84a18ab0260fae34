package filestore_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shuxinqian/server/adapters/filestore"
	"github.com/shuxinqian/server/domain/kernel"
)

func newStore(t *testing.T) (*filestore.Local, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "files")
	s, err := filestore.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	return s, dir
}

func TestPutGetDelete(t *testing.T) {
	ctx := context.Background()
	s, dir := newStore(t)
	if st, err := os.Stat(dir); err != nil || st.Mode().Perm() != 0o700 {
		t.Fatalf("root dir: %v %v", st.Mode(), err)
	}
	key := "enterprises/01hx/licence_1"
	if err := s.Put(ctx, key, []byte("one")); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Get(ctx, key); err != nil || string(got) != "one" {
		t.Fatalf("Get = %q, %v", got, err)
	}
	st, err := os.Stat(filepath.Join(dir, "enterprises", "01hx", "licence_1"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("file mode %v, %v", st.Mode(), err)
	}
	for _, d := range []string{"enterprises", "enterprises/01hx"} {
		if st, err := os.Stat(filepath.Join(dir, d)); err != nil || st.Mode().Perm() != 0o700 {
			t.Fatalf("dir %s mode %v, %v", d, st.Mode(), err)
		}
	}
	if err := s.Put(ctx, key, []byte("two")); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Get(ctx, key); string(got) != "two" {
		t.Fatalf("after overwrite %q", got)
	}
	entries, _ := os.ReadDir(filepath.Join(dir, "enterprises", "01hx"))
	if len(entries) != 1 {
		t.Fatalf("temp files left behind: %v", entries)
	}
	if err := s.Delete(ctx, key); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, key); kernel.CodeOf(err) != "file-not-found" || kernel.KindOf(err) != kernel.KindNotFound {
		t.Fatalf("after delete: %v", err)
	}
	if err := s.Delete(ctx, key); err != nil {
		t.Fatalf("second delete: %v", err)
	}
	if err := s.Delete(ctx, "never/was/here"); err != nil {
		t.Fatalf("delete missing: %v", err)
	}
}

func TestEmptyAndBinary(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	if err := s.Put(ctx, "empty", nil); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Get(ctx, "empty"); err != nil || len(got) != 0 {
		t.Fatalf("%q %v", got, err)
	}
	bin := bytes.Repeat([]byte{0, 0xff, '\n', 0x89}, 1<<16)
	if err := s.Put(ctx, "bin", bin); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Get(ctx, "bin"); !bytes.Equal(got, bin) {
		t.Fatal("binary round trip")
	}
}

func TestKeysRefused(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	for _, key := range []string{
		"", "/etc/passwd", "../x", "a/../../x", "a/..", "..", ".", "a/./b", ".hidden", "a/.tmp-x",
		"a//b", "a/", "A", "a b", "a\\b", "a\x00b", "-a", "_a", "/a", "a/b.png", "é",
		strings.Repeat("a", 201),
	} {
		if err := s.Put(ctx, key, []byte("x")); kernel.CodeOf(err) != "file-key-invalid" {
			t.Errorf("Put(%q) = %v", key, err)
		}
		if _, err := s.Get(ctx, key); kernel.CodeOf(err) != "file-key-invalid" {
			t.Errorf("Get(%q) = %v", key, err)
		}
		if err := s.Delete(ctx, key); kernel.CodeOf(err) != "file-key-invalid" {
			t.Errorf("Delete(%q) = %v", key, err)
		}
	}
	for _, key := range []string{"a", "0", strings.Repeat("a", 200), "a/b/c", "x-y_z/1"} {
		if err := filestore.ValidateKey(key); err != nil {
			t.Errorf("ValidateKey(%q) = %v", key, err)
		}
	}
}

// A symbolic link planted inside the directory does not lead the store outside it.
func TestSymlinkEscapeRefused(t *testing.T) {
	ctx := context.Background()
	s, dir := newStore(t)
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "secret"), []byte("s"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(dir, "link")); err != nil {
		t.Skip("no symlinks:", err)
	}
	if got, err := s.Get(ctx, "link/secret"); err == nil {
		t.Fatalf("read through symlink: %q", got)
	}
	if err := s.Put(ctx, "link/new", []byte("x")); err == nil {
		t.Fatal("wrote through symlink")
	}
	if _, err := os.Stat(filepath.Join(outside, "new")); err == nil {
		t.Fatal("file created outside the root")
	}
}

func TestDirectoryIsNotAFile(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	if err := s.Put(ctx, "a/b", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "a"); kernel.CodeOf(err) != "file-not-found" {
		t.Fatalf("Get(dir) = %v", err)
	}
	if _, err := s.Get(ctx, "a/b/c"); kernel.CodeOf(err) != "file-not-found" {
		t.Fatalf("Get(under a file) = %v", err)
	}
	if err := s.Delete(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Get(ctx, "a/b"); string(got) != "x" {
		t.Fatal("delete of a directory key removed its files")
	}
}

func TestCancelledContext(t *testing.T) {
	s, _ := newStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Put(ctx, "a", []byte("x")); err == nil {
		t.Fatal("put with a cancelled context")
	}
}

func TestNewLocalRefusesAFile(t *testing.T) {
	f := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(f, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := filestore.NewLocal(f); err == nil {
		t.Fatal("NewLocal on a file")
	}
	if _, err := filestore.NewLocal(""); err == nil {
		t.Fatal("NewLocal with no dir")
	}
}
