// Package install registers runh with a container engine by editing the
// engine's own configuration file, in the spirit of `nvidia-ctk runtime
// configure` and `runsc install`: idempotent, everything else in the file
// kept, a backup written, the file replaced atomically.
package install

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"time"

	"github.com/runh-dev/runh/internal/atomicfile"
)

// Options says what to register and where.
type Options struct {
	Engine string // docker, containerd or podman
	Config string // the engine's config file; "" for the engine's default
	Name   string // the runtime (handler) name
	Path   string // runh's absolute path, as the engine will exec it
	// SetDefault also makes runh the engine's default runtime.
	SetDefault bool
	// Remove unregisters Name instead (containerd only): the uninstall
	// step of runh's Kubernetes installer.
	Remove bool
	// ConfigVersion is containerd's config version for a file that does not
	// exist yet (2 for containerd 1.x, 3 or 4 for 2.x); 0 picks by the
	// installed containerd.
	ConfigVersion int
	// Now names the backup; tests fix it.
	Now func() time.Time
}

// Result is what Run did or, in a dry run, would do.
type Result struct {
	Config  string // the file
	Before  []byte // nil if the file did not exist
	After   []byte
	Changed bool
	Backup  string // "" if none was written
	Restart string // how to make the engine read the file
}

var (
	// ErrUnknownEngine is an engine runh cannot register with.
	ErrUnknownEngine = errors.New("unknown engine")
	// ErrBadConfig is an engine config runh cannot parse or edit safely.
	ErrBadConfig = errors.New("cannot edit engine config")
	// ErrBadOption is an invalid --name, --path or version.
	ErrBadOption = errors.New("invalid install option")
)

type engine struct {
	defaultConfig string
	// restart says how to make the engine read the file.
	restart func(o Options) string
	// edit returns the new file for src (nil src: no file yet).
	edit func(src []byte, o Options) ([]byte, error)
}

var engines = map[string]engine{
	"docker": {"/etc/docker/daemon.json", func(Options) string {
		return `systemctl restart docker   (dockerd also reloads "runtimes" on SIGHUP: kill -HUP $(pidof dockerd))`
	}, editDocker},
	"containerd": {"/etc/containerd/config.toml", func(Options) string { return "systemctl restart containerd" }, editContainerd},
	"podman": {"/etc/containers/containers.conf", func(o Options) string {
		return "nothing to restart: podman reads containers.conf on every command (podman --runtime " + o.Name + " run ...)"
	}, editPodman},
}

// validName: a runtime name becomes a TOML key, a JSON key, a CRI handler
// name and a RuntimeClass handler, which must be a DNS label: 1 to 63 of
// [a-z0-9-], not starting or ending with '-'.
func validName(name string) bool {
	if len(name) == 0 || len(name) > 63 || name[0] == '-' || name[len(name)-1] == '-' {
		return false
	}
	for _, c := range []byte(name) {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// Run registers runh with o.Engine. In a dry run nothing is written.
func Run(o Options, dryRun bool) (*Result, error) {
	eng, ok := engines[o.Engine]
	if !ok {
		return nil, fmt.Errorf("%w %q (want docker, containerd or podman)", ErrUnknownEngine, o.Engine)
	}
	if !validName(o.Name) {
		return nil, fmt.Errorf("%w: --name %q: must be a DNS label (lowercase letters, digits, '-'), as a RuntimeClass handler is", ErrBadOption, o.Name)
	}
	if o.Path == "" || o.Path[0] != '/' {
		return nil, fmt.Errorf("%w: --path %q: must be absolute, the engine execs it", ErrBadOption, o.Path)
	}
	if o.Remove && o.SetDefault {
		return nil, fmt.Errorf("%w: --remove and --set-default together", ErrBadOption)
	}
	if o.Remove && o.Engine != "containerd" {
		return nil, fmt.Errorf("%w: --remove: only containerd's handlers are removed by runh; edit %s's config by hand", ErrBadOption, o.Engine)
	}
	if o.Config == "" {
		o.Config = eng.defaultConfig
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	res := &Result{Config: o.Config, Restart: eng.restart(o)}
	// A symlinked config would be replaced by a plain file (and a dangling
	// one, such as an absolute link seen from inside a pod, read as no
	// file at all): name the real file instead.
	if fi, err := os.Lstat(o.Config); err == nil && fi.Mode()&os.ModeSymlink != 0 {
		target, _ := os.Readlink(o.Config)
		return nil, fmt.Errorf("%w: %s is a symlink (to %s): give --config the file itself", ErrBadConfig, o.Config, target)
	}
	src, err := os.ReadFile(o.Config)
	switch {
	case err == nil:
		res.Before = src
	case errors.Is(err, os.ErrNotExist) && o.Remove:
		return res, nil
	case errors.Is(err, os.ErrNotExist):
	default:
		return nil, fmt.Errorf("%w: %w", ErrBadConfig, err)
	}
	after, err := eng.edit(res.Before, o)
	if err != nil {
		return nil, fmt.Errorf("%w %s: %w", ErrBadConfig, o.Config, err)
	}
	res.After = after
	res.Changed = (res.Before == nil && !o.Remove) || !bytes.Equal(res.Before, after)
	if !res.Changed || dryRun {
		return res, nil
	}
	if res.Before != nil {
		res.Backup, err = writeBackup(o.Config, res.Before, o.Now())
		if err != nil {
			return nil, err
		}
	}
	if err := writeAtomic(o.Config, after); err != nil {
		return nil, err
	}
	return res, nil
}

// checkOnly proves that an edit changed exactly what it meant to: the
// decoded new file equals the decoded old file (want) with the intended
// values assigned. Anything else (a lost key, a changed value) stops the
// install before the file is written.
func checkOnly(after, want map[string]any) error {
	if !reflect.DeepEqual(after, want) {
		return errors.New("internal: the edit would change more than runh's entries; nothing was written (please report this)")
	}
	return nil
}

// writeBackup keeps the file as it was, next to it, never overwriting an
// earlier backup (that one may hold the pristine original).
func writeBackup(path string, data []byte, now time.Time) (string, error) {
	mode := os.FileMode(0o600)
	if fi, err := os.Stat(path); err == nil {
		mode = fi.Mode().Perm()
	}
	base := path + ".runh-backup-" + now.UTC().Format("20060102T150405Z")
	for i := 1; i < 100; i++ {
		name := base
		if i > 1 {
			name = fmt.Sprintf("%s.%d", base, i)
		}
		f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
		if errors.Is(err, os.ErrExist) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("write backup: %w", err)
		}
		_, err = f.Write(data)
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(name)
			return "", fmt.Errorf("write backup: %w", err)
		}
		return name, nil
	}
	return "", fmt.Errorf("write backup: too many backups named %s*", base)
}

// writeAtomic replaces path (creating its directory if needed): a crash
// leaves the old file or the new one, never a partial one.
func writeAtomic(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return atomicfile.Save(path, data)
}
