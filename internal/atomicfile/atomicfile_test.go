package atomicfile_test

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/longrun/longrun/internal/atomicfile"
)

func TestAFailedWriteLeavesTheOldFileAndNoLitter(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "key")
	if err := atomicfile.WriteBytes(name, 0o600, []byte("old")); err != nil {
		t.Fatal(err)
	}
	err := atomicfile.Write(name, 0o600, func(w io.Writer) error {
		w.Write([]byte("half"))
		return errors.New("disk full")
	})
	if err == nil {
		t.Fatal("a failed write reported success")
	}
	if b, _ := os.ReadFile(name); string(b) != "old" {
		t.Errorf("after a failed write the file holds %q, want the old one", b)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("%d files in the folder, want only the file itself", len(entries))
	}
	if st, _ := os.Stat(name); st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", st.Mode().Perm())
	}
}
