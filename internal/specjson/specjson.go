// Package specjson is a reflection-free JSON codec for the OCI types runh
// reads and writes on every hardened call: config.json (specs.Spec), an
// exec's process.json (specs.Process), and the resolved seccomp profile it
// looks up its precompiled filter by (specs.LinuxSeccomp).
//
// Why: encoding/json builds its decoder and encoder tables by reflection over
// the whole runtime-spec type graph the first time it meets it, and runh is a
// new process on every call, so it always met it cold: 1.0 ms of a ~4 ms
// create on this project's 2-core VM, the largest single item in runh's own
// start-up cost (issue 4). The generated code does the same work in ~0.1 ms.
//
// The output must be byte-for-byte what encoding/json writes, because runc
// decodes runh's output with encoding/json and runh decides whether to
// rewrite a bundle by comparing bytes. codec_test.go holds the generated
// code to that, on every real client config in testdata, on a value with
// every field of the spec set, and under fuzzing. Decoding accepts exactly
// what encoding/json accepts: input the generated code refuses goes to
// encoding/json (see fastDecode).
package specjson

import (
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

//go:generate go run github.com/mailru/easyjson/easyjson -gen_build_flags=-tags=easyjson_bootstrap -disallow_unknown_fields -no_std_marshalers -output_filename codec_easyjson.go specjson.go
//go:generate go run ./internal/fixorder codec_easyjson.go

// Spec is specs.Spec with generated JSON methods; convert with a pointer
// conversion, (*specs.Spec)(s), which copies nothing.
//
//easyjson:json
type Spec specs.Spec

// Process is specs.Process with generated JSON methods.
//
//easyjson:json
type Process specs.Process

// Seccomp is specs.LinuxSeccomp with generated JSON methods: runh encodes
// the resolved profile on every create to find its precompiled filter.
//
//easyjson:json
type Seccomp specs.LinuxSeccomp

// sortedKeys is how the generated code ranges over a map: in the order
// encoding/json writes it (see internal/fixorder).
func sortedKeys[M ~map[string]V, V any](m M) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
