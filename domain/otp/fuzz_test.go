package otp_test

import (
	"encoding/binary"
	"errors"
	"sort"
	"testing"
	"time"

	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/otp"
)

// A naive model of the sending limits, written with instants only (no durations, so nothing
// saturates), used as the oracle of the random and fuzz tests.

type rule int

const (
	ruleResend rule = iota
	ruleHourly
	ruleDaily
	ruleIP
)

var ruleOfCode = map[string]rule{
	codeResend: ruleResend,
	codeHourly: ruleHourly,
	codeDaily:  ruleDaily,
	codeIP:     ruleIP,
}

// modelFreeAt returns whether rule r refuses a sending of purpose p at now, and if so the first
// instant at which it no longer does.
func modelFreeAt(r rule, h otp.History, p otp.Purpose, now time.Time) (bool, time.Time) {
	window := func(ts []time.Time, d time.Duration, limit int) (bool, time.Time) {
		from := now.Add(-d)
		var in []time.Time
		for _, t := range ts {
			if t.After(from) {
				in = append(in, t)
			}
		}
		if len(in) < limit {
			return false, time.Time{}
		}
		sort.Slice(in, func(i, j int) bool { return in[i].Before(in[j]) })
		return true, in[len(in)-limit].Add(d)
	}
	var phone []time.Time
	for _, s := range h.Phone {
		phone = append(phone, s.At)
	}
	switch r {
	case ruleResend:
		var free time.Time
		refused := false
		for _, s := range h.Phone {
			if s.Purpose == p && s.At.After(now.Add(-otp.ResendInterval)) {
				refused = true
				if end := s.At.Add(otp.ResendInterval); end.After(free) {
					free = end
				}
			}
		}
		return refused, free
	case ruleHourly:
		return window(phone, time.Hour, otp.PerPhoneHour)
	case ruleDaily:
		return window(phone, 24*time.Hour, otp.PerPhoneDay)
	default:
		return window(h.IP, 24*time.Hour, otp.PerIPDay)
	}
}

// near reports whether every time of h is within 100 years of now, so that no difference of
// instants saturates a time.Duration.
func near(h otp.History, now time.Time) bool {
	lo, hi := now.AddDate(-100, 0, 0), now.AddDate(100, 0, 0)
	ok := func(t time.Time) bool { return t.After(lo) && t.Before(hi) }
	for _, s := range h.Phone {
		if !ok(s.At) {
			return false
		}
	}
	for _, t := range h.IP {
		if !ok(t) {
			return false
		}
	}
	return true
}

// checkAgainstModel runs CheckSend and checks it against the model. The invariants that hold
// for any input: a refusal is a KindRateLimited *kernel.Error with one of the four codes, with a
// positive RetryAfter, naming a rule that the model says is broken, and CheckSend refuses
// exactly when some rule is broken. When exact is set and the times are near now, RetryAfter
// is also the model's wait rounded up to whole seconds.
func checkAgainstModel(t *testing.T, h otp.History, p otp.Purpose, now time.Time, exact bool) {
	t.Helper()
	err := otp.CheckSend(h, p, now)
	anyBroken := false
	for r := ruleResend; r <= ruleIP; r++ {
		if broken, _ := modelFreeAt(r, h, p, now); broken {
			anyBroken = true
		}
	}
	if err == nil {
		if anyBroken {
			t.Fatalf("CheckSend allowed a sending that breaks a limit: now=%v purpose=%q history=%+v", now, p, h)
		}
		return
	}
	var e *kernel.Error
	if !errors.As(err, &e) {
		t.Fatalf("CheckSend error %v (%T) is not a *kernel.Error", err, err)
	}
	if e.Kind != kernel.KindRateLimited {
		t.Fatalf("CheckSend error kind = %v, want rate_limited (%v)", e.Kind, err)
	}
	if kernel.KindOf(err) != kernel.KindRateLimited {
		t.Fatalf("KindOf = %v", kernel.KindOf(err))
	}
	if e.RetryAfter <= 0 {
		t.Fatalf("CheckSend refused with non-positive RetryAfter %v (%s): now=%v purpose=%q history=%+v",
			e.RetryAfter, e.Code, now, p, h)
	}
	r, ok := ruleOfCode[e.Code]
	if !ok {
		t.Fatalf("CheckSend refused with unknown code %q", e.Code)
	}
	broken, free := modelFreeAt(r, h, p, now)
	if !broken {
		t.Fatalf("CheckSend refused with %s but the model says that rule holds: now=%v purpose=%q history=%+v", e.Code, now, p, h)
	}
	if !exact || !near(h, now) {
		return
	}
	if e.RetryAfter%time.Second != 0 {
		t.Fatalf("RetryAfter %v is not whole seconds", e.RetryAfter)
	}
	wait := free.Sub(now)
	want := (wait + time.Second - 1).Truncate(time.Second)
	if e.RetryAfter != want {
		t.Fatalf("%s: RetryAfter = %v, want %v (rule lifts after %v): now=%v purpose=%q history=%+v",
			e.Code, e.RetryAfter, want, wait, now, p, h)
	}
	if broken, _ := modelFreeAt(r, h, p, now.Add(e.RetryAfter)); broken {
		t.Fatalf("%s still broken at now+RetryAfter", e.Code)
	}
	if e.RetryAfter > time.Second {
		if broken, _ := modelFreeAt(r, h, p, now.Add(e.RetryAfter-time.Second)); !broken {
			t.Fatalf("%s already lifted 1s before now+RetryAfter: Retry-After is not tight", e.Code)
		}
	}
}

// Fuzz input encoding: a history entry is 5 bytes: b0 selects the purpose (b0&3) and the unit
// ((b0>>2)%5 of ns, ms, s, min, h), b1..b4 are a little-endian int32 count of units before now
// (negative: after now).

var fuzzUnits = []time.Duration{time.Nanosecond, time.Millisecond, time.Second, time.Minute, time.Hour}

const fuzzMaxEntries = 100

func fuzzDecode(now time.Time, b []byte) ([]otp.Sent, []time.Time) {
	var ss []otp.Sent
	var ts []time.Time
	for len(b) >= 5 && len(ss) < fuzzMaxEntries {
		p := otp.Purposes[b[0]&3]
		unit := fuzzUnits[int(b[0]>>2)%len(fuzzUnits)]
		v := int64(int32(binary.LittleEndian.Uint32(b[1:5])))
		var at time.Time
		if unit <= time.Second {
			at = now.Add(-time.Duration(v) * unit) // |v|·unit < 2^31·10^9 < 2^63
		} else {
			at = time.Unix(now.Unix()-v*int64(unit/time.Second), int64(now.Nanosecond())).In(now.Location())
		}
		ss = append(ss, otp.Sent{Purpose: p, At: at})
		ts = append(ts, at)
		b = b[5:]
	}
	return ss, ts
}

// fuzzEncode encodes durations before now; it reports false if one cannot be encoded exactly.
func fuzzEncode(purposes []otp.Purpose, ds []time.Duration) ([]byte, bool) {
	var out []byte
	for i, d := range ds {
		pi := 0
		for j, p := range otp.Purposes {
			if p == purposes[i] {
				pi = j
			}
		}
		enc := false
		for u := len(fuzzUnits) - 1; u >= 0; u-- {
			unit := fuzzUnits[u]
			if d%unit == 0 && d/unit >= -1<<31 && d/unit < 1<<31 {
				var e [5]byte
				e[0] = byte(u<<2 | pi)
				binary.LittleEndian.PutUint32(e[1:], uint32(int32(d/unit)))
				out = append(out, e[:]...)
				enc = true
				break
			}
		}
		if !enc {
			return nil, false
		}
	}
	return out, true
}

func FuzzCheckSend(f *testing.F) {
	// The table of TestCheckSend, where it encodes exactly.
	for _, tc := range limitCases {
		var ps []otp.Purpose
		var ds []time.Duration
		for _, s := range tc.h.Phone {
			ps = append(ps, s.Purpose)
			ds = append(ds, t0.Sub(s.At))
		}
		phone, ok1 := fuzzEncode(ps, ds)
		ps, ds = nil, nil
		for _, at := range tc.h.IP {
			ps = append(ps, login)
			ds = append(ds, t0.Sub(at))
		}
		ip, ok2 := fuzzEncode(ps, ds)
		if !ok1 || !ok2 {
			continue
		}
		pi := 0
		for j, p := range otp.Purposes {
			if p == tc.purpose {
				pi = j
			}
		}
		f.Add(t0.Unix(), uint32(t0.Nanosecond()), uint8(pi), phone, ip)
	}
	// Sendings in the future (clocks out of step) and far away.
	future, _ := fuzzEncode([]otp.Purpose{login, login}, []time.Duration{-10 * time.Second, -2 * time.Hour})
	f.Add(t0.Unix(), uint32(123456789), uint8(0), future, future)
	far, _ := fuzzEncode([]otp.Purpose{sign, sign}, []time.Duration{2_000_000_000 * time.Second, 100 * 365 * 24 * time.Hour})
	f.Add(int64(0), uint32(0), uint8(2), far, far)

	f.Fuzz(func(t *testing.T, nowSec int64, nowNsec uint32, purpose uint8, phone, ip []byte) {
		nowSec %= 1 << 40 // about ±35 000 years around 1970: representable, no internal overflow
		now := time.Unix(nowSec, int64(nowNsec%1e9)).UTC()
		var h otp.History
		h.Phone, _ = fuzzDecode(now, phone)
		_, h.IP = fuzzDecode(now, ip)
		p := otp.Purposes[purpose%4]
		checkAgainstModel(t, h, p, now, true)
	})
}
