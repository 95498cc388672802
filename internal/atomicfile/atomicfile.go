// Package atomicfile replaces files so that a crash leaves the old file or
// the new one, never a partial one: runh's seccomp filter cache and the
// engines' configuration files that `runh install` edits. runh never
// writes a client's bundle.
package atomicfile

import (
	"fmt"
	"os"
	"path/filepath"
)

// tempPrefix names the temporary files, so a write killed midway leaves
// something recognisable.
const tempPrefix = ".runh-"

// Save replaces path with data: a temporary file in the same directory,
// fsync, rename, fsync of the directory. The file keeps the original's
// mode (0644 for a new one). os.CreateTemp uses O_EXCL, so it never
// truncates a file that is not runh's own (the bug class of
// CVE-2024-45310).
func Save(path string, data []byte) error {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	mode := os.FileMode(0o644)
	if fi, err := os.Stat(path); err == nil {
		mode = fi.Mode().Perm()
	}
	f, err := os.CreateTemp(dir, tempPrefix+base+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err := f.Chmod(mode); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	ok = true
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
