package e2e

import (
	"bufio"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMakeRunServesAndCtrlCEndsCleanly is a newcomer's first minutes: make
// run says it is building, serves the page at the URL it prints, and
// Ctrl-C (SIGINT to the terminal's process group: make and the server)
// stops it with status 0 and no error from make.
func TestMakeRunServesAndCtrlCEndsCleanly(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Skipf("no make here: %v", err)
	}
	cmd := exec.Command("make", "-C", "..", "--no-print-directory", "run", "ADDR=127.0.0.1:0", "DATA="+t.TempDir())
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait(); pw.Close() }()
	var out strings.Builder
	found := make(chan string, 1)
	lines := make(chan struct{})
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			out.WriteString(sc.Text() + "\n")
			if m := urlLine.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
	}()
	var url string
	select {
	case url = <-found:
	case err := <-done:
		<-lines
		t.Fatalf("make run exited before serving: %v\n%s", err, out.String())
	case <-time.After(5 * time.Minute):
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		t.Fatal("make run printed no URL in 5 minutes")
	}
	res, err := http.Get(url)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("the page at %s: %v %v", url, res, err)
	}
	res.Body.Close()
	syscall.Kill(-cmd.Process.Pid, syscall.SIGINT)
	select {
	case err = <-done:
	case <-time.After(30 * time.Second):
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		t.Fatal("make run did not stop on Ctrl-C")
	}
	<-lines
	// GNU make answers SIGINT by waiting for its recipe, then raising the
	// signal on itself (status 130 in a shell, which prints nothing for
	// it); what must not show is an error: the server stopped cleanly, and
	// make has no failed recipe to report ("make: *** … Error 1", what go
	// run's status 1 on an interrupt gave).
	log := out.String()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); err != nil && !(ok && ws.Signaled() && ws.Signal() == syscall.SIGINT) {
		t.Errorf("Ctrl-C on make run: %v; want status 0, or make's own interrupt", err)
	}
	if strings.Contains(log, "***") || !strings.Contains(log, "stopped cleanly") {
		t.Errorf("Ctrl-C on make run should end with the server's clean stop and no error from make:\n%s", log)
	}
	if i, j := strings.Index(log, "building"), strings.Index(log, url); i < 0 || i > j {
		t.Errorf("make run should say it is building before it serves:\n%s", log)
	}
}
