package profiles

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	toml "github.com/pelletier/go-toml/v2"
	"golang.org/x/sys/unix"

	"github.com/runh-dev/runh/internal/idpool"
	"github.com/runh-dev/runh/sandbox"
)

// DefaultConfigPath is the operator's config. A missing file means the
// built-in defaults.
const DefaultConfigPath = "/etc/runh/config.toml"

// ErrBadConfig wraps every reason runh refuses the operator's config:
// runh then refuses every create, exec and update (fail closed).
var ErrBadConfig = errors.New("invalid runh config")

// Mode is enforce or audit.
type Mode string

const (
	// Enforce hardens and refuses, as the profile says.
	Enforce Mode = "enforce"
	// Audit runs every container exactly as its client wrote it and records
	// what enforce would have changed and refused.
	Audit Mode = "audit"
)

// Config is /etc/runh/config.toml. Every key is documented in the README
// and printed, with its effective value, by `runh config show`.
type Config struct {
	// DefaultProfile is the profile of a call that names none (no
	// --runh-profile, and not called as runh-NAME).
	DefaultProfile string `toml:"default_profile"`
	// Mode is enforce (default) or audit.
	Mode Mode `toml:"mode"`
	// AuditLog is the JSON-lines decision log; "" turns it off.
	AuditLog string `toml:"audit_log"`
	// AuditLogMaxBytes rotates the log (to .1 ... .AuditLogKeep) when a
	// line would take it past this size.
	AuditLogMaxBytes int64 `toml:"audit_log_max_bytes"`
	AuditLogKeep     int   `toml:"audit_log_keep"`
	// MetricsDir is a node_exporter textfile-collector directory for
	// runh.prom; "" means no metrics.
	MetricsDir string `toml:"metrics_dir"`
	// Runc is the real runc's absolute path; "" finds it next to runh,
	// then in the system's binary directories.
	Runc string `toml:"runc"`
	// ProfilesDir holds NAME.toml files that define more profiles.
	ProfilesDir string `toml:"profiles_dir"`
	// UsernsPoolBase and UsernsPoolRanges are the host ids the userns
	// profile gives containers: UsernsPoolRanges ranges of 65536 from
	// UsernsPoolBase. Range 0 owns volume files; containers get the others.
	UsernsPoolBase   uint32 `toml:"userns_pool_base"`
	UsernsPoolRanges uint32 `toml:"userns_pool_ranges"`
	// Profiles overrides parameters of profiles by name: [profiles.edge].
	Profiles map[string]Params `toml:"profiles"`

	// Path is where the config was read from ("" for none: the defaults).
	Path string `toml:"-"`
	// profiles are the resolved profiles by name.
	profiles map[string]*Profile
}

// Defaults is the config without a file.
func Defaults() *Config {
	return &Config{
		DefaultProfile:   DefaultName,
		Mode:             Enforce,
		AuditLog:         "/var/log/runh/audit.jsonl",
		AuditLogMaxBytes: 10 << 20,
		AuditLogKeep:     3,
		ProfilesDir:      "/etc/runh/profiles.d",
		UsernsPoolBase:   idpool.DefaultBase,
		UsernsPoolRanges: idpool.DefaultRanges,
	}
}

// LoadConfig reads the operator's config at path. A missing file is the
// defaults (profiles.d is still read); anything else that is wrong (not
// root's, writable by others, a syntax error, an unknown key, a value out
// of range, a profile that would lower the floor) is an ErrBadConfig that
// names the file and the key.
func LoadConfig(path string) (*Config, error) {
	c := Defaults()
	data, err := readOwnedIn(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return nil, err
	default:
		c.Path = path
		if err := decodeStrict(data, c); err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrBadConfig, path, err)
		}
		if scanned, ok := FrontRunc(data); !ok || scanned != c.Runc {
			// The C front runs pass-through calls on the runc it reads
			// with a one-line scan; both must name the same runc.
			return nil, fmt.Errorf("%w: %s: runc: write it as runc = \"/path/to/runc\" on one line, before any [table]", ErrBadConfig, path)
		}
	}
	if err := c.validate(); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrBadConfig, c.where(), err)
	}
	if err := c.resolveProfiles(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadConfig, err)
	}
	if _, err := c.Profile(c.DefaultProfile); err != nil {
		return nil, fmt.Errorf("%w: %s: default_profile: %w", ErrBadConfig, c.where(), err)
	}
	return c, nil
}

func (c *Config) where() string {
	if c.Path == "" {
		return "built-in defaults"
	}
	return c.Path
}

// decodeStrict decodes TOML, refusing keys Config does not have: a
// misspelt key must not silently leave a default in place.
func decodeStrict(data []byte, v any) error {
	dec := toml.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	var strict *toml.StrictMissingError
	if errors.As(err, &strict) {
		keys := make([]string, len(strict.Errors))
		for i, e := range strict.Errors {
			keys[i] = strings.Join(e.Key(), ".")
		}
		return fmt.Errorf("unknown key %s", strings.Join(keys, ", "))
	}
	var de *toml.DecodeError
	if errors.As(err, &de) {
		row, col := de.Position()
		return fmt.Errorf("line %d, column %d: %s", row, col, de.Error())
	}
	return err
}

func (c *Config) validate() error {
	switch c.Mode {
	case Enforce, Audit:
	default:
		return fmt.Errorf("mode: %q is not enforce or audit", c.Mode)
	}
	for _, p := range []struct{ key, v string }{{"audit_log", c.AuditLog}, {"metrics_dir", c.MetricsDir}, {"runc", c.Runc}, {"profiles_dir", c.ProfilesDir}} {
		if p.v != "" && (!filepath.IsAbs(p.v) || filepath.Clean(p.v) != p.v) {
			return fmt.Errorf("%s: %q is not an absolute, clean path", p.key, p.v)
		}
	}
	if c.Runc != "" && !plainTOMLString(c.Runc) {
		// The C front reads this key with a one-line scan (runtime/front):
		// keep it to what both readers agree on.
		return fmt.Errorf("runc: %q must be a plain path (letters, digits, / . _ + -)", c.Runc)
	}
	for _, p := range []struct{ key, v string }{{"audit_log", filepath.Dir(c.AuditLog)}, {"metrics_dir", c.MetricsDir}, {"profiles_dir", c.ProfilesDir}, {"runc", c.Runc}} {
		if p.v != "" && p.v != "." {
			if err := RootOnlyPath(p.v); err != nil {
				return fmt.Errorf("%s: %w", p.key, err)
			}
		}
	}
	if c.AuditLogMaxBytes < 4096 {
		return fmt.Errorf("audit_log_max_bytes: %d is below 4096", c.AuditLogMaxBytes)
	}
	if c.AuditLogKeep < 1 || c.AuditLogKeep > 100 {
		return fmt.Errorf("audit_log_keep: %d is not between 1 and 100", c.AuditLogKeep)
	}
	pool := idpool.Pool{Base: c.UsernsPoolBase, Ranges: c.UsernsPoolRanges}
	if err := pool.Validate(sandbox.DefaultHostIDFloor); err != nil {
		return fmt.Errorf("userns_pool_base, userns_pool_ranges: %w", err)
	}
	return nil
}

// FrontRunc reads the runc key as runtime/front/runh.c does: a line
// `runc = "PATH"` before the first table, PATH of plain characters, an
// optional comment after it. ok is false where the front would hand the
// call to runh-core instead (a runc line in any other form).
func FrontRunc(data []byte) (value string, ok bool) {
	for _, line := range strings.Split(string(data), "\n") {
		p := strings.TrimLeft(line, " \t")
		if strings.HasPrefix(p, "[") {
			break
		}
		rest, found := strings.CutPrefix(p, "runc")
		if !found || rest == "" || !strings.ContainsRune(" \t=", rune(rest[0])) {
			continue
		}
		rest, found = strings.CutPrefix(strings.TrimLeft(rest, " \t"), "=")
		if !found {
			return "", false
		}
		rest, found = strings.CutPrefix(strings.TrimLeft(rest, " \t"), `"`)
		if !found {
			return "", false
		}
		end := strings.IndexFunc(rest, func(r rune) bool { return !plainRune(r) })
		if end < 0 || rest[end] != '"' {
			return "", false
		}
		value, rest = rest[:end], strings.TrimLeft(rest[end+1:], " \t\r")
		if rest != "" && rest[0] != '#' {
			return "", false
		}
		return value, true
	}
	return "", true
}

func plainRune(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/._+-", r)
}

// plainTOMLString: the characters the C front accepts in runc's path.
func plainTOMLString(s string) bool {
	return strings.IndexFunc(s, func(r rune) bool { return !plainRune(r) }) < 0
}

// profileFile is one profiles.d/NAME.toml.
type profileFile struct {
	Extends string `toml:"extends"`
	Params
}

// resolveProfiles builds every profile: the built-ins with the config's
// [profiles.NAME] parameters, then each profiles.d file on the profile it
// extends (built in or another file's, without cycles), then the config's
// parameters for it.
func (c *Config) resolveProfiles() error {
	c.profiles = map[string]*Profile{}
	files := map[string]profileFile{}
	if c.ProfilesDir != "" {
		ents, err := os.ReadDir(c.ProfilesDir)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("profiles_dir %s: %w", c.ProfilesDir, err)
		}
		for _, e := range ents {
			name, ok := strings.CutSuffix(e.Name(), ".toml")
			if !ok {
				continue
			}
			path := filepath.Join(c.ProfilesDir, e.Name())
			if !validProfileName(name) {
				return fmt.Errorf("%s: profile name %q must be 1-40 of [a-z0-9-], starting with a letter", path, name)
			}
			if _, builtin := registry[name]; builtin {
				return fmt.Errorf("%s: %q is a built-in profile: set its parameters in [profiles.%s] of the config", path, name, name)
			}
			data, err := readOwnedIn(path)
			if err != nil {
				return err
			}
			var f profileFile
			if err := decodeStrict(data, &f); err != nil {
				return fmt.Errorf("%s: %v", path, err)
			}
			if f.Extends == "" {
				return fmt.Errorf("%s: extends: required (e.g. extends = %q)", path, DefaultName)
			}
			files[name] = f
		}
	}
	for name := range c.Profiles {
		if _, builtin := registry[name]; !builtin {
			if _, ok := files[name]; !ok {
				return fmt.Errorf("%s: [profiles.%s]: %w %q (define it in %s/%s.toml)", c.where(), name, ErrUnknownProfile, name, c.ProfilesDir, name)
			}
		}
		if name == "compat" {
			return fmt.Errorf("%s: [profiles.compat]: compat has no parameters (it changes nothing)", c.where())
		}
	}
	var build func(name string, seen []string) (*Profile, error)
	build = func(name string, seen []string) (*Profile, error) {
		if p, ok := c.profiles[name]; ok {
			return p, nil
		}
		if slices.Contains(seen, name) {
			return nil, fmt.Errorf("%s/%s.toml: extends: cycle %s", c.ProfilesDir, name, strings.Join(append(seen, name), " -> "))
		}
		var p *Profile
		if mk, ok := registry[name]; ok {
			p = mk()
		} else if f, ok := files[name]; ok {
			if f.Extends == "compat" {
				return nil, fmt.Errorf("%s/%s.toml: extends: compat is not a hardened profile", c.ProfilesDir, name)
			}
			base, err := build(f.Extends, append(seen, name))
			if err != nil {
				return nil, err
			}
			p = base.clone(name)
			p.Extends = f.Extends
			if err := f.Params.apply(p, c.ProfilesDir); err != nil {
				return nil, fmt.Errorf("%s/%s.toml: %w", c.ProfilesDir, name, err)
			}
		} else {
			return nil, fmt.Errorf("%w %q", ErrUnknownProfile, name)
		}
		if params, ok := c.Profiles[name]; ok {
			if err := params.apply(p, filepath.Dir(c.where())); err != nil {
				return nil, fmt.Errorf("%s: [profiles.%s]: %w", c.where(), name, err)
			}
		}
		c.profiles[name] = p
		return p, nil
	}
	names := append(slices.Collect(maps.Keys(registry)), slices.Collect(maps.Keys(files))...)
	slices.Sort(names)
	for _, n := range names {
		if _, err := build(n, nil); err != nil {
			return err
		}
	}
	return nil
}

func validProfileName(n string) bool {
	if len(n) == 0 || len(n) > 40 || n[0] < 'a' || n[0] > 'z' {
		return false
	}
	return strings.Trim(n, "abcdefghijklmnopqrstuvwxyz0123456789-") == ""
}

// Profile returns the named profile, resolved with the config's
// parameters, or ErrUnknownProfile. Each call returns a fresh copy.
func (c *Config) Profile(name string) (*Profile, error) {
	p, ok := c.profiles[name]
	if !ok {
		return nil, fmt.Errorf("%w %q (known: %v)", ErrUnknownProfile, name, c.ProfileNames())
	}
	return p.clone(p.Name), nil
}

// ProfileNames lists the config's profiles, sorted.
func (c *Config) ProfileNames() []string {
	names := make([]string, 0, len(c.profiles))
	for n := range c.profiles {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// readOwnedIn is readOwned of a file whose directory is root's alone too
// (RootOnlyPath): else whoever can write the directory renames another
// root-owned file into its place.
func readOwnedIn(path string) ([]byte, error) {
	if err := RootOnlyPath(filepath.Dir(path)); err != nil {
		if _, serr := os.Lstat(path); errors.Is(serr, os.ErrNotExist) {
			return nil, serr
		}
		return nil, fmt.Errorf("%w: %s: %w", ErrBadConfig, path, err)
	}
	return readOwned(path)
}

// readOwned reads an operator file that must be root's alone, as sudo
// requires of sudoers: owned by root and not writable by group or others
// (else whoever can write it chooses runh's policy). The file is opened
// without following a final symlink and judged on the opened file.
func readOwned(path string) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, unix.ELOOP) {
			return nil, fmt.Errorf("%w: %s is a symlink: operator files must be regular files", ErrBadConfig, path)
		}
		if errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %w", ErrBadConfig, err)
	}
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrBadConfig, path, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil, fmt.Errorf("%w: %s is not a regular file", ErrBadConfig, path)
	}
	if st.Uid != 0 && int(st.Uid) != os.Geteuid() || st.Mode&0o022 != 0 {
		return nil, fmt.Errorf("%w: %s must be owned by root and not writable by group or others (owner %d, mode %04o): chown root:root %s && chmod go-w %s",
			ErrBadConfig, path, st.Uid, st.Mode&0o7777, path, path)
	}
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(f); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrBadConfig, path, err)
	}
	return buf.Bytes(), nil
}
