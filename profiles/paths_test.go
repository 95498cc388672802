package profiles

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestRootOnlyPath(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give files to another user")
	}
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	mk := func(p string, mode os.FileMode, uid int) string {
		p = filepath.Join(dir, p)
		os.MkdirAll(p, 0o755)
		syscall.Chmod(p, uint32(mode))
		os.Chown(p, uid, 0)
		return p
	}
	good := mk("good/data", 0o755, 0)
	open := mk("open", 0o777, 0)
	sticky := mk("sticky", 0o1777, 0)
	theirs := mk("theirs", 0o755, 1000)
	os.Symlink(good, filepath.Join(dir, "link"))
	for _, tc := range []struct {
		path, want string
	}{
		{good, ""},
		{filepath.Join(good, "not-yet"), ""},
		{filepath.Join(open, "x"), "writable by group or others"},
		{open, "writable by group or others"},
		{filepath.Join(sticky, "not-yet"), "anyone may create it"},
		{filepath.Join(theirs, "x"), "owned by uid 1000"},
		{filepath.Join(dir, "link"), "symlink"},
		{filepath.Join(dir, "link", "x"), "symlink"},
		{"relative", "absolute"},
	} {
		err := RootOnlyPath(tc.path)
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("RootOnlyPath(%s) = %v, want %q", tc.path, err, tc.want)
		}
	}
	// A root-owned entry in a sticky directory is fine.
	mine := mk("sticky/mine", 0o755, 0)
	if err := RootOnlyPath(mine); err != nil {
		t.Errorf("root's entry in a sticky dir: %v", err)
	}
}
