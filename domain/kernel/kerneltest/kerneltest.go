// Package kerneltest holds test helpers for the domain's error model. Standard library only,
// like the rest of the domain.
package kerneltest

import (
	"errors"
	"testing"

	"github.com/shuxinqian/server/domain/kernel"
)

// WantErr asserts that err is a *kernel.Error of the given kind and stable code, and returns it.
func WantErr(t testing.TB, err error, kind kernel.Kind, code string) *kernel.Error {
	t.Helper()
	if err == nil {
		t.Fatalf("error = nil, want %v/%q", kind, code)
	}
	if got := kernel.KindOf(err); got != kind {
		t.Errorf("KindOf(%v) = %v, want %v", err, got, kind)
	}
	if got := kernel.CodeOf(err); got != code {
		t.Errorf("CodeOf(%v) = %q, want %q", err, got, code)
	}
	var e *kernel.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not a *kernel.Error", err, err)
	}
	return e
}
