package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/runh-dev/runh/internal/specjson"
	"github.com/runh-dev/runh/sandbox"
)

// createFlags are runc 1.5's flags for create; runFlags add run's own.
var (
	createFlags = flagDefs{
		"bundle": true, "console-socket": true, "pidfd-socket": true, "pid-file": true,
		"no-pivot": false, "no-new-keyring": false, "preserve-fds": true,
	}
	runFlags = merge(createFlags, flagDefs{"detach": false, "keep": false, "no-subreaper": false})
	// createAliases are the short names: -b for --bundle, -d for --detach.
	createAliases = map[string]string{"b": "bundle", "d": "detach"}
)

func merge(a, b flagDefs) flagDefs {
	m := flagDefs{}
	for k, v := range a {
		m[k] = v
	}
	for k, v := range b {
		m[k] = v
	}
	return m
}

// create hardens the bundle's config.json and hands over to runc, which
// never reads anything the client can still change: the hardened config
// goes to a private bundle in runh's root-only state (the client's
// config.json is never written), with the root filesystem and every bind
// source pinned there (sandbox.PinHostPaths). For `create` runc runs as a
// child so runh can verify what the kernel applied to the waiting init
// process and then detach the pins; `run` execs runc so its foreground,
// tty, signal and exit-code semantics stay runc's own (runh-init checks
// the workload's identity from inside before it starts).
func (c *call) create() int {
	defs := createFlags
	if c.inv.Command == "run" {
		defs = runFlags
	}
	a, err := parseCmd(c.inv.Args, defs, createAliases, true)
	if err != nil {
		c.log.Error(err.Error())
		return 1
	}
	if a.help {
		return fail(c.log, execRunc(c.runc, c.inv.RuncArgs()))
	}
	if len(a.positional) != 1 {
		c.log.Error(fmt.Sprintf("%s: %q requires exactly 1 argument, the container id", ErrUsage, c.inv.Command))
		return 1
	}
	id := a.positional[0]
	bundle := a.last("bundle")
	if bundle == "" {
		if bundle, err = os.Getwd(); err != nil {
			return fail(c.log, err)
		}
	}
	bundle, err = filepath.Abs(bundle)
	if err != nil {
		return fail(c.log, err)
	}
	if c.auditMode() {
		return c.createReportOnly(id, bundle, a)
	}
	d := &decision{op: c.inv.Command, id: id, bundle: bundle}
	// Every refusal is recorded; a decision that cannot be recorded is
	// refused before runc runs.
	refuse := func(err error) int {
		d.err = err
		if rerr := c.record(d); rerr != nil {
			c.log.Warn(rerr.Error())
		}
		return c.refuse(err)
	}
	if err := c.checkCreateArgs(id, a); err != nil {
		return refuse(err)
	}
	h, err := c.hardenBundle(id, bundle, d)
	if err == nil {
		if err = c.profileDenial(h.env.CheckInheritedFDs(reservedFds(a) - 3)); err != nil {
			h.ids.release(c.log)
		}
	}
	if err != nil {
		return refuse(err)
	}
	priv, pins, err := c.privateBundle(id, h)
	if err != nil {
		h.ids.release(c.log)
		return refuse(err)
	}
	if err := c.record(d); err != nil {
		pins.Release()
		sandbox.RemovePrivateBundle(priv)
		h.ids.release(c.log)
		return fail(c.log, err)
	}
	args := c.runcCreateArgs(a, bundle, priv)
	if c.inv.Command == "run" {
		// runc replaces runh: a child detaches the pins once runc has
		// made the container's mounts (releasepins.go).
		startPinReleaser(priv, c.inv.StateRoot(), id, c.log)
		return fail(c.log, execRunc(c.runc, args))
	}
	nics := hostNICs()
	code, err := runRunc(c.runc, args)
	if rerr := pins.Release(); rerr != nil {
		c.log.Warn(rerr.Error())
	}
	if err != nil || code != 0 {
		sandbox.RemovePrivateBundle(priv)
		h.ids.release(c.log)
		if err != nil {
			return fail(c.log, err)
		}
		// runc has already said why, on stderr and in the log.
		return code
	}
	if err := c.verifyCreated(id, h, nics); err != nil {
		c.log.Error(err.Error())
		c.forceDelete(id)
		h.ids.release(c.log)
		d.err, d.verifyCheck = err, "verify"
		var ve *verifyError
		if errors.As(err, &ve) {
			d.verifyCheck = ve.check
		}
		if rerr := c.record(d); rerr != nil {
			c.log.Warn(rerr.Error())
		}
		return 1
	}
	return 0
}

// refuse reports err, a denial with runh's wording.
func (c *call) refuse(err error) int {
	if errors.Is(err, sandbox.ErrPolicyDenied) {
		return c.denied(err)
	}
	return fail(c.log, err)
}

// createReportOnly is audit mode and the compat profile: runc gets the
// client's bundle and argv exactly as written (byte for byte: nothing is
// re-encoded), and what the profile would change or refuse is only logged
// and recorded (would_change, would_deny).
func (c *call) createReportOnly(id, bundle string, a *cmdArgs) int {
	d := &decision{op: c.inv.Command, id: id, bundle: bundle}
	s, _, err := sandbox.LoadSpec(filepath.Join(bundle, "config.json"))
	if err != nil {
		c.log.Warn(fmt.Sprintf("profile %q (report only): %v", c.profile.Name, err))
		d.err = err
		c.record(d)
		return fail(c.log, execRunc(c.runc, c.inv.RuncArgs()))
	}
	d.annotations = s.Annotations
	host, err := sandbox.ProbeHost(bundle, c.inv.StateRoot())
	if err != nil {
		return fail(c.log, err)
	}
	start := time.Now()
	if d.err = c.checkCreateArgs(id, a); d.err == nil {
		d.err = c.applyOverrides(s.Annotations)
	}
	if d.err != nil {
		c.log.Warn(fmt.Sprintf("profile %q (report only), would refuse: %v", c.profile.Name, d.err))
	} else {
		// Judged as enforce would, without taking a range.
		if host.IDs, d.err = c.idRanges(id, true); d.err != nil {
			host.IDs = nil
		}
		env := &sandbox.Env{Policy: &c.profile.Policy, Host: host}
		d.err = c.harden(env, s, false)
		d.changes = env.Changes
	}
	d.harden = time.Since(start)
	c.record(d)
	if c.inv.Command == "run" {
		return fail(c.log, execRunc(c.runc, c.inv.RuncArgs()))
	}
	code, err := runRunc(c.runc, c.inv.RuncArgs())
	if err != nil {
		return fail(c.log, err)
	}
	if code == 0 {
		if err := c.verifyCreated(id, &hardened{spec: s, host: host}, nil); err != nil {
			c.log.Warn(fmt.Sprintf("profile %q (report only): %v", c.profile.Name, err))
		}
	}
	return code
}

// hardenBundle loads and hardens bundle/config.json, which it reads once
// and never writes, under the handler's profile tightened by the spec's
// runh.io/ annotations. d records what it did.
func (c *call) hardenBundle(id, bundle string, d *decision) (h *hardened, err error) {
	// The bundle's path is resolved once: config.json is read through it,
	// relative paths of the spec are resolved against it, and the rootfs
	// is judged the bundle's own against it, so a symlink on the way that
	// is swapped later changes none of them (runh's attack pass on issue
	// 15). runc gets runh's private bundle, never this path.
	// (One that does not resolve fails just below, as it always has.)
	if resolved, rerr := filepath.EvalSymlinks(bundle); rerr == nil {
		bundle = resolved
	}
	path := filepath.Join(bundle, "config.json")
	s, unknown, err := sandbox.LoadSpecDropUnknown(path)
	if err != nil {
		return nil, err
	}
	d.annotations = s.Annotations
	host, err := sandbox.ProbeHost(bundle, c.inv.StateRoot())
	if err != nil {
		return nil, err
	}
	start := time.Now()
	defer func() { d.harden = time.Since(start) }()
	if err := c.applyOverrides(s.Annotations); err != nil {
		return nil, err
	}
	whyNotFast := setupFastPath(host)
	// Every profile needs the pool's bounds (no other profile may map
	// onto it); only userns takes a range from it.
	ids, err := c.idRanges(id, !c.profile.Policy.UserNS)
	if err != nil {
		return nil, err
	}
	host.IDs = ids
	// A refusal after the range was taken gives it back.
	defer func() {
		if err != nil {
			ids.release(c.log)
		}
	}()
	env := &sandbox.Env{Policy: &c.profile.Policy, Host: host}
	for _, u := range unknown {
		env.Changes = append(env.Changes, sandbox.Change{Rule: "spec-surface", Field: u, What: "property the runtime spec does not define: removed, runc never sees it"})
	}
	err = c.harden(env, s, false)
	d.changes = env.Changes
	if err != nil {
		return nil, err
	}
	c.log.Debugs(changeLines(c.profile.Name, "", env.Changes))
	if whyNotFast != nil {
		c.log.Warn(whyNotFast.Error())
	}
	return &hardened{spec: s, host: host, env: env, ids: ids}, nil
}

// AnnotationProfile marks a config as runh's: the profile that hardened
// it. exec refuses a container whose private bundle does not carry it.
const AnnotationProfile = "dev.runh.profile"

// privateBundle writes the hardened spec to a new private bundle for id
// (stateDir/bundles/KEY/ID/NONCE, KEY naming runc's --root) with its root
// filesystem and bind sources pinned, after sweeping the bundles of
// containers that are gone. On error nothing of it is left.
func (c *call) privateBundle(id string, h *hardened) (dir string, pins *sandbox.Pins, err error) {
	top, err := sandbox.PrivateBundles(stateDir())
	if err != nil {
		return "", nil, fmt.Errorf("runh's private bundles: %w", err)
	}
	sweepAllBundles(top, c.log)
	keyDir := filepath.Join(top, rootKey(c.inv.StateRoot()))
	dir = filepath.Join(keyDir, id, strconv.Itoa(os.Getpid())+"."+strconv.FormatInt(time.Now().UnixNano(), 36))
	// Another runh's sweep may remove an empty key directory between our
	// steps (its .root first): make both again, a few times.
	for try := 0; ; try++ {
		if err = recordRoot(keyDir, c.inv.StateRoot()); err == nil {
			if err = os.MkdirAll(dir, 0o711); err == nil {
				_, err = os.Stat(filepath.Join(keyDir, rootFile))
			}
		}
		if err == nil || !errors.Is(err, os.ErrNotExist) || try == 3 {
			break
		}
	}
	if err != nil {
		return "", nil, err
	}
	defer func() {
		if err != nil {
			pins.Release()
			sandbox.RemovePrivateBundle(dir)
		}
	}()
	s := h.spec
	if pins, err = sandbox.PinHostPaths(h.env, s, dir); err != nil {
		return "", pins, err
	}
	if s.Annotations == nil {
		s.Annotations = map[string]string{}
	}
	s.Annotations[AnnotationProfile] = c.profile.Name
	out, err := specjson.EncodeSpec(s)
	if err != nil {
		return "", pins, fmt.Errorf("encode the hardened config: %w", err)
	}
	// exec and update read it back with the same bound.
	if len(out) > sandbox.MaxConfigSize {
		return "", pins, fmt.Errorf("%w: the hardened config is %d bytes, above %d", sandbox.ErrInvalidConfig, len(out), sandbox.MaxConfigSize)
	}
	f, err := os.OpenFile(filepath.Join(dir, "config.json"), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return "", pins, err
	}
	_, err = f.Write(out)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return dir, pins, err
}

// rootKey names runc's state root in runh's private bundles: an FNV-1a hash
// of its absolute path (no crypto: its package inits cost every start).
func rootKey(root string) string {
	if abs, err := filepath.Abs(root); err == nil {
		root = abs
	}
	h := fnv.New64a()
	h.Write([]byte(root))
	return strconv.FormatUint(h.Sum64(), 16)
}

// rootFile, in each root's directory of private bundles, names the runc
// state root it belongs to, so a sweep can tell for every root which
// containers are gone.
const rootFile = ".root"

func recordRoot(keyDir, stateRoot string) error {
	path := filepath.Join(keyDir, rootFile)
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	if err := os.MkdirAll(keyDir, 0o711); err != nil {
		return err
	}
	abs, err := filepath.Abs(stateRoot)
	if err != nil {
		return err
	}
	tmp := path + "." + strconv.Itoa(os.Getpid())
	if err := os.WriteFile(tmp, []byte(abs), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// sweepAllBundles sweeps the private bundles of every state root runh has
// seen: a root that gets no more creates (a finished `run`'s, a test's)
// would otherwise keep its pins attached for good.
func sweepAllBundles(top string, log *Logger) {
	keys, _ := os.ReadDir(top)
	for _, k := range keys {
		if !k.IsDir() {
			continue
		}
		keyDir := filepath.Join(top, k.Name())
		root, err := os.ReadFile(filepath.Join(keyDir, rootFile))
		if err != nil {
			continue
		}
		sweepBundles(keyDir, string(root), log)
		// A root with no containers left goes too (tests use a root per
		// container); a young one may be a create on its way.
		if ents, _ := os.ReadDir(keyDir); len(ents) == 1 {
			if fi, err := os.Stat(keyDir); err == nil && time.Since(fi.ModTime()) > 10*time.Second {
				os.Remove(filepath.Join(keyDir, rootFile))
				if os.Remove(keyDir) != nil {
					// A create got in between: its root stays known.
					recordRoot(keyDir, string(root))
				}
			}
		}
	}
}

// sweepBundles removes the private bundles of containers runc no longer
// has. A bundle younger than 10 s is left: its create may still be
// on the way to runc.
func sweepBundles(keyDir, stateRoot string, log *Logger) {
	ids, _ := os.ReadDir(keyDir)
	cutoff := time.Now().Add(-10 * time.Second)
	for _, ent := range ids {
		if !ent.IsDir() {
			continue
		}
		if _, err := os.Lstat(filepath.Join(stateRoot, ent.Name())); !os.IsNotExist(err) {
			continue
		}
		idDir := filepath.Join(keyDir, ent.Name())
		nonces, _ := os.ReadDir(idDir)
		for _, n := range nonces {
			if fi, err := n.Info(); err == nil && fi.ModTime().Before(cutoff) {
				if err := sandbox.RemovePrivateBundle(filepath.Join(idDir, n.Name())); err != nil {
					log.Warn(fmt.Sprintf("sweep of private bundles: %v", err))
				}
			}
		}
		// Only if empty, and not young: a create may have just made it
		// and be about to make its nonce directory in it.
		if fi, err := os.Stat(idDir); err == nil && fi.ModTime().Before(cutoff) {
			os.Remove(idDir)
		}
	}
}

// runcCreateArgs is the caller's argv with --bundle naming the private
// bundle. Paths that runc resolves against the bundle (it chdirs there
// first) are made absolute against the caller's bundle, so they mean what
// the caller meant.
func (c *call) runcCreateArgs(a *cmdArgs, bundle, priv string) []string {
	args := append([]string{}, c.inv.GlobalArgs()...)
	args = append(args, c.inv.Command, "--bundle", priv)
	for _, name := range sortedFlags(a.flags) {
		if name == "bundle" {
			continue
		}
		for _, v := range a.flags[name] {
			if (name == "console-socket" || name == "pidfd-socket") && v != "" && !filepath.IsAbs(v) {
				v = filepath.Join(bundle, v)
			}
			args = append(args, "--"+name+"="+v)
		}
	}
	return append(args, "--", a.positional[0])
}

func sortedFlags(m map[string][]string) []string {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}

// checkCreateArgs refuses what runh cannot vouch for before anything is
// written: an id that is not a plain name (it names runh's directories),
// runc flags that lift part of the floor, and a state root the client
// could rewrite (runh reads the created container's pid from it).
func (c *call) checkCreateArgs(id string, a *cmdArgs) error {
	if !validID(id) {
		return fmt.Errorf("%w: invalid container id %q (runc's rule: letters, digits, _ + - . only)", ErrUsage, id)
	}
	for _, f := range []struct{ name, why string }{
		{"no-pivot", "pivot_root is part of the floor: without it the host's root stays reachable from the container's mount namespace (CVE-2016-9962 class)"},
		{"no-new-keyring", "a private session keyring is part of the floor: without it the container shares the caller's keys"},
	} {
		if a.last(f.name) == "true" {
			return &sandbox.Denial{Profile: c.profile.Name, Field: "--" + f.name, Rule: "runc-flags", Reason: f.why}
		}
	}
	return checkOwnedDir(c.inv.StateRoot(), "--root")
}

// validID is runc's rule for container ids.
func validID(id string) bool {
	if id == "" || id == "." || id == ".." || len(id) > 1024 {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '+' || r == '-' || r == '.') {
			return false
		}
	}
	return true
}

// checkOwnedDir refuses a directory (if it exists) that someone other than
// root (or runh's own user) could change, and every parent of it that is
// not theirs or is writable by others without the sticky bit.
func checkOwnedDir(dir, what string) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	for p := abs; ; p = filepath.Dir(p) {
		var st unix.Stat_t
		if err := unix.Stat(p, &st); err == nil {
			if st.Uid != 0 && int(st.Uid) != os.Geteuid() || st.Mode&0o022 != 0 && (p == abs || st.Mode&unix.S_ISVTX == 0) {
				return fmt.Errorf("%w: %s %s: %s is not root's alone (owner %d, mode %o): runh reads container state from it", sandbox.ErrInvalidConfig, what, dir, p, st.Uid, st.Mode&0o7777)
			}
		}
		if p == "/" {
			return nil
		}
	}
}

// forceDelete removes a container that failed verification. It is best
// effort: the error that matters has been reported.
func (c *call) forceDelete(id string) {
	args := append(append([]string{}, c.inv.GlobalArgs()...), "delete", "--force", id)
	if _, err := outputRunc(c.runc, args...); err != nil {
		c.log.Warn(fmt.Sprintf("cleanup of %s after failed verification: %v", id, err))
	}
}

// stateOf asks runc for a container's state (pid, bundle).
func (c *call) stateOf(id string) (*runcState, error) {
	args := append(append([]string{}, c.inv.GlobalArgs()...), "state", id)
	out, err := outputRunc(c.runc, args...)
	if err != nil {
		return nil, err
	}
	var st runcState
	if err := json.Unmarshal(out, &st); err != nil {
		return nil, fmt.Errorf("parse runc state: %w", err)
	}
	return &st, nil
}

type runcState struct {
	ID     string `json:"id"`
	Pid    int    `json:"pid"`
	Status string `json:"status"`
	Bundle string `json:"bundle"`
}

func changeLines(profile, prefix string, changes []sandbox.Change) []string {
	lines := make([]string, len(changes))
	for i, ch := range changes {
		lines[i] = fmt.Sprintf("profile %q: %s%s", profile, prefix, ch)
	}
	return lines
}

// harden runs the profile over s. In audit mode (and under compat) it
// collects every refusal, logs each loudly and returns them, and the caller
// lets the call through.
func (c *call) harden(env *sandbox.Env, s *specs.Spec, processOnly bool) error {
	p := c.profile
	if !c.auditMode() {
		return p.Pipeline(sandbox.StopAtFirst, processOnly).Run(env, s)
	}
	why := fmt.Sprintf("profile %q selected by --runh-profile: this %s is NOT hardened", p.Name, c.inv.Command)
	if !p.ReportOnly {
		why = fmt.Sprintf("mode = \"audit\" in %s: this %s is NOT hardened (profile %q only reports)", c.cfg.Path, c.inv.Command, p.Name)
	}
	msgs := []string{why}
	err := p.Pipeline(sandbox.CollectAll, processOnly).Run(env, s)
	var ds sandbox.Denials
	if errors.As(err, &ds) {
		for _, d := range ds {
			msgs = append(msgs, "report only, would refuse: "+d.Error())
		}
	}
	for _, m := range msgs {
		c.log.Warn(m)
	}
	return err
}

// applyOverrides makes c.profile the container's: the handler's, tightened
// by the spec's runh.io/ annotations, or a denial naming the annotation.
func (c *call) applyOverrides(annotations map[string]string) error {
	if c.cfg == nil {
		return nil
	}
	p, err := c.cfg.ApplyOverrides(c.profile, annotations)
	if err != nil {
		return err
	}
	c.profile = p
	return nil
}
