package runtime

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

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

// create hardens the bundle's config.json, then hands over to runc. For
// `create` runc runs as a child so runh can verify what the kernel applied
// to the waiting init process; `run` execs runc so its foreground, tty,
// signal and exit-code semantics stay runc's own.
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
	spec, err := c.hardenBundle(bundle)
	if err != nil {
		if errors.Is(err, sandbox.ErrPolicyDenied) {
			return c.denied(err)
		}
		return fail(c.log, err)
	}
	if c.inv.Command == "run" {
		return fail(c.log, execRunc(c.runc, c.inv.RuncArgs()))
	}
	code, err := runRunc(c.runc, c.inv.RuncArgs())
	if err != nil {
		return fail(c.log, err)
	}
	if code != 0 {
		// runc has already said why, on stderr and in the log.
		return code
	}
	if err := c.verifyCreated(id, a.last("pid-file"), spec); err != nil {
		if c.profile.ReportOnly {
			c.log.Warn(fmt.Sprintf("profile %q (report only): %v", c.profile.Name, err))
			return 0
		}
		c.log.Error(err.Error())
		c.forceDelete(id)
		return 1
	}
	return 0
}

// hardenBundle loads, hardens, checks and saves bundle/config.json. On any
// error the file is left exactly as it was.
func (c *call) hardenBundle(bundle string) (*hardened, error) {
	path := filepath.Join(bundle, "config.json")
	sandbox.RemoveStaleTemps(path)
	s, orig, err := sandbox.LoadSpec(path)
	if err != nil {
		return nil, err
	}
	host, err := sandbox.ProbeHost(bundle, c.inv.StateRoot())
	if err != nil {
		return nil, err
	}
	whyNotFast := setupFastPath(host)
	env := &sandbox.Env{Policy: &c.profile.Policy, Host: host}
	if err := c.harden(env, s, false); err != nil {
		return nil, err
	}
	c.log.Debugs(changeLines(c.profile.Name, "", env.Changes))
	if whyNotFast != nil {
		c.log.Warn(whyNotFast.Error())
	}
	out, err := specjson.EncodeSpec(s)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", path, err)
	}
	if c.profile.ReportOnly {
		// Write the client's own bytes: re-encoding is not neutral (an
		// empty seccomp "flags" list would vanish, and runc reads a
		// missing list as its defaults).
		out = orig
	}
	if !bytes.Equal(out, bytes.TrimSpace(orig)) || c.profile.ReportOnly {
		if err := sandbox.SaveBundleConfig(path, out); err != nil {
			return nil, err
		}
	}
	return &hardened{spec: s, host: host}, nil
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

func readPidFile(path string) (int, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	var pid int
	if _, err := fmt.Sscan(strings.TrimSpace(string(data)), &pid); err != nil || pid <= 0 {
		return 0, fmt.Errorf("bad pid file %s: %q", path, data)
	}
	return pid, nil
}

func changeLines(profile, prefix string, changes []sandbox.Change) []string {
	lines := make([]string, len(changes))
	for i, ch := range changes {
		lines[i] = fmt.Sprintf("profile %q: %s%s", profile, prefix, ch)
	}
	return lines
}

// harden runs the profile over s. A report-only profile logs what it would
// refuse, loudly, and lets everything through.
func (c *call) harden(env *sandbox.Env, s *specs.Spec, processOnly bool) error {
	p := c.profile
	if !p.ReportOnly {
		return sandbox.Harden(env, p.Name, p.Rules, p.Checks, s, sandbox.StopAtFirst, processOnly)
	}
	msgs := []string{fmt.Sprintf("profile %q selected by --runh-profile: this %s is NOT hardened", p.Name, c.inv.Command)}
	var ds sandbox.Denials
	if errors.As(sandbox.Harden(env, p.Name, p.Rules, p.Checks, s, sandbox.CollectAll, processOnly), &ds) {
		for _, d := range ds {
			msgs = append(msgs, "report only, would refuse: "+d.Error())
		}
	}
	for _, m := range msgs {
		c.log.Warn(m)
	}
	return nil
}
