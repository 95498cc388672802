package profiles

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/runh-dev/runh/internal/specjson"
	"github.com/runh-dev/runh/sandbox"
)

// BenchmarkHarden measures runh's own work on the create path for a real
// Docker config.json: one decode, the rules and checks (seccomp fast path
// included), one encode, with the generated codec create uses. Run with
// -benchmem. (Warm: the cold cost of a new process is what make bench sees.)
func BenchmarkHarden(b *testing.B) {
	data, err := os.ReadFile("../testdata/clients/docker-d37e1de02db5-config.json")
	if err != nil {
		b.Fatal(err)
	}
	p := Restricted()
	host, err := sandbox.ProbeHost(b.TempDir(), "/run/runc")
	if err != nil {
		b.Fatal(err)
	}
	host.SeccompInit = filepath.Join(b.TempDir(), "runh-init")
	os.WriteFile(host.SeccompInit, []byte("#!/bin/true\n"), 0o755)
	host.SeccompCache = b.TempDir()
	host.ResolveExe = func(string) string { return "/usr/sbin/dockerd" }
	host.StatNS = func(path string) (sandbox.NSID, error) { return sandbox.NSID{Dev: 1, Ino: 2}, nil }
	b.ReportAllocs()
	for b.Loop() {
		s, err := specjson.DecodeSpec(data)
		if err != nil {
			b.Fatal(err)
		}
		env := &sandbox.Env{Policy: &p.Policy, Host: host}
		if err := p.Pipeline(sandbox.StopAtFirst, false).Run(env, s); err != nil {
			b.Fatal(err)
		}
		if _, err := specjson.EncodeSpec(s); err != nil {
			b.Fatal(err)
		}
	}
}
