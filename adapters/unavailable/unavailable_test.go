package unavailable

import (
	"context"
	"testing"

	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/ports"
)

func TestEveryCallAnswersUnavailable(t *testing.T) {
	ctx := context.Background()
	_, e1 := Registry{}.LookupByName(ctx, "x")
	_, e2 := Registry{}.CheckLegalRep(ctx, "c", "n", "i")
	_, e3 := Bank{}.Remit(ctx, ports.RemitRequest{})
	_, e4 := Invoicer{}.Issue(ctx, ports.IssueRequest{})
	for i, err := range []error{e1, e2, e3, e4} {
		if kernel.KindOf(err) != kernel.KindUnavailable || kernel.CodeOf(err) == "" {
			t.Errorf("call %d: %v", i, err)
		}
	}
}
