//go:build wireinject

package bootstrap

import "github.com/google/wire"

// NewRuntime wires the whole process from its configuration.
func NewRuntime(cfg Config) (*Runtime, func(), error) {
	panic(wire.Build(ProviderSet))
}
