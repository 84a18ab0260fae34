package crypto

import (
	"context"
	"errors"
	"testing"

	"github.com/shuxinqian/server/domain/kernel"
)

type downTSA struct{}

func (downTSA) Timestamp(context.Context, []byte) ([]byte, error) {
	return nil, errors.New("connection refused")
}
func (downTSA) ChainPEM() []byte { return nil }

// Without its time-stamp no signature is made, and the caller learns the TSA is unavailable.
func TestCMSRefusesWithoutTimestamp(t *testing.T) {
	root := cmsRoot(t, "Test Root CA")
	leaf, key := cmsLeaf(t, root, nil)
	sig, err := CMS{TSA: downTSA{}}.SignDetached(context.Background(), cmsDocument, key, leaf.Raw, cmsPEM(root.cert))
	if sig != nil || kernel.KindOf(err) != kernel.KindUnavailable || kernel.CodeOf(err) != "tsa-unavailable" {
		t.Fatalf("sig %v err %v", sig != nil, err)
	}
}
