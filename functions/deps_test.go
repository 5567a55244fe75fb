package functions

import (
	"go/ast"
	"os/exec"
	"strings"
	"testing"

	"golang.org/x/tools/go/packages"
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
	core := []string{"github.com/longrun/longrun", "github.com/longrun/longrun/kinds/...", "github.com/longrun/longrun/julia", "github.com/longrun/longrun/web",
		"github.com/longrun/longrun/worker", "github.com/longrun/longrun/notify"}
	for _, p := range deps(t, "", core...) {
		if strings.HasPrefix(p, "github.com/aws/aws-sdk-go-v2") {
			t.Errorf("the core imports %s", p)
		}
	}
}

// The domain and its use cases speak no transport and know no kind of
// computation: the root package imports the standard library, nothing
// else.
func TestRootImportsOnlyTheStandardLibrary(t *testing.T) {
	for _, p := range deps(t, "", "github.com/longrun/longrun") {
		first, _, _ := strings.Cut(p, "/")
		if strings.Contains(first, ".") && p != "github.com/longrun/longrun" {
			t.Errorf("the root package imports %s", p)
		}
	}
}

// The core runs any kind through the computation port: none of its
// packages imports a kind's package or the renderer; only the mains'
// tables of kinds do (and tests).
func TestTheCoreImportsNoKind(t *testing.T) {
	core := []string{"github.com/longrun/longrun", "github.com/longrun/longrun/worker", "github.com/longrun/longrun/notify",
		"github.com/longrun/longrun/web", "github.com/longrun/longrun/local/...", "github.com/longrun/longrun/aws/..."}
	for _, p := range deps(t, "", core...) {
		if strings.HasPrefix(p, "github.com/longrun/longrun/kinds/") || p == "github.com/longrun/longrun/julia" {
			t.Errorf("the core links %s", p)
		}
	}
}

// Only the root package's transitions set a configuration's status and
// change: no other package assigns them.
func TestOnlyTheDomainSetsStatus(t *testing.T) {
	pkgs, err := packages.Load(&packages.Config{Mode: packages.NeedName | packages.NeedSyntax | packages.NeedTypes | packages.NeedTypesInfo,
		Dir: ".."}, "./...")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pkgs {
		if p.PkgPath == "github.com/longrun/longrun" {
			continue
		}
		for _, f := range p.Syntax {
			ast.Inspect(f, func(n ast.Node) bool {
				as, ok := n.(*ast.AssignStmt)
				if !ok {
					return true
				}
				for _, lhs := range as.Lhs {
					sel, ok := lhs.(*ast.SelectorExpr)
					if !ok || (sel.Sel.Name != "Status" && sel.Sel.Name != "Change") {
						continue
					}
					if tv, ok := p.TypesInfo.Types[sel.X]; ok && strings.HasSuffix(tv.Type.String(), "longrun.Configuration") {
						t.Errorf("%s assigns a configuration's %s", p.Fset.Position(sel.Pos()), sel.Sel.Name)
					}
				}
				return true
			})
		}
	}
}
