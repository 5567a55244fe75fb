// Package s3images keeps rendered PNGs in an S3 bucket and hands browsers
// presigned GET URLs, so images never pass through a Lambda response.
package s3images

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/longrun/longrun"
	"github.com/longrun/longrun/web"
	"github.com/longrun/longrun/worker"
)

// A Bucket is the image store.
type Bucket struct {
	Client *s3.Client
	Name   string
	// URLTTL is how long a presigned URL is valid; 0 means 15 minutes.
	URLTTL time.Duration
	// PublicEndpoint, if set, is the S3 endpoint presigned URLs name
	// instead of the client's: where a browser reaches a local S3 server
	// that the function itself reaches by another name (sam local: the
	// function at host.docker.internal, the browser at 127.0.0.1). Empty on AWS.
	PublicEndpoint string
}

// Bucket implements these ports.
var (
	_ worker.Images      = (*Bucket)(nil)
	_ web.Images         = (*Bucket)(nil)
	_ longrun.Images     = (*Bucket)(nil)
	_ worker.ImageWriter = (*Bucket)(nil)
)

// PutImage stores png under key (or, under a CountsKey, a render's
// counts).
func (b *Bucket) PutImage(ctx context.Context, key string, png []byte) error {
	ctype := "image/png"
	if !strings.HasSuffix(key, ".png") {
		ctype = "application/octet-stream"
	}
	_, err := b.Client.PutObject(ctx, &s3.PutObjectInput{Bucket: &b.Name, Key: &key, Body: bytes.NewReader(png),
		ContentType: aws.String(ctype), CacheControl: aws.String("private, max-age=31536000, immutable")})
	if err != nil {
		return longrun.Unavailable("the image store", err)
	}
	return nil
}

// WriteImage stores under key what write writes, streamed by multipart
// upload (parts of 8 MiB): a poster's PNG is never held whole.
func (b *Bucket) WriteImage(ctx context.Context, key string, write func(io.Writer) error) error {
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(write(pw)) }()
	_, err := transfermanager.New(b.Client).UploadObject(ctx, &transfermanager.UploadObjectInput{Bucket: &b.Name, Key: &key, Body: pr,
		ContentType: aws.String("image/png"), CacheControl: aws.String("private, max-age=31536000, immutable")})
	pr.CloseWithError(err) // a failed upload stops the writer
	if err != nil {
		return longrun.Unavailable("the image store", err)
	}
	return nil
}

// HasImage reports whether an image is stored under key.
func (b *Bucket) HasImage(ctx context.Context, key string) (bool, error) {
	_, err := b.Client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &b.Name, Key: &key})
	var nf *types.NotFound
	var nsk *types.NoSuchKey
	if errors.As(err, &nf) || errors.As(err, &nsk) {
		return false, nil
	}
	if err != nil {
		return false, longrun.Unavailable("the image store", err)
	}
	return true, nil
}

// OpenImage opens the image under key.
func (b *Bucket) OpenImage(ctx context.Context, key string) (io.ReadCloser, error) {
	out, err := b.Client.GetObject(ctx, &s3.GetObjectInput{Bucket: &b.Name, Key: &key})
	var nsk *types.NoSuchKey
	if errors.As(err, &nsk) {
		return nil, longrun.Errorf(longrun.ENOTFOUND, "image not found")
	}
	if err != nil {
		return nil, longrun.Unavailable("the image store", err)
	}
	return out.Body, nil
}

// ImageURL returns a presigned GET URL for the image under key.
func (b *Bucket) ImageURL(ctx context.Context, key string) (string, error) {
	ttl := b.URLTTL
	if ttl == 0 {
		ttl = 15 * time.Minute
	}
	presign := s3.NewPresignClient(b.Client, func(o *s3.PresignOptions) {
		if b.PublicEndpoint != "" {
			o.ClientOptions = append(o.ClientOptions, func(o *s3.Options) { o.BaseEndpoint = aws.String(b.PublicEndpoint) })
		}
	})
	req, err := presign.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: &b.Name, Key: &key},
		s3.WithPresignExpires(ttl))
	if err != nil {
		return "", err
	}
	return req.URL, nil
}
