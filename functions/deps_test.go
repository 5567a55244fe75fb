package functions

import (
	"os/exec"
	"strings"
	"testing"
)

func deps(t *testing.T, tags string, pkgs ...string) []string {
	t.Helper()
	args := append([]string{"list", "-deps", "-tags", tags}, pkgs...)
	out, err := exec.Command("go", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	return strings.Fields(string(out))
}

func TestLambdasDoNotLinkSQLite(t *testing.T) {
	for _, p := range deps(t, "lambda.norpc", "./api", "./render", "./notify") {
		if strings.Contains(p, "sqlite") || strings.HasPrefix(p, "github.com/longrun/longrun/local") {
			t.Errorf("a Lambda binary links %s", p)
		}
	}
}

func TestCoreDoesNotImportTheAWSSDK(t *testing.T) {
	core := []string{"github.com/longrun/longrun", "github.com/longrun/longrun/julia", "github.com/longrun/longrun/web",
		"github.com/longrun/longrun/worker", "github.com/longrun/longrun/notify"}
	for _, p := range deps(t, "", core...) {
		if strings.HasPrefix(p, "github.com/aws/aws-sdk-go-v2") {
			t.Errorf("the core imports %s", p)
		}
	}
}
