// Command longrun-cost estimates what longrun costs on AWS per 1,000 renders
// and per million renders a month, from render times measured here
// (make bench: BenchmarkJob), the memory template.yaml configures, and
// public us-east-1 list prices, named below with their date.
//
//	go run ./cmd/longrun-cost                    # the README's table
//	go run ./cmd/longrun-cost -job512 20 -slowdown 2
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
)

// Prices: AWS's public us-east-1 list prices as published in 2025 (Lambda
// arm64, HTTP and WebSocket APIs, SQS standard, DynamoDB on demand after the
// November 2024 cut, S3 Standard, SES outbound, CloudWatch Logs ingestion).
// Free tiers are left out: this is the price at scale.
const (
	pricesAsOf        = "2025"
	lambdaGBSecond    = 0.0000133334 // arm64
	lambdaRequest     = 0.20 / 1e6
	httpAPIRequest    = 1.00 / 1e6
	wsMessage         = 1.00 / 1e6 // per 32 KB message
	wsConnectionMin   = 0.25 / 1e6
	sqsRequest        = 0.40 / 1e6
	dynamoWrite       = 0.625 / 1e6 // per write request unit
	dynamoRead        = 0.125 / 1e6 // per read request unit
	s3Put             = 0.005 / 1000
	s3Get             = 0.0004 / 1000
	sesEmail          = 0.10 / 1000
	logsGB            = 0.50
	secretMonth       = 0.40
	kmsKeyMonth       = 1.00
	alarmMonth        = 0.10
	dashboardMonth    = 3.00
	alarms            = 10 // in template.yaml (a test counts them)
	renderMemoryGB    = 3008.0 / 1024
	apiMemoryGB       = 512.0 / 1024
	notifyMemoryGB    = 256.0 / 1024
	apiInvocationMs   = 15 // create, one GET, the image redirect
	notifyBatchMs     = 40 // a stream batch: pushes, maybe an e-mail
	sdkOverheadMs     = 60 // a job's DynamoDB and S3 calls, beside the render
	logBytesPerRender = 4000
)

// A job is one render and what goes with it.
type job struct {
	name     string
	renderMs float64 // on this machine
	email    bool
}

// cost is the AWS cost of one render, in dollars, by service.
func cost(j job, slowdown float64) map[string]float64 {
	lambdaMs := j.renderMs*slowdown + sdkOverheadMs
	c := map[string]float64{
		"Lambda (render)": lambdaMs/1000*renderMemoryGB*lambdaGBSecond + lambdaRequest,
		"Lambda (api)":    3 * (apiInvocationMs/1000*apiMemoryGB*lambdaGBSecond + lambdaRequest),
		"Lambda (notify)": 3 * (notifyBatchMs/1000*notifyMemoryGB*lambdaGBSecond + lambdaRequest),
		"API Gateway":     3*httpAPIRequest + 4*wsMessage + 2*wsConnectionMin,
		"SQS":             3 * sqsRequest, // send, receive, delete
		// Records of about 1.5 KB: create, start, two progress writes,
		// finish (2 units each); result, lease and release, sent mark.
		"DynamoDB":        10*2*dynamoWrite + 4*dynamoWrite + 8*dynamoRead,
		"S3":              s3Put + s3Get,
		"CloudWatch Logs": logBytesPerRender / 1e9 * logsGB,
	}
	if j.email {
		c["SES"] = sesEmail
		c["DynamoDB"] += 2*dynamoWrite + 2*dynamoRead // the sent mark, the address
	}
	return c
}

func total(c map[string]float64) float64 {
	t := 0.0
	for _, v := range c {
		t += v
	}
	return t
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
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *job512 <= 0 || *job1024 <= 0 || *slowdown <= 0 {
		return fmt.Errorf("-job512, -job1024 and -slowdown must be positive")
	}
	fixed := secretMonth + kmsKeyMonth + alarms*alarmMonth + dashboardMonth
	fmt.Fprintf(out, "| render | per 1,000 renders | per million renders a month | largest part |\n|---|---|---|---|\n")
	for _, j := range []job{
		{"default 512², no e-mail", *job512, false}, {"default 512², one e-mail", *job512, true},
		{"1024², depth 256, no e-mail", *job1024, false}, {"1024², depth 256, one e-mail", *job1024, true},
	} {
		c := cost(j, *slowdown)
		biggest, share := "", 0.0
		for k, v := range c {
			if v > share {
				biggest, share = k, v
			}
		}
		t := total(c)
		fmt.Fprintf(out, "| %s | $%.4f | $%.0f | %s, %.0f%% |\n", j.name, 1000*t, 1e6*t+fixed, biggest, 100*share/t)
	}
	fmt.Fprintf(out, "\nFixed a month: $%.2f (the session-key secret, the topics' KMS key, %d alarms, the dashboard).\n", fixed, alarms)
	fmt.Fprintf(out, "Prices: AWS us-east-1 list prices as published in %s, free tiers left out; render times measured here, ×%.1f for the render function.\n",
		pricesAsOf, *slowdown)
	return nil
}
