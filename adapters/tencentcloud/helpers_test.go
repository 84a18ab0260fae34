package tencentcloud

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shuxinqian/server/domain/kernel"
)

type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// wantKernel fails unless err is a *kernel.Error of the kind and code.
func wantKernel(t *testing.T, err error, kind kernel.Kind, code string) {
	t.Helper()
	var ke *kernel.Error
	if !errors.As(err, &ke) || ke.Kind != kind || ke.Code != code {
		t.Fatalf("error %v, want %s %q", err, kind, code)
	}
}

// wantNoPersonalData fails if err's text quotes any of the values.
func wantNoPersonalData(t *testing.T, err error, values ...string) {
	t.Helper()
	for _, v := range values {
		if v != "" && strings.Contains(err.Error(), v) {
			t.Fatalf("error %q quotes personal data %q", err, v)
		}
	}
}
