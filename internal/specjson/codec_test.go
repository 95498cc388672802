package specjson

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// stdDecode is what runc does with runh's output, and what runh did before
// this codec.
func stdDecode(data []byte, v any) error { return Strict(data, v) }

// clientConfigs are the config.json and process.json files that Docker,
// containerd (ctr and CRI) and Podman wrote, captured in testdata.
func clientConfigs(t testing.TB) (configs, processes map[string][]byte) {
	configs, processes = map[string][]byte{}, map[string][]byte{}
	paths, err := filepath.Glob("../../testdata/clients/*.json")
	if err != nil || len(paths) < 10 {
		t.Fatalf("client configs: %v (%d files)", err, len(paths))
	}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(p, "-process.json") {
			processes[filepath.Base(p)] = data
		} else {
			configs[filepath.Base(p)] = data
		}
	}
	return configs, processes
}

// sameAsStd checks the codec against encoding/json on one document: the
// same value decoded, the same bytes written (several times, since map
// order would only show up by chance), and what runc reads back from the
// codec's output is what runh checked.
func sameAsStd[T any](t *testing.T, name string, data []byte, decode func([]byte) (*T, error), encode func(*T) ([]byte, error)) {
	t.Helper()
	got, err := decode(data)
	var want T
	stdErr := stdDecode(data, &want)
	if err != nil {
		if stdErr == nil {
			t.Errorf("%s: the codec refuses what encoding/json accepts: %v", name, err)
		}
		return
	}
	if stdErr != nil {
		t.Errorf("%s: the codec accepts what encoding/json refuses (%v)", name, stdErr)
		return
	}
	if !reflect.DeepEqual(got, &want) {
		t.Errorf("%s: decoded values differ:\ncodec %+v\nstd   %+v", name, got, &want)
		return
	}
	stdOut, err := json.Marshal(&want)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	for i := 0; i < 8; i++ {
		out, err := encode(got)
		if err != nil {
			t.Fatalf("%s: encode: %v", name, err)
		}
		if !bytes.Equal(out, stdOut) {
			t.Fatalf("%s: encoded bytes differ:\ncodec %s\nstd   %s", name, out, stdOut)
		}
	}
	// runc reads the output with encoding/json; it must read what runh
	// checked. (Up to what omitempty drops: an empty list comes back as
	// none, as it always did with encoding/json alone; so compare by
	// encoding again.)
	var back T
	if err := stdDecode(stdOut, &back); err != nil {
		t.Fatalf("%s: runc could not read runh's output: %v", name, err)
	}
	if again, _ := json.Marshal(&back); !bytes.Equal(again, stdOut) {
		t.Errorf("%s: runc would read %s, runh checked %s", name, again, stdOut)
	}
}

func TestClientConfigsMatchEncodingJSON(t *testing.T) {
	configs, processes := clientConfigs(t)
	for name, data := range configs {
		sameAsStd(t, name, data, DecodeSpec, EncodeSpec)
	}
	for name, data := range processes {
		sameAsStd(t, name, data, DecodeProcess, EncodeProcess)
	}
}

// fill sets every exported field reachable from v to a non-zero value: maps
// get three keys (so their order shows), slices two elements. A field that a
// newer runtime-spec adds and the generated code lacks then shows up as a
// difference, without running the generator in the test.
func fill(v reflect.Value, depth int) {
	switch v.Kind() {
	case reflect.Pointer:
		if depth > 30 {
			return
		}
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem(), depth+1)
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i), depth+1)
			}
		}
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			v.SetBytes([]byte("bytes"))
			return
		}
		v.Set(reflect.MakeSlice(v.Type(), 2, 2))
		for i := 0; i < 2; i++ {
			fill(v.Index(i), depth+1)
		}
	case reflect.Array:
		for i := 0; i < v.Len(); i++ {
			fill(v.Index(i), depth+1)
		}
	case reflect.Map:
		v.Set(reflect.MakeMap(v.Type()))
		for _, k := range []string{"zeta", "alpha", "mu"} {
			e := reflect.New(v.Type().Elem()).Elem()
			fill(e, depth+1)
			v.SetMapIndex(reflect.ValueOf(k).Convert(v.Type().Key()), e)
		}
	case reflect.String:
		v.SetString("s<&>\u2028\u2029é\x01\b\f\n\r\t\"\\\x7f")
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(-7)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		v.SetUint(7)
	case reflect.Float32, reflect.Float64:
		v.SetFloat(0.5)
	case reflect.Interface:
		v.Set(reflect.ValueOf("any"))
	}
}

func TestEveryFieldMatchesEncodingJSON(t *testing.T) {
	var s specs.Spec
	fill(reflect.ValueOf(&s).Elem(), 0)
	data, err := json.Marshal(&s)
	if err != nil {
		t.Fatal(err)
	}
	sameAsStd(t, "every field of specs.Spec", data, DecodeSpec, EncodeSpec)
	if out, _ := EncodeSpec(&s); !bytes.Equal(out, data) {
		t.Errorf("encoding a Spec with every field set:\ncodec %s\nstd   %s", out, data)
	}
	var p specs.Process
	fill(reflect.ValueOf(&p).Elem(), 0)
	data, err = json.Marshal(&p)
	if err != nil {
		t.Fatal(err)
	}
	sameAsStd(t, "every field of specs.Process", data, DecodeProcess, EncodeProcess)
}

func TestSeccompCanonicalMatchesEncoder(t *testing.T) {
	var p specs.LinuxSeccomp
	fill(reflect.ValueOf(&p).Elem(), 0)
	for _, v := range []*specs.LinuxSeccomp{&p, {}, nil} {
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			t.Fatal(err)
		}
		got, err := EncodeSeccompCanonical(v)
		if err != nil || !bytes.Equal(got, want.Bytes()) {
			t.Errorf("EncodeSeccompCanonical (%v):\ncodec %s\nstd   %s", err, got, want.Bytes())
		}
	}
}

func TestRefusals(t *testing.T) {
	// Refusals are encoding/json's, with its messages: the ones runh gave
	// before it had generated code.
	for _, tc := range []struct{ name, doc, want string }{
		{"unknown field", `{"ociVersion":"1.2.0","procss":{}}`, `unknown field "procss"`},
		{"unknown nested field", `{"ociVersion":"1.2.0","process":{"user":{"uid":0,"root":true}}}`, `unknown field "root"`},
		{"trailing data", `{"ociVersion":"1.2.0"} {}`, `trailing data`},
		{"wrong type", `{"ociVersion":"1.2.0","process":{"user":{"uid":"0"}}}`, `cannot unmarshal string`},
		{"negative uid", `{"ociVersion":"1.2.0","process":{"user":{"uid":-1}}}`, `number -1`},
		{"not JSON", `ociVersion`, `invalid character`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeSpec([]byte(tc.doc))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// FuzzCodec holds the codec to encoding/json on arbitrary input: it accepts
// exactly what encoding/json accepts, and decodes and writes it exactly as
// encoding/json would.
func FuzzCodec(f *testing.F) {
	configs, processes := clientConfigs(f)
	for _, data := range configs {
		f.Add(data)
	}
	for _, data := range processes {
		f.Add(data)
	}
	for _, doc := range []string{
		`{"ociVersion":"1.2.0","hostname":"\ud800\udc00\ud800 \u00e9\u003c"}`,
		`{"annotations":{"a":"1"},"annotations":{"b":"2"},"annotations":null}`,
		`{"process":{"user":{"uid":1}},"process":{"args":["x"]},"linux":null}`,
		`{"linux":{"resources":{"memory":{"limit":1e3}}}}`,
		`{"linux":{"resources":{"memory":{"limit":-9223372036854775809}}}}`,
		`{"process":{"user":{"uid":4294967296}}}`,
		`{"process":{"terminal":"true"}}`,
		`{"mounts":[{"destination":"/a","options":null}],"mounts":[]}`,
		` {"ociVersion" : "1.0.0" } ` + "\n",
		// easyjson's lexer reads 00 as a number; encoding/json refuses it.
		`{"process":{"rlimits":[{"type":"RLIMIT_NOFILE","hard":00,"soft":0}]}}`,
		`{"process":{"user":{"uid":-0,"gid":1.0e0}}}`,
		// encoding/json decodes a repeated array into the first one's
		// elements: the last args keeps value 1.
		`{"linux":{"seccomp":{"syscalls":[{"args":[{"index":0,"value":1}],"args":[{"index":0}]}]}}}`,
		// runc's update.bats writes "CPU"; encoding/json (runc) matches
		// keys in any letter case.
		`{"ociVersion":"1.0.0","linux":{"resources":{"CPU":{"cpus":"0"}}},"Process":{"Cwd":"/"}}`,
	} {
		f.Add([]byte(doc))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		sameAsStd(t, "fuzz input", data, DecodeSpec, EncodeSpec)
	})
}

// TestWriterStringMatchesEncodingJSON: strings, invalid UTF-8 and every
// control character included, come out as encoding/json writes them, with
// and without HTML escaping.
func TestWriterStringMatchesEncodingJSON(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	alphabet := []string{"a", "é", "<", ">", "&", "\"", "\\", "\u2028", "\u2029", "\x7f", "\xff", "\xe2\x80", "\U0001F600"}
	for c := 0; c < 0x20; c++ {
		alphabet = append(alphabet, string(rune(c)))
	}
	for i := 0; i < 20000; i++ {
		var b strings.Builder
		for n := rng.IntN(12); n > 0; n-- {
			b.WriteString(alphabet[rng.IntN(len(alphabet))])
		}
		s := b.String()
		for _, noEscape := range []bool{false, true} {
			var want bytes.Buffer
			enc := json.NewEncoder(&want)
			enc.SetEscapeHTML(!noEscape)
			enc.Encode(s)
			w := writer{noEscapeHTML: noEscape}
			w.String(s)
			if got := string(w.buf) + "\n"; got != want.String() {
				t.Fatalf("String(%q, noEscapeHTML %v) = %s, encoding/json writes %s", s, noEscape, got, want.String())
			}
		}
	}
}

func TestRepeatedKey(t *testing.T) {
	for _, tc := range []struct {
		doc  string
		want bool
	}{
		{`{}`, false},
		{`{"a":1,"b":{"a":2},"c":[{"a":3},{"a":4}]}`, false},
		{`{"a":1,"a":2}`, true},
		{`{"a" : 1, "b":2, "a" :3}`, true},
		{`{"x":{"args":[],"args":[]}}`, true},
		{`{"a":"a:","b":"{\"a\":1}","c":"a"}`, false},
		{`{"a\u0062":1}`, true}, // escaped keys are not compared: counted as repeated
		{`["a","a"]`, false},
		{`{"a":["b","b"],"c":{"d":"e"},"f":{"d":"e"}}`, false},
	} {
		if got := repeatedKey([]byte(tc.doc)); got != tc.want {
			t.Errorf("repeatedKey(%s) = %v, want %v", tc.doc, got, tc.want)
		}
	}
}
