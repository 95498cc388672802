package atomicfile

import (
	"os"
	"path/filepath"
	"testing"
)

func TestSave(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	os.WriteFile(p, []byte("old"), 0o600)
	if err := Save(p, []byte("new")); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(p)
	fi, _ := os.Stat(p)
	if string(got) != "new" || fi.Mode().Perm() != 0o600 {
		t.Fatalf("content %q mode %v", got, fi.Mode())
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(p), tempPrefix+"*")); len(left) != 0 {
		t.Fatalf("temporary files left: %v", left)
	}
	if err := Save(filepath.Join(t.TempDir(), "no", "dir"), []byte("x")); err == nil {
		t.Fatal("a missing directory was accepted")
	}
}
