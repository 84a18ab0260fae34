package application

import (
	"context"
	"sync"
	"testing"

	"github.com/shuxinqian/server/domain/kernel"
)

// At most MaxConcurrentHashes password hashes run at once: the next login waits for a slot, and
// one that finds none within HashWait answers 429 login-busy without hashing; a freed slot
// serves again; a cancelled request stops waiting.
func TestHashSlotsBoundConcurrentPasswordChecks(t *testing.T) {
	release := make(chan struct{})
	var started, done sync.WaitGroup
	for range MaxConcurrentHashes {
		started.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			if err := withHashSlot(context.Background(), func() { started.Done(); <-release }); err != nil {
				t.Error(err)
			}
		}()
	}
	started.Wait()
	err := withHashSlot(context.Background(), func() { t.Error("a hash ran without a slot") })
	if kernel.CodeOf(err) != "login-busy" || kernel.KindOf(err) != kernel.KindRateLimited {
		t.Fatalf("fifth concurrent login: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := withHashSlot(ctx, func() { t.Error("a cancelled login hashed") }); kernel.CodeOf(err) != "login-cancelled" {
		t.Fatalf("cancelled login: %v", err)
	}
	close(release)
	done.Wait()
	ran := false
	if err := withHashSlot(context.Background(), func() { ran = true }); err != nil || !ran {
		t.Fatalf("a freed slot: ran=%v err=%v", ran, err)
	}
}
