// Package awsenv reads the Lambda functions' environment and builds the
// adapters they share: what template.yaml sets, the mains read here.
package awsenv

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/longrun/longrun"
	"github.com/longrun/longrun/aws/awscalls"
	"github.com/longrun/longrun/aws/dynamo"
	"github.com/longrun/longrun/aws/emf"
	"github.com/longrun/longrun/aws/s3images"
	"github.com/longrun/longrun/kinds/juliaset"
	"github.com/longrun/longrun/notify"
)

// Env reads required and optional variables, collecting what is missing.
type Env struct {
	Getenv  func(string) string
	missing []string
}

// Required returns the variable, noting it if empty.
func (e *Env) Required(name string) string {
	v := e.Getenv(name)
	if v == "" {
		e.missing = append(e.missing, name)
	}
	return v
}

// Int returns the variable as an integer, or def.
func (e *Env) Int(name string, def int) int {
	if n, err := strconv.Atoi(e.Getenv(name)); err == nil {
		return n
	}
	return def
}

// Err reports the missing variables.
func (e *Env) Err() error {
	if len(e.missing) == 0 {
		return nil
	}
	return fmt.Errorf("missing environment variables: %s", strings.Join(e.missing, ", "))
}

// Load reads the environment through getenv, loads the SDK configuration
// (AWS_ENDPOINT_URL_<SERVICE> points it at local servers with no code of
// ours) and installs the function's tracing.
func Load(ctx context.Context, getenv func(string) string, function string) (*Env, aws.Config, error) {
	cfg, err := config.LoadDefaultConfig(ctx)
	if err == nil { // only when a test asks (LONGRUN_AWS_CALLS): the IAM test
		err = awscalls.FromEnv(&cfg, getenv)
	}
	if err == nil {
		err = tracing(ctx, getenv, function, &cfg)
	}
	return &Env{Getenv: getenv}, cfg, err
}

// Main builds a function's handler from the process environment, or says
// why it cannot on standard error and exits: Lambda reports an init error.
func Main[H any](function string, build func(context.Context, func(string) string) (H, error)) H {
	h, err := build(context.Background(), os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, function+":", err)
		os.Exit(1)
	}
	return h
}

// Logger logs JSON lines to standard output, which Lambda ships to
// CloudWatch; every line logged with a context carries the Lambda request id.
func Logger() *slog.Logger {
	return slog.New(requestID{slog.NewJSONHandler(os.Stdout, nil)})
}

// requestID adds the invocation's request id to records.
type requestID struct{ slog.Handler }

func (h requestID) Handle(ctx context.Context, r slog.Record) error {
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		r.AddAttrs(slog.String("requestId", lc.AwsRequestID))
	}
	return h.Handler.Handle(ctx, r)
}

func (h requestID) WithAttrs(as []slog.Attr) slog.Handler { return requestID{h.Handler.WithAttrs(as)} }
func (h requestID) WithGroup(name string) slog.Handler    { return requestID{h.Handler.WithGroup(name)} }

// Metrics writes the function's metrics as CloudWatch Embedded Metric
// Format lines, with a Function dimension.
func Metrics(function string) *emf.Recorder {
	return &emf.Recorder{W: os.Stdout, Dimensions: map[string]string{"Function": function}}
}

// SessionKeys returns the key that signs sessions and push tokens, the
// previous one, which still verifies them during a rotation, and, on AWS,
// how to read them again (nil for a plain variable). They come from the
// Secrets Manager secret SESSION_KEY_SECRET names (its AWSCURRENT and
// AWSPREVIOUS versions); SESSION_KEY, a plain variable, is for local
// emulation only (sam local, infra/env-vars.json): the template declares
// it empty.
func SessionKeys(ctx context.Context, e *Env, cfg aws.Config) ([]byte, [][]byte, func(context.Context) ([]byte, [][]byte, error), error) {
	secret := e.Getenv("SESSION_KEY_SECRET")
	if secret == "" {
		return []byte(e.Required("SESSION_KEY")), nil, nil, nil
	}
	sm := secretsmanager.NewFromConfig(cfg)
	read := func(ctx context.Context) ([]byte, [][]byte, error) {
		cur, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: &secret, VersionStage: aws.String("AWSCURRENT")})
		if err != nil {
			return nil, nil, fmt.Errorf("read the session key: %w", err)
		}
		var previous [][]byte
		prev, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: &secret, VersionStage: aws.String("AWSPREVIOUS")})
		var nf *smtypes.ResourceNotFoundException
		switch {
		case err == nil:
			previous = append(previous, []byte(aws.ToString(prev.SecretString)))
		case !errors.As(err, &nf): // no previous version before the first rotation
			return nil, nil, fmt.Errorf("read the previous session key: %w", err)
		}
		return []byte(aws.ToString(cur.SecretString)), previous, nil
	}
	key, previous, err := read(ctx)
	return key, previous, read, err
}

// Secret reads the current value of the Secrets Manager secret the
// variable name names.
func Secret(ctx context.Context, e *Env, cfg aws.Config, name string) (string, error) {
	id := e.Required(name)
	if id == "" {
		return "", nil
	}
	out, err := secretsmanager.NewFromConfig(cfg).GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: &id, VersionStage: aws.String("AWSCURRENT")})
	if err != nil {
		return "", fmt.Errorf("read the secret %s names: %w", name, err)
	}
	return aws.ToString(out.SecretString), nil
}

// VAPID reads the key pair devices are notified with, from the seed in the
// Secrets Manager secret VAPID_KEY_SECRET names; nil where it names none
// (device notifications off).
func VAPID(ctx context.Context, e *Env, cfg aws.Config) (*notify.VAPID, error) {
	if e.Getenv("VAPID_KEY_SECRET") == "" {
		return nil, nil
	}
	seed, err := Secret(ctx, e, cfg, "VAPID_KEY_SECRET")
	if err != nil {
		return nil, err
	}
	v, err := notify.VAPIDFromSeed([]byte(seed), e.Getenv("SENDER_EMAIL"))
	return &v, err
}

// Quotas reads MAX_ACTIVE, MAX_STORED, MAX_OWNER_BYTES, OWNER_WRITES,
// ADDRESS_WRITES, ADDRESS_SESSIONS, MAIL_PER_ADDRESS, MAIL_PER_OWNER,
// CLIENT_V4_BITS and CLIENT_V6_BITS; each unset one takes its default.
func Quotas(e *Env) longrun.Quotas {
	return longrun.Quotas{MaxActive: e.Int("MAX_ACTIVE", 0), MaxStored: e.Int("MAX_STORED", 0),
		OwnerWrites: e.Int("OWNER_WRITES", 0), AddressWrites: e.Int("ADDRESS_WRITES", 0),
		AddressSessions: e.Int("ADDRESS_SESSIONS", 0), MailPerAddress: e.Int("MAIL_PER_ADDRESS", 0),
		MailPerOwner: e.Int("MAIL_PER_OWNER", 0), MaxBytes: int64(e.Int("MAX_OWNER_BYTES", 0)),
		ClientV4Bits: e.Int("CLIENT_V4_BITS", 0), ClientV6Bits: e.Int("CLIENT_V6_BITS", 0)}
}

// Bounds reads MAX_SIZE, MAX_DEPTH and MAX_WORK, the limits of one
// configuration; each unset one takes its default.
func Bounds(e *Env) juliaset.Bounds {
	return juliaset.Bounds{MaxSize: e.Int("MAX_SIZE", 0), MaxDepth: e.Int("MAX_DEPTH", 0), MaxWork: int64(e.Int("MAX_WORK", 0))}
}

// Store builds the DynamoDB store from CONFIG_TABLE, RESULT_TABLE and
// IMAGE_RETENTION_DAYS, the image bucket's lifecycle: results expire a day
// before their images, so a deduplicated configuration never points at a
// deleted image.
func Store(e *Env, db *dynamodb.Client) *dynamo.Store {
	st := &dynamo.Store{Client: db, ConfigTable: e.Required("CONFIG_TABLE"), ResultTable: e.Required("RESULT_TABLE")}
	if days := e.Int("IMAGE_RETENTION_DAYS", 0); days > 1 {
		st.ResultTTL = time.Duration(days-1) * 24 * time.Hour
	}
	return st
}

// Images builds the S3 image store from IMAGE_BUCKET (S3_PATH_STYLE=true for
// local S3 servers; S3_PUBLIC_ENDPOINT, for sam local, the endpoint the
// browser reaches that server at, which presigned URLs name).
func Images(e *Env, cfg aws.Config) *s3images.Bucket {
	client := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = e.Getenv("S3_PATH_STYLE") == "true" })
	return &s3images.Bucket{Client: client, Name: e.Required("IMAGE_BUCKET"), PublicEndpoint: e.Getenv("S3_PUBLIC_ENDPOINT")}
}
