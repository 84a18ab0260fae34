// Package filestore keeps file contents on the local disk (the default ports.FileStore).
package filestore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"

	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/ports"
)

var _ ports.FileStore = (*Local)(nil)

// keyPattern is the shape of a key: lowercase letters, digits, '_', '-' and '/' separators.
// It has no '.', so a key can never name "..", a hidden file or one of Put's temporary files.
var keyPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9/_-]{0,199}$`)

const (
	dirPerm  = 0o700
	filePerm = 0o600
)

// Local stores each key as a file under one directory. Every access goes through an os.Root, so
// even a symbolic link planted inside the directory cannot lead outside it.
type Local struct {
	dir string
}

// NewLocal makes a store rooted at dir, creating the directory (0700) if needed.
func NewLocal(dir string) (*Local, error) {
	if dir == "" {
		return nil, errors.New("filestore: empty directory")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("filestore: %w", err)
	}
	if err := os.MkdirAll(abs, dirPerm); err != nil {
		return nil, fmt.Errorf("filestore: %w", err)
	}
	st, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("filestore: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("filestore: %s is not a directory", abs)
	}
	return &Local{dir: abs}, nil
}

// Dir is the store's root directory.
func (l *Local) Dir() string { return l.dir }

// ValidateKey reports whether key is acceptable: it matches ^[a-z0-9][a-z0-9/_-]{0,199}$, has no
// empty path segment and does not end with '/'. Refusals are kernel invalid "file-key-invalid".
func ValidateKey(key string) error {
	if !keyPattern.MatchString(key) || strings.Contains(key, "..") || strings.Contains(key, "//") ||
		strings.HasSuffix(key, "/") || path.Clean(key) != key {
		return kernel.Invalid("file-key-invalid", "invalid file key")
	}
	return nil
}

func (l *Local) open(ctx context.Context, key string) (*os.Root, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := ValidateKey(key); err != nil {
		return nil, err
	}
	root, err := os.OpenRoot(l.dir)
	if err != nil {
		return nil, kernel.Internal(fmt.Errorf("filestore: open root: %w", err))
	}
	return root, nil
}

// Put writes data under key atomically: a temporary file in the same directory is written,
// fsynced and renamed over the key, then the directory is fsynced. Readers see the old contents
// or the new ones, never a part.
func (l *Local) Put(ctx context.Context, key string, data []byte) (err error) {
	root, err := l.open(ctx, key)
	if err != nil {
		return err
	}
	defer func() { _ = root.Close() }()

	parent := path.Dir(key)
	if parent != "." {
		if err := root.MkdirAll(parent, dirPerm); err != nil {
			return kernel.Internal(fmt.Errorf("filestore: mkdir %s: %w", parent, err))
		}
	}
	var rnd [12]byte
	_, _ = rand.Read(rnd[:]) // never fails (crypto/rand panics on failure)
	tmp := path.Join(parent, ".tmp-"+hex.EncodeToString(rnd[:]))

	f, err := root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, filePerm)
	if err != nil {
		return kernel.Internal(fmt.Errorf("filestore: create temp: %w", err))
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = root.Remove(tmp)
		}
	}()
	if _, err = f.Write(data); err != nil {
		return kernel.Internal(fmt.Errorf("filestore: write %s: %w", key, err))
	}
	if err = f.Sync(); err != nil {
		return kernel.Internal(fmt.Errorf("filestore: sync %s: %w", key, err))
	}
	if err = f.Close(); err != nil {
		return kernel.Internal(fmt.Errorf("filestore: close %s: %w", key, err))
	}
	if err = root.Rename(tmp, key); err != nil {
		return kernel.Internal(fmt.Errorf("filestore: rename %s: %w", key, err))
	}
	if err := syncDir(root, parent); err != nil {
		return kernel.Internal(fmt.Errorf("filestore: sync dir of %s: %w", key, err))
	}
	return nil
}

func syncDir(root *os.Root, dir string) error {
	d, err := root.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// Get returns the contents under key; a missing key is kernel not-found "file-not-found".
func (l *Local) Get(ctx context.Context, key string) ([]byte, error) {
	root, err := l.open(ctx, key)
	if err != nil {
		return nil, err
	}
	defer func() { _ = root.Close() }()
	st, err := root.Stat(key)
	if err == nil && !st.Mode().IsRegular() {
		return nil, notFound()
	}
	if err != nil {
		if missing(err) {
			return nil, notFound()
		}
		return nil, kernel.Internal(fmt.Errorf("filestore: stat %s: %w", key, err))
	}
	data, err := root.ReadFile(key)
	if err != nil {
		if missing(err) {
			return nil, notFound()
		}
		return nil, kernel.Internal(fmt.Errorf("filestore: read %s: %w", key, err))
	}
	return data, nil
}

// Delete removes key; deleting a missing key is not an error.
func (l *Local) Delete(ctx context.Context, key string) error {
	root, err := l.open(ctx, key)
	if err != nil {
		return err
	}
	defer func() { _ = root.Close() }()
	st, err := root.Lstat(key)
	if err != nil {
		if missing(err) {
			return nil
		}
		return kernel.Internal(fmt.Errorf("filestore: stat %s: %w", key, err))
	}
	if st.IsDir() { // a directory is not a stored file (it holds other keys)
		return nil
	}
	if err := root.Remove(key); err != nil && !missing(err) {
		return kernel.Internal(fmt.Errorf("filestore: delete %s: %w", key, err))
	}
	return nil
}

func missing(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

func notFound() error { return kernel.NotFound("file-not-found", "file not found") }
