package infra

import (
	"bufio"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/longrun/longrun/internal/testutil"
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
	// Every server listens on the loopback only, and, where there is a
	// Docker bridge, its relay on the bridge's address for sam local.
	allowed := []string{"127.0.0.1"}
	if b := regexp.MustCompile(`the Docker bridge, ([0-9.]+)\)`).FindStringSubmatch(all); b != nil {
		allowed = append(allowed, b[1])
	}
	for i, p := range []string{m[1], m[2], m[3], m[4], strings.TrimPrefix(page, "127.0.0.1:")} {
		for _, addr := range listening(t, p) {
			if !slices.Contains(allowed, addr) || (i == 4 && addr != "127.0.0.1") {
				t.Errorf("port %s listens on %s, want only %v", p, addr, allowed)
			}
		}
	}
	// A configuration with an address: the confirmation e-mail reaches the
	// local SES server, through the table's stream and the notifier, and
	// the page's socket gets the pushes of its render.
	c := testutil.NewClient(t, "http://"+page)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c.Session() // the session cookie, before the socket
	live := c.Live(ctx)
	addr := "ada-" + freePort(t) + "@example.com"
	v := c.Create(map[string]any{"name": "run-aws-local", "params": testutil.Params(-0.7, 0.27015, "width", 64, "height", 64), "notifyEmail": addr})
	for pushed := false; !pushed; {
		_, msg, err := live.Read(ctx)
		if err != nil {
			t.Fatalf("no push for %s on the page's socket: %v\n%s", v.ID, err, logs(dir))
		}
		pushed = strings.Contains(string(msg), v.ID) && strings.Contains(string(msg), `"done"`)
	}
	for {
		if mail := sesInbox(t, ports["SES_PORT"], addr); strings.Contains(mail, "Confirm") {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("no confirmation e-mail to %s in the local SES inbox\n%s", addr, logs(dir))
		}
		time.Sleep(200 * time.Millisecond)
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

// listening returns the local addresses sockets listen on at port, read
// from /proc/net/tcp and tcp6 (an IPv4-mapped address as its IPv4 form).
func listening(t *testing.T, port string) []string {
	t.Helper()
	var addrs []string
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Skipf("cannot read %s: %v", f, err)
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			fields := strings.Fields(line)
			if len(fields) < 4 || fields[3] != "0A" { // 0A: LISTEN
				continue
			}
			host, hexPort, _ := strings.Cut(fields[1], ":")
			var n int
			fmt.Sscanf(hexPort, "%X", &n)
			if fmt.Sprint(n) != port {
				continue
			}
			raw, _ := hex.DecodeString(host)
			for i := 0; i+4 <= len(raw); i += 4 { // each 32-bit word is little-endian
				raw[i], raw[i+1], raw[i+2], raw[i+3] = raw[i+3], raw[i+2], raw[i+1], raw[i]
			}
			ip := net.IP(raw)
			if v4 := ip.To4(); v4 != nil {
				ip = v4
			}
			addrs = append(addrs, ip.String())
		}
	}
	return addrs
}

// sesInbox returns the mail aws-ses-v2-local holds for to, as JSON.
func sesInbox(t *testing.T, port, to string) string {
	res, err := http.Get("http://127.0.0.1:" + port + "/store")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var store struct {
		Emails []struct {
			Destination struct{ To []string }
			Subject     string
		}
	}
	json.NewDecoder(res.Body).Decode(&store)
	var got []string
	for _, e := range store.Emails {
		for _, d := range e.Destination.To {
			if d == to {
				got = append(got, e.Subject)
			}
		}
	}
	return strings.Join(got, "\n")
}

// logs returns the tail of make run-aws-local's own log, for a failure.
func logs(dir string) string {
	b, _ := os.ReadFile(filepath.Join(dir, "logs", "longrun.log"))
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}
