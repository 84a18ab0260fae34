package bootstrap

import (
	"errors"
	"strconv"
	"time"
)

// WebhooksConfig tunes the deliveries to integrators.
type WebhooksConfig struct {
	// AllowPrivate lets deliveries reach private, loopback and link-local addresses
	// (WEBHOOK_ALLOW_PRIVATE=true). Sandbox mode always allows loopback.
	AllowPrivate bool
	// PollInterval is how often the dispatcher looks for due deliveries (WEBHOOK_POLL_INTERVAL).
	PollInterval time.Duration
	// Timeout bounds one delivery attempt (WEBHOOK_TIMEOUT).
	Timeout time.Duration
}

func (w *WebhooksConfig) load(get func(key, def string) string) []error {
	var errs []error
	var err error
	if w.AllowPrivate, err = strconv.ParseBool(get("WEBHOOK_ALLOW_PRIVATE", "false")); err != nil {
		errs = append(errs, errors.New("WEBHOOK_ALLOW_PRIVATE must be true or false"))
	}
	if w.PollInterval, err = time.ParseDuration(get("WEBHOOK_POLL_INTERVAL", "1s")); err != nil || w.PollInterval <= 0 {
		errs = append(errs, errors.New("WEBHOOK_POLL_INTERVAL must be a positive duration such as 1s"))
	}
	if w.Timeout, err = time.ParseDuration(get("WEBHOOK_TIMEOUT", "10s")); err != nil || w.Timeout < time.Second || w.Timeout > time.Minute {
		errs = append(errs, errors.New("WEBHOOK_TIMEOUT must be a duration from 1s to 1m such as 10s"))
	}
	return errs
}
