// Command notify is the notify Lambda: DynamoDB Stream batches of
// configuration changes become pushes over the WebSocket API and e-mails
// through SES; failures are reported by sequence number.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"

	"github.com/longrun/longrun/aws/sesmail"
	"github.com/longrun/longrun/aws/wspush"
	"github.com/longrun/longrun/functions/internal/awsenv"
	"github.com/longrun/longrun/notify"
)

func main() { lambda.Start(awsenv.Main("notify", newNotifier).HandleStream) }

func newNotifier(ctx context.Context, getenv func(string) string) (*notify.Notifier, error) {
	e, cfg, err := awsenv.Load(ctx, getenv)
	if err != nil {
		return nil, err
	}
	db := dynamodb.NewFromConfig(cfg)
	endpoint := e.Required("WEBSOCKET_ENDPOINT") // https://{api}.execute-api.{region}.amazonaws.com/{stage}
	n := &notify.Notifier{
		Mail: &sesmail.Mailer{Client: sesv2.NewFromConfig(cfg), From: e.Required("SENDER_EMAIL")},
		Push: &wspush.Connections{DB: db, Table: e.Required("CONNECTION_TABLE"),
			API: apigatewaymanagementapi.NewFromConfig(cfg, func(o *apigatewaymanagementapi.Options) { o.BaseEndpoint = aws.String(endpoint) })},
		Sent:    awsenv.Store(e, db),
		Logger:  awsenv.Logger(),
		Metrics: awsenv.Metrics("notify"),
		BaseURL: e.Required("BASE_URL"),
	}
	return n, e.Err()
}
