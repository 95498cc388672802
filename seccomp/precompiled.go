package seccomp

import (
	"embed"
	"encoding/json"
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/runh-dev/runh/internal/specjson"
)

// PrecompiledArches are the architectures runh ships a precompiled filter
// for: x86-64 and the edge boards it targets.
var PrecompiledArches = []string{"amd64", "arm64", "arm"}

//go:embed default.json bpf
var generated embed.FS

// Precompiled returns the filter compiled ahead of time for goarch and the
// canonical form of the resolved profile it was compiled from. ok is false
// for an architecture without one.
func Precompiled(goarch string) (profile, bpf []byte, ok bool) {
	profile, err1 := generated.ReadFile("bpf/" + goarch + ".json")
	bpf, err2 := generated.ReadFile("bpf/" + goarch + ".bpf")
	return profile, bpf, err1 == nil && err2 == nil
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
// default.json, and for each precompiled architecture the resolved profile
// and its BPF. compile turns a resolved profile into BPF; it lives in
// seccomp/compile because it needs cgo and libseccomp, which runh itself
// does not link.
func Generate(compile func(*specs.LinuxSeccomp) ([]byte, error)) (map[string][]byte, error) {
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
		bpf, err := compile(p)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", arch, err)
		}
		files["bpf/"+arch+".json"] = canon
		files["bpf/"+arch+".bpf"] = bpf
	}
	return files, nil
}
