package sqlstore

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/shuxinqian/server/domain/channel"
	"github.com/shuxinqian/server/ports"
)

// ChannelCacheTTL bounds how stale the platform settings and the channels (with their catalogs)
// read through a Store may be: a change is seen within ChannelCacheTTL of its commit, and at once
// by the instance that wrote it when no read raced the write (the write empties the cache; a read
// that began before the write does not fill it). GET /me, order
// creation, the catalog and the channel search read them on every request; they change rarely
// (seeding, operators).
const ChannelCacheTTL = 10 * time.Second

// channelCache keeps the platform settings, channels by code and search answers for a short time.
// Channels are kept as snapshots and rebuilt for each caller, so no caller shares an aggregate.
type channelCache struct {
	ttl time.Duration
	now func() time.Time

	mu       sync.Mutex
	gen      uint64 // bumped by every write; a read started before a write does not fill the cache
	platform *cached[channel.Platform]
	byCode   map[string]cached[channel.Snapshot]
	searches map[string]cached[[]channel.Snapshot]
}

type cached[T any] struct {
	v  T
	at time.Time
}

// maxCachedSearches bounds the search answers kept (queries are free text).
const maxCachedSearches = 1024

func newChannelCache(ttl time.Duration) *channelCache {
	return &channelCache{ttl: ttl, now: time.Now, byCode: map[string]cached[channel.Snapshot]{},
		searches: map[string]cached[[]channel.Snapshot]{}}
}

func (c *channelCache) fresh(at time.Time) bool { return c.now().Sub(at) < c.ttl }

func (c *channelCache) invalidate() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.platform = nil
	clear(c.byCode)
	clear(c.searches)
}

// SetChannelCacheTTL changes how long channels and platform settings are cached; 0 turns the
// cache off. For tests and benchmarks.
func (s *Store) SetChannelCacheTTL(d time.Duration) {
	s.channelCache.mu.Lock()
	defer s.channelCache.mu.Unlock()
	s.channelCache.ttl = d
	s.channelCache.gen++
	s.channelCache.platform = nil
	clear(s.channelCache.byCode)
	clear(s.channelCache.searches)
}

// cachedChannels is the ChannelRepository of a unit of work with the store's cache in front of
// its reads; its writes go to the database and empty the cache.
type cachedChannels struct {
	channels
	cache *channelCache
}

var _ ports.ChannelRepository = cachedChannels{}

func (t *txn) cachedChannels() cachedChannels {
	return cachedChannels{channels: channels{t}, cache: t.store.channelCache}
}

func (r cachedChannels) Add(ctx context.Context, c *channel.Channel) error {
	err := r.channels.Add(ctx, c)
	r.cache.invalidate()
	r.t.onCommit = append(r.t.onCommit, r.cache.invalidate)
	return err
}

// Update writes through and empties the cache (this instance sees the change at once; other
// instances within ChannelCacheTTL).
func (r cachedChannels) Update(ctx context.Context, code string, fn func(c *channel.Channel) error) error {
	err := r.channels.Update(ctx, code, fn)
	r.cache.invalidate()
	r.t.onCommit = append(r.t.onCommit, r.cache.invalidate)
	return err
}

func (r cachedChannels) SavePlatform(ctx context.Context, p channel.Platform) error {
	err := r.channels.SavePlatform(ctx, p)
	r.cache.invalidate()
	r.t.onCommit = append(r.t.onCommit, r.cache.invalidate)
	return err
}

// lookup returns a fresh cached value, or the generation a fill must match.
func lookup[T any](c *channelCache, get func() (cached[T], bool)) (T, bool, uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if v, ok := get(); ok && c.ttl > 0 && c.fresh(v.at) {
		return v.v, true, c.gen
	}
	var zero T
	return zero, false, c.gen
}

// fill stores a value read from the database unless a write happened since the read began.
func fill(c *channelCache, gen uint64, put func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ttl > 0 && c.gen == gen {
		put()
	}
}

func (r cachedChannels) Platform(ctx context.Context) (channel.Platform, error) {
	p, ok, gen := lookup(r.cache, func() (cached[channel.Platform], bool) {
		if r.cache.platform == nil {
			return cached[channel.Platform]{}, false
		}
		return *r.cache.platform, true
	})
	if ok {
		return p, nil
	}
	p, err := r.channels.Platform(ctx)
	if err != nil {
		return p, err
	}
	fill(r.cache, gen, func() { r.cache.platform = &cached[channel.Platform]{v: p, at: r.cache.now()} })
	return p, nil
}

func (r cachedChannels) GetByCode(ctx context.Context, code string) (*channel.Channel, error) {
	s, ok, gen := lookup(r.cache, func() (cached[channel.Snapshot], bool) { v, ok := r.cache.byCode[code]; return v, ok })
	if ok {
		return channel.FromSnapshot(s), nil
	}
	c, err := r.channels.GetByCode(ctx, code)
	if err != nil {
		return nil, err // not-found is not cached: a new channel is found at once
	}
	snap := c.Snapshot()
	fill(r.cache, gen, func() { r.cache.byCode[code] = cached[channel.Snapshot]{v: snap, at: r.cache.now()} })
	return c, nil
}

func (r cachedChannels) Search(ctx context.Context, q string, limit int) ([]*channel.Channel, error) {
	key := strconv.Itoa(limit) + "\x00" + q
	ss, ok, gen := lookup(r.cache, func() (cached[[]channel.Snapshot], bool) { v, ok := r.cache.searches[key]; return v, ok })
	if ok {
		out := make([]*channel.Channel, len(ss))
		for i, s := range ss {
			out[i] = channel.FromSnapshot(s)
		}
		return out, nil
	}
	cs, err := r.channels.Search(ctx, q, limit)
	if err != nil {
		return nil, err
	}
	snaps := make([]channel.Snapshot, len(cs))
	for i, c := range cs {
		snaps[i] = c.Snapshot()
	}
	fill(r.cache, gen, func() {
		if len(r.cache.searches) >= maxCachedSearches {
			clear(r.cache.searches)
		}
		r.cache.searches[key] = cached[[]channel.Snapshot]{v: snaps, at: r.cache.now()}
	})
	return cs, nil
}
