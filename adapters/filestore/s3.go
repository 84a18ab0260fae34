package filestore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/shuxinqian/server/domain/kernel"
	"github.com/shuxinqian/server/ports"
)

var _ ports.FileStore = (*S3)(nil)

// S3Config locates a bucket on an S3-compatible object store (AWS S3, MinIO, Tencent COS…).
type S3Config struct {
	// Endpoint is host[:port] without a scheme (s3.amazonaws.com, cos.ap-guangzhou.myqcloud.com).
	Endpoint  string
	Bucket    string
	AccessKey string
	SecretKey string
	Region    string
	UseSSL    bool
	// Prefix is prepended to every key ("files/" puts the keys under that folder); may be empty.
	Prefix string
	// Transport replaces the HTTP transport (tests); nil is the default.
	Transport http.RoundTripper
}

// S3 keeps each key as one object of a bucket, so several instances share the files. Keys are
// validated exactly like Local's (ValidateKey), and an object is written whole by one PUT: a
// reader sees the old or the new contents, never a part.
type S3 struct {
	client *minio.Client
	bucket string
	prefix string
}

// NewS3 connects to the bucket and checks that it exists (it is never created here: buckets,
// their encryption and lifecycle are the operator's).
func NewS3(ctx context.Context, cfg S3Config) (*S3, error) {
	if cfg.Endpoint == "" || cfg.Bucket == "" {
		return nil, errors.New("filestore: S3 needs an endpoint and a bucket")
	}
	if strings.Contains(cfg.Endpoint, "://") {
		return nil, errors.New("filestore: the S3 endpoint is host[:port] without a scheme (set S3_USE_SSL)")
	}
	client, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds:     credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure:    cfg.UseSSL,
		Region:    cfg.Region,
		Transport: cfg.Transport,
	})
	if err != nil {
		return nil, fmt.Errorf("filestore: S3 client: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	ok, err := client.BucketExists(ctx, cfg.Bucket)
	if err != nil {
		return nil, fmt.Errorf("filestore: S3 bucket %s: %w", cfg.Bucket, err)
	}
	if !ok {
		return nil, fmt.Errorf("filestore: S3 bucket %s does not exist", cfg.Bucket)
	}
	return &S3{client: client, bucket: cfg.Bucket, prefix: cfg.Prefix}, nil
}

func (s *S3) object(key string) (string, error) {
	if err := ValidateKey(key); err != nil {
		return "", err
	}
	return s.prefix + key, nil
}

// Put writes data under key (one PUT: whole or nothing).
func (s *S3) Put(ctx context.Context, key string, data []byte) error {
	name, err := s.object(key)
	if err != nil {
		return err
	}
	if _, err := s.client.PutObject(ctx, s.bucket, name, bytes.NewReader(data), int64(len(data)),
		minio.PutObjectOptions{ContentType: "application/octet-stream", SendContentMd5: true}); err != nil {
		return kernel.Internal(fmt.Errorf("filestore: S3 put %s: %w", key, err))
	}
	return nil
}

// Get returns the contents under key; a missing key is kernel not-found "file-not-found".
func (s *S3) Get(ctx context.Context, key string) ([]byte, error) {
	name, err := s.object(key)
	if err != nil {
		return nil, err
	}
	obj, err := s.client.GetObject(ctx, s.bucket, name, minio.GetObjectOptions{})
	if err != nil {
		return nil, s.readErr(key, err)
	}
	defer func() { _ = obj.Close() }()
	data, err := io.ReadAll(obj)
	if err != nil {
		return nil, s.readErr(key, err)
	}
	return data, nil
}

func (s *S3) readErr(key string, err error) error {
	if minio.ToErrorResponse(err).Code == minio.NoSuchKey {
		return kernel.NotFound("file-not-found", "file not found")
	}
	return kernel.Internal(fmt.Errorf("filestore: S3 get %s: %w", key, err))
}

// Delete removes key; deleting a missing key is not an error.
func (s *S3) Delete(ctx context.Context, key string) error {
	name, err := s.object(key)
	if err != nil {
		return err
	}
	if err := s.client.RemoveObject(ctx, s.bucket, name, minio.RemoveObjectOptions{}); err != nil &&
		minio.ToErrorResponse(err).Code != minio.NoSuchKey {
		return kernel.Internal(fmt.Errorf("filestore: S3 delete %s: %w", key, err))
	}
	return nil
}
