package infra

import (
	"encoding/json"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/awslabs/goformation/v7"
	"gopkg.in/yaml.v3"

	"github.com/longrun/longrun"
	"github.com/longrun/longrun/aws/attr"
	"github.com/longrun/longrun/aws/dynamo"
	"github.com/longrun/longrun/aws/emf"
	"github.com/longrun/longrun/kinds/juliaset"
	"github.com/longrun/longrun/notify"
)

func load(t *testing.T) *yaml.Node {
	t.Helper()
	data, err := os.ReadFile("../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	return doc.Content[0]
}

func keys(n *yaml.Node) []string {
	var out []string
	for i := 0; n != nil && i+1 < len(n.Content); i += 2 {
		out = append(out, n.Content[i].Value)
	}
	return out
}

func walk(n *yaml.Node, fn func(*yaml.Node)) {
	fn(n)
	for _, c := range n.Content {
		walk(c, fn)
	}
}

// goformation parses the template, less the SAM HttpApi's
// AccessLogSettings, which it does not know (TestDataIsProtected reads
// them).
func TestTemplateParses(t *testing.T) {
	root := load(t)
	props := Get(root, "Resources", "HttpApi", "Properties")
	for i := 0; props != nil && i+1 < len(props.Content); i += 2 {
		if props.Content[i].Value == "AccessLogSettings" {
			props.Content = append(props.Content[:i], props.Content[i+2:]...)
			break
		}
	}
	b, err := yaml.Marshal(root)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := goformation.ParseYAML(b); err != nil {
		t.Fatalf("goformation: %v", err)
	}
}

// sam local start-api reads the template with SAM's own reader only when
// the first API resource is a SAM one; the api function's event names it.
func TestSAMLocalFindsTheHTTPAPI(t *testing.T) {
	res := Get(load(t), "Resources")
	for i := 0; i+1 < len(res.Content); i += 2 {
		typ := Get(res.Content[i+1], "Type").Value
		if strings.Contains(typ, "::Api") || strings.HasSuffix(typ, "HttpApi") {
			if typ != "AWS::Serverless::HttpApi" {
				t.Errorf("the first API resource is %s %s, want the AWS::Serverless::HttpApi", res.Content[i].Value, typ)
			}
			break
		}
	}
	ev := Get(res, "ApiFunction", "Properties", "Events", "Http")
	if Get(ev, "Type").Value != "HttpApi" || Get(ev, "Properties", "ApiId").Value != "HttpApi" {
		t.Errorf("the api function's Http event does not name the HttpApi")
	}
	for i := 0; i+1 < len(res.Content); i += 2 {
		r := res.Content[i+1]
		if Get(r, "Type").Value == "AWS::ApiGatewayV2::Route" && Get(r, "Properties", "RouteKey").Value == "$default" {
			t.Errorf("%s: a WebSocket $default route invokes Lambda for any message", res.Content[i].Value)
		}
	}
	if Get(res, "WebSocketStage", "Properties", "AutoDeploy").Value != "true" {
		t.Errorf("the WebSocket stage does not deploy route changes")
	}
}

func TestEveryReferenceResolves(t *testing.T) {
	root := load(t)
	names := map[string]bool{}
	for _, k := range append(keys(Get(root, "Resources")), keys(Get(root, "Parameters"))...) {
		names[k] = true
	}
	resources := keys(Get(root, "Resources"))
	ok := func(name string) bool {
		return names[name] || strings.HasPrefix(name, "AWS::")
	}
	sub := regexp.MustCompile(`\$\{([^}]+)\}`)
	walk(root, func(n *yaml.Node) {
		switch n.Tag {
		case "!Ref":
			if !ok(n.Value) {
				t.Errorf("line %d: !Ref %s resolves to nothing", n.Line, n.Value)
			}
		case "!GetAtt":
			if r, _, _ := strings.Cut(n.Value, "."); !slices.Contains(resources, r) {
				t.Errorf("line %d: !GetAtt %s names no resource", n.Line, n.Value)
			}
		case "!Sub":
			for _, m := range sub.FindAllStringSubmatch(n.Value, -1) {
				name, _, _ := strings.Cut(m[1], ".")
				if !ok(name) {
					t.Errorf("line %d: !Sub ${%s} resolves to nothing", n.Line, m[1])
				}
			}
		}
	})
}

func TestFunctionsBuildAndRunAsDeclared(t *testing.T) {
	root := load(t)
	makefile, err := os.ReadFile("../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	if v := Get(root, "Globals", "Function", "Runtime"); v == nil || v.Value != "provided.al2023" {
		t.Errorf("runtime: want provided.al2023")
	}
	if v := Get(root, "Globals", "Function", "Architectures"); v == nil || len(v.Content) != 1 || v.Content[0].Value != "arm64" {
		t.Errorf("architectures: want [arm64]")
	}
	// Nothing is instrumented, so active tracing would bill X-Ray for
	// segments that show only the invocation.
	if v := Get(root, "Globals", "Function", "Tracing"); v != nil && v.Value == "Active" {
		t.Errorf("tracing is on with nothing instrumented")
	}
	var functions int
	res := Get(root, "Resources")
	for _, id := range keys(res) {
		r := Get(res, id)
		if Get(r, "Type").Value != "AWS::Serverless::Function" {
			continue
		}
		functions++
		if m := Get(r, "Metadata", "BuildMethod"); m == nil || m.Value != "makefile" {
			t.Errorf("%s: BuildMethod is not makefile", id)
		}
		if !strings.Contains(string(makefile), "\nbuild-"+id+":") {
			t.Errorf("%s: the Makefile has no build-%s target", id, id)
		}
		for _, prop := range []string{"MemorySize", "Timeout"} {
			if Get(r, "Properties", prop) == nil {
				t.Errorf("%s: no explicit %s", id, prop)
			}
		}
		events := Get(r, "Properties", "Events")
		for _, name := range keys(events) {
			ev := Get(events, name)
			typ := Get(ev, "Type").Value
			if typ != "SQS" && typ != "DynamoDB" {
				continue
			}
			frt := Get(ev, "Properties", "FunctionResponseTypes")
			if frt == nil || len(frt.Content) != 1 || frt.Content[0].Value != "ReportBatchItemFailures" {
				t.Errorf("%s.%s: want FunctionResponseTypes [ReportBatchItemFailures]", id, name)
			}
			if typ == "DynamoDB" {
				checkStreamEvent(t, id+"."+name, ev)
			}
		}
	}
	if functions != 3 {
		t.Errorf("%d functions, want 3", functions)
	}
	render := Get(res, "RenderFunction", "Properties", "Timeout")
	vis := Get(res, "JobQueue", "Properties", "VisibilityTimeout")
	rt, _ := strconv.Atoi(render.Value)
	vt, _ := strconv.Atoi(vis.Value)
	if vt < 6*rt {
		t.Errorf("queue visibility timeout %d < 6 × render timeout %d", vt, rt)
	}
	if Get(res, "JobQueue", "Properties", "RedrivePolicy", "maxReceiveCount") == nil {
		t.Errorf("the job queue has no redrive policy")
	}
}

func checkStreamEvent(t *testing.T, name string, ev *yaml.Node) {
	if Get(ev, "Properties", "DestinationConfig", "OnFailure", "Destination") == nil {
		t.Errorf("%s: no on-failure destination", name)
	}
	if b := Get(ev, "Properties", "BisectBatchOnFunctionError"); b == nil || b.Value != "true" {
		t.Errorf("%s: a failing batch is not bisected, so one bad record holds back its neighbours", name)
	}
	filters := Get(ev, "Properties", "FilterCriteria", "Filters")
	if filters == nil {
		t.Fatalf("%s: no filter criteria", name)
	}
	var patterns []map[string]any
	for _, f := range filters.Content {
		p := Get(f, "Pattern").Value
		var v map[string]any
		if err := json.Unmarshal([]byte(p), &v); err != nil {
			t.Errorf("%s: pattern %s is not a JSON object: %v", name, p, err)
		}
		patterns = append(patterns, v)
	}
	// The filter criteria must pass exactly the records notify.Wants does,
	// for every kind of write.
	for _, rec := range sampleRecords(t) {
		b, err := json.Marshal(rec)
		if err != nil {
			t.Fatal(err)
		}
		var doc map[string]any
		json.Unmarshal(b, &doc)
		passes := slices.ContainsFunc(patterns, func(p map[string]any) bool { return matches(p, doc) })
		if want := notify.Wants(rec); passes != want {
			t.Errorf("%s: %s of a %q write: the filter criteria pass it: %v; notify.Wants: %v",
				name, rec.EventName, rec.Change.NewImage["change"].String(), passes, want)
		}
	}
}

// sampleRecords are stream records of every kind of write.
func sampleRecords(t *testing.T) []events.DynamoDBEventRecord {
	var out []events.DynamoDBEventRecord
	c := longrun.NewConfiguration("o", longrun.Draft{Name: "n", Spec: juliaset.Params{Zoom: 1, Width: 16, Height: 16, Depth: 1, Colormap: "magma"}}, nil, time.Now())
	old, err := attr.StreamImage(c)
	if err != nil {
		t.Fatal(err)
	}
	out = append(out, events.DynamoDBEventRecord{EventName: "REMOVE", Change: events.DynamoDBStreamRecord{OldImage: old}})
	for _, change := range []string{longrun.ChangeStatus, longrun.ChangeProgress, longrun.ChangeEdit, "tile", "", "something-else"} {
		c.Change = change
		img, err := attr.StreamImage(c)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out,
			events.DynamoDBEventRecord{EventName: "INSERT", Change: events.DynamoDBStreamRecord{NewImage: img}},
			events.DynamoDBEventRecord{EventName: "MODIFY", Change: events.DynamoDBStreamRecord{OldImage: old, NewImage: img}})
	}
	return out
}

// matches applies a Lambda event filter pattern of the kinds template.yaml
// uses: nested objects whose leaves list the values allowed.
func matches(pattern, doc map[string]any) bool {
	for k, want := range pattern {
		got, ok := doc[k]
		if !ok {
			return false
		}
		switch want := want.(type) {
		case map[string]any:
			sub, ok := got.(map[string]any)
			if !ok || !matches(want, sub) {
				return false
			}
		case []any:
			if !slices.Contains(want, got) {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// A KMS key policy is the exception: its Resource "*" is the key itself,
// and the account administers its own key; the service grant in it is
// checked to be narrow.
func TestNoPolicyGrantsEverything(t *testing.T) {
	root := load(t)
	res := Get(root, "Resources")
	for _, id := range keys(res) {
		if Get(res, id, "Type").Value != "AWS::KMS::Key" {
			continue
		}
		for _, st := range Get(res, id, "Properties", "KeyPolicy", "Statement").Content {
			if Get(st, "Principal", "Service") != nil && Get(st, "Action").Kind != yaml.SequenceNode {
				t.Errorf("%s: a service may do more than use the key", id)
			}
		}
		Get(res, id, "Properties").Content = nil // its statements are not IAM policies
	}
	walk(root, func(n *yaml.Node) {
		for _, key := range []string{"Resource", "Action"} {
			v := Get(n, key)
			if v == nil {
				continue
			}
			values := []*yaml.Node{v}
			if v.Kind == yaml.SequenceNode {
				values = v.Content
			}
			effect := Get(n, "Effect")
			for _, x := range values {
				if (x.Value == "*" || (key == "Action" && strings.HasSuffix(x.Value, ":*"))) && (effect == nil || effect.Value == "Allow") {
					t.Errorf("line %d: %s %q in an Allow", x.Line, key, x.Value)
				}
			}
		}
	})
}

func TestDataIsProtected(t *testing.T) {
	root := load(t)
	res := Get(root, "Resources")
	for _, table := range []string{"ConfigurationsTable", "ResultsTable", "ConnectionsTable"} {
		p := Get(res, table, "Properties")
		if v := Get(p, "BillingMode"); v == nil || v.Value != "PAY_PER_REQUEST" {
			t.Errorf("%s: not on demand", table)
		}
		if v := Get(p, "PointInTimeRecoverySpecification", "PointInTimeRecoveryEnabled"); v == nil || v.Value != "true" {
			t.Errorf("%s: no point-in-time recovery", table)
		}
	}
	if v := Get(res, "ConfigurationsTable", "Properties", "StreamSpecification", "StreamViewType"); v == nil || v.Value != "NEW_AND_OLD_IMAGES" {
		t.Errorf("configurations stream: want NEW_AND_OLD_IMAGES")
	}
	for _, table := range []string{"ResultsTable", "ConnectionsTable"} {
		if v := Get(res, table, "Properties", "TimeToLiveSpecification", "AttributeName"); v == nil || v.Value != "expiresAt" {
			t.Errorf("%s: no TTL on expiresAt", table)
		}
	}
	bucket := Get(res, "ImageBucket", "Properties")
	if Get(bucket, "BucketEncryption") == nil || Get(bucket, "PublicAccessBlockConfiguration", "RestrictPublicBuckets") == nil {
		t.Errorf("image bucket: want encryption and every public access blocked")
	}
	if Get(bucket, "LifecycleConfiguration") == nil {
		t.Errorf("image bucket: no lifecycle")
	}
	for _, lg := range []string{"ApiLogs", "RenderLogs", "NotifyLogs", "HttpApiAccessLogs", "WebSocketAccessLogGroup"} {
		if Get(res, lg, "Properties", "RetentionInDays") == nil {
			t.Errorf("%s: no retention", lg)
		}
	}
	// goformation does not know the SAM HttpApi's AccessLogSettings, so
	// they are read here (TestTemplateParses drops them).
	if Get(res, "HttpApi", "Properties", "AccessLogSettings", "Format") == nil {
		t.Errorf("HttpApi: no access logs")
	}
	// The WebSocket stage's, where switched on (TestDeploysOnAFreshAccount).
	if ws := Get(res, "WebSocketStage", "Properties", "AccessLogSettings"); ws == nil || len(ws.Content) < 2 || Get(ws.Content[1], "Format") == nil {
		t.Errorf("WebSocketStage: no access logs to switch on")
	}
}

// Every create counts the owner's configurations (the quotas) from an
// index: it must hold keys only, owner then status, so that a count reads
// about a hundred bytes an item and not the records; and the API function
// may query it.
func TestQuotaCountsReadAKeysOnlyIndex(t *testing.T) {
	res := Get(load(t), "Resources")
	var found bool
	for _, gsi := range Get(res, "ConfigurationsTable", "Properties", "GlobalSecondaryIndexes").Content {
		if v := Get(gsi, "IndexName"); v == nil || v.Value != dynamo.OwnerStatusIndex {
			continue
		}
		found = true
		if v := Get(gsi, "Projection", "ProjectionType"); v == nil || v.Value != "KEYS_ONLY" {
			t.Errorf("%s: want a KEYS_ONLY projection", dynamo.OwnerStatusIndex)
		}
		var keys []string
		for _, k := range Get(gsi, "KeySchema").Content {
			keys = append(keys, Get(k, "AttributeName").Value+" "+Get(k, "KeyType").Value)
		}
		if want := []string{"owner HASH", "status RANGE"}; !slices.Equal(keys, want) {
			t.Errorf("%s keys %v, want %v", dynamo.OwnerStatusIndex, keys, want)
		}
	}
	if !found {
		t.Fatalf("ConfigurationsTable has no index %s", dynamo.OwnerStatusIndex)
	}
	var allowed bool
	walk(Get(res, "ApiFunction", "Properties", "Policies"), func(n *yaml.Node) {
		allowed = allowed || strings.HasSuffix(n.Value, "/index/"+dynamo.OwnerStatusIndex)
	})
	if !allowed {
		t.Errorf("ApiFunction may not query %s", dynamo.OwnerStatusIndex)
	}
}

// cloudWatch lists the AWS metrics the alarms and dashboard may use: the
// services publish them on their own.
var cloudWatch = map[string][]string{
	"AWS/SQS":        {"ApproximateNumberOfMessagesVisible", "ApproximateAgeOfOldestMessage"},
	"AWS/Lambda":     {"Errors", "Invocations", "IteratorAge", "Throttles", "Duration"},
	"AWS/SES":        {"Reputation.BounceRate", "Reputation.ComplaintRate"},
	"AWS/ApiGateway": {"Count", "5xx", "4xx", "Latency"},
	emf.Namespace:    emf.Names(),
}

func metricExists(namespace, name string) bool { return slices.Contains(cloudWatch[namespace], name) }

func TestAlarmsWatchMetricsThatExist(t *testing.T) {
	root := load(t)
	res := Get(root, "Resources")
	alarms := 0
	for _, id := range keys(res) {
		r := Get(res, id)
		if Get(r, "Type").Value != "AWS::CloudWatch::Alarm" {
			continue
		}
		alarms++
		p := Get(r, "Properties")
		var pairs [][2]string
		dims := map[[2]string]bool{} // metrics named with their dimensions
		if ns := Get(p, "Namespace"); ns != nil {
			pair := [2]string{ns.Value, Get(p, "MetricName").Value}
			pairs, dims[pair] = append(pairs, pair), Get(p, "Dimensions") != nil
		}
		if ms := Get(p, "Metrics"); ms != nil {
			for _, m := range ms.Content {
				if metric := Get(m, "MetricStat", "Metric"); metric != nil {
					pair := [2]string{Get(metric, "Namespace").Value, Get(metric, "MetricName").Value}
					pairs, dims[pair] = append(pairs, pair), Get(metric, "Dimensions") != nil
				}
			}
		}
		if len(pairs) == 0 {
			t.Errorf("%s watches no metric", id)
		}
		for _, pair := range pairs {
			if !metricExists(pair[0], pair[1]) {
				t.Errorf("%s watches %s %s, which nothing publishes", id, pair[0], pair[1])
			}
			if pair[0] == emf.Namespace && !dims[pair] {
				t.Errorf("%s: EMF metrics carry a Function dimension; the alarm must name it", id)
			}
		}
		if a := Get(p, "AlarmActions"); a == nil || len(a.Content) == 0 || a.Content[0].Value != "AlarmTopic" {
			t.Errorf("%s does not notify the alarm topic", id)
		}
	}
	if alarms < 5 {
		t.Errorf("%d alarms, want at least DLQ depth, render errors, oldest job, iterator age and API 5xx", alarms)
	}
	if Get(res, "AlarmTopic", "Properties", "Subscription") == nil {
		t.Errorf("the alarm topic has no e-mail subscriber")
	}
	for _, want := range []string{"StreamFailureAlarm", "NotifyFunctionErrorsAlarm", "BounceRateAlarm", "ComplaintRateAlarm"} {
		if Get(res, want) == nil {
			t.Errorf("no %s", want)
		}
	}
}

// An error alarm watches a rate over more than one data point: one failed
// delivery among thousands is no page at night.
func TestErrorAlarmsWatchRates(t *testing.T) {
	res := Get(load(t), "Resources")
	for _, id := range keys(res) {
		p := Get(res, id, "Properties")
		if Get(res, id, "Type").Value != "AWS::CloudWatch::Alarm" || !strings.Contains(id, "Errors") {
			continue
		}
		rate := false
		if ms := Get(p, "Metrics"); ms != nil {
			for _, m := range ms.Content {
				if e := Get(m, "Expression"); e != nil && strings.Contains(e.Value, "/") {
					rate = true
				}
			}
		}
		if n := Get(p, "DatapointsToAlarm"); !rate || n == nil || n.Value == "1" {
			t.Errorf("%s: want a rate over 2 or more data points", id)
		}
	}
}

// A failure rate divides by every attempt: when the denominator is a count
// of successes only, every render failing reads as 0% (no successes) and
// the alarm stays OK. Each rate's denominator either holds its numerator
// or counts attempts (Invocations, Count); a rate over requests has a
// minimum of requests, so one 5xx at night is not 100%.
func TestRatesDivideByEveryAttempt(t *testing.T) {
	res := Get(load(t), "Resources")
	attempts := []string{"Invocations", "Count"}
	rate := regexp.MustCompile(`100 \* (\w+) / (.+?), 0\)$`)
	for _, id := range keys(res) {
		ms := Get(res, id, "Properties", "Metrics")
		if Get(res, id, "Type").Value != "AWS::CloudWatch::Alarm" || ms == nil {
			continue
		}
		metric := map[string]string{}
		for _, m := range ms.Content {
			if n := Get(m, "MetricStat", "Metric", "MetricName"); n != nil {
				metric[Get(m, "Id").Value] = n.Value
			}
		}
		for _, m := range ms.Content {
			e := Get(m, "Expression")
			if e == nil || !strings.Contains(e.Value, "/") {
				continue
			}
			r := rate.FindStringSubmatch(e.Value)
			if r == nil {
				t.Errorf("%s: rate %q is not 100 * a / b", id, e.Value)
				continue
			}
			denominator := regexp.MustCompile(`[a-z]\w*`).FindAllString(r[2], -1)
			ok := slices.Contains(denominator, r[1])
			for _, d := range denominator {
				ok = ok || slices.Contains(attempts, metric[d])
			}
			if !ok {
				t.Errorf("%s: %q divides by successes only: every attempt failing reads 0%%", id, e.Value)
			}
			if metric[r[1]] == "5xx" && !regexp.MustCompile(`requests >= [1-9]\d`).MatchString(e.Value) {
				t.Errorf("%s: %q has no minimum of requests", id, e.Value)
			}
		}
	}
	// Throttles are watched on every function.
	th := Get(res, "ThrottlesAlarm", "Properties", "Metrics")
	seen := map[string]bool{}
	for _, m := range th.Content {
		if n := Get(m, "MetricStat", "Metric", "MetricName"); n != nil && n.Value == "Throttles" {
			seen[Get(m, "MetricStat", "Metric", "Dimensions").Content[0].Content[3].Value] = true
		}
	}
	for _, fn := range []string{"ApiFunction", "RenderFunction", "NotifyFunction"} {
		if !seen[fn] {
			t.Errorf("ThrottlesAlarm does not watch %s", fn)
		}
	}
}

// Every place a failure lands has an alarm: the jobs' dead-letter queue,
// the stream's on-failure queue, the mail retries' dead-letter queue and
// the bounce events' on-failure destination; and no two share a queue, so
// an alarm says which failed.
func TestEveryFailureQueueHasItsAlarm(t *testing.T) {
	res := Get(load(t), "Resources")
	watched := map[string]string{}
	for _, id := range keys(res) {
		if Get(res, id, "Type").Value != "AWS::CloudWatch::Alarm" || Get(res, id, "Properties", "MetricName") == nil ||
			Get(res, id, "Properties", "MetricName").Value != "ApproximateNumberOfMessagesVisible" {
			continue
		}
		q := Get(res, id, "Properties", "Dimensions").Content[0].Content[3].Value // !GetAtt Queue.QueueName
		watched[strings.TrimSuffix(q, ".QueueName")] = id
	}
	targets := map[string]string{
		"JobQueue's dead letters":       Get(res, "JobQueue", "Properties", "RedrivePolicy", "deadLetterTargetArn").Value,
		"MailRetryQueue's dead letters": Get(res, "MailRetryQueue", "Properties", "RedrivePolicy", "deadLetterTargetArn").Value,
		"the stream's failures":         Get(res, "NotifyFunction", "Properties", "Events", "Changes", "Properties", "DestinationConfig", "OnFailure", "Destination").Value,
		"SNS's failed invocations":      Get(res, "NotifyFunction", "Properties", "EventInvokeConfig", "DestinationConfig", "OnFailure", "Destination").Value,
	}
	used := map[string]string{}
	for what, arn := range targets {
		q := strings.TrimSuffix(arn, ".Arn")
		if watched[q] == "" {
			t.Errorf("%s land in %s, which no alarm watches", what, q)
		}
		if other, ok := used[q]; ok {
			t.Errorf("%s and %s share %s: its alarm cannot say which failed", what, other, q)
		}
		used[q] = what
	}
}

// CloudWatch can publish to the alarm topic only if its key lets it:
// alias/aws/sns does not.
func TestAlarmsCanReachTheTopic(t *testing.T) {
	res := Get(load(t), "Resources")
	for _, topic := range []string{"AlarmTopic", "MailEventsTopic"} {
		k := Get(res, topic, "Properties", "KmsMasterKeyId")
		if k == nil || strings.HasPrefix(k.Value, "alias/aws/") || k.Tag != "!Ref" {
			t.Fatalf("%s is encrypted with %v, not the template's own key", topic, k)
		}
		policy, _ := yaml.Marshal(Get(res, k.Value, "Properties", "KeyPolicy"))
		for _, service := range []string{"cloudwatch.amazonaws.com", "ses.amazonaws.com"} {
			if !strings.Contains(string(policy), service) {
				t.Errorf("%s's key policy does not let %s use it", topic, service)
			}
		}
	}
}

// The stream source starts where the stream does, and the SES grant names
// the identity, address or domain.
func TestStreamStartsAtTheHorizonAndSESGrantsTheIdentity(t *testing.T) {
	res := Get(load(t), "Resources")
	if p := Get(res, "NotifyFunction", "Properties", "Events", "Changes", "Properties", "StartingPosition"); p == nil || p.Value != "TRIM_HORIZON" {
		t.Errorf("the stream starts at %v: records before the mapping would be lost", p)
	}
	policy, _ := yaml.Marshal(Get(res, "NotifyFunction", "Properties", "Policies"))
	if !strings.Contains(string(policy), "identity/${Domain}") || !strings.Contains(string(policy), "identity/${SenderEmail}") {
		t.Errorf("ses:SendEmail is not granted on both the address and its domain")
	}
}

func TestDashboardGraphsMetricsThatExist(t *testing.T) {
	body := Get(load(t), "Resources", "Dashboard", "Properties", "DashboardBody").Value
	body = regexp.MustCompile(`\$\{[^}]+\}`).ReplaceAllString(body, "x") // !Sub placeholders
	var dash struct {
		Widgets []struct {
			Properties struct {
				Title   string
				Metrics [][]any
			}
		}
	}
	if err := json.Unmarshal([]byte(body), &dash); err != nil {
		t.Fatalf("dashboard body is not JSON: %v", err)
	}
	n := 0
	for _, w := range dash.Widgets {
		for _, m := range w.Properties.Metrics {
			ns, _ := m[0].(string)
			name, _ := m[1].(string)
			n++
			if !metricExists(ns, name) {
				t.Errorf("widget %q graphs %s %s, which nothing publishes", w.Properties.Title, ns, name)
			}
		}
	}
	if n < 10 {
		t.Errorf("the dashboard graphs %d metrics; want the key ones", n)
	}
}

// Nothing scales without a bound: both API stages are throttled, and the
// render queue's event source (renders at once) and the mail retries'
// (two of the notify function's executions at most) have a maximum
// concurrency.
func TestCostIsBounded(t *testing.T) {
	root := load(t)
	res := Get(root, "Resources")
	params := Get(root, "Parameters")
	refParam := func(n *yaml.Node, what string) {
		t.Helper()
		if n == nil || n.Tag != "!Ref" || Get(params, n.Value) == nil {
			t.Errorf("%s is not set from a template parameter", what)
			return
		}
		if Get(params, n.Value, "Default") == nil {
			t.Errorf("%s: parameter %s has no default", what, n.Value)
		}
	}
	for _, stage := range []string{"HttpApi", "WebSocketStage"} {
		for _, k := range []string{"ThrottlingRateLimit", "ThrottlingBurstLimit"} {
			refParam(Get(res, stage, "Properties", "DefaultRouteSettings", k), stage+" "+k)
		}
	}
	refParam(Get(res, "RenderFunction", "Properties", "Events", "Jobs", "Properties", "ScalingConfig", "MaximumConcurrency"),
		"the job queue's maximum concurrency")
	if n := Get(res, "NotifyFunction", "Properties", "Events", "MailRetries", "Properties", "ScalingConfig", "MaximumConcurrency"); n == nil || n.Value != "2" {
		t.Errorf("the mail retries' event source: maximum concurrency %v, want 2 (the stream keeps the rest)", n)
	}
}

// condition evaluates a template condition with every parameter at its
// default: the stack a guided deploy makes when every question is
// answered with Enter.
func condition(t *testing.T, root *yaml.Node, n *yaml.Node) bool {
	t.Helper()
	value := func(n *yaml.Node) string {
		if n.Tag == "!Ref" {
			d := Get(root, "Parameters", n.Value, "Default")
			if d == nil {
				t.Fatalf("condition on %s, a parameter with no default", n.Value)
			}
			return d.Value
		}
		return n.Value
	}
	switch n.Tag {
	case "!Equals":
		return value(n.Content[0]) == value(n.Content[1])
	case "!Not":
		return !condition(t, root, n.Content[0])
	case "!And", "!Or":
		all, any := true, false
		for _, c := range n.Content {
			v := condition(t, root, c)
			all, any = all && v, any || v
		}
		return map[string]bool{"!And": all, "!Or": any}[n.Tag]
	case "!Condition":
		return condition(t, root, Get(root, "Conditions", n.Value))
	}
	t.Fatalf("condition %s %v: not understood", n.Tag, n.Value)
	return false
}

// option is what a property that may be switched off holds with the
// defaults: nil for absent or !Ref AWS::NoValue, else the node.
func option(t *testing.T, root, n *yaml.Node) *yaml.Node {
	if n != nil && n.Tag == "!If" {
		if condition(t, root, Get(root, "Conditions", n.Content[0].Value)) {
			n = n.Content[1]
		} else {
			n = n.Content[2]
		}
	}
	if n == nil || (n.Tag == "!Ref" && n.Value == "AWS::NoValue") {
		return nil
	}
	return n
}

// A new account deploys the stack as it ships (every parameter at its
// default): it has no API Gateway CloudWatch role, so no WebSocket or REST
// stage may log access by default; and its concurrency quota may be 10,
// so no function may reserve any by default. Each can be switched on, by a
// parameter whose condition is what switches it.
func TestDeploysOnAFreshAccount(t *testing.T) {
	root := load(t)
	res := Get(root, "Resources")
	for _, id := range keys(res) {
		typ := Get(res, id, "Type").Value
		p := Get(res, id, "Properties")
		switch typ {
		case "AWS::ApiGatewayV2::Stage", "AWS::ApiGateway::Stage":
			logs := Get(p, "AccessLogSettings")
			if typ == "AWS::ApiGateway::Stage" {
				logs = Get(p, "MethodSettings")
			}
			if option(t, root, logs) != nil {
				t.Errorf("%s logs access by default: a new account has no API Gateway CloudWatch role, and the deploy fails", id)
			}
			if logs != nil && logs.Tag != "!If" {
				t.Errorf("%s: access logs cannot be switched on", id)
			}
		case "AWS::Serverless::Function", "AWS::Lambda::Function":
			r := Get(p, "ReservedConcurrentExecutions")
			if option(t, root, r) != nil {
				t.Errorf("%s reserves concurrency by default: a new account's quota of 10 fails the deploy", id)
			}
			if r == nil || r.Tag != "!If" || Get(root, "Parameters", r.Content[1].Value) == nil {
				t.Errorf("%s: no parameter to reserve concurrency with", id)
			}
		}
	}
	// The log group of a stage's logs exists only with them.
	if c := Get(res, "WebSocketAccessLogGroup", "Condition"); c == nil || c.Value != Get(res, "WebSocketStage", "Properties", "AccessLogSettings").Content[0].Value {
		t.Errorf("WebSocketAccessLogGroup: made whether or not the stage logs")
	}
}

// Counts and tiles are far bigger than images (1 GiB of tiles for one
// 16384² poster) and only save renders: they live under prefixes of
// their own, which expire sooner than images, and uploads left incomplete
// are aborted.
func TestCountsAndTilesExpireOnTheirOwn(t *testing.T) {
	root := load(t)
	rules := Get(root, "Resources", "ImageBucket", "Properties", "LifecycleConfiguration", "Rules")
	byPrefix := map[string]*yaml.Node{}
	abort := false
	for _, r := range rules.Content {
		prefix := ""
		if p := Get(r, "Prefix"); p != nil {
			prefix = p.Value
		}
		byPrefix[prefix] = r
		abort = abort || Get(r, "AbortIncompleteMultipartUpload", "DaysAfterInitiation") != nil && prefix == ""
	}
	if !abort {
		t.Errorf("no rule aborts incomplete multipart uploads over the whole bucket")
	}
	if r := byPrefix[""]; r == nil || Get(r, "ExpirationInDays").Value != "ImageRetentionDays" {
		t.Errorf("images: want expiry after ImageRetentionDays")
	}
	for _, prefix := range longrun.KeyPrefixes {
		r := byPrefix[prefix]
		if r == nil {
			t.Errorf("no lifecycle rule for %s (longrun.KeyPrefixes)", prefix)
			continue
		}
		days := Get(r, "ExpirationInDays")
		d := Get(root, "Parameters", days.Value, "Default")
		img := Get(root, "Parameters", "ImageRetentionDays", "Default")
		if d == nil || img == nil || atoi(d.Value) >= atoi(img.Value) {
			t.Errorf("%s expire after %v days by default, want fewer than images", prefix, d)
		}
	}
	if !strings.HasPrefix(juliaset.CountsKey("h"), longrun.CountsPrefix) || !strings.HasPrefix(juliaset.TileKey("h", 512, 1), longrun.TilesPrefix) {
		t.Errorf("counts and tile keys are not under their prefixes: %s %s", juliaset.CountsKey("h"), juliaset.TileKey("h", 512, 1))
	}
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

// The session key is no environment variable (anyone who may read the
// function's configuration could forge sessions): the stack makes it in
// Secrets Manager, and the api function may read that secret.
func TestTheSessionKeyStaysSecret(t *testing.T) {
	root := load(t)
	res := Get(root, "Resources")
	if Get(root, "Parameters", "SessionKey") != nil {
		t.Errorf("the session key is a deploy parameter")
	}
	env := Get(res, "ApiFunction", "Properties", "Environment", "Variables")
	for _, vars := range []*yaml.Node{env, Get(root, "Globals", "Function", "Environment", "Variables")} {
		if k := Get(vars, "SESSION_KEY"); k != nil && k.Value != "" {
			t.Errorf("a session key is in the functions' environment")
		}
	}
	if v := Get(env, "SESSION_KEY_SECRET"); v == nil || v.Value != "SessionKeySecret" {
		t.Errorf("the api function is not told which secret holds the key")
	}
	if Get(res, "SessionKeySecret", "Properties", "GenerateSecretString") == nil {
		t.Errorf("the stack does not make the key")
	}
	policy, _ := yaml.Marshal(Get(res, "ApiFunction", "Properties", "Policies"))
	if !strings.Contains(string(policy), "secretsmanager:GetSecretValue") {
		t.Errorf("the api function may not read the key")
	}
}

// infra/env-vars.json gives sam local every variable the template
// declares for each function, pointed at the servers make run-aws-local
// starts, and names the resources longrun-aws-local creates.
func TestEnvVarsCoverEveryFunction(t *testing.T) {
	root := load(t)
	b, err := os.ReadFile("env-vars.json")
	if err != nil {
		t.Fatal(err)
	}
	var vars map[string]map[string]string
	if err := json.Unmarshal(b, &vars); err != nil {
		t.Fatal(err)
	}
	globals := keys(Get(root, "Globals", "Function", "Environment", "Variables"))
	res := Get(root, "Resources")
	for _, fn := range []string{"ApiFunction", "RenderFunction", "NotifyFunction"} {
		if vars[fn] == nil {
			t.Errorf("no variables for %s", fn)
		}
		for _, name := range append(keys(Get(res, fn, "Properties", "Environment", "Variables")), globals...) {
			_, own := vars[fn][name]
			_, shared := vars["Parameters"][name]
			if !own && !shared {
				t.Errorf("%s: %s is not set for sam local", fn, name)
			}
		}
	}
	run, _ := os.ReadFile("localaws/run.sh")
	for name, want := range map[string]string{"AWS_ENDPOINT_URL_DYNAMODB": "DYNAMODB_PORT:-8000", "AWS_ENDPOINT_URL_SQS": "SQS_PORT:-4566",
		"AWS_ENDPOINT_URL_S3": "S3_PORT:-4569", "AWS_ENDPOINT_URL_SESV2": "SES_PORT:-8005"} {
		port := want[strings.Index(want, "-")+1:]
		if !strings.HasSuffix(vars["Parameters"][name], ":"+port) || !strings.Contains(string(run), want) {
			t.Errorf("%s = %s: not the port make run-aws-local starts it on by default (%s)", name, vars["Parameters"][name], port)
		}
	}
	for _, q := range []string{vars["ApiFunction"]["JOB_QUEUE_URL"], vars["NotifyFunction"]["MAIL_RETRY_QUEUE_URL"]} {
		if !strings.Contains(q, "/longrun-") {
			t.Errorf("queue %s is not one longrun-aws-local creates", q)
		}
	}
}

// cfn-lint checks the template with the SAM transform applied, as a
// deploy would see it, where it is installed (this kind of machine's
// python3 has it; CI requires it).
func TestCfnLintPasses(t *testing.T) {
	lint, err := exec.LookPath("cfn-lint")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("cfn-lint is not installed; CI needs it to check template.yaml")
		}
		t.Skip("cfn-lint is not installed: the template is not linted (pip install cfn-lint)")
	}
	out, err := exec.Command(lint, "--format", "parseable", "../template.yaml").CombinedOutput()
	if err != nil {
		t.Errorf("cfn-lint template.yaml: %v\n%s", err, out)
	}
}

// The sample SQS event names the configuration make run-aws-local keeps
// for it, so sam local invoke renders something.
func TestTheSampleJobNamesTheSampleConfiguration(t *testing.T) {
	b, err := os.ReadFile("events/render-sqs.json")
	if err != nil {
		t.Fatal(err)
	}
	var ev events.SQSEvent
	if err := json.Unmarshal(b, &ev); err != nil || len(ev.Records) != 1 {
		t.Fatalf("render-sqs.json: %v", err)
	}
	var job longrun.Job
	if err := json.Unmarshal([]byte(ev.Records[0].Body), &job); err != nil {
		t.Fatal(err)
	}
	c := Sample(time.Now())
	if job.ID != c.ID || job.Version != c.Version || job.Hash != c.ParamsHash {
		t.Errorf("render-sqs.json's job %+v; the sample configuration is %s, version %d, hash %s", job, c.ID, c.Version, c.ParamsHash)
	}
}
