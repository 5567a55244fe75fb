// Command notify is the notify Lambda: DynamoDB Stream batches of
// configuration changes become pushes over the WebSocket API and e-mails
// through SES; failures are reported by sequence number.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/longrun/longrun"
	"github.com/longrun/longrun/aws/sesmail"
	"github.com/longrun/longrun/aws/sqsqueue"
	"github.com/longrun/longrun/aws/wspush"
	"github.com/longrun/longrun/functions/internal/awsenv"
	"github.com/longrun/longrun/kinds/classifier"
	"github.com/longrun/longrun/kinds/juliaset"
	"github.com/longrun/longrun/notify"
	"github.com/longrun/longrun/web"
	"github.com/longrun/longrun/webhook"
)

func main() { awsenv.Start(awsenv.Main("notify", newNotifier).handle) }

// handler takes the notify function's three event sources: the
// configurations stream, SES bounce and complaint events through SNS, and
// the e-mail retry queue.
type handler struct{ *notify.Notifier }

func (h handler) handle(ctx context.Context, raw json.RawMessage) (any, error) {
	var probe struct {
		Records []struct {
			EventSource  string `json:"eventSource"`
			EventSource2 string `json:"EventSource"`
		} `json:"Records"`
	}
	if err := json.Unmarshal(raw, &probe); err != nil || len(probe.Records) == 0 {
		return nil, fmt.Errorf("notify: not an event it handles: %w", err)
	}
	switch src := probe.Records[0].EventSource + probe.Records[0].EventSource2; src {
	case "aws:sns":
		var ev events.SNSEvent
		if err := json.Unmarshal(raw, &ev); err != nil {
			return nil, err
		}
		return nil, h.HandleSES(ctx, ev)
	case "aws:sqs":
		var ev events.SQSEvent
		if err := json.Unmarshal(raw, &ev); err != nil {
			return nil, err
		}
		return h.HandleRetries(ctx, ev)
	case "aws:dynamodb":
		var ev events.DynamoDBEvent
		if err := json.Unmarshal(raw, &ev); err != nil {
			return nil, err
		}
		return h.HandleStream(ctx, ev)
	default:
		return nil, fmt.Errorf("notify: events from %q are not handled", src)
	}
}

func newNotifier(ctx context.Context, getenv func(string) string) (handler, error) {
	e, cfg, err := awsenv.Load(ctx, getenv, "notify")
	if err != nil {
		return handler{}, err
	}
	db := dynamodb.NewFromConfig(cfg)
	store := awsenv.Store(e, db)
	endpoint := e.Required("WEBSOCKET_ENDPOINT") // https://{api}.execute-api.{region}.amazonaws.com/{stage}
	// The e-mails link to a read-only link, signed with the sessions' key
	// (the current one: the API still verifies it after one rotation).
	key, _, _, err := awsenv.SessionKeys(ctx, e, cfg)
	if err != nil {
		return handler{}, err
	}
	links := web.LinkSigner{Key: key}
	n := &notify.Notifier{
		Mail: &sesmail.Mailer{Client: sesv2.NewFromConfig(cfg), From: e.Required("SENDER_EMAIL"),
			ConfigurationSet: getenv("SES_CONFIGURATION_SET")},
		Push: &wspush.Connections{DB: db, Table: e.Required("CONNECTION_TABLE"),
			API: apigatewaymanagementapi.NewFromConfig(cfg, func(o *apigatewaymanagementapi.Options) { o.BaseEndpoint = aws.String(endpoint) })},
		Sent:      store,
		Addresses: store, Limiter: store, Quotas: awsenv.Quotas(e),
		Failures: &longrun.Service{Store: store, Results: store},
		Retry:    &sqsqueue.Queue{Client: sqs.NewFromConfig(cfg), URL: e.Required("MAIL_RETRY_QUEUE_URL")},
		// The stream is the outbox of the API's writes: a version queued
		// whose job the API never sent is sent again from here.
		Outbox:  &sqsqueue.Queue{Client: sqs.NewFromConfig(cfg), URL: e.Required("JOB_QUEUE_URL")},
		Logger:  awsenv.Logger(),
		Metrics: awsenv.Metrics("notify"),
		BaseURL: e.Required("BASE_URL"),
		Link:    links.Path,
		Replay:  store, // each push numbered, for a page that was away
		// The owners' default channels, for configurations that do not say.
		Preferences: store,
		Kinds:       kinds(e),
	}
	if n.VAPID, err = awsenv.VAPID(ctx, e, cfg); err != nil {
		return handler{}, err
	}
	if n.VAPID != nil {
		n.Devices = store
	}
	if urls := strings.Fields(strings.ReplaceAll(getenv("WEBHOOK_URLS"), ",", " ")); len(urls) > 0 {
		// The operator's endpoints, signed with the stack's secret (its
		// value, after whsec_, is the key's base64).
		secret, err := awsenv.Secret(ctx, e, cfg, "WEBHOOK_SECRET")
		if err != nil {
			return handler{}, err
		}
		key, err := webhook.ParseSecret(secret)
		if err != nil && e.Err() == nil {
			return handler{}, fmt.Errorf("WEBHOOK_SECRET: %w", err)
		}
		n.Hooks = &notify.Webhooks{Endpoints: urls, Key: key}
	}
	return handler{n}, e.Err()
}

// kinds is the function's table of the computations it serves.
func kinds(e *awsenv.Env) longrun.Kinds {
	return longrun.Kinds{
		juliaset.Name:   juliaset.New(awsenv.Bounds(e)),
		classifier.Name: classifier.New(),
	}
}
