// Package awstest starts local servers that speak the AWS protocols, for
// tests of the AWS adapters: Amazon's DynamoDB Local (with Streams), fauxqs
// for SQS, aws-ses-v2-local for SES v2 (all installed by make test under
// infra/localaws), and gofakes3 for S3, in process. Each is started once per
// test binary, on a free loopback port, and exported as
// AWS_ENDPOINT_URL_<SERVICE> so config.LoadDefaultConfig finds it.
package awstest

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

var (
	mu       sync.Mutex
	started  = map[string]string{} // service → endpoint
	stops    []func()
	errByKey = map[string]error{}
)

// Root returns the module's root folder.
func Root() string {
	dir, _ := os.Getwd()
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// NodeModules returns infra/localaws/node_modules, skipping the test if it
// is missing (failing it under CI, where make test must have installed it).
func NodeModules(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(Root(), "infra", "localaws", "node_modules")
	if _, err := os.Stat(dir); err != nil {
		msg := "the local AWS servers are not installed: run make test (or npm ci in infra/localaws)"
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return dir
}

// Setup sets the static credentials and region every local server accepts.
func Setup() {
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_REGION": "us-east-1",
		"AWS_EC2_METADATA_DISABLED": "true",
	} {
		os.Setenv(k, v)
	}
	os.Unsetenv("AWS_PROFILE")
	os.Unsetenv("AWS_SESSION_TOKEN")
}

// Config loads the SDK configuration the adapters' mains would.
func Config(t testing.TB) aws.Config {
	t.Helper()
	Setup()
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// Main runs a package's tests, then stops the servers they started: a
// package that uses this package's servers calls it from TestMain.
func Main(m *testing.M) {
	code := m.Run()
	Stop()
	os.Exit(code)
}

// Stop ends every server started; Main calls it after the tests.
func Stop() {
	mu.Lock()
	defer mu.Unlock()
	for _, stop := range stops {
		stop()
	}
	stops = nil
	started = map[string]string{}
}

// FreePort returns a loopback port nobody listens on.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func once(t testing.TB, service string, start func() (string, func(), error)) string {
	t.Helper()
	Setup()
	mu.Lock()
	defer mu.Unlock()
	if ep, ok := started[service]; ok {
		return ep
	}
	if err := errByKey[service]; err != nil {
		t.Fatalf("%s server: %v", service, err)
	}
	ep, stop, err := start()
	if err != nil {
		errByKey[service] = err
		t.Fatalf("%s server: %v", service, err)
	}
	started[service] = ep
	stops = append(stops, stop)
	os.Setenv("AWS_ENDPOINT_URL_"+service, ep)
	return ep
}

// process starts a server and waits until its port accepts connections.
func process(dir string, port int, env []string, name string, args ...string) (string, func(), error) {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	log, _ := os.CreateTemp("", "longrun-awstest-*.log")
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-exited
		log.Close()
		os.Remove(log.Name())
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	deadline := time.Now().Add(60 * time.Second)
	for {
		if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			c.Close()
			return "http://" + addr, stop, nil
		}
		select {
		case err := <-exited:
			out, _ := os.ReadFile(log.Name())
			exited <- err
			stop()
			return "", nil, fmt.Errorf("%s exited: %v\n%s", name, err, out)
		default:
		}
		if time.Now().After(deadline) {
			out, _ := os.ReadFile(log.Name())
			stop()
			return "", nil, fmt.Errorf("%s did not listen on %s within a minute\n%s", name, addr, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// DynamoDB starts DynamoDB Local (in memory, one shared database).
func DynamoDB(t testing.TB) string {
	t.Helper()
	nm := NodeModules(t)
	if _, err := exec.LookPath("java"); err != nil {
		t.Fatalf("DynamoDB Local needs java: %v", err)
	}
	return once(t, "DYNAMODB", func() (string, func(), error) {
		port := FreePort(t)
		dir := filepath.Join(nm, "amplify-dynamodb-simulator", "emulator")
		ep, stop, err := process(dir, port, nil, "java", "-Djava.library.path=./DynamoDBLocal_lib", "-jar", "DynamoDBLocal.jar",
			"-inMemory", "-sharedDb", "-port", strconv.Itoa(port), "-disableTelemetry")
		if err == nil {
			os.Setenv("AWS_ENDPOINT_URL_DYNAMODB_STREAMS", ep)
		}
		return ep, stop, err
	})
}

// SQS starts fauxqs.
func SQS(t testing.TB) string {
	t.Helper()
	nm := NodeModules(t)
	return once(t, "SQS", func() (string, func(), error) {
		port := FreePort(t)
		return process(nm, port, []string{"FAUXQS_PORT=" + strconv.Itoa(port), "FAUXQS_HOST=127.0.0.1"},
			"node", filepath.Join(nm, "fauxqs", "dist", "cli.js"))
	})
}

// SES starts aws-ses-v2-local; GET {endpoint}/store lists what it received.
func SES(t testing.TB) string {
	t.Helper()
	nm := NodeModules(t)
	return once(t, "SESV2", func() (string, func(), error) {
		port := FreePort(t)
		return process(nm, port, nil, filepath.Join(nm, ".bin", "aws-ses-v2-local"), "--host", "127.0.0.1", "--port", strconv.Itoa(port))
	})
}

// S3 starts gofakes3 in process.
func S3(t testing.TB) string {
	t.Helper()
	return once(t, "S3", func() (string, func(), error) {
		srv := httptest.NewServer(gofakes3.New(s3mem.New()).Server())
		return srv.URL, srv.Close, nil
	})
}

// Name returns a unique resource name for one test.
func Name(prefix string) string {
	return fmt.Sprintf("%s-%d-%d", prefix, time.Now().UnixNano()%1e9, os.Getpid())
}

// A SentMail is an e-mail as aws-ses-v2-local stored it.
type SentMail struct {
	Subject     string
	Destination struct{ To []string }
	Body        struct{ Text, HTML string }
}

// Inbox returns the e-mails the SES server received for to.
func Inbox(t testing.TB, to string) []SentMail {
	t.Helper()
	res, err := http.Get(SES(t) + "/store")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var store struct{ Emails []SentMail }
	if err := json.NewDecoder(res.Body).Decode(&store); err != nil {
		t.Fatal(err)
	}
	var out []SentMail
	for _, e := range store.Emails {
		if slices.Contains(e.Destination.To, to) {
			out = append(out, e)
		}
	}
	return out
}
