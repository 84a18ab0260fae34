// Package kernel holds the value objects and error model shared by every aggregate.
// It imports only the standard library.
package kernel

import (
	"errors"
	"fmt"
	"time"
)

// Kind classifies an error for the driving adapters (HTTP maps each kind to one status once).
type Kind int

// The error kinds of the platform.
const (
	KindInternal        Kind = iota // a bug or an infrastructure failure: never the user's fault
	KindInvalid                     // malformed or semantically invalid input (400/422)
	KindUnauthenticated             // no or bad credentials (401)
	KindForbidden                   // authenticated but not allowed (403)
	KindNotFound                    // does not exist or is not visible to the caller (404)
	KindConflict                    // clashes with the current state (409)
	KindRateLimited                 // too many attempts (429 + Retry-After)
	KindPrecondition                // a rule of the current state forbids it (422)
	KindUnavailable                 // a dependency is down (503)
	KindGone                        // existed, but is no longer usable: an expired or used link (410)
	KindPaymentRequired             // the paid quota is used up (402)
)

var kindNames = map[Kind]string{
	KindInternal:        "internal",
	KindInvalid:         "invalid",
	KindUnauthenticated: "unauthenticated",
	KindForbidden:       "forbidden",
	KindNotFound:        "not_found",
	KindConflict:        "conflict",
	KindRateLimited:     "rate_limited",
	KindPrecondition:    "precondition_failed",
	KindUnavailable:     "unavailable",
	KindGone:            "gone",
	KindPaymentRequired: "payment_required",
}

func (k Kind) String() string {
	if n, ok := kindNames[k]; ok {
		return n
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// Error is the platform's error: a kind, a stable machine code (kebab-case, never renamed once
// published), a human message safe to show to the caller, optional details, and an optional cause
// that is never shown to callers.
type Error struct {
	Kind       Kind
	Code       string
	Message    string
	Details    map[string]any
	RetryAfter time.Duration // for KindRateLimited
	Err        error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Code + ": " + e.Message + ": " + e.Err.Error()
	}
	return e.Code + ": " + e.Message
}

// Unwrap exposes the cause.
func (e *Error) Unwrap() error { return e.Err }

// Is matches another *Error by code, so errors.Is(err, kernel.ErrX) works with sentinel errors.
func (e *Error) Is(target error) bool {
	var t *Error
	if errors.As(target, &t) {
		return t.Code == e.Code
	}
	return false
}

// WithDetail returns a copy of e carrying one more detail.
func (e *Error) WithDetail(key string, value any) *Error {
	c := *e
	c.Details = make(map[string]any, len(e.Details)+1)
	for k, v := range e.Details {
		c.Details[k] = v
	}
	c.Details[key] = value
	return &c
}

// WithRetryAfter returns a copy of e with a retry-after hint.
func (e *Error) WithRetryAfter(d time.Duration) *Error {
	c := *e
	c.RetryAfter = d
	return &c
}

func newErr(k Kind, code, msg string) *Error { return &Error{Kind: k, Code: code, Message: msg} }

// Invalid is malformed or invalid input.
func Invalid(code, message string) *Error { return newErr(KindInvalid, code, message) }

// Unauthenticated means missing or bad credentials.
func Unauthenticated(code, message string) *Error { return newErr(KindUnauthenticated, code, message) }

// Forbidden means the caller may not do this.
func Forbidden(code, message string) *Error { return newErr(KindForbidden, code, message) }

// NotFound means the thing does not exist or is not visible to the caller.
func NotFound(code, message string) *Error { return newErr(KindNotFound, code, message) }

// Conflict means the request clashes with the current state.
func Conflict(code, message string) *Error { return newErr(KindConflict, code, message) }

// RateLimited means too many attempts; retry after d.
func RateLimited(code, message string, d time.Duration) *Error {
	e := newErr(KindRateLimited, code, message)
	e.RetryAfter = d
	return e
}

// Precondition means a rule of the current state forbids the request.
func Precondition(code, message string) *Error { return newErr(KindPrecondition, code, message) }

// PaymentRequired is a use of a paid quota with none left.
func PaymentRequired(code, message string) *Error { return newErr(KindPaymentRequired, code, message) }

// Gone means the thing existed but can no longer be used (an expired or used link).
func Gone(code, message string) *Error { return newErr(KindGone, code, message) }

// Unavailable means a dependency is down.
func Unavailable(code, message string, cause error) *Error {
	e := newErr(KindUnavailable, code, message)
	e.Err = cause
	return e
}

// Internal wraps an unexpected failure. The cause is logged, never shown.
func Internal(cause error) *Error {
	return &Error{Kind: KindInternal, Code: "internal", Message: "internal error", Err: cause}
}

// KindOf reports the kind of err (KindInternal for foreign errors).
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindInternal
}

// CodeOf reports the stable code of err: "" for nil, "internal" for foreign errors.
func CodeOf(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return "internal"
}
