package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/runh-dev/runh/internal/specjson"
	"github.com/runh-dev/runh/sandbox"
)

// execFlags are runc 1.5's exec flags.
var (
	execFlags = flagDefs{
		"console-socket": true, "pidfd-socket": true, "cwd": true, "env": true, "tty": false,
		"user": true, "additional-gids": true, "process": true, "detach": false,
		"pid-file": true, "process-label": true, "apparmor": true, "no-new-privs": false,
		"cap": true, "preserve-fds": true, "cgroup": true, "ignore-paused": false,
	}
	execAliases = map[string]string{
		"e": "env", "t": "tty", "u": "user", "g": "additional-gids", "p": "process",
		"d": "detach", "c": "cap",
	}
	// execPassFlags reach runc unchanged; every other flag is folded into
	// the hardened process.json that runh hands runc instead.
	execPassFlags = []string{"console-socket", "pidfd-socket", "pid-file", "preserve-fds", "cgroup", "detach", "ignore-paused"}
)

// exec hardens the process of `runc exec`, whether it comes as --process
// JSON (engines) or as CLI flags (people), and execs runc with the hardened
// process in a sealed memfd. The caller's process.json is never modified.
func (c *call) exec() int {
	a, err := parseCmd(c.inv.Args, execFlags, execAliases, false)
	if err != nil {
		c.log.Error(err.Error())
		return 1
	}
	if a.help {
		return fail(c.log, execRunc(c.runc, c.inv.RuncArgs()))
	}
	if len(a.positional) < 1 {
		c.log.Error(fmt.Sprintf("%s: \"exec\" requires a container id", ErrUsage))
		return 1
	}
	id := a.positional[0]
	d := &decision{op: "exec", id: id}
	refuse := func(err error) int {
		d.err = err
		if rerr := c.record(d); rerr != nil {
			c.log.Warn(rerr.Error())
		}
		return c.refuse(err)
	}
	if d.annotations, err = c.requireRunhContainer(id); err != nil && !(isNotOurs(err) && c.auditMode()) {
		return refuse(err)
	}
	var p *specs.Process
	if path := a.last("process"); path != "" {
		if len(a.positional) > 1 {
			c.log.Error(fmt.Sprintf("%s: exec with --process takes only the container id", ErrUsage))
			return 1
		}
		p, err = sandbox.LoadProcess(path)
	} else {
		p, err = c.processFromFlags(id, a)
	}
	if err != nil {
		return fail(c.log, err)
	}
	host, err := sandbox.ProbeHost("", c.inv.StateRoot())
	if err != nil {
		return fail(c.log, err)
	}
	if host.ExecViaInit, err = c.execViaInit(id); err != nil {
		return fail(c.log, fmt.Errorf("exec: container %s: %w", id, err))
	}
	env := &sandbox.Env{Policy: &c.profile.Policy, Host: host}
	if !c.auditMode() {
		if err := env.CheckInheritedFDs(reservedFds(a) - 3); err != nil {
			return refuse(c.profileDenial(err))
		}
	}
	var asAsked []byte
	if c.auditMode() {
		// runc gets the process as the caller asked for it. It goes in a
		// memfd like a hardened one: --process may be a pipe that runh
		// has already read (runc exec -p /dev/fd/63).
		if asAsked, err = specjson.EncodeProcess(p); err != nil {
			return fail(c.log, err)
		}
	}
	start := time.Now()
	// The container's user namespace judges the process's ids (root
	// inside is allowed only in one, onto host ids above the floor).
	err = c.harden(env, &specs.Spec{Process: p, Linux: containerUserNS(c.ctrLinux)}, true)
	d.harden, d.changes = time.Since(start), env.Changes
	data := asAsked
	if c.auditMode() {
		d.err = err
		c.record(d)
	} else {
		if err != nil {
			return refuse(err)
		}
		if err := c.record(d); err != nil {
			return fail(c.log, err)
		}
		c.log.Debugs(changeLines(c.profile.Name, "exec: ", env.Changes))
		if data, err = specjson.EncodeProcess(p); err != nil {
			return fail(c.log, err)
		}
	}
	path, err := sealedFile("runh-process", data, reservedFds(a))
	if err != nil {
		return fail(c.log, err)
	}
	args := append([]string{}, c.inv.GlobalArgs()...)
	args = append(args, "exec")
	for _, name := range execPassFlags {
		for _, v := range a.flags[name] {
			args = append(args, "--"+name+"="+v)
		}
	}
	args = append(args, "--process", path, id)
	return fail(c.log, execRunc(c.runc, args))
}

// errNoContainer: runc's state has no such container.
var errNoContainer = errors.New("does not exist")

// requireRunhContainer refuses an exec into a container runh did not
// create: one made by plain runc (or another runtime) has no runh filter
// and no hardened config, and an exec'd process would inherit nothing of
// the floor (runh issue 13). runh's mark is its private bundle: runc's
// state (in a root-only --root) must name a bundle in runh's root-only
// tmpfs for this root and id, whose config carries runh's annotation.
//
// The container's own profile then governs the call, whatever handler it
// comes through and whatever the config's mode: the profile it was created
// with (the annotation), tightened again by its runh.io/ annotations. An
// exec or update can never get more than its container has, and audit
// mode, which is for new containers, never loosens one that runh hardened
// (its exec would otherwise miss runh-init and its seccomp filter).
// c.profile becomes that profile. It returns the container's annotations.
func (c *call) requireRunhContainer(id string) (map[string]string, error) {
	if !validID(id) {
		return nil, fmt.Errorf("%w: invalid container id %q", ErrUsage, id)
	}
	if err := checkOwnedDir(c.inv.StateRoot(), "--root"); err != nil {
		return nil, err
	}
	notOurs := func(why string) error {
		return &sandbox.Denial{Profile: c.profile.Name, Field: "container " + id, Rule: "exec-runh-only",
			Reason: "runh did not create it (" + why + "): " + c.inv.Command + " of a container runh has not hardened is refused"}
	}
	data, err := os.ReadFile(filepath.Join(c.inv.StateRoot(), id, "state.json"))
	if err != nil {
		if os.IsNotExist(err) {
			return nil, fmt.Errorf("container %s %w", id, errNoContainer)
		}
		return nil, err
	}
	var st struct {
		Config struct {
			Labels []string `json:"labels"`
		} `json:"config"`
	}
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("runc state of %s: %w", id, err)
	}
	bundle := ""
	for _, l := range st.Config.Labels {
		if v, ok := strings.CutPrefix(l, "bundle="); ok {
			bundle = v
		}
	}
	want := filepath.Join(stateDir(), "bundles", rootKey(c.inv.StateRoot()), id) + "/"
	if !strings.HasPrefix(bundle, want) || strings.Contains(bundle[len(want):], "/") {
		return nil, notOurs("its bundle is " + bundle)
	}
	// From here the container is runh's: any failure refuses the call,
	// never falls back to the handler's profile or to audit mode.
	s, _, err := sandbox.LoadSpec(filepath.Join(bundle, "config.json"))
	if err != nil {
		return nil, fmt.Errorf("container %s: runh's private config: %w", id, err)
	}
	recorded, ok := s.Annotations[AnnotationProfile]
	if !ok {
		return nil, fmt.Errorf("container %s: runh's private config has no %s", id, AnnotationProfile)
	}
	prof, err := c.cfg.Profile(recorded)
	if err != nil {
		return s.Annotations, fmt.Errorf("container %s was created with profile %q: %w", id, recorded, err)
	}
	c.profile, c.enforced, c.ctrLinux = prof, true, s.Linux
	if err := c.applyOverrides(s.Annotations); err != nil {
		return s.Annotations, err
	}
	return s.Annotations, nil
}

// isNotOurs reports whether err says the container is not runh's.
func isNotOurs(err error) bool {
	var d *sandbox.Denial
	return errors.As(err, &d) && d.Rule == "exec-runh-only"
}

// profileDenial names this call's profile in a denial.
func (c *call) profileDenial(err error) error {
	var d *sandbox.Denial
	if errors.As(err, &d) && d.Profile == "" {
		d.Profile = c.profile.Name
	}
	return err
}

// processFromFlags builds the exec process the way runc does without
// --process: the container's config.json process, overridden by flags.
func (c *call) processFromFlags(id string, a *cmdArgs) (*specs.Process, error) {
	if len(a.positional) < 2 {
		return nil, fmt.Errorf("%w: exec args cannot be empty", ErrUsage)
	}
	st, err := c.stateOf(id)
	if err != nil {
		return nil, err
	}
	s, _, err := sandbox.LoadSpec(filepath.Join(st.Bundle, "config.json"))
	if err != nil {
		return nil, err
	}
	if s.Process == nil {
		return nil, fmt.Errorf("%w: container %s has no process in its config.json", sandbox.ErrInvalidConfig, id)
	}
	p := s.Process
	p.Args = a.positional[1:]
	if v := a.last("cwd"); v != "" {
		p.Cwd = v
	}
	if v := a.last("apparmor"); v != "" {
		p.ApparmorProfile = v
	}
	if v := a.last("process-label"); v != "" {
		p.SelinuxLabel = v
	}
	if caps := a.flags["cap"]; len(caps) > 0 {
		if p.Capabilities == nil {
			p.Capabilities = &specs.LinuxCapabilities{}
		}
		for _, cp := range caps {
			p.Capabilities.Bounding = append(p.Capabilities.Bounding, cp)
			p.Capabilities.Effective = append(p.Capabilities.Effective, cp)
			p.Capabilities.Permitted = append(p.Capabilities.Permitted, cp)
		}
	}
	p.Env = append(p.Env, a.flags["env"]...)
	p.Terminal = a.last("tty") == "true"
	if a.has("no-new-privs") {
		p.NoNewPrivileges = a.last("no-new-privs") == "true"
	}
	if user := a.last("user"); user != "" {
		uids, gids, hasGid := strings.Cut(user, ":")
		if hasGid {
			gid, err := strconv.ParseUint(gids, 10, 32)
			if err != nil {
				return nil, fmt.Errorf("%w: --user: bad gid %q", ErrUsage, gids)
			}
			p.User.GID = uint32(gid)
		}
		uid, err := strconv.ParseUint(uids, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("%w: --user: bad uid %q", ErrUsage, uids)
		}
		p.User.UID = uint32(uid)
	}
	for _, g := range a.flags["additional-gids"] {
		gid, err := strconv.ParseUint(g, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("%w: --additional-gids: bad gid %q", ErrUsage, g)
		}
		p.User.AdditionalGids = append(p.User.AdditionalGids, uint32(gid))
	}
	return p, nil
}

// reservedFds is the lowest fd runh may use for its own files that must
// survive exec: above every fd runc passes on (--preserve-fds, LISTEN_FDS),
// so runh's memfd can never be mistaken for one of the caller's.
func reservedFds(a *cmdArgs) int {
	n := 3
	if v, err := strconv.Atoi(a.last("preserve-fds")); err == nil && v > 0 {
		n += v
	}
	if v, err := strconv.Atoi(os.Getenv("LISTEN_FDS")); err == nil && v > 0 {
		n += v
	}
	return n
}

// sealedFile puts data in a sealed memfd that survives exec, at an fd of at
// least minFd, and returns its /proc/self/fd path for runc to open. Nothing
// is written to disk, so nothing is left behind, and the seals mean nobody
// can change the content after runh checked it.
func sealedFile(name string, data []byte, minFd int) (string, error) {
	fd, err := unix.MemfdCreate(name, unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return "", fmt.Errorf("memfd: %w", err)
	}
	defer unix.Close(fd)
	for off := 0; off < len(data); {
		n, err := unix.Write(fd, data[off:])
		if err != nil {
			return "", fmt.Errorf("memfd write: %w", err)
		}
		off += n
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, unix.F_SEAL_SEAL|unix.F_SEAL_SHRINK|unix.F_SEAL_GROW|unix.F_SEAL_WRITE); err != nil {
		return "", fmt.Errorf("memfd seal: %w", err)
	}
	// F_DUPFD gives a copy without close-on-exec, so it survives into runc.
	// runc init marks every fd above the preserved ones close-on-exec before
	// it starts the container's process, so this one never reaches it.
	dup, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD, minFd)
	if err != nil {
		return "", fmt.Errorf("memfd dup: %w", err)
	}
	return fmt.Sprintf("/proc/self/fd/%d", dup), nil
}
