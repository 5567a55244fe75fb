package functions

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
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
	"github.com/longrun/longrun/aws/awstest"
	"github.com/longrun/longrun/aws/dynamo"
	"github.com/longrun/longrun/aws/streampoll"
	"github.com/longrun/longrun/aws/wspush"
	"github.com/longrun/longrun/notify"
	"github.com/longrun/longrun/web"
)

func TestMain(m *testing.M) { awstest.Main(m) }

// function is one bootstrap running under the Lambda Runtime Interface
// Emulator, as sam local runs it.
type function struct {
	name string
	url  string
	log  *bytes.Buffer
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

// start builds a function for the host and runs it under the emulator.
func start(t *testing.T, emulator, name string, env map[string]string) *function {
	t.Helper()
	dir := t.TempDir()
	build := exec.Command("go", "build", "-tags", "lambda.norpc", "-trimpath", "-o", filepath.Join(dir, "bootstrap"), "./"+name)
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build %s: %v\n%s", name, err, out)
	}
	api, rapi := awstest.FreePort(t), awstest.FreePort(t)
	cmd := exec.Command(emulator, "--runtime-interface-emulator-address", "127.0.0.1:"+strconv.Itoa(api),
		"--runtime-api-address", "127.0.0.1:"+strconv.Itoa(rapi), filepath.Join(dir, "bootstrap"))
	cmd.Env = os.Environ()
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	f := &function{name: name, url: fmt.Sprintf("http://127.0.0.1:%d/2015-03-31/functions/function/invocations", api), log: &bytes.Buffer{}}
	cmd.Stdout, cmd.Stderr = f.log, f.log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return f
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
func TestBootstrapsUnderTheRuntimeEmulator(t *testing.T) {
	emulator := rie(t)
	awstest.DynamoDB(t)
	awstest.SQS(t)
	awstest.SES(t)
	awstest.S3(t)
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
		"MAX_RECEIVES": "5", "MAIL_RETRY_QUEUE_URL": *q.QueueUrl,
	}
	// The session key comes from Secrets Manager, as on AWS: a stand-in
	// speaking the one call the api function makes, with a current and a
	// previous version (a rotation in progress).
	key, oldKey := "a-session-key-for-the-emulator-test-0123", "the-previous-session-key-still-valid-0"
	secrets := httptest.NewServer(secretsManager(t, "session-key", map[string]string{"AWSCURRENT": key, "AWSPREVIOUS": oldKey}))
	defer secrets.Close()
	env["SESSION_KEY_SECRET"], env["AWS_ENDPOINT_URL_SECRETS_MANAGER"] = "session-key", secrets.URL
	api := start(t, emulator, "api", env)
	render := start(t, emulator, "render", env)
	notifyFn := start(t, emulator, "notify", env)

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
	go poller.Run(pctx)
	for !mailed(t, email) {
		if ctx.Err() != nil {
			t.Fatalf("no e-mail to %s\n%s", email, notifyFn.log)
		}
		time.Sleep(100 * time.Millisecond)
	}
	stop()
	inbox := awstest.Inbox(t, email)
	link := regexp.MustCompile(`/api/email/confirm\?token=([0-9a-f]{32})`).FindStringSubmatch(inbox[0].Body.Text)
	if len(inbox) != 1 || !strings.HasPrefix(inbox[0].Subject, "Confirm") || link == nil {
		t.Fatalf("mail to a new address: %+v, want only the confirmation, with its link", inbox)
	}
	confirm := create
	confirm.RawPath, confirm.RawQueryString, confirm.Body = "/api/email/confirm", "token="+link[1], ""
	confirm.QueryStringParameters = map[string]string{"token": link[1]}
	confirm.RequestContext.HTTP.Method, confirm.RequestContext.HTTP.Path = "GET", confirm.RawPath
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
	renderBroken := start(t, emulator, "render", broken)
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

// secretsManager answers GetSecretValue for one secret's version stages.
func secretsManager(t *testing.T, name string, stages map[string]string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in struct{ SecretId, VersionStage string }
		json.NewDecoder(r.Body).Decode(&in)
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		v, ok := stages[in.VersionStage]
		if r.Header.Get("X-Amz-Target") != "secretsmanager.GetSecretValue" || in.SecretId != name || !ok {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"__type":"ResourceNotFoundException","message":"no such secret or version"}`)
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"ARN": "arn:aws:secretsmanager:us-east-1:000000000000:secret:" + name,
			"Name": name, "SecretString": v, "VersionStages": []string{in.VersionStage}})
	})
}
