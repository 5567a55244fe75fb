package functions

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"golang.org/x/tools/go/callgraph"
	"golang.org/x/tools/go/callgraph/cha"
	"golang.org/x/tools/go/callgraph/vta"
	"golang.org/x/tools/go/packages"
	"golang.org/x/tools/go/ssa"
	"golang.org/x/tools/go/ssa/ssautil"

	"github.com/longrun/longrun/aws/awscalls"
	"github.com/longrun/longrun/aws/awstest"
)

// Every AWS permission the functions use is granted, and no more. No local
// server enforces IAM, so a missing grant passes every other test and
// fails on AWS (it happened: sqs:ChangeMessageVisibility, which the retry
// backoff needs, and s3:ListBucket, without which S3 answers 403 instead of
// 404 for a missing key). The proof has three parts:
//
//   - what each binary can call: the SDK operations reachable from its main
//     (rapid type analysis over the program, interface calls included);
//   - what it calls, on which resources: the operations the binaries
//     performed under the Runtime Interface Emulator
//     (TestBootstrapsUnderTheRuntimeEmulator records them with
//     awscalls), plus the few reachable ones that test does not drive,
//     listed in notExercised with what they touch;
//   - what it may do: the roles of template.yaml as the SAM translator
//     expands them for sam deploy (its inline statements, and the managed
//     policies it attaches, whose actions are in AWS's documentation).
//
// Each needed (action, resource) must be granted, each granted one needed
// by some binary (the event-source policies SAM attaches excepted: those
// serve Lambda's pollers), and every reachable operation accounted for.

// role is a function's role: its grants, each an action on a resource
// named by the template's logical id ("ImageBucket/*", "ConfigurationsTable/index/byOwner").
type role struct {
	inline  []grant  // the template's own statements
	service []grant  // what SAM adds for Lambda itself (its on-failure destinations)
	managed []string // policy names
}

type grant struct{ action, resource string }

func (g grant) String() string { return g.action + " on " + g.resource }

// managedPolicies are the actions of the AWS managed policies SAM attaches,
// from AWS's documentation (AWS managed policies reference guide); each
// grants them on every resource.
var managedPolicies = map[string][]string{
	// Attached when Tracing is xray: the OTLP endpoint's spans are
	// authorized as PutTraceSegments.
	"AWSXrayWriteOnlyAccess": {"xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules", "xray:GetSamplingTargets",
		"xray:GetSamplingStatisticSummaries"},
	"AWSLambdaBasicExecutionRole":    {"logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"},
	"AWSLambdaSQSQueueExecutionRole": {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"},
	"AWSLambdaDynamoDBExecutionRole": {"dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams", "logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"},
}

// notExercised are the operations a binary can perform that the emulator
// test does not drive, with what each needs; each is checked to be
// reachable still, so the list cannot go stale.
var notExercised = map[string]map[string][]grant{
	"api": {
		"S3:PresignGetObject": {{"s3:GetObject", "ImageBucket/*"}}, // a URL the browser fetches with the role's signature
		// A result whose image is gone heals: the 404 that says so needs ListBucket.
		"S3:HeadObject":       {{"s3:GetObject", "ImageBucket/*"}, {"s3:ListBucket", "ImageBucket"}},
		"DynamoDB:UpdateItem": {{"dynamodb:UpdateItem", "ResultsTable"}}, // rate-limit counters
		"DynamoDB:DeleteItem": {{"dynamodb:DeleteItem", "ResultsTable"}}, // a result whose image is gone
	},
	"render": {
		"S3:CreateMultipartUpload":   {{"s3:PutObject", "ImageBucket/*"}}, // a poster streamed up by multipart upload
		"S3:UploadPart":              {{"s3:PutObject", "ImageBucket/*"}},
		"S3:CompleteMultipartUpload": {{"s3:PutObject", "ImageBucket/*"}},
		"S3:AbortMultipartUpload":    {{"s3:AbortMultipartUpload", "ImageBucket/*"}},
		"S3:HeadObject":              {{"s3:GetObject", "ImageBucket/*"}, {"s3:ListBucket", "ImageBucket"}},
		"SQS:SendMessageBatch":       {{"sqs:SendMessage", "JobQueue"}}, // a poster's tile jobs
		"SQS:SendMessage":            {{"sqs:SendMessage", "JobQueue"}}, // a job back while another renders its parameters; an assembly
		"DynamoDB:DeleteItem":        {{"dynamodb:DeleteItem", "ResultsTable"}},
		// An owner's counter made from the index, for an owner from before
		// counters were kept.
		"DynamoDB:Query":      {{"dynamodb:Query", "ConfigurationsTable/index/byOwnerStatus"}},
		"DynamoDB:UpdateItem": {{"dynamodb:UpdateItem", "ResultsTable"}}, // a tile marked in its version's ledger
	},
	"notify": {
		"SQS:SendMessage":     {{"sqs:SendMessage", "MailRetryQueue"}},                                                // a failed e-mail, to be tried again
		"DynamoDB:DeleteItem": {{"dynamodb:DeleteItem", "ConnectionsTable"}, {"dynamodb:DeleteItem", "ResultsTable"}}, // a gone connection; a send undone
		"DynamoDB:UpdateItem": {{"dynamodb:UpdateItem", "ResultsTable"}},
		// A failed e-mail recorded on its configuration.
		"DynamoDB:GetItem": {{"dynamodb:GetItem", "ConfigurationsTable"}},
		"DynamoDB:PutItem": {{"dynamodb:PutItem", "ConfigurationsTable"}},
		// A push to an open page (the test's pages connect after its e-mail).
		"ApiGatewayManagementApi:PostToConnection": {{"execute-api:ManageConnections", "WebSocketApi/@connections"}},
	},
}

// credentialServices are the SDK clients the credential chain can reach
// (web identity, SSO, console sign-in): on Lambda the credentials come from
// the environment, so none of them is called.
var credentialServices = []string{"sts", "sso", "ssooidc", "signin"}

// sdkPlumbing are operations the SDK itself may call for features longrun
// does not use: DynamoDB endpoint discovery (off unless enabled) and S3
// Express One Zone sessions (directory buckets only).
var sdkPlumbing = []string{"DynamoDB:DescribeEndpoints", "S3:CreateSession"}

// reachable returns, for each binary, the SDK operations reachable from its
// main, as "Service:Operation" with the SDK's service ids.
func reachable(t *testing.T) map[string][]string {
	t.Helper()
	cfg := &packages.Config{Mode: packages.LoadAllSyntax, Dir: ".", BuildFlags: []string{"-tags", "lambda.norpc"},
		Env: append(os.Environ(), "GOOS=linux", "CGO_ENABLED=0")}
	pkgs, err := packages.Load(cfg, "./api", "./render", "./notify")
	if err != nil {
		t.Fatal(err)
	}
	if packages.PrintErrors(pkgs) > 0 {
		t.Fatal("the functions do not load")
	}
	prog, ssaPkgs := ssautil.AllPackages(pkgs, ssa.InstantiateGenerics)
	prog.Build()
	// Variable type analysis refines the class hierarchy's call graph: an
	// interface call reaches only the types that can flow to it (the
	// SDK's transfer manager's calls of its S3 client included), and
	// nothing is reachable by reflection alone.
	all := ssautil.AllFunctions(prog)
	graph := vta.CallGraph(all, cha.CallGraph(prog))
	serviceIDs := map[string]string{"dynamodb": "DynamoDB", "dynamodbstreams": "DynamoDB Streams", "sqs": "SQS", "s3": "S3",
		"sesv2": "SESv2", "secretsmanager": "Secrets Manager", "apigatewaymanagementapi": "ApiGatewayManagementApi"}
	client := regexp.MustCompile(`^\(\*github\.com/aws/aws-sdk-go-v2/service/(\w+)\.(Client|PresignClient)\)\.(\w+)$`)
	out := map[string][]string{}
	for _, p := range ssaPkgs {
		if p.Func("main") == nil {
			t.Fatalf("%s has no main", p.Pkg.Path())
		}
		// Every function of the main package is a root: lambda.Start calls
		// the handler by reflection, which no call graph follows.
		var roots []*ssa.Function
		for fn := range all {
			if fn.Pkg == p {
				roots = append(roots, fn)
			}
		}
		ops := map[string]bool{}
		for fn := range reachableFrom(graph, roots...) {
			m := client.FindStringSubmatch(fn.String())
			if m == nil || slices.Contains(credentialServices, m[1]) || m[3] == "Options" {
				continue
			}
			id, ok := serviceIDs[m[1]]
			if !ok {
				t.Errorf("%s can call %s, a service this test does not map to IAM", path.Base(p.Pkg.Path()), fn)
				continue
			}
			// Unexported methods are the SDK's plumbing (invokeOperation…).
			if m[3][0] >= 'A' && m[3][0] <= 'Z' && !slices.Contains(sdkPlumbing, id+":"+m[3]) {
				ops[id+":"+m[3]] = true
			}
		}
		for op := range ops {
			out[path.Base(p.Pkg.Path())] = append(out[path.Base(p.Pkg.Path())], op)
		}
		sort.Strings(out[path.Base(p.Pkg.Path())])
	}
	return out
}

// reachableFrom returns the functions the graph reaches from roots, and
// from every function made a value in what it reaches (a closure, a
// method value, a function passed along): such a value may be called
// through reflection (lambda.Start calls its handler so), which no call
// graph follows.
func reachableFrom(g *callgraph.Graph, roots ...*ssa.Function) map[*ssa.Function]bool {
	seen := map[*ssa.Function]bool{}
	var visit func(*ssa.Function)
	visit = func(fn *ssa.Function) {
		if fn == nil || seen[fn] {
			return
		}
		seen[fn] = true
		// sync.Once and its kin call whatever any caller handed them: the
		// analysis, blind to which, would join every such function of
		// the program (net/http's HTTP/2 set-up, and through it every
		// route, reached from the render function). The funcs handed to
		// them are reached where they are made.
		if fn.Pkg != nil && fn.Pkg.Pkg.Path() == "sync" {
			return
		}
		if n := g.Nodes[fn]; n != nil {
			for _, e := range n.Out {
				visit(e.Callee.Func)
			}
		}
		for _, b := range fn.Blocks {
			for _, instr := range b.Instrs {
				if mc, ok := instr.(*ssa.MakeClosure); ok {
					visit(mc.Fn.(*ssa.Function))
				}
				var ops []*ssa.Value
				if call, ok := instr.(ssa.CallInstruction); ok {
					for i := range call.Common().Args {
						ops = append(ops, &call.Common().Args[i])
					}
				} else {
					ops = instr.Operands(nil)
				}
				for _, op := range ops {
					if f, ok := (*op).(*ssa.Function); ok {
						visit(f)
					}
				}
			}
		}
	}
	for _, r := range roots {
		visit(r)
	}
	return seen
}

// needs maps one recorded call to the IAM actions it needs, on resources
// named by logical id (names: a resource's name or URL → its logical id).
func needs(c awscalls.Call, names map[string]string) ([]grant, error) {
	var out []grant
	res := func(prefix string) []string {
		var r []string
		for _, s := range c.Resources {
			if v, ok := strings.CutPrefix(s, prefix); ok {
				r = append(r, v)
			}
		}
		return r
	}
	name := func(n string) string {
		if id, ok := names[n]; ok {
			return id
		}
		return "unknown(" + n + ")"
	}
	switch c.Service {
	case "DynamoDB":
		if c.Operation == "TransactWriteItems" {
			for kind, action := range map[string]string{"put:": "PutItem", "update:": "UpdateItem", "delete:": "DeleteItem", "check:": "ConditionCheckItem"} {
				for _, tb := range res(kind) {
					out = append(out, grant{"dynamodb:" + action, name(tb)})
				}
			}
			break
		}
		ix := res("index:")
		for _, tb := range res("table:") {
			if len(ix) > 0 {
				table, index, _ := strings.Cut(ix[0], "/")
				out = append(out, grant{"dynamodb:" + c.Operation, name(table) + "/index/" + index})
				continue
			}
			out = append(out, grant{"dynamodb:" + c.Operation, name(tb)})
		}
	case "SQS":
		action := map[string]string{"SendMessage": "SendMessage", "SendMessageBatch": "SendMessage", "ChangeMessageVisibility": "ChangeMessageVisibility",
			"ChangeMessageVisibilityBatch": "ChangeMessageVisibility", "ReceiveMessage": "ReceiveMessage", "DeleteMessage": "DeleteMessage"}[c.Operation]
		if action == "" {
			return nil, fmt.Errorf("SQS %s: not mapped to IAM", c.Operation)
		}
		for _, q := range res("queue:") {
			out = append(out, grant{"sqs:" + action, name(q)})
		}
	case "S3":
		action := map[string]string{"PutObject": "PutObject", "CreateMultipartUpload": "PutObject", "UploadPart": "PutObject",
			"CompleteMultipartUpload": "PutObject", "AbortMultipartUpload": "AbortMultipartUpload", "GetObject": "GetObject",
			"HeadObject": "GetObject"}[c.Operation]
		if action == "" {
			return nil, fmt.Errorf("S3 %s: not mapped to IAM", c.Operation)
		}
		for _, b := range res("bucket:") {
			out = append(out, grant{"s3:" + action, name(b) + "/*"})
			// A missing key is a 404 only for a role that may list the bucket.
			if (action == "GetObject") && c.Code != "NoSuchBucket" && (c.Status == 404 || c.Code == "NoSuchKey" || c.Code == "NotFound") {
				out = append(out, grant{"s3:ListBucket", name(b)})
			}
		}
	case "SESv2":
		if c.Operation != "SendEmail" {
			return nil, fmt.Errorf("SESv2 %s: not mapped to IAM", c.Operation)
		}
		out = append(out, grant{"ses:SendEmail", "identity"})
		if len(res("configuration-set:")) > 0 {
			out = append(out, grant{"ses:SendEmail", "configuration-set"})
		}
	case "Secrets Manager":
		for _, s := range res("secret:") {
			out = append(out, grant{"secretsmanager:" + c.Operation, name(s)})
		}
	case "ApiGatewayManagementApi":
		out = append(out, grant{"execute-api:ManageConnections", "WebSocketApi/@connections"})
	default:
		return nil, fmt.Errorf("%s %s: a service this test does not map to IAM", c.Service, c.Operation)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s %s on %v: no resource to grant it on", c.Service, c.Operation, c.Resources)
	}
	return out, nil
}

// roles returns each function's role from template.yaml, transformed by
// the SAM translator as sam deploy transforms it.
func roles(t *testing.T) map[string]role {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err == nil {
		err = exec.Command(py, "-c", "import samtranslator").Run()
	}
	if err != nil {
		msg := "the SAM translator (python3's samtranslator) is not installed: the roles are not checked"
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	cmd := exec.Command(py, "-c", samTransform, filepath.Join(awstest.Root(), "template.yaml"))
	cmd.Env = append(os.Environ(), "AWS_DEFAULT_REGION=us-east-1")
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("the SAM translator: %v\n%s", err, stderr)
	}
	var tpl struct {
		Resources map[string]struct {
			Type       string
			Properties json.RawMessage
		}
	}
	if err := json.Unmarshal(out, &tpl); err != nil {
		t.Fatal(err)
	}
	roles := map[string]role{}
	for id, r := range tpl.Resources {
		if r.Type != "AWS::IAM::Role" {
			continue
		}
		var p struct {
			ManagedPolicyArns []json.RawMessage
			Policies          []struct {
				PolicyName     string
				PolicyDocument struct{ Statement []json.RawMessage }
			}
		}
		if err := json.Unmarshal(r.Properties, &p); err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		var ro role
		for _, raw := range p.ManagedPolicyArns {
			name := path.Base(policyARN(t, raw))
			if _, ok := managedPolicies[name]; !ok {
				t.Errorf("%s attaches %s, whose actions this test does not know", id, name)
			}
			ro.managed = append(ro.managed, name)
		}
		for _, pol := range p.Policies {
			// The template's own policies are <Function>RolePolicy<N>;
			// SAM names the ones it adds for event destinations otherwise.
			ours := regexp.MustCompile(`RolePolicy\d+$`).MatchString(pol.PolicyName)
			for _, st := range statements(t, pol.PolicyDocument.Statement) {
				if st.Effect != "Allow" {
					continue
				}
				for _, a := range list(st.Action) {
					for _, res := range list(st.Resource) {
						if ours {
							ro.inline = append(ro.inline, grant{a.(string), logical(t, res)})
						} else {
							ro.service = append(ro.service, grant{a.(string), logical(t, res)})
						}
					}
				}
			}
		}
		roles[strings.TrimSuffix(id, "Role")] = ro
	}
	return roles
}

// policyARN reads a managed policy's ARN: a string, a Fn::Sub of one, or
// one under a condition (Fn::If, the template's TraceToXRay), taken as
// attached.
func policyARN(t *testing.T, raw json.RawMessage) string {
	var v struct {
		If  []json.RawMessage `json:"Fn::If"`
		Sub string            `json:"Fn::Sub"`
	}
	var arn string
	if json.Unmarshal(raw, &arn) == nil {
		return arn
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("a managed policy %s: %v", raw, err)
	}
	if len(v.If) == 3 {
		return policyARN(t, v.If[1])
	}
	return v.Sub
}

type statement struct {
	Effect   string
	Action   any
	Resource any
}

// statements decodes a policy's statements; one under a condition
// (Fn::If, the template's HasWebhooks) is taken as granted, as the
// emulator test runs with what it serves.
func statements(t *testing.T, raw []json.RawMessage) []statement {
	var out []statement
	for _, r := range raw {
		var cond struct {
			If []json.RawMessage `json:"Fn::If"`
		}
		if json.Unmarshal(r, &cond) == nil && len(cond.If) == 3 {
			r = cond.If[1]
		}
		var st statement
		if err := json.Unmarshal(r, &st); err != nil {
			t.Fatalf("a statement %s: %v", r, err)
		}
		out = append(out, st)
	}
	return out
}

// samTransform prints template.yaml as sam deploy makes it: the code where
// sam package would have put it, the parameters without defaults filled.
const samTransform = `
import json, sys
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse
class NoManagedPolicyNames:
    def load(self): return {}
t = yaml_parse(open(sys.argv[1]).read())
t["Globals"]["Function"]["CodeUri"] = "s3://packaged/code.zip"
json.dump(transform(t, {"SenderEmail": "longrun@example.com", "AlarmEmail": "ops@example.com"}, NoManagedPolicyNames()), sys.stdout)
`

func list(v any) []any {
	if l, ok := v.([]any); ok {
		return l
	}
	return []any{v}
}

// logical names a statement's resource by the template's logical ids:
// {"Fn::GetAtt": ["X", "Arn"]} is X, "${X.Arn}/index/I" is X/index/I, an
// SES identity or configuration set and the WebSocket API's connections by
// what they are.
func logical(t *testing.T, res any) string {
	switch r := res.(type) {
	case string:
		if r == "*" {
			return "*"
		}
	case map[string]any:
		if g, ok := r["Fn::GetAtt"].([]any); ok && len(g) == 2 && g[1] == "Arn" {
			return g[0].(string)
		}
		if ref, ok := r["Ref"].(string); ok {
			return ref
		}
		if sub, ok := r["Fn::Sub"]; ok {
			s, _ := sub.(string)
			if l, ok := sub.([]any); ok {
				s, _ = l[0].(string)
			}
			switch {
			case strings.Contains(s, ":ses:") && strings.Contains(s, ":identity/"):
				return "identity"
			case strings.Contains(s, ":ses:") && strings.Contains(s, ":configuration-set/"):
				return "configuration-set"
			case strings.Contains(s, ":execute-api:") && strings.Contains(s, "/@connections/"):
				return "WebSocketApi/@connections"
			}
			if m := regexp.MustCompile(`^\$\{(\w+)\.Arn\}(.*)$`).FindStringSubmatch(s); m != nil {
				return m[1] + m[2]
			}
		}
	}
	t.Errorf("a role's resource %v: not understood", res)
	return fmt.Sprint(res)
}

// allows reports whether the role grants g.
func (r role) allows(g grant) bool {
	for _, m := range r.managed {
		if slices.Contains(managedPolicies[m], g.action) {
			return true
		}
	}
	return slices.Contains(r.inline, g) || slices.Contains(r.service, g)
}

func readCalls(t *testing.T, file string) []awscalls.Call {
	t.Helper()
	f, err := os.Open(file)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var calls []awscalls.Call
	s := bufio.NewScanner(f)
	for s.Scan() {
		var c awscalls.Call
		if err := json.Unmarshal(s.Bytes(), &c); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		calls = append(calls, c)
	}
	return calls
}

// checkPermissions compares what the binaries did (calls, by binary) and
// can do with their roles. names maps the resources' names and URLs in
// the test to the template's logical ids.
func checkPermissions(t *testing.T, calls map[string][]awscalls.Call, names map[string]string) {
	t.Helper()
	ops := reachable(t)
	rs := roles(t)
	functions := map[string]string{"api": "ApiFunction", "render": "RenderFunction", "notify": "NotifyFunction"}
	used := map[string]map[grant]bool{}
	for bin, fn := range functions {
		r, ok := rs[fn]
		if !ok {
			t.Fatalf("no role for %s in the transformed template", fn)
		}
		used[fn] = map[grant]bool{}
		need := func(g grant, why string) {
			used[fn][g] = true
			if !r.allows(g) {
				t.Errorf("%s needs %s (%s); its role does not grant it", fn, g, why)
			}
		}
		performed := map[string]bool{}
		for _, c := range calls[bin] {
			op := c.Service + ":" + c.Operation
			performed[op] = true
			if !slices.Contains(ops[bin], op) {
				t.Errorf("%s performed %s, which the analysis finds unreachable from its main", bin, op)
			}
			gs, err := needs(c, names)
			if err != nil {
				t.Errorf("%s: %v", bin, err)
			}
			for _, g := range gs {
				need(g, "performed in the emulator test: "+op+fmt.Sprintf(" %v", c.Resources))
			}
		}
		for op, gs := range notExercised[bin] {
			if !slices.Contains(ops[bin], op) {
				t.Errorf("notExercised lists %s for %s, which it can no longer call", op, bin)
			}
			for _, g := range gs {
				need(g, "reachable, not driven by the emulator test: "+op)
			}
		}
		for _, op := range ops[bin] {
			_, listed := notExercised[bin][op]
			if !performed[op] && !listed {
				t.Errorf("%s can call %s, which neither the emulator test performed nor notExercised lists", bin, op)
			}
		}
		unused := 0
		for _, g := range r.inline {
			if !used[fn][g] {
				t.Errorf("%s's role grants %s, which no code of it needs", fn, g)
				unused++
			}
		}
		t.Logf("%s: %d operations reachable, %d performed in the emulator test; %d grants of its own, %d unused; for Lambda itself %v and %v",
			fn, len(ops[bin]), len(performed), len(r.inline), unused, r.service, r.managed)
	}
}
