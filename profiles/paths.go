package profiles

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// RootOnlyPath refuses a path that someone other than root (or runh's own
// user) could change or replace: a symlink anywhere on it, a component
// owned by another user, or one that others may write (a sticky directory
// such as /tmp may hold it only if the entry in it exists and is root's).
// A path that does not exist yet must have a parent that only root can
// create entries in. Operator paths (profiles_dir, bind_sources, the
// directories of the config, the audit log and the metrics) are judged
// with it: otherwise whoever can write a parent swaps what runh reads,
// blocks it, or points a bind source elsewhere.
func RootOnlyPath(p string) error {
	if !filepath.IsAbs(p) || filepath.Clean(p) != p {
		return fmt.Errorf("%q is not an absolute, clean path", p)
	}
	euid := uint32(os.Geteuid())
	parts := strings.Split(strings.TrimPrefix(p, "/"), "/")
	cur, stickyParent := "/", false
	for i := 0; i <= len(parts); i++ {
		if i > 0 {
			if parts[i-1] == "" {
				continue
			}
			cur = filepath.Join(cur, parts[i-1])
		}
		var st unix.Stat_t
		if err := unix.Lstat(cur, &st); err != nil {
			if errors.Is(err, unix.ENOENT) {
				if stickyParent {
					return fmt.Errorf("%s does not exist and anyone may create it in %s", cur, filepath.Dir(cur))
				}
				return nil
			}
			return fmt.Errorf("%s: %w", cur, err)
		}
		if st.Mode&unix.S_IFMT == unix.S_IFLNK {
			return fmt.Errorf("%s is a symlink: operator paths must not pass through one", cur)
		}
		if st.Uid != 0 && st.Uid != euid {
			return fmt.Errorf("%s is owned by uid %d, not root", cur, st.Uid)
		}
		last := cur == p
		sticky := st.Mode&unix.S_ISVTX != 0 && st.Mode&unix.S_IFMT == unix.S_IFDIR
		if st.Mode&0o022 != 0 && (last || !sticky) {
			return fmt.Errorf("%s is writable by group or others (mode %04o)", cur, st.Mode&0o7777)
		}
		stickyParent = sticky && st.Mode&0o022 != 0
	}
	return nil
}
