package enterprise

import (
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/shuxinqian/server/domain/kernel"
)

var accountRe = regexp.MustCompile(`^[0-9]{8,32}$`)

// NormalizeAccount strips spaces and hyphens from a bank account number and validates it.
func NormalizeAccount(s string) (string, error) {
	s = strings.NewReplacer(" ", "", "-", "").Replace(strings.TrimSpace(s))
	if !accountRe.MatchString(s) {
		return "", kernel.Invalid("bank-account-invalid", "the corporate account number is 8 to 32 digits")
	}
	return s, nil
}

// TransferRequest is the corporate account to send the micro-deposit to.
type TransferRequest struct {
	ID            string
	AccountNumber string
	BankName      string
	Province      string
	Branch        string
	Amount        kernel.Money
}

// RequestTransfer starts a micro-deposit (manual §5.2.2); it switches the method to bank
// transfer. At most 3 a day; a new one replaces an unconfirmed one.
func (v *Verification) RequestTransfer(r TransferRequest, now time.Time) error {
	if err := v.mustBeOpen(); err != nil {
		return err
	}
	if v.signing != nil {
		return kernel.Conflict("verification-finished", "the letter is signed")
	}
	if t := v.transfer; t != nil && t.Status == TransferConfirmed {
		return kernel.Conflict("verification-finished", "the transfer is confirmed")
	}
	acct, err := NormalizeAccount(r.AccountNumber)
	if err != nil {
		return err
	}
	r.BankName, r.Province, r.Branch = strings.TrimSpace(r.BankName), strings.TrimSpace(r.Province), strings.TrimSpace(r.Branch)
	switch {
	case r.BankName == "" || utf8.RuneCountInString(r.BankName) > 64 || !kernel.PlainText(r.BankName):
		return kernel.Invalid("bank-name-invalid", "the bank name is 1 to 64 characters, no control characters")
	case r.Province == "" || utf8.RuneCountInString(r.Province) > 32 || !kernel.PlainText(r.Province):
		return kernel.Invalid("bank-province-invalid", "the bank's province is 1 to 32 characters, no control characters")
	case utf8.RuneCountInString(r.Branch) > 64 || !kernel.PlainText(r.Branch):
		return kernel.Invalid("bank-branch-invalid", "the branch is at most 64 characters, no control characters")
	case r.Amount.Fen() < MinDepositFen || r.Amount.Fen() > MaxDepositFen:
		return kernel.Invalid("remit-amount-invalid", "the micro-deposit is 0.01 to 0.99 yuan")
	case r.ID == "":
		return kernel.Invalid("transfer-id-missing", "transfer id is required")
	}
	if t := v.transfer; t != nil && t.Status == TransferRemitting {
		return kernel.Conflict("transfer-in-progress", "a transfer is being sent; wait for it")
	}
	if v.transfersDay == day(now) && v.transfersToday >= TransfersPerDay {
		return kernel.RateLimited("transfer-daily-limit", "at most 3 transfers a day; try again tomorrow", untilMidnight(now))
	}
	now = v.touch(now)
	if v.transfersDay != day(now) {
		v.transfersDay, v.transfersToday = day(now), 0
	}
	v.transfersToday++
	v.method = MethodBankTransfer
	v.revokeLinks(now)
	v.transfer = &Transfer{ID: r.ID, AccountNumber: acct, BankName: r.BankName, Province: r.Province, Branch: r.Branch,
		Amount: r.Amount, Status: TransferRemitting, RequestedAt: now}
	v.Record(BankTransferRequested{VerificationID: v.id, TransferID: r.ID, At: now})
	return nil
}

func untilMidnight(now time.Time) time.Duration {
	y, m, d := now.In(cst).Date()
	return time.Date(y, m, d+1, 0, 0, 0, 0, cst).Sub(now)
}

// TransferRemitted records the bank's success (the consumer of BankTransferRequested).
// Repeated calls change nothing.
func (v *Verification) TransferRemitted(transferID string, at time.Time) error {
	t := v.transfer
	if t == nil || t.ID != transferID {
		return kernel.NotFound("transfer-not-found", "no such transfer")
	}
	if t.Status != TransferRemitting {
		return nil
	}
	t.Status, t.RemittedAt = TransferRemitted, kernel.OccurredAt(at)
	v.touch(at)
	return nil
}

// TransferRemitFailed records the bank's refusal.
func (v *Verification) TransferRemitFailed(transferID, reason string, at time.Time) error {
	t := v.transfer
	if t == nil || t.ID != transferID {
		return kernel.NotFound("transfer-not-found", "no such transfer")
	}
	if t.Status != TransferRemitting {
		return nil
	}
	t.Status, t.FailureReason = TransferRemitFailed, reason
	v.touch(at)
	return nil
}

// ConfirmTransfer checks the amount the user read on the statement, with the scan of the signed
// letter. Right → the verification can complete; wrong → a try is counted, the third fails the
// transfer. The returned error for a wrong amount carries attempts_left.
func (v *Verification) ConfirmTransfer(amount kernel.Money, scan kernel.FileID, now time.Time) error {
	if err := v.mustBeOpen(); err != nil {
		return err
	}
	t := v.transfer
	switch {
	case v.method != MethodBankTransfer || t == nil:
		return kernel.Precondition("transfer-not-started", "start the bank transfer first")
	case t.Status == TransferRemitting:
		return kernel.Precondition("transfer-not-remitted", "the transfer has not reached the account yet")
	case t.Status == TransferRemitFailed:
		return kernel.Precondition("transfer-remit-failed", "the transfer failed: "+t.FailureReason+"; check the account and start a new one")
	case t.Status == TransferFailed:
		return kernel.Precondition("transfer-failed", "this transfer failed; start a new one")
	case t.Status == TransferConfirmed:
		return kernel.Conflict("verification-finished", "the transfer is confirmed")
	case !now.Before(t.RemittedAt.Add(TransferConfirmTTL)):
		t.Status, t.FailureReason = TransferFailed, "not confirmed within 7 days"
		v.touch(now)
		return kernel.Precondition("transfer-expired", "the amount must be confirmed within 7 days of the transfer; start a new one")
	case scan == "":
		return kernel.Invalid("authorization-letter-scan-required", "upload the scan of the signed authorization letter (JPG or GIF)")
	}
	if amount != t.Amount {
		t.WrongTries++
		v.touch(now)
		left := TransferWrongTries - t.WrongTries
		if left <= 0 {
			t.Status, t.FailureReason = TransferFailed, "3 wrong amounts"
			return kernel.Precondition("transfer-failed", "3 wrong amounts: this transfer failed; start a new one").WithDetail("attempts_left", 0)
		}
		return kernel.Invalid("transfer-amount-wrong", "the amount is wrong").WithDetail("attempts_left", left)
	}
	t.Status, t.ScanFileID = TransferConfirmed, scan
	v.touch(now)
	v.Record(BankTransferConfirmed{VerificationID: v.id, TransferID: t.ID, At: kernel.OccurredAt(now)})
	return nil
}

// ReadyToComplete reports whether the method's proof is in: a signed letter, or a confirmed transfer.
func (v *Verification) ReadyToComplete() bool {
	if v.status != StatusInProgress {
		return false
	}
	if v.method == MethodBankTransfer {
		return v.transfer != nil && v.transfer.Status == TransferConfirmed
	}
	return v.signing != nil
}

// Complete marks the verification verified with its enterprise.
func (v *Verification) Complete(eid kernel.EnterpriseID, now time.Time) error {
	if !v.ReadyToComplete() {
		return kernel.Precondition("verification-not-ready", "the verification has no signed letter or confirmed transfer")
	}
	now = v.touch(now)
	v.status, v.enterpriseID = StatusVerified, eid
	v.Record(EnterpriseVerified{VerificationID: v.id, EnterpriseID: eid, CreditCode: v.creditCode, InitiatorID: v.initiatorID,
		Role: v.role, Method: v.method, At: now})
	return nil
}

// Supersede ends a verification whose credit code another verification verified first.
func (v *Verification) Supersede(now time.Time) {
	if v.status != StatusInProgress {
		return
	}
	v.status = StatusSuperseded
	v.revokeLinks(v.touch(now))
}
