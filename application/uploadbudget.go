package application

import (
	"context"
	"sync"
	"time"

	"github.com/shuxinqian/server/domain/file"
	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/ports"
)

// Upload limits (issue 11 item 2). An image is sized from its header first (file.InspectWithin:
// width × height × bytes per pixel, at most file.MaxDecodeBytes); its decode memory is then
// reserved from one budget for the whole process, DecodeBudget bytes, so however many uploads
// arrive at once the pixel buffers in flight stay bounded (a decode waits for memory, as long as
// the request lives). Uploads are also counted per user (UploadsPerUser an hour) and per signing
// link (UploadsPerLink an hour) in durable counters: 429 "upload-rate-limited".
const (
	DecodeBudget   = 80 << 20
	UploadsPerUser = 60
	UploadsPerLink = 20
	UploadWindow   = time.Hour
)

// decodeMemory is the process-wide decode budget.
var decodeMemory = newWeighted(DecodeBudget)

// weighted is a weighted semaphore (the application imports only the standard library).
type weighted struct {
	mu    sync.Mutex
	free  int64
	freed chan struct{}
}

func newWeighted(n int64) *weighted { return &weighted{free: n, freed: make(chan struct{})} }

func (w *weighted) acquire(ctx context.Context, n int64) error {
	for {
		w.mu.Lock()
		if w.free >= n {
			w.free -= n
			w.mu.Unlock()
			return nil
		}
		ch := w.freed
		w.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return kernel.Unavailable("upload-busy", "too many uploads are being checked; try again", ctx.Err())
		}
	}
}

func (w *weighted) release(n int64) {
	w.mu.Lock()
	w.free += n
	close(w.freed)
	w.freed = make(chan struct{})
	w.mu.Unlock()
}

// inspectUpload checks an upload within the decode budget.
func inspectUpload(ctx context.Context, p file.Purpose, data []byte) (file.Info, error) {
	return file.InspectWithin(p, data, func(n int64) (func(), error) {
		if n > DecodeBudget {
			n = DecodeBudget
		}
		if err := decodeMemory.acquire(ctx, n); err != nil {
			return nil, err
		}
		return func() { decodeMemory.release(n) }, nil
	})
}

// countUpload counts one upload for key (a user, a signing link) and refuses beyond limit.
func (a *App) countUpload(ctx context.Context, key string, limit int) error {
	now := a.clock.Now()
	var refused error
	err := a.uow.Do(ctx, func(ctx context.Context, tx ports.Tx) error {
		n, reset, err := tx.Attempts().Hit(ctx, key, UploadWindow, now)
		if err != nil {
			return err
		}
		if n > limit {
			refused = kernel.RateLimited("upload-rate-limited", "too many uploads; try again later", reset.Sub(now))
		}
		return nil
	})
	if err != nil {
		return err
	}
	return refused
}
