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
// every field of the spec set, and under fuzzing. It may refuse what
// encoding/json accepts, never the reverse: keys must match exactly
// (encoding/json also takes "Process" for "process", which no client
// writes), so such input is refused rather than misread.
package specjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"unicode/utf8"

	"github.com/mailru/easyjson/jlexer"
	"github.com/mailru/easyjson/jwriter"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

//go:generate go run github.com/mailru/easyjson/easyjson -disallow_unknown_fields -no_std_marshalers -output_filename codec_easyjson.go specjson.go
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

// DecodeSpec decodes one config.json document. Unknown fields and trailing
// data are errors: a field runh does not know is one it cannot harden.
func DecodeSpec(data []byte) (*specs.Spec, error) {
	var s Spec
	if err := decode(data, &s, (*specs.Spec)(&s)); err != nil {
		return nil, err
	}
	return (*specs.Spec)(&s), nil
}

// DecodeProcess decodes one process.json document, as strictly.
func DecodeProcess(data []byte) (*specs.Process, error) {
	var p Process
	if err := decode(data, &p, (*specs.Process)(&p)); err != nil {
		return nil, err
	}
	return (*specs.Process)(&p), nil
}

// decode uses the generated code, except on input where easyjson and
// encoding/json are known to part ways: bytes that are not UTF-8
// (encoding/json turns them into U+FFFD, easyjson keeps them, and runh must
// check the strings runc will see) and control characters inside a string
// (encoding/json refuses them). Real configs have neither; the fuzz test
// looks for more.
func decode(data []byte, fast unmarshaler, std any) error {
	if !utf8.Valid(data) || controlInString(data) {
		return Strict(data, std)
	}
	l := jlexer.Lexer{Data: data}
	fast.UnmarshalEasyJSON(&l)
	return l.Error()
}

func encode(v marshaler, isNil bool) ([]byte, error) {
	if isNil {
		return []byte("null"), nil
	}
	var w jwriter.Writer
	v.MarshalEasyJSON(&w)
	return w.BuildBytes()
}

// marshaler and unmarshaler are easyjson's interfaces, declared here so the
// codec does not import the easyjson package itself, which pulls in
// net/http and crypto/tls: 1.9 MB more binary to page in on every call.
type marshaler interface{ MarshalEasyJSON(w *jwriter.Writer) }

type unmarshaler interface{ UnmarshalEasyJSON(l *jlexer.Lexer) }

// controlInString reports a byte below 0x20 inside a JSON string literal.
func controlInString(data []byte) bool {
	in, escaped := false, false
	for _, c := range data {
		switch {
		case !in:
			in = c == '"'
		case escaped:
			escaped = false
		case c == '\\':
			escaped = true
		case c == '"':
			in = false
		case c < 0x20:
			return true
		}
	}
	return false
}

// Strict decodes one JSON document into v with encoding/json, refusing
// unknown fields and trailing data: runh's rule for the small documents it
// has no generated code for (an update's resources), and the reference the
// generated code is tested against.
func Strict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("trailing data after the JSON document")
	}
	return nil
}

// EncodeSpec writes s as encoding/json.Marshal would, byte for byte.
func EncodeSpec(s *specs.Spec) ([]byte, error) { return encode((*Spec)(s), s == nil) }

// EncodeProcess writes p as encoding/json.Marshal would, byte for byte.
func EncodeProcess(p *specs.Process) ([]byte, error) { return encode((*Process)(p), p == nil) }

// EncodeSeccompCanonical writes p as a json.Encoder with SetEscapeHTML(false)
// would, byte for byte, newline included.
func EncodeSeccompCanonical(p *specs.LinuxSeccomp) ([]byte, error) {
	if p == nil {
		return []byte("null\n"), nil
	}
	w := jwriter.Writer{NoEscapeHTML: true}
	(*Seccomp)(p).MarshalEasyJSON(&w)
	w.RawByte('\n')
	return w.BuildBytes()
}
