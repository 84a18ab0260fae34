// Package bank implements ports.BankRemitter. The sandbox remitter "sends" micro-deposits in
// memory and records them so a person or a test can read the amount (GET /api/v1/sandbox/…)
// instead of looking at a real bank statement. It is the embedded default until a real bank
// channel is wired in.
package bank

import (
	"context"
	"crypto/sha256"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/ports"
)

// Error codes of the remitter (returned as kernel invalid errors: the caller's bug, not the user's).
const (
	CodeAmountInvalid    = "remit-amount-invalid"
	CodeBankNameInvalid  = "remit-bank-name-invalid"
	CodeReferenceInvalid = "remit-reference-invalid"
)

// Reasons the sandbox gives when Remitted is false. They are short and never contain personal
// data.
const (
	ReasonInvalidAccount  = "invalid account number"
	ReasonAccountNotFound = "account not found"
)

// Amount limits of a micro-deposit: 0.01 to 0.99 yuan.
const (
	MinAmount = kernel.Money(1)
	MaxAmount = kernel.Money(99)
)

// Account number limits, in digits (after removing white space).
const (
	minAccountDigits = 8
	maxAccountDigits = 32
)

// NotFoundSuffix is the sandbox fixture for a failing remittance: an account number ending in
// "0000" does not exist at the bank, so its remittance fails with ReasonAccountNotFound
// (e.g. "6222 0000 1234 0000"). Any other well-formed account is remitted.
const NotFoundSuffix = "0000"

// DefaultCapacity is how many transfers (and references) the sandbox remembers.
const DefaultCapacity = 10000

// Transfer is a remittance the sandbox recorded, successful or not. It never holds the full
// account number.
type Transfer struct {
	Reference     string
	AccountMasked string // "****1234"
	BankName      string
	Province      string
	Branch        string
	Amount        kernel.Money
	Remitted      bool
	Reason        string
	BankRef       string
	At            time.Time
}

// Sandbox is an in-memory bank remitter. It is idempotent by reference: a request whose
// reference the sandbox still remembers returns the first result and remits nothing. It keeps
// the newest DefaultCapacity transfers; a reference older than that is forgotten. Safe for
// concurrent use.
type Sandbox struct {
	mu    sync.Mutex
	clock ports.Clock
	seq   int64
	// ring holds the newest transfers; start is the oldest one's index, n how many there are.
	ring  []Transfer
	start int
	n     int
	byRef map[string]ports.RemitResult
	// ledger keeps the transfers durably (shared by every instance, kept across restarts);
	// nil: memory.
	ledger ports.SandboxBankLedger
}

// NewDurableSandbox makes a sandbox remitter that keeps its transfers in ledger: every instance
// and a separate consume process share them, a restart keeps them, and a repeated reference
// returns the first result there too.
func NewDurableSandbox(clock ports.Clock, ledger ports.SandboxBankLedger) *Sandbox {
	s := newSandbox(clock, 0)
	s.ledger = ledger
	return s
}

// NewSandbox makes a sandbox remitter.
func NewSandbox(clock ports.Clock) *Sandbox {
	return newSandbox(clock, DefaultCapacity)
}

func newSandbox(clock ports.Clock, capacity int) *Sandbox {
	return &Sandbox{clock: clock, ring: make([]Transfer, capacity), byRef: map[string]ports.RemitResult{}}
}

var _ ports.BankRemitter = (*Sandbox)(nil)

// Remit "sends" req.Amount to the account. Invalid requests are kernel invalid errors: an amount
// outside 1–99 fen ("remit-amount-invalid"), an empty bank name ("remit-bank-name-invalid") or
// an empty reference ("remit-reference-invalid"); nothing is recorded for them. A malformed
// account number (not 8–32 digits once white space is removed) is answered Remitted=false with
// ReasonInvalidAccount, an account ending in NotFoundSuffix with ReasonAccountNotFound; both are
// recorded like a successful transfer.
func (s *Sandbox) Remit(ctx context.Context, req ports.RemitRequest) (ports.RemitResult, error) {
	if err := ctx.Err(); err != nil {
		return ports.RemitResult{}, err
	}
	ref := strings.TrimSpace(req.Reference)
	switch {
	case ref == "":
		return ports.RemitResult{}, kernel.Invalid(CodeReferenceInvalid, "a remittance needs a reference")
	case req.Amount < MinAmount || req.Amount > MaxAmount:
		return ports.RemitResult{}, kernel.Invalid(CodeAmountInvalid, "a micro-deposit is 0.01 to 0.99 yuan")
	case strings.TrimSpace(req.BankName) == "":
		return ports.RemitResult{}, kernel.Invalid(CodeBankNameInvalid, "a remittance needs the bank's name")
	}

	if s.ledger != nil {
		now := s.clock.Now().UTC()
		// The bank's reference is derived from ours: unique without a shared counter.
		sum := sha256.Sum256([]byte(ref))
		res := ports.RemitResult{BankRef: fmt.Sprintf("SBX%s%x", now.Format("20060102"), sum[:6]), At: now}
		t := transfer(ref, req, &res, now)
		got, err := s.ledger.Record(ctx, ports.SandboxTransfer(t))
		if err != nil {
			return ports.RemitResult{}, err
		}
		return ports.RemitResult{Remitted: got.Remitted, Reason: got.Reason, BankRef: got.BankRef, At: got.At}, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if res, ok := s.byRef[ref]; ok {
		return res, nil
	}
	s.seq++
	now := s.clock.Now().UTC()
	res := ports.RemitResult{BankRef: fmt.Sprintf("SBX%s%08d", now.Format("20060102"), s.seq), At: now}
	s.record(ref, res, transfer(ref, req, &res, now))
	return res, nil
}

// transfer decides the sandbox's answer to a well-formed request (res.Remitted, res.Reason) and
// returns the transfer to record.
func transfer(ref string, req ports.RemitRequest, res *ports.RemitResult, now time.Time) Transfer {
	acct, ok := accountDigits(req.AccountNumber)
	masked := kernel.MaskBankAccount(acct)
	switch {
	case !ok:
		res.Reason = ReasonInvalidAccount
		masked = kernel.MaskBankAccount(strings.TrimSpace(req.AccountNumber))
	case strings.HasSuffix(acct, NotFoundSuffix):
		res.Reason = ReasonAccountNotFound
	default:
		res.Remitted = true
	}
	return Transfer{
		Reference:     ref,
		AccountMasked: masked,
		BankName:      strings.TrimSpace(req.BankName),
		Province:      strings.TrimSpace(req.Province),
		Branch:        strings.TrimSpace(req.Branch),
		Amount:        req.Amount,
		Remitted:      res.Remitted,
		Reason:        res.Reason,
		BankRef:       res.BankRef,
		At:            now,
	}
}

// record stores a transfer and its result, evicting the oldest one when full. Callers hold mu.
func (s *Sandbox) record(ref string, res ports.RemitResult, t Transfer) {
	if len(s.ring) == 0 {
		return
	}
	if s.n == len(s.ring) {
		delete(s.byRef, s.ring[s.start].Reference)
		s.ring[s.start] = t
		s.start = (s.start + 1) % len(s.ring)
	} else {
		s.ring[(s.start+s.n)%len(s.ring)] = t
		s.n++
	}
	s.byRef[ref] = res
}

// Transfers returns the recorded transfers with this reference (at most one, since the sandbox
// is idempotent by reference), newest first.
func (s *Sandbox) Transfers(reference string) []Transfer {
	reference = strings.TrimSpace(reference)
	return s.list(func(t *Transfer) bool { return t.Reference == reference })
}

// All returns every recorded transfer, newest first.
func (s *Sandbox) All() []Transfer {
	return s.list(func(*Transfer) bool { return true })
}

func (s *Sandbox) list(keep func(*Transfer) bool) []Transfer {
	if s.ledger != nil {
		ts, err := s.ledger.List(context.Background(), "", DefaultCapacity)
		if err != nil {
			return nil
		}
		var out []Transfer
		for _, t := range ts {
			if t := Transfer(t); keep(&t) {
				out = append(out, t)
			}
		}
		return out
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Transfer
	for i := s.n - 1; i >= 0; i-- {
		t := &s.ring[(s.start+i)%len(s.ring)]
		if keep(t) {
			out = append(out, *t)
		}
	}
	return out
}

// accountDigits removes white space from an account number and reports whether what is left
// is 8 to 32 ASCII digits.
func accountDigits(acct string) (string, bool) {
	var b strings.Builder
	for _, r := range acct {
		switch {
		case unicode.IsSpace(r):
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			return "", false
		}
	}
	d := b.String()
	return d, len(d) >= minAccountDigits && len(d) <= maxAccountDigits
}
