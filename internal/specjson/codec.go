//go:build !easyjson_bootstrap

// This file calls the generated code as internal/fixorder leaves it; `go
// generate` builds the package without it while easyjson bootstraps.

package specjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"unicode/utf8"

	"github.com/mailru/easyjson/jlexer"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// DecodeSpec decodes one config.json document. Unknown fields and trailing
// data are errors: a field runh does not know is one it cannot harden.
func DecodeSpec(data []byte) (*specs.Spec, error) {
	var s Spec
	if fastDecode(data, &s) {
		return (*specs.Spec)(&s), nil
	}
	var std specs.Spec
	if err := Strict(data, &std); err != nil {
		return nil, err
	}
	return &std, nil
}

// DecodeProcess decodes one process.json document, as strictly.
func DecodeProcess(data []byte) (*specs.Process, error) {
	var p Process
	if fastDecode(data, &p) {
		return (*specs.Process)(&p), nil
	}
	var std specs.Process
	if err := Strict(data, &std); err != nil {
		return nil, err
	}
	return &std, nil
}

// fastDecode decodes with the generated code and reports whether that is
// the answer. It is not, and encoding/json decides, when the generated code
// refuses the input (it matches keys exactly; encoding/json also takes
// "CPU" for "cpu", as runc's own tests write it), and on input where the
// two are known to part ways: bytes that are not UTF-8 (encoding/json turns
// them into U+FFFD, easyjson keeps them, and runh must check the strings
// runc will see) and anything encoding/json's own syntax check refuses,
// which easyjson's lexer lets through: control characters inside a
// string, numbers such as 00 (found by FuzzCodec). json.Valid is that
// check, the scanner encoding/json runs before every decode, without
// reflection. A key repeated within an object goes to encoding/json too:
// encoding/json decodes a repeated array into the elements of the first
// (fields the second leaves out keep their values), easyjson into new ones
// (found by FuzzCodec). So runh accepts exactly what encoding/json, and
// runc, accept, and reads it the same way; the fuzz test looks for any
// other difference.
func fastDecode(data []byte, v unmarshaler) bool {
	if !utf8.Valid(data) || !json.Valid(data) || repeatedKey(data) {
		return false
	}
	l := jlexer.Lexer{Data: data}
	v.UnmarshalEasyJSON(&l)
	return l.Error() == nil
}

// repeatedKey reports a key that occurs twice in one object of data, which
// must be valid JSON. A key with an escape counts as repeated: comparing
// it would need unescaping, and such keys do not occur in real configs.
func repeatedKey(data []byte) bool {
	var stack [][][]byte // the keys seen so far in each open object
	for i := 0; i < len(data); i++ {
		switch data[i] {
		case '{':
			stack = append(stack, nil)
		case '}':
			stack = stack[:len(stack)-1]
		case '"':
			start, escaped := i+1, false
			for i++; data[i] != '"'; i++ {
				if data[i] == '\\' {
					escaped = true
					i++
				}
			}
			// A key is a string followed by a colon.
			j := i + 1
			for j < len(data) && (data[j] == ' ' || data[j] == '\t' || data[j] == '\n' || data[j] == '\r') {
				j++
			}
			if j == len(data) || data[j] != ':' {
				continue
			}
			if escaped {
				return true
			}
			key := data[start:i]
			keys := stack[len(stack)-1]
			for _, k := range keys {
				if bytes.Equal(k, key) {
					return true
				}
			}
			stack[len(stack)-1] = append(keys, key)
		}
	}
	return false
}

func encode(v marshaler, isNil bool) ([]byte, error) {
	if isNil {
		return []byte("null"), nil
	}
	w := writer{buf: make([]byte, 0, 4096)}
	v.MarshalEasyJSON(&w)
	return w.BuildBytes()
}

// marshaler and unmarshaler are easyjson's interfaces, with runh's writer:
// declared here so the codec imports neither the easyjson package, which
// pulls in net/http and crypto/tls (1.9 MB more binary to page in on every
// call), nor its jwriter (net).
type marshaler interface{ MarshalEasyJSON(w *writer) }

type unmarshaler interface{ UnmarshalEasyJSON(l *jlexer.Lexer) }

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
	w := writer{buf: make([]byte, 0, 16384), noEscapeHTML: true}
	(*Seccomp)(p).MarshalEasyJSON(&w)
	w.RawByte('\n')
	return w.BuildBytes()
}
