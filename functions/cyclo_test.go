package functions

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fzipp/gocyclo"
)

// No hand-written function of the product passes a cyclomatic complexity
// of 15 (gocyclo's count): a longer one is split into steps that say what
// they do. Generated code and tests are left out.
func TestNoHandWrittenFunctionIsOverFifteen(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	var stats gocyclo.Stats
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != root && (strings.HasPrefix(name, ".") || name == "node_modules" || name == "testdata" || name == "bin") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		f, err := parser.ParseFile(fset, path, src, parser.ParseComments)
		if err != nil {
			return err
		}
		if !ast.IsGenerated(f) {
			stats = gocyclo.AnalyzeASTFile(f, fset, stats)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(stats) < 100 {
		t.Fatalf("only %d functions found under %s", len(stats), root)
	}
	for _, s := range stats.SortAndFilter(-1, 15) {
		rel, _ := filepath.Rel(root, s.Pos.Filename)
		t.Errorf("%s:%d: %s has a complexity of %d (at most 15): split it into steps", rel, s.Pos.Line, s.FuncName, s.Complexity)
	}
}
