// Package tsa implements ports.TimeStampAuthority: an RFC 3161 time-stamping authority in
// process (the sandbox, built on github.com/digitorus/timestamp, served at POST /api/v1/tsa) and
// a client of a real TSA reached by URL.
package tsa

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"time"

	"github.com/digitorus/timestamp"

	"github.com/shuxinqian/server/ports"
)

// MaxQuery bounds a time-stamp query (a SHA-512 imprint with a nonce and a policy is < 200 bytes).
const MaxQuery = 4 << 10

// Local is the sandbox TSA: it signs TSTInfo with its own key, whose certificate (critical
// id-kp-timeStamping) the platform's issuing CA issued. It is safe for concurrent use.
type Local struct {
	key      crypto.Signer
	chain    []*x509.Certificate // TSA certificate first
	chainPEM []byte
	policy   asn1.ObjectIdentifier
	now      func() time.Time
}

var (
	_ ports.TimeStampAuthority = (*Local)(nil)
	_ ports.TimeStampResponder = (*Local)(nil)
)

// NewLocal makes the sandbox TSA from its key and chain (TSA certificate first, root last).
func NewLocal(key crypto.Signer, chain []*x509.Certificate, policy asn1.ObjectIdentifier, clock ports.Clock) (*Local, error) {
	if key == nil || len(chain) == 0 {
		return nil, errors.New("tsa: a key and its certificate are required")
	}
	if !slicesHasEKU(chain[0]) {
		return nil, errors.New("tsa: the TSA certificate lacks the time-stamping extended key usage")
	}
	var pemChain []byte
	for _, c := range chain {
		pemChain = append(pemChain, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	now := time.Now
	if clock != nil {
		now = clock.Now
	}
	return &Local{key: key, chain: chain, chainPEM: pemChain, policy: policy, now: now}, nil
}

func slicesHasEKU(c *x509.Certificate) bool {
	for _, u := range c.ExtKeyUsage {
		if u == x509.ExtKeyUsageTimeStamping {
			return true
		}
	}
	return false
}

// ChainPEM is the TSA's chain.
func (l *Local) ChainPEM() []byte { return bytes.Clone(l.chainPEM) }

// Respond answers a DER TimeStampReq with a DER TimeStampResp. A malformed query is answered
// with a rejection (status 2, badDataFormat), as RFC 3161 asks, not an error.
func (l *Local) Respond(_ context.Context, query []byte) ([]byte, error) {
	if len(query) > MaxQuery {
		return timestamp.CreateErrorResponse(timestamp.Rejection, timestamp.BadDataFormat)
	}
	req, err := timestamp.ParseRequest(query)
	if err != nil {
		return timestamp.CreateErrorResponse(timestamp.Rejection, timestamp.BadDataFormat)
	}
	switch req.HashAlgorithm {
	case crypto.SHA256, crypto.SHA384, crypto.SHA512:
	default:
		return timestamp.CreateErrorResponse(timestamp.Rejection, timestamp.BadAlgorithm)
	}
	if len(req.HashedMessage) != req.HashAlgorithm.Size() {
		return timestamp.CreateErrorResponse(timestamp.Rejection, timestamp.BadDataFormat)
	}
	if req.TSAPolicyOID != nil && !req.TSAPolicyOID.Equal(l.policy) {
		return timestamp.CreateErrorResponse(timestamp.Rejection, timestamp.UnacceptedPolicy)
	}
	ts := timestamp.Timestamp{
		HashAlgorithm:     req.HashAlgorithm,
		HashedMessage:     req.HashedMessage,
		Time:              l.now().UTC().Truncate(time.Second),
		Accuracy:          time.Second,
		Nonce:             req.Nonce,
		Policy:            l.policy,
		AddTSACertificate: req.Certificates,
	}
	if req.Certificates {
		ts.Certificates = l.chain[1:]
	}
	return ts.CreateResponseWithOpts(l.chain[0], l.key, crypto.SHA256)
}

// Timestamp returns a token over a SHA-256 digest.
func (l *Local) Timestamp(ctx context.Context, digest []byte) ([]byte, error) {
	return stamp(ctx, digest, func(ctx context.Context, q []byte) ([]byte, error) { return l.Respond(ctx, q) })
}

// stamp builds a query (with the certificates and a nonce), sends it, and checks the answer's
// imprint and nonce before returning the token.
func stamp(ctx context.Context, digest []byte, send func(context.Context, []byte) ([]byte, error)) ([]byte, error) {
	if len(digest) != sha256.Size {
		return nil, errors.New("tsa: want a SHA-256 digest")
	}
	nonce, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	if err != nil {
		return nil, err
	}
	q, err := (&timestamp.Request{HashAlgorithm: crypto.SHA256, HashedMessage: digest, Certificates: true, Nonce: nonce}).Marshal()
	if err != nil {
		return nil, err
	}
	resp, err := send(ctx, q)
	if err != nil {
		return nil, err
	}
	ts, err := timestamp.ParseResponse(resp)
	if err != nil {
		return nil, fmt.Errorf("tsa: %w", err)
	}
	if !bytes.Equal(ts.HashedMessage, digest) || ts.HashAlgorithm != crypto.SHA256 {
		return nil, errors.New("tsa: the token is not over the digest asked for")
	}
	if ts.Nonce == nil || ts.Nonce.Cmp(nonce) != 0 {
		return nil, errors.New("tsa: the token does not echo the nonce")
	}
	return ts.RawToken, nil
}

// Remote is a client of a real RFC 3161 TSA (HTTP POST of application/timestamp-query).
type Remote struct {
	url      string
	client   *http.Client
	chainPEM []byte
}

var _ ports.TimeStampAuthority = (*Remote)(nil)

// NewRemote makes a client of the TSA at url; chainPEM is its certificate chain (to publish and to
// verify its tokens offline). A nil client is one with a 15 s timeout.
func NewRemote(url string, chainPEM []byte, client *http.Client) (*Remote, error) {
	if url == "" {
		return nil, errors.New("tsa: no URL")
	}
	if client == nil {
		client = &http.Client{Timeout: 15 * time.Second}
	}
	return &Remote{url: url, client: client, chainPEM: bytes.Clone(chainPEM)}, nil
}

// ChainPEM is the TSA's configured chain.
func (r *Remote) ChainPEM() []byte { return bytes.Clone(r.chainPEM) }

// Timestamp asks the TSA for a token over a SHA-256 digest.
func (r *Remote) Timestamp(ctx context.Context, digest []byte) ([]byte, error) {
	return stamp(ctx, digest, func(ctx context.Context, q []byte) ([]byte, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.url, bytes.NewReader(q))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/timestamp-query")
		resp, err := r.client.Do(req)
		if err != nil {
			return nil, fmt.Errorf("tsa: %w", err)
		}
		defer resp.Body.Close() //nolint:errcheck // read-only body
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("tsa: HTTP %d", resp.StatusCode)
		}
		return io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	})
}
