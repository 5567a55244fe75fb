// Command longrun-cost estimates what longrun costs on AWS per 1,000 renders
// and per million renders a month, from render times measured here
// (make bench: BenchmarkJob), what template.yaml deploys (function memory,
// retention of images and of counts, alarms and the metrics they watch,
// the table's indexes), and public us-east-1 list prices, named below with
// their date. Every assumption it makes is printed under the table.
//
//	go run ./cmd/longrun-cost                    # the README's tables
//	go run ./cmd/longrun-cost -job512 20 -slowdown 2 -views 3
package main

import (
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/longrun/longrun/infra"
)

// Prices: AWS's public us-east-1 list prices as published in 2025 (Lambda
// arm64, HTTP and WebSocket APIs, SQS standard, DynamoDB on demand after the
// November 2024 cut, S3 Standard and data transfer out, SES outbound,
// CloudWatch Logs ingestion, custom metrics and alarms). Free tiers are left
// out: this is the price at scale.
const (
	pricesAsOf      = "2025"
	lambdaGBSecond  = 0.0000133334 // arm64
	lambdaRequest   = 0.20 / 1e6
	httpAPIRequest  = 1.00 / 1e6
	wsMessage       = 1.00 / 1e6 // per 32 KB message
	wsConnectionMin = 0.25 / 1e6
	sqsRequest      = 0.40 / 1e6
	dynamoWrite     = 0.625 / 1e6 // per write request unit (1 KB)
	dynamoRead      = 0.125 / 1e6 // per read request unit (4 KB, strongly consistent)
	s3Put           = 0.005 / 1000
	s3Get           = 0.0004 / 1000
	s3GBMonth       = 0.023
	egressGB        = 0.09 // data transfer out to the internet, first 10 TB
	sesEmail        = 0.10 / 1000
	logsGB          = 0.50 // ingestion; EMF metric lines are logs too
	metricMonth     = 0.30 // a custom metric (one name and set of dimensions), first 10,000
	secretMonth     = 0.40
	kmsKeyMonth     = 1.00
	alarmMetric     = 0.10 // a standard-resolution alarm, per metric it evaluates
	dashboardMonth  = 3.00
)

// Measured or assumed per render; each is printed with the table.
const (
	apiInvocationMs   = 15   // create, one GET, the image redirect (three invocations)
	notifyBatchMs     = 40   // a stream batch: pushes, maybe an e-mail
	sdkOverheadMs     = 60   // a job's DynamoDB and S3 calls, beside the render
	tileOverheadMs    = 50   // a tile's SQS, DynamoDB and S3 round trips
	logBytesPerRender = 6000 // JSON log lines and EMF lines of one render, all functions
	recordKB          = 2.0  // a configuration's record once it has history (up to 12 parameter sets)
	configWrites      = 5    // create, start, progress, finish, the e-mail's request mark
	statusWrites      = 3    // of them, those that change the status (queued, rendering, done)
	// Of them, the create and the finish change the owner's active count:
	// each is a TransactWriteItems of the record and the owner's counter,
	// and a transaction bills twice the units of its items.
	countedWrites    = 2
	recheckMs        = 20 // the outbox's copy of the job, dropped once its version is under way
	resultWrites     = 5  // result, lease, its release, two rate-limit counters
	configReads      = 8  // quota count, the worker's reads, each write's read
	resultReads      = 4  // dedup lookup, lease, sent mark, address
	pushesPerRender  = 4  // rendering, progress, done, and one connect
	apiRoutes        = 29 // web/routes.go's API routes, less the local runner's (live, the dev mailbox)
	statusesPerRoute = 3  // the statuses a route is seen answering in a month
	tileSide         = 512
	// A version's spans across the three functions, as the emulator test
	// counts them (104 for a version with an e-mail, a webhook and a
	// device; about 60 without), each stored as a JSON log event by
	// Transaction Search (aws/spans): about 1.5 KB, where its OTLP export
	// is 320 bytes.
	spansPerRender = 60
	spanBytes      = 1500
)

// A job is one kind of render and what goes with it.
type job struct {
	name            string
	renderMs        float64 // the whole render here (a tiled one: all its tiles)
	width, height   int
	pngBytes, email float64
}

// stack is what template.yaml deploys that the cost depends on.
type stack struct {
	renderGB, apiGB, notifyGB float64
	imageDays, countsDays     float64
	alarms, alarmMetrics      int
	ownerIndexAll             bool    // the byOwner index projects every attribute: each write is written twice
	traceRatio                float64 // the share of versions traced to X-Ray (0: Tracing off)
}

// traced is the cost of a render's spans in X-Ray at ratio, ingested as
// CloudWatch Logs; the 1% of them indexed as trace summaries is free.
func traced(ratio float64) float64 { return ratio * spansPerRender * spanBytes / 1e9 * logsGB }

// line is one part of a render's cost.
type line struct {
	name string
	cost float64
}

// cost is the AWS cost of one render, in dollars, by line.
func cost(j job, st stack, slowdown, views float64) []line {
	pixels := float64(j.width * j.height)
	tiles := 0.0
	if pixels > 4<<20 {
		tiles = math.Ceil(float64(j.width)/tileSide) * math.Ceil(float64(j.height)/tileSide)
	}
	countsBytes := 4 * pixels // 32-bit escape counts, kept for other colormaps (or as tiles)
	lambdaMs := j.renderMs*slowdown + sdkOverheadMs + tiles*tileOverheadMs + recheckMs
	invocations := 2 + tiles // the job and the outbox's copy
	if tiles > 0 {
		invocations++ // the assembly
	}
	gsi := 1.0
	if st.ownerIndexAll {
		gsi = 2
	}
	unitsPerWrite := math.Ceil(recordKB)
	dynamoWrites := configWrites*unitsPerWrite*gsi + statusWrites + resultWrites + countedWrites*(unitsPerWrite+2)
	// Each push numbered and kept an hour for a page that was away: the
	// owner's counter (one unit) and the update (a view, 2 KB).
	dynamoWrites += pushesPerRender * (1 + unitsPerWrite)
	dynamoReads := float64(configReads + resultReads + 1) // the recheck reads the record
	if tiles > 0 {
		// Per tile: a read of the configuration, one ledger update (the
		// item grows to about 4 KB: 2 units on average); a hundred
		// configuration writes and their reads in all.
		dynamoWrites += tiles*2 + 100*unitsPerWrite*gsi
		dynamoReads += tiles + 200
	}
	ls := []line{
		{"Lambda: render", lambdaMs/1000*st.renderGB*lambdaGBSecond + invocations*lambdaRequest},
		{"Lambda: api", 3 * (apiInvocationMs/1000*st.apiGB*lambdaGBSecond + lambdaRequest)},
		{"Lambda: notify", 3 * (notifyBatchMs/1000*st.notifyGB*lambdaGBSecond + lambdaRequest)},
		{"API Gateway", 3*httpAPIRequest + pushesPerRender*wsMessage + 2*wsConnectionMin},
		{"SQS", 3 * sqsRequest * (invocations + tiles/10)}, // send (tiles in batches of 10), receive, delete
		{"DynamoDB writes", dynamoWrites * dynamoWrite},
		{"DynamoDB reads", dynamoReads * dynamoRead},
		// Image and counts (or tiles) put; the counts looked up, the image
		// checked and fetched; a poster's tiles read back to assemble.
		{"S3 requests", (2+tiles)*s3Put + (3+views+tiles)*s3Get},
		{"S3 storage: image", j.pngBytes / 1e9 * s3GBMonth * st.imageDays / 30},
		{"S3 storage: counts and tiles", countsBytes / 1e9 * s3GBMonth * st.countsDays / 30},
		{"S3 egress: image views", views * j.pngBytes / 1e9 * egressGB},
		{"CloudWatch Logs", logBytesPerRender / 1e9 * logsGB},
		{fmt.Sprintf("X-Ray traces (%g%% traced)", 100*st.traceRatio), traced(st.traceRatio)},
	}
	if j.email > 0 {
		ls = append(ls, line{"SES", j.email * sesEmail})
		ls[5].cost += j.email * 2 * dynamoWrite // the sent mark, the mail count
		ls[6].cost += j.email * 2 * dynamoRead  // the address, its confirmation
	}
	return ls
}

func total(ls []line) float64 {
	t := 0.0
	for _, l := range ls {
		t += l.cost
	}
	return t
}

// metricSeries are the custom metrics the binaries' EMF lines make: one per
// metric name and set of dimension values seen in a month.
func metricSeries() int {
	unlabelled := 12                            // the core's metrics without labels (the totals of those by kind among them), each from the function that records it
	byKind := 2 * 2                             // jobs rendered and render duration × the two kinds
	notifications := 2 * 2                      // channel × outcome
	apiRequests := apiRoutes * statusesPerRoute // route × status
	apiLatency := apiRoutes                     // route
	return unlabelled + byKind + notifications + apiRequests + apiLatency
}

// printByLine prints the cost of each line for each job, per million.
func printByLine(out io.Writer, jobs []job, st stack, slowdown, views float64) {
	fmt.Fprintf(out, "\nBy line, per million renders a month (fixed costs apart):\n\n| line |")
	for _, j := range jobs {
		fmt.Fprintf(out, " %s |", j.name)
	}
	fmt.Fprintf(out, "\n|---|%s\n", strings.Repeat("---|", 4))
	byJob := make([][]line, 4)
	for i, j := range jobs {
		byJob[i] = cost(j, st, slowdown, views)
	}
	for k := range byJob[0] {
		fmt.Fprintf(out, "| %s |", byJob[0][k].name)
		for i := range byJob {
			fmt.Fprintf(out, " $%.2f |", 1e6*byJob[i][k].cost)
		}
		fmt.Fprintln(out)
	}
	for _, extra := range []string{"SES"} {
		fmt.Fprintf(out, "| %s |", extra)
		for i := range byJob {
			c := 0.0
			for _, l := range byJob[i] {
				if l.name == extra {
					c = l.cost
				}
			}
			fmt.Fprintf(out, " $%.2f |", 1e6*c)
		}
		fmt.Fprintln(out)
	}

}

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "longrun-cost:", err)
		os.Exit(2)
	}
}

func run(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("longrun-cost", flag.ContinueOnError)
	job512 := fs.Float64("job512", 15.6, "ms a default 512² job takes here (BenchmarkJob/512)")
	job1024 := fs.Float64("job1024", 52.5, "ms a 1024², depth 256 job takes here (BenchmarkJob/1024)")
	slowdown := fs.Float64("slowdown", 1.5, "how much slower the render function (arm64, 3008 MB: about 1.7 vCPU) renders than this machine")
	views := fs.Float64("views", 1, "times each image is downloaded in full (S3 egress)")
	template := fs.String("template", "template.yaml", "the template whose defaults are costed")
	traceRatio := fs.Float64("trace-ratio", -1, "the share of versions traced to X-Ray, 0 to 1 (default: the template's, 0 when its Tracing is off)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *job512 <= 0 || *job1024 <= 0 || *slowdown <= 0 || *views < 0 {
		return fmt.Errorf("-job512, -job1024 and -slowdown must be positive, -views not negative")
	}
	st, err := readStack(*template)
	if err != nil {
		return err
	}
	if *traceRatio > 1 {
		return fmt.Errorf("-trace-ratio is a share of versions, from 0 to 1")
	}
	if *traceRatio >= 0 {
		st.traceRatio = *traceRatio
	}
	jobs := []job{
		{"default 512², no e-mail", *job512, 512, 512, 104_000, 0},
		{"default 512², one e-mail", *job512, 512, 512, 104_000, 1},
		{"1024², depth 256, no e-mail", *job1024, 1024, 1024, 369_000, 0},
		{"1024², depth 256, one e-mail", *job1024, 1024, 1024, 369_000, 1},
		// 1,024 tiles sampled at 17 ms each here (README: Long jobs).
		{"16384² poster, depth 1,000, one e-mail", 1024 * 17, 16384, 16384, 100e6, 1},
	}
	fixed := []line{
		{"the session-key and VAPID secrets", 2 * secretMonth},
		{"the topics' KMS key", kmsKeyMonth},
		{fmt.Sprintf("%d alarms evaluating %d metrics", st.alarms, st.alarmMetrics), float64(st.alarmMetrics) * alarmMetric},
		{"the dashboard", dashboardMonth},
		{fmt.Sprintf("about %d custom metrics from EMF lines", metricSeries()), float64(metricSeries()) * metricMonth},
	}
	fixedTotal := total(fixed)

	fmt.Fprintf(out, "| render | per 1,000 renders | per million renders a month | largest part |\n|---|---|---|---|\n")
	for _, j := range jobs {
		ls := cost(j, st, *slowdown, *views)
		biggest := slices.MaxFunc(ls, func(a, b line) int { return cmpFloat(a.cost, b.cost) })
		t := total(ls)
		fmt.Fprintf(out, "| %s | $%.4f | $%s | %s, %.0f%% |\n", j.name, 1000*t, money(1e6*t+fixedTotal), biggest.name, 100*biggest.cost/t)
	}

	printByLine(out, jobs[:4], st, *slowdown, *views)
	printChannels(out, st)
	fmt.Fprintf(out, "\nTracing to X-Ray (Tracing=xray), per million default renders: ")
	for i, r := range []float64{0.01, 0.05, 1} {
		fmt.Fprintf(out, "%s%g%% traced $%.2f", map[bool]string{true: ", ", false: ""}[i > 0], 100*r, 1e6*traced(r))
	}
	fmt.Fprintf(out, " (%d spans a render, %.1f KB each as Transaction Search stores them, at the Logs ingestion price; the sampled invocations' exports add a few ms of Lambda time each).\n",
		spansPerRender, spanBytes/1000.0)
	fmt.Fprintf(out, "\nFixed a month: $%.2f —", fixedTotal)
	for i, f := range fixed {
		sep := ","
		if i == len(fixed)-1 {
			sep = "."
		}
		fmt.Fprintf(out, " %s $%.2f%s", f.name, f.cost, sep)
	}
	fmt.Fprintf(out, "\n\nAssumptions: AWS us-east-1 list prices as published in %s, free tiers left out; render times measured here, ×%.1f for the render function "+
		"(%.0f MB), plus %d ms of SDK calls a job and %d ms a tile; template.yaml's defaults: images kept %.0f days, counts and tiles %.0f days, "+
		"the byOwner index projecting every attribute (%v: each configuration write twice); a record of %.0f KB written %d times a render (%d of them change its status, "+
		"%d of them in a transaction with the owner's counter, at twice the units), %d other writes and %d reads; the outbox's copy of each job "+
		"(an invocation of %d ms, a read, three SQS requests); PNGs of 104 KB (512²), 369 KB (1024²), 100 MB (the poster); each image downloaded %.0f× in full; %d push messages a render; "+
		"%d bytes of logs a render; custom metrics: %d routes × %d statuses seen, and the core's others. "+
		"Not counted: retries of failed jobs, the page's own assets (served by the api function: one invocation each, cached), CloudWatch Logs storage after ingestion.\n",
		pricesAsOf, *slowdown, st.renderGB*1024, sdkOverheadMs, tileOverheadMs, st.imageDays, st.countsDays, st.ownerIndexAll, recordKB, configWrites, statusWrites,
		countedWrites, resultWrites, configReads+resultReads+1, recheckMs, *views, pushesPerRender, logBytesPerRender, apiRoutes, statusesPerRoute)
	return nil
}

// A channel is one way of telling an owner a version ended, beside the
// pushes to open pages (counted with each render).
type channel struct {
	name, what string
	cost       float64
}

// channels are the costs of each notification channel, per finished
// version told on it. Device notifications and webhooks go out from the
// retry queue (an SQS message sent, received and deleted; a notify
// invocation of about 20 ms, at most 10 in a batch: counted whole here)
// after a sent mark (a write, a read); the push services themselves are
// free. A page that was away asks for what it missed: an HTTP request, an
// api invocation, its updates read by key.
func channels(st stack) []channel {
	notifyCall := 20.0/1000*st.notifyGB*lambdaGBSecond + lambdaRequest
	queued := 3*sqsRequest + notifyCall + dynamoWrite + dynamoRead
	return []channel{
		{"e-mail", "SES, its sent mark, the address read", sesEmail + dynamoWrite + 2*dynamoRead},
		{"device (Web Push)", "the owner's devices read (one item), queued, sent to each push service", queued + dynamoRead},
		{"webhook, each endpoint", "queued, POSTed (a retry: the same again)", queued},
		{"a page's catch-up", "GET /api/updates: the counter and up to 100 updates read by key", httpAPIRequest +
			apiInvocationMs/1000*st.apiGB*lambdaGBSecond + lambdaRequest + dynamoRead + 4*dynamoRead},
	}
}

func printChannels(out io.Writer, st stack) {
	fmt.Fprintf(out, "\nEach notification channel, per million versions told on it (the pushes to open pages are in the lines above):\n\n")
	fmt.Fprintf(out, "| channel | per million | what it pays for |\n|---|---|---|\n")
	for _, c := range channels(st) {
		fmt.Fprintf(out, "| %s | $%.2f | %s |\n", c.name, 1e6*c.cost, c.what)
	}
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func money(v float64) string {
	s := strconv.FormatFloat(math.Round(v), 'f', 0, 64)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// readStack reads what the cost depends on from the template, at its
// parameters' defaults.
// countAlarms counts the template's alarms and the metrics they read.
func countAlarms(res *yaml.Node) (alarms, metrics int) {
	var ids []string
	for i := 0; i+1 < len(res.Content); i += 2 {
		ids = append(ids, res.Content[i].Value)
	}
	sort.Strings(ids)
	for _, id := range ids {
		if infra.Get(res, id, "Type").Value != "AWS::CloudWatch::Alarm" || infra.Get(res, id, "Condition") != nil {
			continue // (one under a condition is off at the defaults)
		}
		alarms++
		ms := infra.Get(res, id, "Properties", "Metrics")
		if ms == nil {
			metrics++
			continue
		}
		for _, m := range ms.Content {
			if infra.Get(m, "MetricStat") != nil {
				metrics++
			}
		}
	}
	return alarms, metrics
}

// retentions are the image bucket's lifecycle expiries: of images (the
// rule without a prefix) and of counts.
func retentions(res *yaml.Node, number func(*yaml.Node, string) (float64, error)) (images, counts float64, err error) {
	for _, r := range infra.Get(res, "ImageBucket", "Properties", "LifecycleConfiguration", "Rules").Content {
		days, err := number(infra.Get(r, "ExpirationInDays"), "lifecycle expiry")
		if err != nil {
			return 0, 0, err
		}
		switch p := infra.Get(r, "Prefix"); {
		case p == nil:
			images = days
		case p.Value == "counts/":
			counts = days
		}
	}
	return images, counts, nil
}

func readStack(path string) (stack, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return stack{}, fmt.Errorf("%w (run from the repository's root, or give -template)", err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return stack{}, fmt.Errorf("%s: %w", path, err)
	}
	root := doc.Content[0]
	res, params := infra.Get(root, "Resources"), infra.Get(root, "Parameters")
	number := func(n *yaml.Node, what string) (float64, error) {
		if n != nil && n.Tag == "!Ref" {
			n = infra.Get(params, n.Value, "Default")
		}
		if n == nil {
			return 0, fmt.Errorf("%s: no %s", path, what)
		}
		return strconv.ParseFloat(n.Value, 64)
	}
	var st stack
	if err := st.memory(res, number); err != nil {
		return st, err
	}
	if st.imageDays, st.countsDays, err = retentions(res, number); err != nil {
		return st, err
	}
	st.alarms, st.alarmMetrics = countAlarms(res)
	if n := infra.Get(params, "Tracing", "Default"); n != nil && n.Value == "xray" {
		if st.traceRatio, err = number(infra.Get(params, "TraceSampleRatio", "Default"), "TraceSampleRatio"); err != nil {
			return st, err
		}
	}
	st.ownerIndexAll = projectsAll(res, "byOwner")
	if st.imageDays == 0 || st.countsDays == 0 {
		return st, fmt.Errorf("%s: the image bucket's lifecycle names no image or counts expiry", path)
	}
	return st, nil
}

// memory reads the three functions' memory sizes, in GB.
func (st *stack) memory(res *yaml.Node, number func(*yaml.Node, string) (float64, error)) error {
	for _, f := range []struct {
		fn string
		gb *float64
	}{{"RenderFunction", &st.renderGB}, {"ApiFunction", &st.apiGB}, {"NotifyFunction", &st.notifyGB}} {
		mb, err := number(infra.Get(res, f.fn, "Properties", "MemorySize"), f.fn+" memory")
		if err != nil {
			return err
		}
		*f.gb = mb / 1024
	}
	return nil
}

// projectsAll says whether the configurations table's index projects
// every attribute, so that each write of a record is written twice.
func projectsAll(res *yaml.Node, index string) bool {
	for _, ix := range infra.Get(res, "ConfigurationsTable", "Properties", "GlobalSecondaryIndexes").Content {
		if infra.Get(ix, "IndexName").Value == index {
			return infra.Get(ix, "Projection", "ProjectionType").Value == "ALL"
		}
	}
	return false
}
