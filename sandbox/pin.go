package sandbox

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Pins are the host objects runh opened, checked and attached in its
// private bundle for one create. Release detaches them once runc has made
// its own copies in the container's mount namespace.
type Pins struct {
	points []string
	// rootIDMapped: the rootfs was idmapped onto the container's range.
	rootIDMapped bool
}

// PinHostPaths makes what runc mounts exactly what runh checked. Today's
// rules judge root.path and bind sources by path, and runc opens them by
// path again later: a path component swapped for a symlink in between (by
// whoever can write there: the bundle's author, another container sharing
// a volume) would give the container a host tree (runh issue 13, the
// CVE-2021-25741 class). So each one is:
//
//  1. opened once, on the path the rules resolved, with openat2
//     RESOLVE_NO_SYMLINKS: a symlink swapped in anywhere fails the open;
//  2. judged again on what was opened: its kernel path must be the path
//     that was checked, and must pass the host-mounts rule;
//  3. cloned with open_tree(OPEN_TREE_CLONE), which copies exactly the
//     opened object, and attached with move_mount at a mount point in dir
//     (runh's root-only private bundle, on a private tmpfs, so nothing
//     propagates anywhere);
//  4. replaced in the spec by that mount point, which nobody but root can
//     change.
//
// The spec's sources are rewritten in place; on error the caller discards
// the spec and releases what was pinned so far (the returned Pins).
func PinHostPaths(e *Env, s *specs.Spec, dir string) (*Pins, error) {
	p := &Pins{}
	if s.Root != nil && s.Root.Path != "" {
		point := filepath.Join(dir, "rootfs")
		if err := p.pin(e, "root.path", e.bundlePath(s.Root.Path), point, true); err != nil {
			return p, err
		}
		s.Root.Path = point
	}
	if s.Linux != nil {
		for i := range s.Linux.Namespaces {
			ns := &s.Linux.Namespaces[i]
			if ns.Path == "" {
				continue
			}
			point := filepath.Join(dir, "ns-"+string(ns.Type))
			if err := p.pinNamespace(e, fmt.Sprintf("linux.namespaces[%d]", i), ns.Type, ns.Path, point); err != nil {
				return p, err
			}
			ns.Path = point
		}
	}
	for i := range s.Mounts {
		m := &s.Mounts[i]
		if !isBind(m) || isRunhMount(*m, e.Host) {
			continue
		}
		point := filepath.Join(dir, "m"+strconv.Itoa(i))
		recursive := m.Type == "rbind" || slices.Contains(m.Options, "rbind")
		if err := p.pin(e, fmt.Sprintf("mounts[%d]", i), e.bundlePath(m.Source), point, recursive); err != nil {
			return p, err
		}
		m.Source = point
	}
	if e.UserNSBase != 0 {
		if err := p.pinSysfs(e, s, dir); err != nil {
			return p, err
		}
	}
	if s.Root != nil && s.Root.Path != "" {
		root := filepath.Join(dir, "rootfs")
		// Mount points runc cannot make: in a rootfs its user namespace
		// does not own (all of them), and below submounts, which are
		// made read-only next (only those).
		all := e.UserNSBase != 0 && !p.rootIDMapped
		if err := makeMountPoints(root, s, all); err != nil {
			return p, err
		}
		if err := readonlySubmounts(root); err != nil {
			return p, fmt.Errorf("root.path: %w", err)
		}
	}
	return p, nil
}

func (p *Pins) pin(e *Env, field, path, point string, recursive bool) error {
	want := resolvePath(path)
	fd, err := unix.Openat2(unix.AT_FDCWD, want, &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
	})
	if err != nil {
		if errors.Is(err, unix.ELOOP) {
			return pinDenied(field, "%s changed while runh checked it (a symlink appeared in %s)", path, want)
		}
		return pinDenied(field, "cannot open %s (%s): %v", path, want, err)
	}
	defer unix.Close(fd)
	have, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
	if err != nil {
		return fmt.Errorf("%s: read back %s: %w", field, want, err)
	}
	if have != want {
		return pinDenied(field, "%s changed while runh checked it (opened %s, checked %s)", path, have, want)
	}
	what := e.hostPathRefusal(have)
	if field != "root.path" {
		what = e.bindSourceRefusal(have)
	}
	if what == "" {
		what, err = engineSocketInode(fd)
		if err != nil {
			return fmt.Errorf("%s: %w", field, err)
		}
	}
	if what != "" {
		if field == "root.path" {
			return pinDenied(field, "root filesystem on %s %s is not allowed", what, path)
		}
		return pinDenied(field, "bind mount of %s %s is not allowed", what, path)
	}
	flags := uint(unix.OPEN_TREE_CLONE | unix.OPEN_TREE_CLOEXEC | unix.AT_EMPTY_PATH)
	if recursive {
		flags |= unix.AT_RECURSIVE
	}
	tree, err := unix.OpenTree(fd, "", flags)
	if err != nil {
		return fmt.Errorf("%s: clone %s: %w", field, want, err)
	}
	defer unix.Close(tree)
	if field == "root.path" && e.UserNSBase != 0 {
		if !ownImage(e, have) {
			e.changed("root.path", "not idmapped (outside the bundle, so not the container's own image): files show as nobody inside")
		} else if p.rootIDMapped, err = idmapRootfs(e, tree); err != nil {
			return fmt.Errorf("%s: %w", field, err)
		}
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("%s: stat %s: %w", field, want, err)
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		err = os.Mkdir(point, 0o711)
	} else {
		var f *os.File
		// O_EXCL: never truncate or reuse something already there.
		if f, err = os.OpenFile(point, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600); err == nil {
			f.Close()
		}
	}
	if err != nil {
		return fmt.Errorf("%s: mount point: %w", field, err)
	}
	p.points = append(p.points, point)
	if err := unix.MoveMount(tree, "", unix.AT_FDCWD, point, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return fmt.Errorf("%s: attach %s: %w", field, want, err)
	}
	return nil
}

// nsTypes maps a spec namespace type to its CLONE_NEW* flag, which
// ioctl(NS_GET_NSTYPE) answers with.
var nsTypes = map[specs.LinuxNamespaceType]int{
	specs.PIDNamespace: unix.CLONE_NEWPID, specs.IPCNamespace: unix.CLONE_NEWIPC,
	specs.UTSNamespace: unix.CLONE_NEWUTS, specs.MountNamespace: unix.CLONE_NEWNS,
	specs.NetworkNamespace: unix.CLONE_NEWNET, specs.CgroupNamespace: unix.CLONE_NEWCGROUP,
	specs.UserNamespace: unix.CLONE_NEWUSER, specs.TimeNamespace: unix.CLONE_NEWTIME,
}

// pinNamespace opens a namespace file once, checks that what it opened is
// a namespace of the right type and not the host's, and attaches a clone
// of it at point: runc opens the namespace there, so a symlink or bind
// mount swapped at the client's path after the check joins nothing
// (runh issue 13: a swap won 5 times in 20-40 tries). Namespace paths are
// magic links (/proc/<pid>/ns/net) or nsfs bind mounts (/run/netns/x), so
// the open follows links; what counts is the object it lands on.
func (p *Pins) pinNamespace(e *Env, field string, t specs.LinuxNamespaceType, path, point string) error {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return pinDeniedNS(field, "cannot open %s namespace %s: %v", t, path, err)
	}
	defer unix.Close(fd)
	var sfs unix.Statfs_t
	if err := unix.Fstatfs(fd, &sfs); err != nil || sfs.Type != unix.NSFS_MAGIC {
		return pinDeniedNS(field, "%s is not a namespace file", path)
	}
	got, err := unix.IoctlRetInt(fd, unix.NS_GET_NSTYPE)
	if want, ok := nsTypes[t]; !ok || err != nil || got != want {
		return pinDeniedNS(field, "%s is not a %s namespace", path, t)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("%s: stat %s: %w", field, path, err)
	}
	if e.Host != nil {
		if own, ok := e.Host.Namespaces[t]; ok && own == (NSID{Dev: uint64(st.Dev), Ino: st.Ino}) {
			return pinDeniedNS(field, "joining the host's %s namespace (%s) is not allowed", t, path)
		}
	}
	tree, err := unix.OpenTree(fd, "", unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_EMPTY_PATH)
	if err != nil {
		return fmt.Errorf("%s: clone %s: %w", field, path, err)
	}
	defer unix.Close(tree)
	f, err := os.OpenFile(point, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("%s: mount point: %w", field, err)
	}
	f.Close()
	p.points = append(p.points, point)
	if err := unix.MoveMount(tree, "", unix.AT_FDCWD, point, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return fmt.Errorf("%s: attach %s: %w", field, path, err)
	}
	return nil
}

func pinDeniedNS(field, format string, args ...any) *Denial {
	d := deny(field, format, args...)
	d.Rule = "private-namespaces"
	return d
}

func pinDenied(field, format string, args ...any) *Denial {
	d := deny(field, format, args...)
	d.Rule = "host-mounts"
	return d
}

// engineSocketInode catches an engine's API socket under another name (a
// hard link, which keeps the inode): a socket is compared by device and
// inode with the sensitive sockets that exist on this host.
func engineSocketInode(fd int) (string, error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return "", err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFSOCK {
		return "", nil
	}
	for _, p := range sensitiveTrees {
		var s unix.Stat_t
		if unix.Stat(p, &s) == nil && s.Mode&unix.S_IFMT == unix.S_IFSOCK && s.Dev == st.Dev && s.Ino == st.Ino {
			return "container engine socket", nil
		}
	}
	return "", nil
}

// Release detaches every pinned mount point and removes it. runc's
// container holds its own copies; nothing of runh's stays mounted. The
// root filesystem's mount point stays, empty: runc starts every exec's
// setns process with its working directory there (cmd.Dir = Rootfs), and
// fails if it is gone.
func (p *Pins) Release() error {
	if p == nil {
		return nil
	}
	var errs []error
	for _, point := range p.points {
		if filepath.Base(point) == "rootfs" {
			if err := unix.Unmount(point, unix.MNT_DETACH|unix.UMOUNT_NOFOLLOW); err != nil && err != unix.EINVAL {
				errs = append(errs, fmt.Errorf("detach %s: %w", point, err))
			}
			continue
		}
		errs = append(errs, removeMountPoint(point))
	}
	p.points = nil
	return errors.Join(errs...)
}

// ReleasePinsIn releases the pins of the private bundle dir, as Release
// would for the Pins that made them.
func ReleasePinsIn(dir string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	p := &Pins{}
	for _, ent := range ents {
		if n := ent.Name(); n == "rootfs" || strings.HasPrefix(n, "m") || strings.HasPrefix(n, "ns-") {
			p.points = append(p.points, filepath.Join(dir, n))
		}
	}
	return p.Release()
}

// removeMountPoint detaches whatever is mounted at point and removes the
// empty directory or file. It never recurses: a removal that crossed into
// a mount that failed to detach would delete host files.
func removeMountPoint(point string) error {
	if err := unix.Unmount(point, unix.MNT_DETACH|unix.UMOUNT_NOFOLLOW); err != nil && err != unix.EINVAL && err != unix.ENOENT {
		return fmt.Errorf("detach %s: %w", point, err)
	}
	err := unix.Rmdir(point)
	if err == unix.ENOTDIR {
		err = unix.Unlink(point)
	}
	if err == unix.ENOTEMPTY {
		// runc made mount points in it (a rootfs pin already detached):
		// empty directories on runh's own tmpfs, nothing else, go too.
		var st unix.Stat_t
		if err = unix.Lstat(filepath.Dir(point), &st); err == nil {
			err = removeEmptyDirs(point, st.Dev)
		}
	}
	if err != nil && err != unix.ENOENT {
		return fmt.Errorf("remove %s: %w", point, err)
	}
	return nil
}

// removeEmptyDirs removes dir if it holds only directories, all on device
// dev (so none is a mount point) and empty in the same sense. Anything else
// (a file, a mount) leaves it, with ENOTEMPTY: runh never deletes what it
// cannot tell is its own.
func removeEmptyDirs(dir string, dev uint64) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		p := filepath.Join(dir, e.Name())
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		if st.Mode&unix.S_IFMT != unix.S_IFDIR || st.Dev != dev {
			return unix.ENOTEMPTY
		}
		if err := removeEmptyDirs(p, dev); err != nil {
			return err
		}
	}
	return unix.Rmdir(dir)
}

// PrivateBundles is where runh keeps the bundles it hands runc, below its
// state directory: a private tmpfs (no mount made in it propagates to any
// other mount namespace), mode 0711 and root's, so only root can change
// what is in it.
func PrivateBundles(stateDir string) (string, error) {
	top := filepath.Join(stateDir, "bundles")
	if mounted(top, stateDir) {
		return top, nil
	}
	if err := os.MkdirAll(stateDir, 0o711); err != nil {
		return "", err
	}
	lock, err := os.OpenFile(filepath.Join(stateDir, "bundles.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return "", err
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
		return "", fmt.Errorf("lock %s: %w", lock.Name(), err)
	}
	if mounted(top, stateDir) { // another runh got there first
		return top, nil
	}
	if err := os.Mkdir(top, 0o711); err != nil && !os.IsExist(err) {
		return "", err
	}
	if err := unix.Mount("runh", top, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=0711,size=64m"); err != nil {
		return "", fmt.Errorf("mount a tmpfs on %s: %w", top, err)
	}
	if err := unix.Mount("", top, "", unix.MS_PRIVATE, ""); err != nil {
		unix.Unmount(top, unix.MNT_DETACH)
		return "", fmt.Errorf("make %s private: %w", top, err)
	}
	return top, nil
}

// mounted reports whether dir is a different filesystem from parent.
func mounted(dir, parent string) bool {
	var a, b syscall.Stat_t
	return syscall.Stat(dir, &a) == nil && syscall.Stat(parent, &b) == nil && a.Dev != b.Dev
}

// RemovePrivateBundle removes a private bundle made by runh: detaches and
// removes each entry, then the directory. Nothing is removed recursively,
// and nothing outside runh's tmpfs (dev) is unlinked.
func RemovePrivateBundle(dir string) error {
	var top syscall.Stat_t
	if err := syscall.Stat(filepath.Dir(filepath.Dir(dir)), &top); err != nil {
		return err
	}
	entries, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	var errs []error
	for _, ent := range entries {
		p := filepath.Join(dir, ent.Name())
		if strings.HasPrefix(ent.Name(), "m") || strings.HasPrefix(ent.Name(), "ns-") || ent.Name() == "rootfs" {
			errs = append(errs, removeMountPoint(p))
			continue
		}
		var st syscall.Stat_t
		if syscall.Lstat(p, &st) == nil && st.Dev == top.Dev && st.Mode&syscall.S_IFMT != syscall.S_IFDIR {
			errs = append(errs, os.Remove(p))
		}
	}
	if err := unix.Rmdir(dir); err != nil && err != unix.ENOENT {
		errs = append(errs, fmt.Errorf("remove %s: %w", dir, err))
	}
	return errors.Join(errs...)
}

// readonlySubmounts makes every mount below the pinned rootfs read-only,
// nosuid and nodev. runc's read-only remount covers only the top mount
// (runh's attack pass on issue 15: a tmpfs below a host-directory rootfs
// stayed writable, and under userns a file made there was the
// container's, setuid included). The top stays as it was: runc remounts
// it read-only itself after making its mount points.
func readonlySubmounts(root string) error {
	tree, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(tree)
	attr := uint64(unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV)
	var top unix.Statfs_t
	if err := unix.Fstatfs(tree, &top); err != nil {
		return err
	}
	// Restore on the top mount only what it did not have before.
	var clr uint64
	for _, f := range []struct {
		st   int64
		attr uint64
	}{{unix.ST_RDONLY, unix.MOUNT_ATTR_RDONLY}, {unix.ST_NOSUID, unix.MOUNT_ATTR_NOSUID}, {unix.ST_NODEV, unix.MOUNT_ATTR_NODEV}} {
		if top.Flags&f.st == 0 {
			clr |= f.attr
		}
	}
	if err := unix.MountSetattr(tree, "", unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, &unix.MountAttr{Attr_set: attr}); err != nil {
		return fmt.Errorf("read-only submounts: %w", err)
	}
	if err := unix.MountSetattr(tree, "", unix.AT_EMPTY_PATH, &unix.MountAttr{Attr_clr: clr}); err != nil {
		return fmt.Errorf("read-only submounts: %w", err)
	}
	return nil
}

// ownImage: the rootfs is inside the bundle (runc's layout: bundle/rootfs),
// the container's own image. A rootfs elsewhere may be any host tree the
// floor allows (/srv, /home/...): idmapped, its root-owned 0600 files
// would be the container root's to read (runh's attack pass on issue 15),
// so it is left as it is, its files nobody's inside.
func ownImage(e *Env, rootfs string) bool {
	if e.Host == nil || e.Host.Bundle == "" {
		return false
	}
	// Host.Bundle was resolved once, before config.json was read through
	// it (runtime's hardenBundle): resolving it again here would follow a
	// symlink swapped in since (to /, say, inside which every path is).
	bundle := e.Host.Bundle
	return bundle != "/" && rootfs != bundle && within(rootfs, bundle)
}

// idmapRootfs idmaps the top of the pinned root filesystem onto the
// container's range: on-disk ids 0-65535 are the container's 0-65535
// (host ids UserNSBase...). The image's files then keep their owners
// inside (root's are root's, nginx's are nginx's), and runc, which builds
// the rootfs as the namespace's root, can create mount points in it. The
// root filesystem is the container's own image and is read-only to the
// workload (runc remounts it before the process starts; readonly-rootfs),
// so this gives the container no write to any host file. Submounts of the
// rootfs are not idmapped: their files show as nobody inside.
//
// A filesystem that cannot be idmapped (EINVAL) leaves the rootfs as it
// is, which is stricter: files show as nobody and stay readable where
// their mode lets others read.
func idmapRootfs(e *Env, tree int) (bool, error) {
	ns, err := userNSFd(rangeMapping(e.UserNSBase))
	if err != nil {
		return false, fmt.Errorf("user namespace for the idmapped rootfs: %w", err)
	}
	defer unix.Close(ns)
	err = unix.MountSetattr(tree, "", unix.AT_EMPTY_PATH, &unix.MountAttr{
		Attr_set: unix.MOUNT_ATTR_IDMAP | unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV, Userns_fd: uint64(ns)})
	switch {
	case err == nil:
		e.changed("root.path", "idmapped: on-disk ids 0-65535 are the container's (host ids %d-%d)", e.UserNSBase, e.UserNSBase+IDRangeSize-1)
		return true, nil
	case errors.Is(err, unix.EINVAL) || errors.Is(err, unix.EOPNOTSUPP):
		// overlayfs, the engines' rootfs, cannot itself be idmapped
		// (Linux 6.18: EINVAL; only its layers can).
		e.changed("root.path", "not idmapped (%v: the filesystem does not support it): files show as nobody inside", err)
		return false, nil
	}
	return false, fmt.Errorf("idmap the rootfs: %w", err)
}

// makeMountPoints creates, as the host's root, the mount points that runc
// would create as the container's root, which it cannot do in a root
// filesystem whose owners its user namespace does not map (EACCES on an
// image without /run, say), or below a submount runh made read-only.
// With all unset only the latter are made. These are what runc creates today for every
// restricted container: empty directories, or empty files for file bind
// mounts, owned by root. Every path is resolved inside the pinned rootfs
// (RESOLVE_IN_ROOT), so a symlink in the image cannot point a mkdir at
// the host. Destinations below an earlier mount are that mount's (runc
// makes /dev/pts in its /dev tmpfs) and are left to runc.
func makeMountPoints(rootPoint string, s *specs.Spec, all bool) error {
	root, err := unix.Open(rootPoint, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("root.path: %w", err)
	}
	defer unix.Close(root)
	rootMnt, err := mountID(root, "")
	if err != nil {
		return fmt.Errorf("root.path: %w", err)
	}
	for i, m := range s.Mounts {
		dest := filepath.Clean("/" + m.Destination)
		if dest == "/" || slices.ContainsFunc(s.Mounts[:i], func(o specs.Mount) bool {
			d := filepath.Clean("/" + o.Destination)
			return d != "/" && d != dest && within(dest, d)
		}) {
			continue
		}
		file := false
		if isBind(&m) {
			if fi, err := os.Stat(m.Source); err == nil && !fi.IsDir() {
				file = true
			}
		}
		if !all {
			// Only below a submount: on the top mount runc makes them.
			if mnt, err := nearestMountID(root, dest); err != nil || mnt == rootMnt {
				continue
			}
		}
		if err := mkpathIn(root, dest, file); err != nil {
			return fmt.Errorf("mounts[%d]: mount point %s: %w", i, dest, err)
		}
	}
	return nil
}

// mountID is the id of the mount path (relative to dir) is on.
func mountID(dir int, path string) (uint64, error) {
	var stx unix.Statx_t
	if err := unix.Statx(dir, path, unix.AT_EMPTY_PATH|unix.AT_SYMLINK_NOFOLLOW, unix.STATX_MNT_ID, &stx); err != nil {
		return 0, err
	}
	return stx.Mnt_id, nil
}

// nearestMountID is the mount id of the deepest existing component of
// path inside root (resolved in root).
func nearestMountID(root int, path string) (uint64, error) {
	parts := strings.Split(strings.TrimPrefix(path, "/"), "/")
	for j := len(parts); j > 0; j-- {
		fd, err := openInRoot(root, parts[:j], 0)
		if err != nil {
			continue
		}
		id, err := mountID(fd, "")
		unix.Close(fd)
		return id, err
	}
	return mountID(root, "")
}

// openInRoot opens the path of components parts, O_PATH plus flags,
// resolved inside root: a symlink in it cannot lead out.
func openInRoot(root int, parts []string, flags uint64) (int, error) {
	return unix.Openat2(root, strings.Join(parts, "/"), &unix.OpenHow{
		Flags: unix.O_PATH | unix.O_CLOEXEC | flags, Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS})
}

// mkpathIn creates the missing components of path inside root, the last
// one a file if file is set. A component that exists in any form (a
// symlink to nowhere included) ends the walk: runc resolves it itself.
func mkpathIn(root int, path string, file bool) error {
	parts := strings.Split(strings.TrimPrefix(path, "/"), "/")
	for j := range parts {
		fd, err := openInRoot(root, parts[:j+1], 0)
		if err == nil {
			unix.Close(fd)
			continue
		}
		if !errors.Is(err, unix.ENOENT) {
			return err
		}
		parent := root
		if j > 0 {
			if parent, err = openInRoot(root, parts[:j], unix.O_DIRECTORY); err != nil {
				return err
			}
			defer unix.Close(parent)
		}
		if j == len(parts)-1 && file {
			fd, err := unix.Openat(parent, parts[j], unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644)
			if err == nil {
				unix.Close(fd)
			}
			if errors.Is(err, unix.EEXIST) {
				return nil
			}
			return err
		}
		err = unix.Mkdirat(parent, parts[j], 0o755)
		if errors.Is(err, unix.EEXIST) {
			return nil // a dangling symlink: runc resolves the rest
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// userNSFd returns an fd of a new user namespace with the given mappings,
// for MOUNT_ATTR_IDMAP. A child is started in it, stopped before it runs
// a single instruction (ptrace stops it at exec), its namespace opened,
// and then it is killed: no code runs in the namespace.
func userNSFd(maps []specs.LinuxIDMapping) (int, error) {
	var uids, gids []syscall.SysProcIDMap
	for _, m := range maps {
		uids = append(uids, syscall.SysProcIDMap{ContainerID: int(m.ContainerID), HostID: int(m.HostID), Size: int(m.Size)})
	}
	gids = append(gids, uids...)
	self, err := os.Executable()
	if err != nil {
		return -1, err
	}
	cmd := exec.Command(self)
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  syscall.CLONE_NEWUSER,
		UidMappings: uids, GidMappings: gids,
		Ptrace:    true,
		Pdeathsig: syscall.SIGKILL,
	}
	if err := cmd.Start(); err != nil {
		return -1, err
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()
	return unix.Open(fmt.Sprintf("/proc/%d/ns/user", cmd.Process.Pid), unix.O_RDONLY|unix.O_CLOEXEC, 0)
}

// nsGetUserNS is ioctl NS_GET_USERNS: an fd of the user namespace that
// owns a namespace.
const nsGetUserNS = 0xb701

// pinSysfs gives a container in its own user namespace the sysfs of a
// network namespace it joins but does not own. The kernel mounts sysfs
// only for a task with CAP_SYS_ADMIN over the network namespace's owner,
// and a CRI pod's network namespace (made by the engine for CNI) belongs
// to the host's user namespace, where the container's root has nothing:
// runc's sysfs mount fails with EPERM. So runh, the host's root, mounts a
// read-only sysfs from inside that network namespace (its /sys/class/net
// is the pod's), attaches it in the private bundle, and the spec's sysfs
// mount becomes a read-only bind of it. Docker, in the same case
// (userns-remap with the host's network), binds the host's /sys instead,
// which shows the host's network devices.
func (p *Pins) pinSysfs(e *Env, s *specs.Spec, dir string) error {
	if s.Linux == nil {
		return nil
	}
	i := slices.IndexFunc(s.Linux.Namespaces, func(n specs.LinuxNamespace) bool { return n.Type == specs.NetworkNamespace })
	if i < 0 || s.Linux.Namespaces[i].Path == "" {
		return nil // runc makes it inside the container's user namespace
	}
	netPath := s.Linux.Namespaces[i].Path // pinned already
	net, err := unix.Open(netPath, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("linux.namespaces[%d]: %w", i, err)
	}
	defer unix.Close(net)
	owner, err := unix.IoctlRetInt(net, nsGetUserNS)
	if err != nil {
		return fmt.Errorf("linux.namespaces[%d]: owner of the network namespace: %w", i, err)
	}
	var st unix.Stat_t
	err = unix.Fstat(owner, &st)
	unix.Close(owner)
	if err != nil {
		return err
	}
	if e.Host == nil || (NSID{Dev: uint64(st.Dev), Ino: st.Ino}) != e.Host.Namespaces[specs.UserNamespace] {
		return nil // owned by a user namespace the container's root may mount in
	}
	if err := writeNetSysctls(e, s.Linux, net, e.UserNSBase); err != nil {
		return err
	}
	for j := range s.Mounts {
		m := &s.Mounts[j]
		if m.Type != "sysfs" {
			continue
		}
		// "m..." like a bind source's pin: ReleasePinsIn and the sweep
		// of private bundles detach it (run's pin releaser included).
		point := filepath.Join(dir, "m-sysfs"+strconv.Itoa(j))
		if err := p.mountSysfsIn(net, point); err != nil {
			return fmt.Errorf("mounts[%d]: sysfs of the pod's network namespace: %w", j, err)
		}
		*m = specs.Mount{Destination: m.Destination, Type: "bind", Source: point, Options: []string{"rbind", "ro", "nosuid", "nodev", "noexec"}}
		e.changed(fmt.Sprintf("mounts[%d]", j), "sysfs of the joined network namespace, mounted by runh (the container's root cannot: the namespace is the host's user namespace's), bound read-only")
	}
	return nil
}

// writeNetSysctls writes the spec's net.* sysctls (judged already by the
// sysctls rule) into network namespace net as the host's root, and takes
// them out of the spec: runc would write them as the container's root,
// which the host-owned namespace refuses (EACCES). A CRI pod asks for
// net.ipv4.ip_unprivileged_port_start this way (containerd 2's default),
// without which its root could not bind port 80 in it.
//
// Values that name group ids (net.ipv4.ping_group_range) are the
// container's gids; written from the host they are read as host gids, so
// they are translated through the container's mapping (base).
func writeNetSysctls(e *Env, l *specs.Linux, net int, base uint32) error {
	var keys []string
	for k := range l.Sysctl {
		if strings.HasPrefix(k, "net.") {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return nil
	}
	slices.Sort(keys)
	err := inNetns(net, func() error {
		for _, k := range keys {
			if strings.Contains(k, "/") || strings.Contains(k, "..") {
				return fmt.Errorf("linux.sysctl.%s: not a sysctl name", k)
			}
			v := l.Sysctl[k]
			if k == "net.ipv4.ping_group_range" {
				var lo, hi uint32
				if n, _ := fmt.Sscanf(v, "%d %d", &lo, &hi); n != 2 || lo > hi || hi >= IDRangeSize {
					return fmt.Errorf("linux.sysctl.%s: %q is not a range of the container's gids", k, v)
				}
				v = fmt.Sprintf("%d %d", base+lo, base+hi)
			}
			f, err := os.OpenFile("/proc/sys/"+strings.ReplaceAll(k, ".", "/"), os.O_WRONLY|syscall.O_NOFOLLOW, 0)
			if err == nil {
				_, err = f.WriteString(v)
				if cerr := f.Close(); err == nil {
					err = cerr
				}
			}
			if err != nil {
				return fmt.Errorf("linux.sysctl.%s: %w", k, err)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, k := range keys {
		e.changed("linux.sysctl."+k, "written by runh into the joined network namespace (the container's root cannot: it is the host's user namespace's)")
		delete(l.Sysctl, k)
	}
	return nil
}

// inNetns runs f on a locked thread inside network namespace net, and
// brings the thread back. A thread that cannot come back is never
// unlocked, so Go ends it with its goroutine rather than reuse it.
func inNetns(net int, f func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- err
			return
		}
		defer unix.Close(orig)
		if err := unix.Setns(net, unix.CLONE_NEWNET); err != nil {
			errc <- err
			return
		}
		ferr := f()
		if err := unix.Setns(orig, unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("return to runh's network namespace: %w", err)
			return // still locked: the thread exits with the goroutine
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// mountSysfsIn mounts a read-only sysfs as seen from network namespace
// net and attaches it at point.
func (p *Pins) mountSysfsIn(net int, point string) error {
	mnt := -1
	err := inNetns(net, func() (err error) {
		mnt, err = mountSysfs()
		return err
	})
	if err != nil {
		if mnt >= 0 {
			unix.Close(mnt)
		}
		return err
	}
	defer unix.Close(mnt)
	if err := os.Mkdir(point, 0o711); err != nil {
		return err
	}
	p.points = append(p.points, point)
	return unix.MoveMount(mnt, "", unix.AT_FDCWD, point, unix.MOVE_MOUNT_F_EMPTY_PATH)
}

func mountSysfs() (int, error) {
	fs, err := unix.Fsopen("sysfs", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return -1, err
	}
	defer unix.Close(fs)
	if err := unix.FsconfigCreate(fs); err != nil {
		return -1, err
	}
	return unix.Fsmount(fs, unix.FSMOUNT_CLOEXEC, unix.MOUNT_ATTR_RDONLY|unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOEXEC)
}
