package consumer

import (
	"context"

	"github.com/ThreeDotsLabs/watermill/components/cqrs"

	"github.com/shuxinqian/server/application/seals"
	"github.com/shuxinqian/server/domain/enterprise"
)

// SealHandlers are the seal context's event handlers (served beside Handlers).
func SealHandlers(s *seals.Service) []Handler {
	return []Handler{
		cqrs.NewEventHandler("create_official_seal", func(ctx context.Context, ev *enterprise.EnterpriseVerified) error {
			return s.CreateOfficialSeal(ctx, ev)
		}),
	}
}
