package s3images_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/longrun/longrun/aws/awstest"
	"github.com/longrun/longrun/aws/s3images"
	"github.com/longrun/longrun/porttest"
)

func TestMain(m *testing.M) { awstest.Main(m) }

func newBucket(t *testing.T) *s3images.Bucket {
	t.Helper()
	awstest.S3(t)
	client := s3.NewFromConfig(awstest.Config(t), func(o *s3.Options) { o.UsePathStyle = true })
	name := awstest.Name("images")
	if _, err := client.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: &name}); err != nil {
		t.Fatal(err)
	}
	return &s3images.Bucket{Client: client, Name: name}
}

func TestImagesConformance(t *testing.T) {
	porttest.TestImages(t, func(t *testing.T) porttest.Images { return newBucket(t) })
}

// A big image is streamed by multipart upload and reads back whole; a
// writer that fails stores nothing.
func TestWriteImageStreamsInParts(t *testing.T) {
	b := newBucket(t)
	big := make([]byte, 20<<20+12345) // three parts of 8 MiB
	for i := range big {
		big[i] = byte(i * 7 / 5)
	}
	ctx := context.Background()
	err := b.WriteImage(ctx, "big.png", func(w io.Writer) error {
		for rest := big; len(rest) > 0; rest = rest[min(len(rest), 1<<20):] {
			if _, err := w.Write(rest[:min(len(rest), 1<<20)]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	rc, err := b.OpenImage(ctx, "big.png")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(got, big) {
		t.Errorf("read back %d bytes, not the %d written", len(got), len(big))
	}
	err = b.WriteImage(ctx, "broken.png", func(w io.Writer) error {
		w.Write(big[:9<<20])
		return errors.New("the assembly failed")
	})
	if err == nil {
		t.Error("a failed writer's image was stored")
	}
	if ok, _ := b.HasImage(ctx, "broken.png"); ok {
		t.Error("a failed writer left an image")
	}
}

func TestPresignedURLServesTheImageAndExpires(t *testing.T) {
	b := newBucket(t)
	if err := b.PutImage(context.Background(), "h.png", []byte("\x89PNG...")); err != nil {
		t.Fatal(err)
	}
	u, err := b.ImageURL(context.Background(), "h.png")
	if err != nil {
		t.Fatal(err)
	}
	parsed, _ := url.Parse(u)
	if got := parsed.Query().Get("X-Amz-Expires"); got != "900" {
		t.Errorf("X-Amz-Expires %q, want 900 (15 minutes)", got)
	}
	res, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 || string(body) != "\x89PNG..." || res.Header.Get("Content-Type") != "image/png" {
		t.Errorf("GET presigned: %d %q %s", res.StatusCode, body, res.Header.Get("Content-Type"))
	}
}
