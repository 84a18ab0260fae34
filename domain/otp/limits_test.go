package otp_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/domain/otp"
)

// ago returns t0 minus d.
func ago(d time.Duration) time.Time { return t0.Add(-d) }

// sent is a sending of purpose p, d ago.
func sent(p otp.Purpose, d time.Duration) otp.Sent { return otp.Sent{Purpose: p, At: ago(d)} }

// spread returns n sendings of purpose p, the oldest first ago, then one every step.
func spread(n int, p otp.Purpose, first, step time.Duration) []otp.Sent {
	out := make([]otp.Sent, n)
	for i := range out {
		out[i] = sent(p, first-time.Duration(i)*step)
	}
	return out
}

// ipSpread returns n sendings from an IP, the oldest first ago, then one every step.
func ipSpread(n int, first, step time.Duration) []time.Time {
	out := make([]time.Time, n)
	for i := range out {
		out[i] = ago(first - time.Duration(i)*step)
	}
	return out
}

func concat(parts ...[]otp.Sent) []otp.Sent {
	var out []otp.Sent
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

const (
	login = otp.PurposeLogin
	reset = otp.PurposeResetPassword
	sign  = otp.PurposeSign
)

const (
	codeResend = "sms-resend-too-soon"
	codeHourly = "sms-phone-hourly-limit"
	codeDaily  = "sms-phone-daily-limit"
	codeIP     = "sms-ip-daily-limit"
)

type limitCase struct {
	name    string
	h       otp.History
	purpose otp.Purpose
	code    string        // "" means allowed
	retry   time.Duration // exact RetryAfter when refused
}

var limitCases = []limitCase{
	{name: "nothing sent", h: otp.History{}, purpose: login},
	{name: "nil-free empty slices", h: otp.History{Phone: []otp.Sent{}, IP: []time.Time{}}, purpose: login},

	// 60 s per phone and purpose.
	{name: "same purpose 10s ago", h: otp.History{Phone: []otp.Sent{sent(login, 10*time.Second)}}, purpose: login, code: codeResend, retry: 50 * time.Second},
	{name: "same purpose just now", h: otp.History{Phone: []otp.Sent{sent(login, 0)}}, purpose: login, code: codeResend, retry: 60 * time.Second},
	{name: "same purpose 100ms ago rounds up to 60s", h: otp.History{Phone: []otp.Sent{sent(login, 100*time.Millisecond)}}, purpose: login, code: codeResend, retry: 60 * time.Second},
	{name: "same purpose 59s ago", h: otp.History{Phone: []otp.Sent{sent(sign, 59*time.Second)}}, purpose: sign, code: codeResend, retry: time.Second},
	{name: "same purpose 59.5s ago rounds up to 1s", h: otp.History{Phone: []otp.Sent{sent(login, 59500*time.Millisecond)}}, purpose: login, code: codeResend, retry: time.Second},
	{name: "same purpose 60s-1ns ago", h: otp.History{Phone: []otp.Sent{sent(login, 60*time.Second-1)}}, purpose: login, code: codeResend, retry: time.Second},
	{name: "same purpose exactly 60s ago is allowed", h: otp.History{Phone: []otp.Sent{sent(login, 60*time.Second)}}, purpose: login},
	{name: "same purpose 61s ago", h: otp.History{Phone: []otp.Sent{sent(login, 61*time.Second)}}, purpose: login},
	{name: "the latest same-purpose sending counts", h: otp.History{Phone: []otp.Sent{sent(login, 40*time.Second), sent(login, 10*time.Second), sent(login, 30*time.Second)}}, purpose: login, code: codeResend, retry: 50 * time.Second},
	{name: "another purpose 10s ago is allowed", h: otp.History{Phone: []otp.Sent{sent(reset, 10*time.Second)}}, purpose: login},
	{name: "every other purpose just now is allowed", h: otp.History{Phone: []otp.Sent{sent(reset, 0), sent(sign, 0), sent(otp.PurposeVerifyPhone, 0)}}, purpose: login},
	{name: "IP sendings do not trigger the 60s rule", h: otp.History{IP: ipSpread(3, 10*time.Second, time.Second)}, purpose: login},

	// 5 per phone per hour, any purpose.
	{name: "4 in the last hour", h: otp.History{Phone: spread(4, login, 50*time.Minute, 10*time.Minute)}, purpose: login},
	{name: "5 in the last hour, oldest 50m ago", h: otp.History{Phone: spread(5, login, 50*time.Minute, 10*time.Minute)}, purpose: login, code: codeHourly, retry: 10 * time.Minute},
	{name: "5 in the last hour, mixed purposes", h: otp.History{Phone: []otp.Sent{
		sent(sign, 20*time.Minute), sent(login, 50*time.Minute), sent(reset, 5*time.Minute), sent(otp.PurposeVerifyPhone, 30*time.Minute), sent(reset, 2*time.Minute),
	}}, purpose: login, code: codeHourly, retry: 10 * time.Minute},
	{name: "another purpose 10s ago counts towards the hour", h: otp.History{Phone: concat(
		spread(4, login, 50*time.Minute, 10*time.Minute), []otp.Sent{sent(reset, 10*time.Second)},
	)}, purpose: login, code: codeHourly, retry: 10 * time.Minute},
	{name: "6 in the last hour: the second oldest frees the slot", h: otp.History{Phone: concat(
		[]otp.Sent{sent(sign, 55*time.Minute)}, spread(5, login, 45*time.Minute, 5*time.Minute),
	)}, purpose: reset, code: codeHourly, retry: 15 * time.Minute},
	{name: "one of 5 exactly an hour ago leaves the window", h: otp.History{Phone: spread(5, login, time.Hour, 10*time.Minute)}, purpose: login},
	{name: "one of 5 an hour-1s ago", h: otp.History{Phone: spread(5, login, time.Hour-time.Second, 10*time.Minute)}, purpose: login, code: codeHourly, retry: time.Second},
	{name: "hour retry rounds up to whole seconds", h: otp.History{Phone: spread(5, login, 50*time.Minute+300*time.Millisecond, 10*time.Minute)}, purpose: login, code: codeHourly, retry: 10 * time.Minute},
	{name: "hour retry 1ns rounds up to 1s", h: otp.History{Phone: spread(5, login, time.Hour-1, time.Minute)}, purpose: login, code: codeHourly, retry: time.Second},
	{name: "order does not matter", h: otp.History{Phone: []otp.Sent{
		sent(login, 10*time.Minute), sent(login, 40*time.Minute), sent(login, 20*time.Minute), sent(login, 50*time.Minute), sent(login, 30*time.Minute),
	}}, purpose: sign, code: codeHourly, retry: 10 * time.Minute},

	// 10 per phone per day, any purpose.
	{name: "9 in the day", h: otp.History{Phone: spread(9, login, 23*time.Hour, time.Hour)}, purpose: login},
	{name: "10 in the day, oldest 23h ago", h: otp.History{Phone: spread(10, login, 23*time.Hour, time.Hour)}, purpose: login, code: codeDaily, retry: time.Hour},
	{name: "10 in the day, mixed purposes, oldest 20h ago", h: otp.History{Phone: concat(
		spread(3, sign, 20*time.Hour, time.Hour), spread(3, reset, 10*time.Hour, time.Hour), spread(4, login, 50*time.Minute, 10*time.Minute),
	)}, purpose: sign, code: codeDaily, retry: 4 * time.Hour},
	{name: "11 in the day: the second oldest frees the slot", h: otp.History{Phone: concat(
		[]otp.Sent{sent(login, 23*time.Hour+30*time.Minute)}, spread(10, login, 22*time.Hour, 2*time.Hour),
	)}, purpose: login, code: codeDaily, retry: 2 * time.Hour},
	{name: "one of 10 exactly 24h ago leaves the window", h: otp.History{Phone: spread(10, login, 24*time.Hour, time.Hour)}, purpose: login},
	{name: "one of 10 24h-1ns ago", h: otp.History{Phone: spread(10, login, 24*time.Hour-1, time.Hour)}, purpose: login, code: codeDaily, retry: time.Second},
	{name: "older than a day is ignored", h: otp.History{
		Phone: concat(spread(20, login, 48*time.Hour, time.Minute), []otp.Sent{sent(login, 25*time.Hour)}),
		IP:    ipSpread(50, 48*time.Hour, time.Minute),
	}, purpose: login},

	// 30 per IP per day.
	{name: "29 from the IP", h: otp.History{IP: ipSpread(29, 23*time.Hour, 10*time.Minute)}, purpose: login},
	{name: "30 from the IP, oldest 23h30m ago", h: otp.History{IP: ipSpread(30, 23*time.Hour+30*time.Minute, 10*time.Minute)}, purpose: login, code: codeIP, retry: 30 * time.Minute},
	{name: "30 from the IP within a minute", h: otp.History{IP: ipSpread(30, 2*time.Minute, time.Second)}, purpose: login, code: codeIP, retry: 23*time.Hour + 58*time.Minute},
	{name: "31 from the IP: the second oldest frees the slot", h: otp.History{IP: append(ipSpread(1, 23*time.Hour+50*time.Minute, 0), ipSpread(30, 23*time.Hour, time.Minute)...)}, purpose: login, code: codeIP, retry: time.Hour},
	{name: "one of 30 exactly 24h ago leaves the window", h: otp.History{IP: ipSpread(30, 24*time.Hour, time.Minute)}, purpose: login},
	{name: "IP retry rounds up", h: otp.History{IP: ipSpread(30, 23*time.Hour+59*time.Minute+59*time.Second+1, time.Second)}, purpose: login, code: codeIP, retry: time.Second},
	{name: "phone sendings do not count for the IP", h: otp.History{Phone: spread(9, login, 20*time.Hour, time.Hour), IP: ipSpread(29, 20*time.Hour, time.Minute)}, purpose: sign},
}

func TestCheckSend(t *testing.T) {
	for _, tc := range limitCases {
		t.Run(tc.name, func(t *testing.T) {
			err := otp.CheckSend(tc.h, tc.purpose, t0)
			if tc.code == "" {
				if err != nil {
					t.Fatalf("CheckSend = %v, want nil", err)
				}
				return
			}
			e := wantErr(t, err, kernel.KindRateLimited, tc.code)
			if e.RetryAfter != tc.retry {
				t.Errorf("RetryAfter = %v, want %v", e.RetryAfter, tc.retry)
			}
		})
	}
}

// TestCheckSendRetryAfterIsExact checks every refusal of the table one second before and at
// the moment its Retry-After points to: the same rule still refuses just before, and no longer
// refuses then.
func TestCheckSendRetryAfterIsExact(t *testing.T) {
	for _, tc := range limitCases {
		if tc.code == "" {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			at := t0.Add(tc.retry)
			if err := otp.CheckSend(tc.h, tc.purpose, at); err != nil && kernel.CodeOf(err) == tc.code {
				t.Errorf("at now+RetryAfter CheckSend = %v, want %s lifted", err, tc.code)
			}
			if tc.retry > time.Second {
				before := at.Add(-time.Second)
				if err := otp.CheckSend(tc.h, tc.purpose, before); kernel.CodeOf(err) != tc.code {
					t.Errorf("1s before now+RetryAfter CheckSend = %v, want %s", err, tc.code)
				}
			}
		})
	}
}

// TestCheckSendIgnoresZones: the limits compare instants, not wall clocks.
func TestCheckSendIgnoresZones(t *testing.T) {
	cst := time.FixedZone("CST", 8*3600)
	h := otp.History{Phone: []otp.Sent{{Purpose: login, At: ago(10 * time.Second).In(cst)}}}
	e := wantErr(t, otp.CheckSend(h, login, t0), kernel.KindRateLimited, codeResend)
	if e.RetryAfter != 50*time.Second {
		t.Errorf("RetryAfter = %v, want 50s", e.RetryAfter)
	}
	e = wantErr(t, otp.CheckSend(otp.History{Phone: []otp.Sent{sent(login, 10*time.Second)}}, login, t0.In(cst)), kernel.KindRateLimited, codeResend)
	if e.RetryAfter != 50*time.Second {
		t.Errorf("RetryAfter = %v, want 50s", e.RetryAfter)
	}
}

// TestCheckSendDoesNotModifyHistory: the caller's slices are not reordered.
func TestCheckSendDoesNotModifyHistory(t *testing.T) {
	phone := []otp.Sent{sent(login, 10*time.Minute), sent(login, 50*time.Minute), sent(login, 30*time.Minute), sent(login, 20*time.Minute), sent(login, 40*time.Minute)}
	ip := []time.Time{ago(time.Hour), ago(23 * time.Hour)}
	ip = append(ip, ipSpread(28, 20*time.Hour, time.Minute)...)
	wantPhone := append([]otp.Sent(nil), phone...)
	wantIP := append([]time.Time(nil), ip...)
	_ = otp.CheckSend(otp.History{Phone: phone}, login, t0)
	_ = otp.CheckSend(otp.History{IP: ip}, login, t0)
	for i := range phone {
		if phone[i] != wantPhone[i] {
			t.Fatalf("Phone history reordered: %v", phone)
		}
	}
	for i := range ip {
		if ip[i] != wantIP[i] {
			t.Fatalf("IP history reordered: %v", ip)
		}
	}
}

// TestCheckSendRandomAgainstModel compares CheckSend with a naive model on random histories
// around now: same decision, a code naming a rule that is broken, and an exact Retry-After.
func TestCheckSendRandomAgainstModel(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 3000; i++ {
		var h otp.History
		spanPhone := []time.Duration{2 * time.Minute, 2 * time.Hour, 26 * time.Hour}[r.IntN(3)]
		for n := r.IntN(15); n > 0; n-- {
			h.Phone = append(h.Phone, otp.Sent{
				Purpose: otp.Purposes[r.IntN(len(otp.Purposes))],
				At:      t0.Add(-time.Duration(r.Int64N(int64(spanPhone)))),
			})
		}
		for n := r.IntN(40); n > 0; n-- {
			h.IP = append(h.IP, t0.Add(-time.Duration(r.Int64N(int64(26*time.Hour)))))
		}
		p := otp.Purposes[r.IntN(len(otp.Purposes))]
		t.Run(fmt.Sprint(i), func(t *testing.T) { checkAgainstModel(t, h, p, t0, true) })
	}
}
