package seccomp

import (
	"embed"
	"encoding/json"
	"fmt"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/runh-dev/runh/internal/specjson"
)

// PrecompiledArches are the architectures runh ships a precompiled filter
// for: x86-64 and the edge boards it targets.
var PrecompiledArches = []string{"amd64", "arm64", "arm"}

//go:embed default.json bpf
var generated embed.FS

// Filter is a filter compiled ahead of time.
type Filter struct {
	// Profile is the canonical form of the resolved profile it was
	// compiled from.
	Profile []byte
	BPF     []byte
	// SHA256 is the hex digest of BPF, computed by go generate: runh-core
	// links no crypto (crypto/sha256's package inits alone cost ~0.07 ms
	// per start).
	SHA256 string
}

// Precompiled returns the filter compiled ahead of time for goarch. ok is
// false for an architecture without one.
func Precompiled(goarch string) (f Filter, ok bool) {
	profile, err1 := generated.ReadFile("bpf/" + goarch + ".json")
	bpf, err2 := generated.ReadFile("bpf/" + goarch + ".bpf")
	sum, err3 := generated.ReadFile("bpf/" + goarch + ".bpf.sha256")
	return Filter{profile, bpf, strings.TrimSpace(string(sum))}, err1 == nil && err2 == nil && err3 == nil
}

// Committed returns a generated file as committed, by its name in this
// package ("default.json", "bpf/amd64.bpf").
func Committed(name string) ([]byte, error) { return generated.ReadFile(name) }

// Canonical is the byte form in which resolved profiles are compared: what a
// json.Encoder with SetEscapeHTML(false) writes. It is generated code, not
// encoding/json, because it runs on every create and encoding/json's first
// use of the seccomp types costs ~0.15 ms of reflection.
func Canonical(p *specs.LinuxSeccomp) ([]byte, error) { return specjson.EncodeSeccompCanonical(p) }

// Generate renders every generated file by its name in this package:
// default.json, and for each precompiled architecture the resolved profile,
// its BPF and the BPF's SHA-256. compile turns a resolved profile into BPF
// and its hex digest; it lives in seccomp/compile because it needs cgo and
// libseccomp, which runh itself does not link.
func Generate(compile func(*specs.LinuxSeccomp) (bpf []byte, sha256 string, err error)) (map[string][]byte, error) {
	files := map[string][]byte{}
	def, err := json.MarshalIndent(Default(), "", "\t")
	if err != nil {
		return nil, err
	}
	files["default.json"] = append(def, '\n')
	for _, arch := range PrecompiledArches {
		// Resolved as for a restricted container; a container whose
		// resolution differs (capability-conditional rules) takes the slow
		// path, where runc compiles the profile itself.
		p, err := Resolve(Default(), Options{GOARCH: arch})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", arch, err)
		}
		canon, err := Canonical(p)
		if err != nil {
			return nil, err
		}
		bpf, sum, err := compile(p)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", arch, err)
		}
		files["bpf/"+arch+".json"] = canon
		files["bpf/"+arch+".bpf"] = bpf
		files["bpf/"+arch+".bpf.sha256"] = []byte(sum + "\n")
	}
	return files, nil
}
