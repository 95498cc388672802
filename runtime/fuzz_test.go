package runtime

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/runh-dev/runh/internal/specjson"
	"github.com/runh-dev/runh/profiles"
	"github.com/runh-dev/runh/sandbox"
)

// FuzzCreateBundle drives create's hardening of a bundle: it never panics;
// the caller's config.json is never written; a hardened spec is complete,
// decodes, and passes every check.
func FuzzCreateBundle(f *testing.F) {
	files, _ := filepath.Glob("../testdata/clients/*-config.json")
	for _, p := range files {
		data, _ := os.ReadFile(p)
		f.Add(data)
	}
	f.Add([]byte(`{"ociVersion":"1.0.2","root":{"path":"rootfs"},"process":{"args":["sh"],"cwd":"/"}}`))
	init := filepath.Join(f.TempDir(), "runh-init")
	os.WriteFile(init, []byte("#!/bin/true\n"), 0o755)
	os.Setenv("RUNH_INIT", init)
	os.Setenv("RUNH_STATE_DIR", f.TempDir())
	prof := profiles.Restricted()
	cfg, err := profiles.LoadConfig(filepath.Join(f.TempDir(), "none.toml"))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		bundle := t.TempDir()
		path := filepath.Join(bundle, "config.json")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		c := &call{inv: &Invocation{Globals: Globals{Root: t.TempDir()}}, log: &Logger{Path: filepath.Join(t.TempDir(), "log")}, profile: prof, cfg: cfg}
		h, err := c.hardenBundle("fuzz", bundle, &decision{})
		if after, _ := os.ReadFile(path); !bytes.Equal(after, data) {
			t.Fatalf("config.json changed (%v): runh never writes the caller's bundle", err)
		}
		if err != nil {
			if !errors.Is(err, sandbox.ErrPolicyDenied) && !errors.Is(err, sandbox.ErrInvalidConfig) {
				t.Fatalf("error is neither a denial nor an invalid config: %v", err)
			}
			return
		}
		// What runc would read: the hardened spec, encoded and decoded.
		out, err := specjson.EncodeSpec(h.spec)
		if err != nil {
			t.Fatal(err)
		}
		var s specs.Spec
		if err := sandbox.DecodeStrict(out, &s); err != nil {
			t.Fatalf("hardened config does not decode: %v", err)
		}
		host, _ := sandbox.ProbeHost(bundle, c.inv.StateRoot())
		env := &sandbox.Env{Policy: &prof.Policy, Host: host}
		for _, ch := range prof.Checks {
			if err := ch.Verify(env, &s); err != nil {
				t.Fatalf("accepted config.json fails %s: %v", ch.Name, err)
			}
		}
	})
}

// FuzzUpdateResources: the update path never panics, and what it accepts
// keeps the limits.
func FuzzUpdateResources(f *testing.F) {
	for _, s := range []string{`{"memory":{"limit":-1}}`, `{"pids":{"limit":100}}`, `{"cpu":{"shares":1024}}`, `{}`, `{"memory":{"limit":0,"swap":-1}}`} {
		f.Add([]byte(s))
	}
	pol := &profiles.Restricted().Policy
	f.Fuzz(func(t *testing.T, data []byte) {
		var r specs.LinuxResources
		if err := sandbox.DecodeStrict(data, &r); err != nil {
			return
		}
		if err := sandbox.CheckUpdate(pol, &r); err != nil {
			return
		}
		if r.Memory != nil && r.Memory.Limit != nil && *r.Memory.Limit < 0 {
			t.Fatal("accepted an unlimited memory update")
		}
		if r.Pids != nil && r.Pids.Limit != nil && (*r.Pids.Limit <= 0 || *r.Pids.Limit > pol.PidsMax) {
			t.Fatal("accepted a pids update without a finite limit in range")
		}
		if _, err := json.Marshal(&r); err != nil {
			t.Fatal(err)
		}
	})
}
