package main

import (
	"os"
	"strings"
	"testing"
)

func TestItCountsTheTemplatesAlarms(t *testing.T) {
	b, err := os.ReadFile("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(b), "Type: AWS::CloudWatch::Alarm"); n != alarms {
		t.Errorf("template.yaml has %d alarms, the cost counts %d", n, alarms)
	}
}

func TestTheTableHasEveryCaseAndEmailCostsMore(t *testing.T) {
	var out strings.Builder
	if err := run(nil, &out); err != nil {
		t.Fatal(err)
	}
	for _, row := range []string{"default 512², no e-mail", "default 512², one e-mail", "1024², depth 256, one e-mail", "Fixed a month"} {
		if !strings.Contains(out.String(), row) {
			t.Errorf("no %q in\n%s", row, out.String())
		}
	}
	plain, mailed := total(cost(job{renderMs: 15}, 1.5)), total(cost(job{renderMs: 15, email: true}, 1.5))
	bigger := total(cost(job{renderMs: 50}, 1.5))
	if !(mailed > plain && bigger > plain && plain > 0) {
		t.Errorf("costs %v (plain), %v (mailed), %v (bigger): want e-mail and size to cost more", plain, mailed, bigger)
	}
	if err := run([]string{"-slowdown", "0"}, &out); err == nil {
		t.Errorf("a zero slowdown was accepted")
	}
}
