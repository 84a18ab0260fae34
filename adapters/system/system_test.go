package system

import (
	"sync"
	"testing"
)

func TestIDsUniqueAndOrdered(t *testing.T) {
	g := NewIDs()
	const n = 2000
	var mu sync.Mutex
	seen := make(map[string]bool, n)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range n / 4 {
				id := g.NewID()
				mu.Lock()
				seen[id] = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(seen) != n {
		t.Fatalf("%d unique ids of %d", len(seen), n)
	}
	a, b := g.NewID(), g.NewID()
	if len(a) != 26 || a >= b {
		t.Fatalf("ids not 26 chars or not ordered: %s %s", a, b)
	}
}
