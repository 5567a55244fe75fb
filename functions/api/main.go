// Command api is the API Lambda: API Gateway HTTP API requests (payload 2.0)
// go to the same http.Handler as longrun serve, and the WebSocket API's
// $connect and $disconnect routes record the owner's push connections.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"

	"github.com/longrun/longrun"
	"github.com/longrun/longrun/aws/sqsqueue"
	"github.com/longrun/longrun/aws/wspush"
	"github.com/longrun/longrun/functions/internal/awsenv"
	"github.com/longrun/longrun/kinds/classifier"
	"github.com/longrun/longrun/kinds/juliaset"
	"github.com/longrun/longrun/tracing"
	"github.com/longrun/longrun/web"
)

func main() { awsenv.Start(awsenv.Main("api", newHandler).handle) }

type handler struct {
	http     *httpadapter.HandlerAdapterV2
	conns    *wspush.Connections
	sessions *web.Sessions
	quotas   longrun.Quotas
}

func newHandler(ctx context.Context, getenv func(string) string) (*handler, error) {
	e, cfg, err := awsenv.Load(ctx, getenv, "api")
	if err != nil {
		return nil, err
	}
	db := dynamodb.NewFromConfig(cfg)
	store := awsenv.Store(e, db)
	key, previous, refresh, err := awsenv.SessionKeys(ctx, e, cfg)
	if err != nil {
		return nil, err
	}
	log := awsenv.Logger()
	// The keys are read again every SESSION_KEY_REFRESH_SECONDS (default
	// 300), and once on a signature no key known verifies: a rotation
	// (put-secret-value) reaches every warm container without signing
	// anyone out.
	sessions := &web.Sessions{Key: key, Previous: previous, Refresh: refresh,
		RefreshEvery: time.Duration(e.Int("SESSION_KEY_REFRESH_SECONDS", 300)) * time.Second,
		OnRefreshError: func(err error) {
			log.Warn("session keys: could not read them again; the keys held are kept", "err", err)
		}}
	metrics := awsenv.Metrics("api")
	images := awsenv.Images(e, cfg)
	vapid, err := awsenv.VAPID(ctx, e, cfg)
	if err != nil {
		return nil, err
	}
	deps := web.Deps{
		// A request that makes a version begins the version's trace, which
		// its job message carries to the render function.
		Service: &longrun.Service{TraceOf: tracing.Of, Store: store, Results: store, Images: images, Metrics: metrics,
			Limiter: store, Quotas: awsenv.Quotas(e), Kinds: kinds(e), Addresses: store,
			Queue: &sqsqueue.Queue{Client: sqs.NewFromConfig(cfg), URL: e.Required("JOB_QUEUE_URL")}},
		Sessions: sessions, Logger: log, Metrics: metrics,
		Images:  awsenv.Images(e, cfg),
		PushURL: getenv("WEBSOCKET_URL"),
		// A page that was away asks for the updates it missed: API
		// Gateway's WebSocket replays nothing.
		Replay:      store,
		Preferences: store,
	}
	if vapid != nil {
		deps.Devices, deps.PushKey = store, vapid.PublicKey
		// A private push service in place of the browsers' (PUSH_SERVICES,
		// comma-separated hosts); unset, only the browsers'.
		deps.PushHosts = strings.FieldsFunc(getenv("PUSH_SERVICES"), func(r rune) bool { return r == ',' || r == ' ' })
	}
	srv := web.NewServer(deps)
	h := &handler{http: httpadapter.NewV2(web.Traced(srv)), sessions: sessions, quotas: awsenv.Quotas(e),
		conns: &wspush.Connections{DB: db, Table: e.Required("CONNECTION_TABLE")}}
	if err := e.Err(); err != nil {
		return nil, err
	}
	if len(sessions.Key) < 32 {
		return nil, fmt.Errorf("the session key must be at least 32 characters")
	}
	return h, nil
}

// handle serves both APIs: a WebSocket event has a connection id.
func (h *handler) handle(ctx context.Context, raw json.RawMessage) (any, error) {
	var probe struct {
		RequestContext struct {
			ConnectionID string `json:"connectionId"`
		} `json:"requestContext"`
	}
	if err := json.Unmarshal(raw, &probe); err != nil {
		return nil, err
	}
	if probe.RequestContext.ConnectionID != "" {
		var ev events.APIGatewayWebsocketProxyRequest
		if err := json.Unmarshal(raw, &ev); err != nil {
			return nil, err
		}
		return h.websocket(ctx, ev)
	}
	var req events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(raw, &req); err != nil {
		return nil, err
	}
	return h.http.ProxyWithContext(ctx, req)
}

// websocket authenticates $connect with the push token from the query
// string, so a connection only ever receives its owner's pushes.
func (h *handler) websocket(ctx context.Context, ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
	id := ev.RequestContext.ConnectionID
	switch ev.RequestContext.RouteKey {
	case "$connect":
		owner := h.sessions.PushOwner(ev.QueryStringParameters["token"])
		if owner == "" {
			return events.APIGatewayProxyResponse{StatusCode: 401, Body: "invalid or expired push token"}, nil
		}
		client := h.quotas.ClientKey(ev.RequestContext.Identity.SourceIP)
		err := h.conns.Connect(ctx, id, owner, client)
		if tooMany := (*wspush.ErrTooMany)(nil); errors.As(err, &tooMany) {
			return events.APIGatewayProxyResponse{StatusCode: 429, Body: tooMany.Message}, nil
		}
		if err != nil {
			return events.APIGatewayProxyResponse{StatusCode: 500}, err
		}
	case "$disconnect":
		if err := h.conns.Disconnect(ctx, id); err != nil {
			return events.APIGatewayProxyResponse{StatusCode: 500}, err
		}
	}
	return events.APIGatewayProxyResponse{StatusCode: 200}, nil
}

// kinds is the function's table of the computations it serves.
func kinds(e *awsenv.Env) longrun.Kinds {
	return longrun.Kinds{
		juliaset.Name:   juliaset.New(awsenv.Bounds(e)),
		classifier.Name: classifier.New(),
	}
}
