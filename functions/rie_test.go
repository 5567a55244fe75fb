package functions

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/longrun/longrun"
	"github.com/longrun/longrun/aws/awscalls"
	"github.com/longrun/longrun/aws/awstest"
	"github.com/longrun/longrun/aws/dynamo"
	"github.com/longrun/longrun/aws/streampoll"
	"github.com/longrun/longrun/aws/wspush"
	"github.com/longrun/longrun/internal/testutil"
	"github.com/longrun/longrun/notify"
	"github.com/longrun/longrun/web"
	"github.com/longrun/longrun/webhook"
)

func TestMain(m *testing.M) { awstest.Main(m) }

// function is one bootstrap running under the Lambda Runtime Interface
// Emulator, as sam local runs it.
type function struct {
	name string
	url  string
	log  *testutil.SyncBuffer
}

// invoke posts one event and decodes the function's answer into out.
func (f *function) invoke(t *testing.T, event []byte, out any) {
	t.Helper()
	res, err := http.Post(f.url, "application/json", bytes.NewReader(event))
	if err != nil {
		t.Fatalf("invoke %s: %v\n%s", f.name, err, f.log)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		t.Fatalf("invoke %s: %d %s\n%s", f.name, res.StatusCode, body, f.log)
	}
	var fnErr struct{ ErrorMessage, ErrorType string }
	if json.Unmarshal(body, &fnErr) == nil && fnErr.ErrorType != "" {
		t.Fatalf("%s failed: %s: %s\n%s", f.name, fnErr.ErrorType, fnErr.ErrorMessage, f.log)
	}
	if err := json.Unmarshal(body, out); err != nil {
		t.Fatalf("%s answered %s: %v", f.name, body, err)
	}
}

func rie(t *testing.T) string {
	t.Helper()
	path := filepath.Join(awstest.Root(), "bin", "aws-lambda-rie")
	if _, err := os.Stat(path); err != nil {
		msg := "the Lambda Runtime Interface Emulator is not installed: run make test"
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return path
}

// build builds the three bootstraps for the host, at once, before any
// step's deadline starts (a cold build of each takes tens of seconds on a
// loaded machine); it returns each one's path.
func build(t *testing.T) map[string]string {
	t.Helper()
	dir := t.TempDir()
	out := map[string]string{}
	errs := make(chan error, 3)
	for _, name := range []string{"api", "render", "notify"} {
		out[name] = filepath.Join(dir, name, "bootstrap")
		go func() {
			cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-trimpath", "-o", out[name], "./"+name)
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
			if b, err := cmd.CombinedOutput(); err != nil {
				errs <- fmt.Errorf("build %s: %v\n%s", name, err, b)
				return
			}
			errs <- nil
		}()
	}
	for range 3 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// start runs a bootstrap under the emulator, and returns once the
// emulator listens (or fails the test if it exits or is not listening
// within 30 s). Its AWS calls are recorded in calls, if not empty.
func start(t *testing.T, emulator, bootstrap, name string, env map[string]string, calls string) *function {
	t.Helper()
	api, rapi := awstest.FreePort(t), awstest.FreePort(t)
	cmd := exec.Command(emulator, "--runtime-interface-emulator-address", "127.0.0.1:"+strconv.Itoa(api),
		"--runtime-api-address", "127.0.0.1:"+strconv.Itoa(rapi), bootstrap)
	cmd.Env = os.Environ()
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	if calls != "" {
		cmd.Env = append(cmd.Env, awscalls.Env+"="+calls)
	}
	f := &function{name: name, url: fmt.Sprintf("http://127.0.0.1:%d/2015-03-31/functions/function/invocations", api), log: &testutil.SyncBuffer{}}
	cmd.Stdout, cmd.Stderr = f.log, f.log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() { cmd.Process.Kill(); <-exited })
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(api), time.Second)
		if err == nil {
			c.Close()
			return f
		}
		select {
		case <-exited:
			t.Fatalf("the emulator running %s exited before it listened\n%s", name, f.log)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the emulator running %s did not listen within 30 s: %v\n%s", name, err, f.log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(awstest.Root(), "infra", "events", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestBootstrapsUnderTheRuntimeEmulator creates a configuration through the
// api binary, renders it with the render binary into the S3 server, and
// announces it with the notify binary through the SES server: the three
// Lambdas exactly as built for sam, invoked with the events in infra/events.
//
// It records the AWS calls each binary performs, and checks them, with
// what each can call, against its role (checkPermissions).
func TestBootstrapsUnderTheRuntimeEmulator(t *testing.T) {
	emulator := rie(t)
	bootstraps := build(t)
	awstest.DynamoDB(t)
	awstest.SQS(t)
	awstest.SES(t)
	awstest.S3(t)
	// The deadline starts once everything is built and every server is up;
	// the steps that wait have bounds of their own within it.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cfg := awstest.Config(t)

	// The stack's resources, as template.yaml declares them.
	db := dynamodb.NewFromConfig(cfg)
	configs, results, conns := awstest.Name("configurations"), awstest.Name("results"), awstest.Name("connections")
	if err := dynamo.CreateTables(ctx, db, configs, results, conns); err != nil {
		t.Fatal(err)
	}
	sqsClient := sqs.NewFromConfig(cfg)
	q, err := sqsClient.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(awstest.Name("jobs"))})
	if err != nil {
		t.Fatal(err)
	}
	retries, err := sqsClient.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(awstest.Name("mail-retries"))})
	if err != nil {
		t.Fatal(err)
	}
	bucket := awstest.Name("images")
	s3Client := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
	if _, err := s3Client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &bucket}); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"CONFIG_TABLE": configs, "RESULT_TABLE": results, "CONNECTION_TABLE": conns, "IMAGE_BUCKET": bucket,
		"S3_PATH_STYLE": "true", "IMAGE_RETENTION_DAYS": "90", "JOB_QUEUE_URL": *q.QueueUrl,
		"WEBSOCKET_URL": "wss://push.example/prod",
		"SENDER_EMAIL":  "longrun@example.com", "BASE_URL": "https://app.example", "WEBSOCKET_ENDPOINT": "http://127.0.0.1:1/prod",
		"MAX_RECEIVES": "5", "MAIL_RETRY_QUEUE_URL": *retries.QueueUrl, "SES_CONFIGURATION_SET": "longrun-mail",
	}
	// The session key comes from Secrets Manager, as on AWS: a stand-in
	// speaking the one call the api function makes, with a current and a
	// previous version (a rotation in progress).
	key, oldKey := "a-session-key-for-the-emulator-test-0123", "the-previous-session-key-still-valid-0"
	stages := &secretStages{m: map[string]string{"AWSCURRENT": key, "AWSPREVIOUS": oldKey}}
	// The webhooks' secret too, and an application's backend that
	// verifies what it is sent.
	hookSecret := "abcdefghijklmnopqrstuvwxyz012345"
	// The devices' key pair comes from its seed; a push service stand-in
	// (over TLS, which the binaries trust) decrypts what it is sent.
	vapidSeed := "a-seed-for-the-devices-vapid-key-in-the-emulator-test-0123456789"
	vapid, err := notify.VAPIDFromSeed([]byte(vapidSeed), env["SENDER_EMAIL"])
	if err != nil {
		t.Fatal(err)
	}
	pushService := testutil.NewPushService(t, vapid.PublicKey)
	certs := filepath.Join(t.TempDir(), "push-service.pem")
	os.WriteFile(certs, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: pushService.Certificate().Raw}), 0o600)
	env["SSL_CERT_FILE"], env["PUSH_SERVICES"] = certs, "127.0.0.1"
	secrets := httptest.NewServer(secretsManager(t, map[string]*secretStages{"session-key": stages,
		"webhook-secret": {m: map[string]string{"AWSCURRENT": hookSecret}},
		"vapid-key":      {m: map[string]string{"AWSCURRENT": vapidSeed}}}))
	defer secrets.Close()
	env["SESSION_KEY_SECRET"], env["AWS_ENDPOINT_URL_SECRETS_MANAGER"] = "session-key", secrets.URL
	hooks := make(chan notify.HookEvent, 10)
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		hookKey, _ := webhook.ParseSecret(hookSecret)
		if _, err := webhook.Verify(hookKey, r.Header, body, time.Now()); err != nil {
			t.Errorf("a webhook that does not verify: %v", err)
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		var ev notify.HookEvent
		json.Unmarshal(body, &ev)
		hooks <- ev
	}))
	defer backend.Close()
	env["WEBHOOK_URLS"], env["WEBHOOK_SECRET"] = backend.URL+"/longrun", "webhook-secret"
	env["VAPID_KEY_SECRET"] = "vapid-key"
	// The three export their spans over OTLP, as to X-Ray's endpoint or a
	// collector: one version is one trace across them.
	collector := testutil.NewOTLPReceiver(t)
	env["OTEL_TRACES_EXPORTER"], env["OTEL_EXPORTER_OTLP_ENDPOINT"] = "otlp", collector.URL
	// What each binary calls on AWS, and the template's name for each
	// resource the test made (checkPermissions).
	callsDir := t.TempDir()
	calls := func(name string) string { return filepath.Join(callsDir, name+".jsonl") }
	names := map[string]string{configs: "ConfigurationsTable", results: "ResultsTable", conns: "ConnectionsTable",
		bucket: "ImageBucket", "no-such-bucket": "ImageBucket", *q.QueueUrl: "JobQueue", *retries.QueueUrl: "MailRetryQueue",
		"session-key": "SessionKeySecret", "webhook-secret": "WebhookSecret", "vapid-key": "VapidKeySecret"}
	api := start(t, emulator, bootstraps["api"], "api", env, calls("api"))
	render := start(t, emulator, bootstraps["render"], "render", env, calls("render"))
	notifyFn := start(t, emulator, bootstraps["notify"], "notify", env, calls("notify"))

	// 1. Create through the api binary (an HTTP API v2 request).
	email := "rie-" + awstest.Name("reader") + "@example.com"
	var create events.APIGatewayV2HTTPRequest
	json.Unmarshal(fixture(t, "api-create.json"), &create)
	create.Body = strings.Replace(create.Body, "ada@example.com", email, 1)
	var created events.APIGatewayV2HTTPResponse
	api.invoke(t, mustJSON(t, create), &created)
	if created.StatusCode != 201 {
		t.Fatalf("create: %d %s", created.StatusCode, created.Body)
	}
	var v web.View
	json.Unmarshal([]byte(created.Body), &v)
	cookie := sessionCookie(created)
	if cookie == "" {
		t.Fatalf("no session cookie in %+v", created)
	}
	// A cookie the previous key signed still works during a rotation.
	list := create
	list.RawPath, list.Body = "/api/configurations", ""
	list.RequestContext.HTTP.Method, list.RequestContext.HTTP.Path = "GET", list.RawPath
	list.Cookies = []string{web.CookieName + "=" + (&web.Sessions{Key: []byte(oldKey)}).Token(longrun.NewID(), time.Hour)}
	var listed events.APIGatewayV2HTTPResponse
	api.invoke(t, mustJSON(t, list), &listed)
	if listed.StatusCode != 200 || sessionCookie(listed) != "" {
		t.Errorf("a cookie signed with the previous key: %d, new cookie %q; want it kept", listed.StatusCode, sessionCookie(listed))
	}
	// A rotation (put-secret-value) while the function is warm: a cookie
	// the new key signed (in a container started since) is kept too, and
	// so is one of the key that is now the previous.
	newKey := "the-key-after-a-rotation-while-warm-0123"
	stages.set(map[string]string{"AWSCURRENT": newKey, "AWSPREVIOUS": key})
	for _, k := range []string{newKey, key} {
		list.Cookies = []string{web.CookieName + "=" + (&web.Sessions{Key: []byte(k)}).Token(longrun.NewID(), time.Hour)}
		api.invoke(t, mustJSON(t, list), &listed)
		if listed.StatusCode != 200 || sessionCookie(listed) != "" {
			t.Errorf("after a rotation, a cookie signed with %q: %d, new cookie %q; want it kept", k, listed.StatusCode, sessionCookie(listed))
		}
	}
	key = newKey

	// 2. The job is in SQS: hand it to the render binary as Lambda would.
	msgs, err := sqsClient.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: q.QueueUrl, WaitTimeSeconds: 5,
		MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll}})
	if err != nil || len(msgs.Messages) != 1 {
		t.Fatalf("job not queued: %v %v", msgs, err)
	}
	var batch events.SQSEvent
	json.Unmarshal(fixture(t, "render-sqs.json"), &batch)
	batch.Records[0].MessageId = *msgs.Messages[0].MessageId
	batch.Records[0].Body = *msgs.Messages[0].Body
	batch.Records[0].Attributes = msgs.Messages[0].Attributes
	var rendered events.SQSEventResponse
	render.invoke(t, mustJSON(t, batch), &rendered)
	if len(rendered.BatchItemFailures) != 0 {
		t.Fatalf("render reported failures %+v\n%s", rendered.BatchItemFailures, render.log)
	}
	if _, err := s3Client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &bucket, Key: aws.String(longrun.ImageKey(v.ParamsHash))}); err != nil {
		t.Fatalf("no image in S3: %v\n%s", err, render.log)
	}

	// 3. The configurations stream, filtered as the template says, goes to
	// the notify binary until the e-mail is in the SES server: the one
	// confirmation mail of a new address, nothing more until it is followed.
	pctx, stop := context.WithCancel(ctx)
	defer stop()
	poller := &streampoll.Poller{Client: dynamodbstreams.NewFromConfig(cfg), Table: configs, Filter: notify.Wants,
		Handler: func(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
			var resp events.DynamoDBEventResponse
			notifyFn.invoke(t, mustJSON(t, ev), &resp)
			return resp, nil
		}}
	polled := make(chan struct{})
	go func() { poller.Run(pctx); close(polled) }()
	mailBy := time.Now().Add(60 * time.Second)
	for !mailed(t, email) {
		if ctx.Err() != nil || time.Now().After(mailBy) {
			t.Fatalf("no e-mail to %s within 60 s\n%s", email, notifyFn.log)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The done version's webhook waits in the retry queue, which hands it
	// to the notify binary as Lambda would: the backend hears of it.
	var hookMsg *sqs.ReceiveMessageOutput
	for hookBy := time.Now().Add(30 * time.Second); hookMsg == nil || len(hookMsg.Messages) == 0; {
		if time.Now().After(hookBy) {
			t.Fatalf("no webhook queued within 30 s\n%s", notifyFn.log)
		}
		if hookMsg, err = sqsClient.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: retries.QueueUrl, WaitTimeSeconds: 2}); err != nil {
			t.Fatal(err)
		}
	}
	stop()
	<-polled // the emulator takes one invoke at a time
	var hookBatch events.SQSEvent
	for _, m := range hookMsg.Messages {
		hookBatch.Records = append(hookBatch.Records, events.SQSMessage{MessageId: *m.MessageId, Body: *m.Body, EventSource: "aws:sqs"})
	}
	var hookResp events.SQSEventResponse
	notifyFn.invoke(t, mustJSON(t, hookBatch), &hookResp)
	select {
	case ev := <-hooks:
		if ev.Type != "configuration.done" || ev.Data.Configuration.ID != v.ID || !strings.HasPrefix(ev.Data.Link, "https://app.example/s/") {
			t.Errorf("the webhook said %+v", ev)
		}
	default:
		t.Fatalf("the backend heard nothing (%+v)\n%s", hookResp, notifyFn.log)
	}
	inbox := awstest.Inbox(t, email)
	link := regexp.MustCompile(`/api/email/confirm\?token=([0-9a-f]{32})`).FindStringSubmatch(inbox[0].Body.Text)
	if len(inbox) != 1 || !strings.HasPrefix(inbox[0].Subject, "Confirm") || link == nil {
		t.Fatalf("mail to a new address: %+v, want only the confirmation, with its link", inbox)
	}
	confirm := create
	confirm.RawPath, confirm.RawQueryString, confirm.Body = "/api/email/confirm", "token="+link[1], ""
	confirm.QueryStringParameters = map[string]string{"token": link[1]}
	confirm.RequestContext.HTTP.Method, confirm.RequestContext.HTTP.Path = "POST", confirm.RawPath
	var confirmed events.APIGatewayV2HTTPResponse
	api.invoke(t, mustJSON(t, confirm), &confirmed)
	if confirmed.StatusCode != 200 || !strings.Contains(confirmed.Body, "Address confirmed") {
		t.Fatalf("following the confirmation link: %d %s", confirmed.StatusCode, confirmed.Body)
	}

	// 3b. A job whose render fails comes back after the retry backoff (1 s
	// for a first delivery), not the queue's visibility timeout: the render
	// binary, with an image bucket that does not exist, fails it, and
	// shortens its wait with ChangeMessageVisibility.
	broken := map[string]string{}
	for k, v := range env {
		broken[k] = v
	}
	broken["IMAGE_BUCKET"] = "no-such-bucket"
	renderBroken := start(t, emulator, bootstraps["render"], "render", broken, calls("render"))
	create2 := create
	create2.Body = strings.Replace(strings.Replace(create.Body, email, "", 1), "-0.7", "-0.71", 1)
	create2.Cookies = []string{cookie}
	var created2 events.APIGatewayV2HTTPResponse
	api.invoke(t, mustJSON(t, create2), &created2)
	if created2.StatusCode != 201 {
		t.Fatalf("second create: %d %s", created2.StatusCode, created2.Body)
	}
	msgs2, err := sqsClient.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: q.QueueUrl, WaitTimeSeconds: 5,
		VisibilityTimeout: 300, MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll}})
	if err != nil || len(msgs2.Messages) != 1 {
		t.Fatalf("second job not queued: %v %v", msgs2, err)
	}
	batch.Records[0].MessageId, batch.Records[0].ReceiptHandle = *msgs2.Messages[0].MessageId, *msgs2.Messages[0].ReceiptHandle
	batch.Records[0].Body, batch.Records[0].Attributes = *msgs2.Messages[0].Body, msgs2.Messages[0].Attributes
	var failed events.SQSEventResponse
	failedAt := time.Now()
	renderBroken.invoke(t, mustJSON(t, batch), &failed)
	if len(failed.BatchItemFailures) != 1 {
		t.Fatalf("the render with no bucket reported %+v, want its job failed\n%s", failed, renderBroken.log)
	}
	back, err := sqsClient.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: q.QueueUrl, WaitTimeSeconds: 15})
	if err != nil || len(back.Messages) != 1 || time.Since(failedAt) > 15*time.Second {
		t.Fatalf("the failed job did not come back within its backoff (it was hidden for 300 s): %v %v\n%s", back, err, renderBroken.log)
	}
	sqsClient.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: q.QueueUrl, ReceiptHandle: back.Messages[0].ReceiptHandle})

	// 4. The api binary shows it done, and redirects to the image in S3.
	get := create
	get.RawPath, get.Body = "/api/configurations/"+v.ID, ""
	get.RequestContext.HTTP.Method, get.RequestContext.HTTP.Path = "GET", get.RawPath
	get.Cookies = []string{cookie}
	var got events.APIGatewayV2HTTPResponse
	api.invoke(t, mustJSON(t, get), &got)
	json.Unmarshal([]byte(got.Body), &v)
	if got.StatusCode != 200 || v.Status != longrun.StatusDone || v.Outdated || v.Stats == nil {
		t.Fatalf("after render: %d %+v", got.StatusCode, v)
	}
	// 4a. The notify binary numbered each push it made (the stream went
	// through it above); the api binary gives a page that was away what it
	// missed, in order.
	missed := get
	missed.RawPath, missed.RequestContext.HTTP.Path = "/api/updates", "/api/updates"
	missed.RawQueryString, missed.QueryStringParameters = "since=0", map[string]string{"since": "0"}
	api.invoke(t, mustJSON(t, missed), &got)
	var ups web.Updates
	json.Unmarshal([]byte(got.Body), &ups)
	if got.StatusCode != 200 || ups.Snapshot || len(ups.Updates) == 0 || ups.Seq != int64(len(ups.Updates)) {
		t.Fatalf("the updates a page missed: %d %s", got.StatusCode, got.Body)
	}
	for i, raw := range ups.Updates {
		var m notify.Message
		if json.Unmarshal(raw, &m); m.Seq != int64(i+1) || m.ID == "" {
			t.Errorf("update %d: %s", i, raw)
		}
	}
	img := get
	img.RawPath, img.RequestContext.HTTP.Path = "/api/configurations/"+v.ID+"/image", "/api/configurations/"+v.ID+"/image"
	api.invoke(t, mustJSON(t, img), &got)
	loc := got.Headers["Location"]
	if got.StatusCode != 302 || !strings.Contains(loc, "X-Amz-Signature") {
		t.Fatalf("image: %d %v; want a redirect to a presigned URL", got.StatusCode, got.Headers)
	}
	res, err := http.Get(loc)
	if err != nil {
		t.Fatal(err)
	}
	png, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if !bytes.HasPrefix(png, []byte("\x89PNG")) {
		t.Errorf("the presigned URL served %d bytes that are not a PNG", len(png))
	}

	// 4a'. A device to notify: the api binary serves the key the notify
	// binary signs with, and keeps the page's subscription.
	keyReq := get
	keyReq.RawPath, keyReq.RequestContext.HTTP.Path = "/api/push/key", "/api/push/key"
	api.invoke(t, mustJSON(t, keyReq), &got)
	if !strings.Contains(got.Body, `"publicKey":"`+vapid.PublicKey+`"`) {
		t.Fatalf("the push key: %d %s, want %s", got.StatusCode, got.Body, vapid.PublicKey)
	}
	addDevice := get
	addDevice.RawPath, addDevice.RequestContext.HTTP.Path, addDevice.RequestContext.HTTP.Method = "/api/devices", "/api/devices", "POST"
	addDevice.Body = string(mustJSON(t, pushService.Subscribe("phone")))
	api.invoke(t, mustJSON(t, addDevice), &got)
	if got.StatusCode != 201 {
		t.Fatalf("add a device: %d %s", got.StatusCode, got.Body)
	}

	// 4b. A classifier through the same three functions: created by the
	// api binary, trained by the render binary from its SQS job, its
	// decision boundary and weights in the bucket, shown done.
	train := create
	train.Body = `{"name": "spirals", "kind": "classifier", "params": {"epochs": 40, "dataset": {"points": 120}}}`
	train.Cookies = []string{cookie}
	api.invoke(t, mustJSON(t, train), &got)
	var cl web.View
	json.Unmarshal([]byte(got.Body), &cl)
	if got.StatusCode != 201 || cl.Kind != "classifier" {
		t.Fatalf("create a classifier: %d %s", got.StatusCode, got.Body)
	}
	clMsgs, err := sqsClient.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: q.QueueUrl, WaitTimeSeconds: 5,
		MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll}})
	if err != nil || len(clMsgs.Messages) != 1 {
		t.Fatalf("classifier job not queued: %v %v", clMsgs, err)
	}
	batch.Records[0].MessageId, batch.Records[0].Body = *clMsgs.Messages[0].MessageId, *clMsgs.Messages[0].Body
	batch.Records[0].Attributes = clMsgs.Messages[0].Attributes
	render.invoke(t, mustJSON(t, batch), &rendered)
	if len(rendered.BatchItemFailures) != 0 {
		t.Fatalf("training reported failures %+v\n%s", rendered.BatchItemFailures, render.log)
	}
	sqsClient.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: q.QueueUrl, ReceiptHandle: clMsgs.Messages[0].ReceiptHandle})
	for _, key := range []string{longrun.ImageKey(cl.ParamsHash), longrun.ArtifactKey(cl.ParamsHash, "weights.json")} {
		if _, err := s3Client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &bucket, Key: aws.String(key)}); err != nil {
			t.Fatalf("no %s in S3: %v\n%s", key, err, render.log)
		}
	}
	get.RawPath, get.RequestContext.HTTP.Path = "/api/configurations/"+cl.ID, "/api/configurations/"+cl.ID
	api.invoke(t, mustJSON(t, get), &got)
	json.Unmarshal([]byte(got.Body), &cl)
	if cl.Status != longrun.StatusDone || cl.Stats == nil || cl.Stats.Extra["epochsTrained"] != 40 || cl.Artifacts["weights.json"] == "" {
		t.Fatalf("the classifier after training: %d %s", got.StatusCode, got.Body)
	}
	get.RawPath, get.RequestContext.HTTP.Path = "/api/configurations/"+v.ID, "/api/configurations/"+v.ID

	// 4c. The trained classifier reaches the device: the stream through the
	// notify binary queues its notification, which the retry queue hands
	// back to it; the push service decrypts it.
	devicesFed(t, ctx, sqsClient, *retries.QueueUrl, dynamodbstreams.NewFromConfig(cfg), configs, notifyFn,
		func() bool {
			return slices.ContainsFunc(pushService.Messages(), func(m testutil.PushMessage) bool { return strings.Contains(string(m.Payload), cl.ID+"/1") })
		})
	var tags []string
	for _, m := range pushService.Messages() {
		var note notify.DeviceNote
		json.Unmarshal(m.Payload, &note)
		tags = append(tags, note.Tag)
		if slices.Contains(tags[:len(tags)-1], note.Tag) {
			t.Errorf("the device was told of %s twice", note.Tag)
		}
	}
	if !slices.Contains(tags, cl.ID+"/1") || len(pushService.Refused()) != 0 {
		t.Errorf("the device heard of %v (refused: %v), want the classifier %s among them\n%s", tags, pushService.Refused(), cl.ID, notifyFn.log)
	}

	// 4d. Each function exported its spans before its invocation returned:
	// the first version's trace runs from the api's request through the
	// render to the notifier's sends; the failed render is an error span.
	checkTrace(t, collector, v.ID)
	failedJobs := 0
	for _, sp := range collector.Spans() {
		if sp.Name == "job whole" && sp.Error && sp.Service == "longrun-render" {
			failedJobs++
		}
	}
	if failedJobs != 1 {
		t.Errorf("%d failed job spans from the render function, want the one that had no bucket", failedJobs)
	}
	t.Logf("%d spans, %d bytes of OTLP exported", len(collector.Spans()), collector.Bytes())

	// 5. The WebSocket API's $connect is accepted with a push token from the
	// HTTP API and refused without one; the connection is recorded for the owner.
	tokenReq := get
	tokenReq.RawPath, tokenReq.RequestContext.HTTP.Path = "/api/push-token", "/api/push-token"
	api.invoke(t, mustJSON(t, tokenReq), &got)
	var push struct{ URL, Token string }
	json.Unmarshal([]byte(got.Body), &push)
	if push.URL != env["WEBSOCKET_URL"] || push.Token == "" {
		t.Fatalf("push token: %s", got.Body)
	}
	var connect events.APIGatewayWebsocketProxyRequest
	json.Unmarshal(fixture(t, "ws-connect.json"), &connect)
	sessions := &web.Sessions{Key: []byte(key)}
	owner := sessions.PushOwner(push.Token)
	for _, tc := range []struct {
		token  string
		status int
	}{{push.Token, 200}, {push.Token + "x", 401}, {"", 401}, {sessions.Token(owner, time.Hour), 401}} { // a session cookie is no push token
		connect.QueryStringParameters = map[string]string{"token": tc.token}
		connect.RequestContext.ConnectionID = "conn-" + strconv.Itoa(tc.status) + tc.token[min(len(tc.token), 3):min(len(tc.token), 6)]
		var wsResp events.APIGatewayProxyResponse
		api.invoke(t, mustJSON(t, connect), &wsResp)
		if wsResp.StatusCode != tc.status {
			t.Errorf("$connect with token %q: %d, want %d", tc.token, wsResp.StatusCode, tc.status)
		}
	}
	ids, err := (&wspush.Connections{DB: db, Table: conns}).ConnectionIDs(ctx, owner)
	if err != nil || len(ids) != 1 {
		t.Errorf("the owner's connections: %v %v, want the one accepted", ids, err)
	}
	// $disconnect forgets it.
	connect.RequestContext.RouteKey, connect.RequestContext.ConnectionID = "$disconnect", "conn-200"+push.Token[3:6]
	var wsResp events.APIGatewayProxyResponse
	api.invoke(t, mustJSON(t, connect), &wsResp)
	if ids, err := (&wspush.Connections{DB: db, Table: conns}).ConnectionIDs(ctx, owner); wsResp.StatusCode != 200 || err != nil || len(ids) != 0 {
		t.Errorf("after $disconnect (%d): connections %v %v, want none", wsResp.StatusCode, ids, err)
	}

	// DELETE removes the failed configuration.
	var created2View web.View
	json.Unmarshal([]byte(created2.Body), &created2View)
	del := get
	del.RawPath, del.RequestContext.HTTP.Path = "/api/configurations/"+created2View.ID, "/api/configurations/"+created2View.ID
	del.RequestContext.HTTP.Method = "DELETE"
	api.invoke(t, mustJSON(t, del), &got)
	if got.StatusCode != 204 {
		t.Errorf("DELETE %s: %d %s, want 204", created2View.ID, got.StatusCode, got.Body)
	}

	// 6. Each binary printed its metrics as EMF lines, and logged with the
	// Lambda request id.
	for _, want := range []struct {
		f      *function
		metric string
	}{{api, "ApiRequests"}, {api, "JobsEnqueued"}, {render, "JobsRendered"}, {render, "RenderDuration"}, {notifyFn, "Notifications"}} {
		if got := emfLines(t, want.f.log.String(), want.metric); got < 1 {
			t.Errorf("%s printed no EMF %s\n%s", want.f.name, want.metric, want.f.log)
		}
	}
	if !strings.Contains(render.log.String(), `"requestId":"`) || !strings.Contains(render.log.String(), `"configurationId":"`+v.ID) {
		t.Errorf("the render log lacks the request id or configuration id")
	}

	// 7. The sample stream event for sam local invoke works as is.
	var sample events.DynamoDBEventResponse
	notifyFn.invoke(t, fixture(t, "notify-stream.json"), &sample)
	if len(sample.BatchItemFailures) != 0 {
		t.Errorf("the sample stream event failed: %+v\n%s", sample.BatchItemFailures, notifyFn.log)
	}

	// 8. What the binaries did and can do, against their roles.
	t.Run("every permission is granted and used", func(t *testing.T) {
		performed := map[string][]awscalls.Call{}
		for _, name := range []string{"api", "render", "notify"} {
			performed[name] = readCalls(t, calls(name))
			if len(performed[name]) == 0 {
				t.Fatalf("%s recorded no AWS call (%s)", name, awscalls.Env)
			}
		}
		checkPermissions(t, performed, names)
	})
}

// devicesFed runs the stream through the notify binary, and hands it the
// retry queue's messages as Lambda's SQS event source would, until done
// (the emulator takes one invoke at a time: they take turns).
func devicesFed(t *testing.T, ctx context.Context, sqsClient *sqs.Client, queue string, streams *dynamodbstreams.Client, table string,
	notifyFn *function, done func() bool) {
	t.Helper()
	var mu sync.Mutex
	poller := &streampoll.Poller{Client: streams, Table: table, Filter: notify.Wants,
		Handler: func(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
			mu.Lock()
			defer mu.Unlock()
			var resp events.DynamoDBEventResponse
			notifyFn.invoke(t, mustJSON(t, ev), &resp)
			return resp, nil
		}}
	pctx, stop := context.WithCancel(ctx)
	polled := make(chan struct{})
	go func() { poller.Run(pctx); close(polled) }()
	defer func() { stop(); <-polled }()
	for by := time.Now().Add(30 * time.Second); !done(); {
		if time.Now().After(by) {
			t.Fatalf("not done within 30 s\n%s", notifyFn.log)
		}
		out, err := sqsClient.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &queue, WaitTimeSeconds: 1, MaxNumberOfMessages: 10})
		if err != nil {
			t.Fatal(err)
		}
		var batch events.SQSEvent
		for _, m := range out.Messages {
			batch.Records = append(batch.Records, events.SQSMessage{MessageId: *m.MessageId, Body: *m.Body, EventSource: "aws:sqs"})
			sqsClient.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: &queue, ReceiptHandle: m.ReceiptHandle})
		}
		if len(batch.Records) == 0 {
			continue
		}
		mu.Lock()
		var resp events.SQSEventResponse
		notifyFn.invoke(t, mustJSON(t, batch), &resp)
		mu.Unlock()
		if len(resp.BatchItemFailures) != 0 {
			t.Fatalf("the retry batch failed: %+v\n%s", resp, notifyFn.log)
		}
	}
}

// emfLines counts the EMF lines in a log that carry the metric.
func emfLines(t *testing.T, log, metric string) int {
	n := 0
	for _, line := range strings.Split(log, "\n") {
		i := strings.Index(line, "{")
		if i < 0 || !strings.Contains(line, `"_aws"`) {
			continue
		}
		var m map[string]any
		if json.Unmarshal([]byte(line[i:]), &m) != nil {
			continue
		}
		aws := m["_aws"].(map[string]any)
		for _, d := range aws["CloudWatchMetrics"].([]any) {
			if d.(map[string]any)["Namespace"] != "longrun" {
				t.Errorf("namespace %v", d.(map[string]any)["Namespace"])
			}
		}
		if _, ok := m[metric].(float64); ok {
			n++
		}
	}
	return n
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func sessionCookie(r events.APIGatewayV2HTTPResponse) string {
	all := append([]string{}, r.Cookies...)
	for k, v := range r.Headers {
		if strings.EqualFold(k, "Set-Cookie") {
			all = append(all, v)
		}
	}
	for k, vs := range r.MultiValueHeaders {
		if strings.EqualFold(k, "Set-Cookie") {
			all = append(all, vs...)
		}
	}
	for _, c := range all {
		if strings.HasPrefix(c, "longrun_session=") {
			name, _, _ := strings.Cut(c, ";")
			return name
		}
	}
	return ""
}

func mailed(t *testing.T, to string) bool { return len(awstest.Inbox(t, to)) > 0 }

// secretStages are a secret's versions by stage, which a test rotates.
type secretStages struct {
	mu sync.Mutex
	m  map[string]string
}

func (s *secretStages) set(m map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m = m
}

func (s *secretStages) get(stage string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[stage]
	return v, ok
}

// secretsManager answers GetSecretValue for one secret's version stages.
func secretsManager(t *testing.T, secrets map[string]*secretStages) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in struct{ SecretId, VersionStage string }
		json.NewDecoder(r.Body).Decode(&in)
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		stages, ok := secrets[in.SecretId]
		var v string
		if ok {
			v, ok = stages.get(in.VersionStage)
		}
		if r.Header.Get("X-Amz-Target") != "secretsmanager.GetSecretValue" || !ok {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"__type":"ResourceNotFoundException","message":"no such secret or version"}`)
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"ARN": "arn:aws:secretsmanager:us-east-1:000000000000:secret:" + in.SecretId,
			"Name": in.SecretId, "SecretString": v, "VersionStages": []string{in.VersionStage}})
	})
}

// checkTrace finds the trace the api's create of configuration id began
// and checks that the render and notify functions continued it: the job,
// the SDK calls of each function, and the notifier's spans, which link to
// the stream batch's own span.
func checkTrace(t *testing.T, collector *testutil.OTLPReceiver, id string) {
	t.Helper()
	spans := collector.Spans()
	var traceID string
	for _, sp := range spans {
		if sp.Name == "POST /api/configurations" && sp.Attributes["longrun.configuration.id"] == id {
			traceID = sp.TraceID
		}
	}
	if traceID == "" {
		t.Fatalf("no span of the api's create of %s among %d spans", id, len(spans))
	}
	byService, inTrace := map[string]map[string]int{}, 0
	for _, sp := range spans {
		if sp.TraceID != traceID {
			continue
		}
		if byService[sp.Service] == nil {
			byService[sp.Service] = map[string]int{}
		}
		byService[sp.Service][sp.Name]++
		inTrace++
		fromRetries := sp.Name == "notify webhook" || sp.Name == "notify device" || sp.Name == "notify email"
		if strings.HasPrefix(sp.Name, "notify ") && !fromRetries && len(sp.Links) != 1 {
			t.Errorf("%s links to %v, want the stream batch's trace", sp.Name, sp.Links)
		}
	}
	want := map[string][]string{
		"longrun-api":    {"POST /api/configurations", "DynamoDB.TransactWriteItems", "SQS.SendMessage"},
		"longrun-render": {"job whole", "S3.PutObject", "DynamoDB.TransactWriteItems"},
		"longrun-notify": {"notify status", "SESv2.SendEmail", "notify webhook"},
	}
	for service, names := range want {
		for _, name := range names {
			if byService[service][name] == 0 {
				t.Errorf("the version's trace has no %q from %s; it has %v", name, service, byService)
			}
		}
	}
	t.Logf("the version's trace: %d spans (%v)", inTrace, byService)
}
