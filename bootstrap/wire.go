//go:build wireinject

package bootstrap

import (
	"github.com/google/wire"

	"github.com/shuxinqian/server/ports"
)

// NewRuntime wires the whole process from its configuration and a clock (the system clock in
// main, a controlled one in tests).
func NewRuntime(cfg Config, clock ports.Clock) (*Runtime, func(), error) {
	panic(wire.Build(ProviderSet))
}
