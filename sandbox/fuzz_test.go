package sandbox_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/runh-dev/runh/profiles"
	"github.com/runh-dev/runh/sandbox"
)

func seedClients(f *testing.F, pattern string) {
	files, _ := filepath.Glob(filepath.Join("..", "testdata", "clients", pattern))
	for _, p := range files {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(`{"ociVersion":"1.0.2"}`))
	f.Add([]byte(`{"ociVersion":"1.0.2","process":{"user":{"uid":0,"gid":0},"args":["sh"],"cwd":"/proc/self/fd/3"}}`))
}

// FuzzHardenSpec: decoding and hardening never panic; the result is either a
// refusal or a spec that passes every check; hardening is idempotent.
func FuzzHardenSpec(f *testing.F) {
	seedClients(f, "*-config.json")
	prof := profiles.Restricted()
	f.Fuzz(func(t *testing.T, data []byte) {
		var s specs.Spec
		if err := sandbox.DecodeStrict(data, &s); err != nil {
			return
		}
		host := fuzzHost(t)
		env := &sandbox.Env{Policy: &prof.Policy, Host: host}
		if err := prof.Pipeline(sandbox.StopAtFirst, false).Run(env, &s); err != nil {
			return
		}
		for _, c := range prof.Checks {
			if err := c.Verify(env, &s); err != nil {
				t.Fatalf("hardened spec fails %s: %v", c.Name, err)
			}
		}
		first, _ := json.Marshal(&s)
		env2 := &sandbox.Env{Policy: &prof.Policy, Host: host}
		if err := prof.Pipeline(sandbox.StopAtFirst, false).Run(env2, &s); err != nil {
			t.Fatalf("hardened spec refused on the second pass: %v", err)
		}
		second, _ := json.Marshal(&s)
		if string(first) != string(second) {
			t.Fatalf("not idempotent: %v", env2.Changes)
		}
	})
}

// FuzzHardenProcess: the same properties for exec processes.
func FuzzHardenProcess(f *testing.F) {
	seedClients(f, "*-process.json")
	prof := profiles.Restricted()
	f.Fuzz(func(t *testing.T, data []byte) {
		var p specs.Process
		if err := sandbox.DecodeStrict(data, &p); err != nil {
			return
		}
		env := &sandbox.Env{Policy: &prof.Policy, Host: fuzzHost(t)}
		if err := prof.Pipeline(sandbox.StopAtFirst, true).Run(env, &specs.Spec{Process: &p}); err != nil {
			return
		}
		if p.User.UID == 0 || p.User.GID == 0 || !p.NoNewPrivileges {
			t.Fatalf("accepted an unhardened process: %+v", p.User)
		}
		again := p
		if err := prof.Pipeline(sandbox.StopAtFirst, true).Run(env, &specs.Spec{Process: &again}); err != nil || !reflect.DeepEqual(again, p) {
			t.Fatalf("not idempotent: %v", err)
		}
	})
}

func fuzzHost(t *testing.T) *sandbox.Host {
	h, err := sandbox.ProbeHost(t.TempDir(), "/run/runc")
	if err != nil {
		t.Fatal(err)
	}
	// Recorded namespace paths stand for pods' namespaces; /proc/self is the
	// host's.
	h.StatNS = func(path string) (sandbox.NSID, error) {
		if filepath.Dir(path) == "/proc/self/ns" {
			return sandbox.StatNS(path)
		}
		return sandbox.NSID{Dev: 1, Ino: uint64(len(path))}, nil
	}
	return h
}
