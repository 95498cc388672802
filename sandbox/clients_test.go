package sandbox_test

import (
	"encoding/json"
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/runh-dev/runh/profiles"
	"github.com/runh-dev/runh/sandbox"
)

// expectedDenials lists the real client configs that the restricted profile
// must refuse, with the rule that refuses them. Every other config must come
// out hardened with every invariant holding.
var expectedDenials = map[string]string{}

func hostFor(t *testing.T, bundle string) *sandbox.Host {
	t.Helper()
	h, err := sandbox.ProbeHost(bundle, "/run/runc")
	if err != nil {
		t.Fatal(err)
	}
	// The recorded configs name namespaces of pause processes and CNI
	// netns files from the boot they were recorded on: treat those as
	// private, and /proc/1's as the host's.
	h.StatNS = func(path string) (sandbox.NSID, error) {
		if strings.HasPrefix(path, "/proc/1/") {
			return sandbox.StatNS(path)
		}
		return sandbox.NSID{Dev: 1, Ino: uint64(len(path))}, nil
	}
	// Docker's prestart hook is /proc/<dockerd pid>/exe.
	h.ResolveExe = func(path string) string {
		if strings.HasPrefix(path, "/proc/") && strings.HasSuffix(path, "/exe") {
			return "/usr/bin/dockerd"
		}
		return path
	}
	return h
}

// TestRealClientConfigs hardens the config.json files that Docker,
// containerd (ctr, CRI, 2.x) and Podman really wrote on this kind of machine.
func TestRealClientConfigs(t *testing.T) {
	files, _ := filepath.Glob("../testdata/clients/*-config.json")
	if len(files) == 0 {
		t.Fatal("no client configs in testdata/clients")
	}
	prof := profiles.Restricted()
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), "-config.json")
		t.Run(name, func(t *testing.T) {
			s, _, err := sandbox.LoadSpec(f)
			if err != nil {
				t.Fatalf("load: %v", err)
			}
			env := &sandbox.Env{Policy: &prof.Policy, Host: hostFor(t, t.TempDir())}
			err = prof.Pipeline(sandbox.StopAtFirst, false).Run(env, s)
			if want, ok := expectedDenials[name]; ok {
				var d *sandbox.Denial
				if !errors.As(err, &d) || d.Rule != want {
					t.Fatalf("want denial by %s, got %v", want, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("harden: %v", err)
			}
			// Idempotence: hardening the hardened spec changes nothing.
			before, _ := json.Marshal(s)
			env2 := &sandbox.Env{Policy: &prof.Policy, Host: env.Host}
			if err := prof.Pipeline(sandbox.StopAtFirst, false).Run(env2, s); err != nil {
				t.Fatalf("second harden: %v", err)
			}
			after, _ := json.Marshal(s)
			if string(before) != string(after) || len(env2.Changes) != 0 {
				t.Fatalf("not idempotent: changes %v", env2.Changes)
			}
		})
	}
}

// TestRealClientProcesses hardens real exec process.json files.
func TestRealClientProcesses(t *testing.T) {
	files, _ := filepath.Glob("../testdata/clients/*-process.json")
	if len(files) == 0 {
		t.Fatal("no client process files in testdata/clients")
	}
	prof := profiles.Restricted()
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			p, err := sandbox.LoadProcess(f)
			if err != nil {
				t.Fatalf("load: %v", err)
			}
			env := &sandbox.Env{Policy: &prof.Policy, Host: hostFor(t, "")}
			if err := prof.Pipeline(sandbox.StopAtFirst, true).Run(env, &specs.Spec{Process: p}); err != nil {
				t.Fatalf("harden: %v", err)
			}
			if p.User.UID == 0 || p.User.GID == 0 || !p.NoNewPrivileges {
				t.Fatalf("not hardened: %+v", p.User)
			}
			again := *p
			if err := prof.Pipeline(sandbox.StopAtFirst, true).Run(env, &specs.Spec{Process: &again}); err != nil || !reflect.DeepEqual(&again, p) {
				t.Fatalf("not idempotent: %v", err)
			}
		})
	}
}

var _ specs.Spec
