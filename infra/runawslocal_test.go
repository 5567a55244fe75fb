package infra

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// freePort returns a port nothing listens on now.
func freePort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return port
}

// make run-aws-local's script: every port configurable and printed, a
// taken one replaced, the page up, logs in a known folder, and on Ctrl-C
// every process stopped and exit status 0.
func TestRunAWSLocalStartsAndStopsCleanly(t *testing.T) {
	if _, err := os.Stat("localaws/node_modules/.installed"); err != nil {
		t.Skip("the local AWS servers are not installed: make deps")
	}
	if _, err := exec.LookPath("java"); err != nil {
		t.Skip("DynamoDB Local needs Java")
	}
	busy, err := net.Listen("tcp", "127.0.0.1:0") // a port someone else has
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	_, taken, _ := net.SplitHostPort(busy.Addr().String())
	dir := t.TempDir()
	ports := map[string]string{"DYNAMODB_PORT": taken, "SQS_PORT": freePort(t), "SES_PORT": freePort(t), "S3_PORT": freePort(t)}
	page := "127.0.0.1:" + freePort(t)
	cmd := exec.Command("bash", "localaws/run.sh")
	cmd.Dir = "."
	cmd.Env = append(os.Environ(), "AWS_LOCAL_DIR="+dir, "ADDR="+page)
	for k, v := range ports {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // as a terminal's foreground job
	out, _ := cmd.StdoutPipe()
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 100)
	go func() {
		s := bufio.NewScanner(out)
		for s.Scan() {
			lines <- s.Text()
		}
		close(lines)
	}()
	var printed []string
	deadline := time.After(3 * time.Minute)
	for up := false; !up; {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("run.sh ended: %s\n%s", strings.Join(printed, "\n"), stderr.String())
			}
			printed = append(printed, l)
			up = strings.Contains(l, "running at")
		case <-deadline:
			cmd.Process.Kill()
			t.Fatalf("no page after 3 minutes: %s\n%s", strings.Join(printed, "\n"), stderr.String())
		}
	}
	all := strings.Join(printed, "\n")
	if !strings.Contains(stderr.String(), "port "+taken+" is taken") {
		t.Errorf("a taken port was not replaced and said so: %s", stderr.String())
	}
	m := regexp.MustCompile(`DynamoDB :(\d+), SQS :(\d+), SES :(\d+) .*S3 :(\d+)`).FindStringSubmatch(all)
	if m == nil || m[1] == taken || m[2] != ports["SQS_PORT"] || m[3] != ports["SES_PORT"] || m[4] != ports["S3_PORT"] {
		t.Fatalf("ports printed: %v, want the chosen ones, DynamoDB moved off %s", m, taken)
	}
	res, err := http.Get("http://" + page + "/api/mail")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if !strings.Contains(string(body), "http://127.0.0.1:"+ports["SES_PORT"]+"/") {
		t.Errorf("the page's mail panel does not say where mail goes: %s", body)
	}
	// Ctrl-C: SIGINT to the foreground process group.
	syscall.Kill(-cmd.Process.Pid, syscall.SIGINT)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Errorf("run.sh exited %v after Ctrl-C, want 0", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("run.sh did not stop within 30 s of Ctrl-C")
	}
	for _, p := range []string{m[1], m[2], m[3], m[4], strings.TrimPrefix(page, "127.0.0.1:")} {
		if c, err := net.DialTimeout("tcp", "127.0.0.1:"+p, time.Second); err == nil {
			c.Close()
			t.Errorf("something still listens on %s after Ctrl-C", p)
		}
	}
	for _, f := range []string{"dynamodb.log", "sqs.log", "ses.log", "s3.log", "longrun.log"} {
		if _, err := os.Stat(filepath.Join(dir, "logs", f)); err != nil {
			t.Errorf("no %s in the logs folder: %v", f, err)
		}
	}
}
