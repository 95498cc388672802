package sandbox

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/runh-dev/runh/internal/specjson"
)

// MaxConfigSize bounds what runh reads from config.json or process.json, so
// a huge or endless file cannot exhaust a small node's memory. Real configs
// are a few KiB; 4 MiB leaves room for large seccomp profiles.
const MaxConfigSize = 4 << 20

// LoadSpec reads and strictly decodes a config.json. A field runh does not
// understand is a field it cannot harden, so unknown fields are refused.
func LoadSpec(path string) (*specs.Spec, []byte, error) {
	data, err := readBounded(path)
	if err != nil {
		return nil, nil, err
	}
	s, err := specjson.DecodeSpec(data)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %s: %w", ErrInvalidConfig, path, err)
	}
	if err := checkVersion(s.Version); err != nil {
		return nil, nil, fmt.Errorf("%w: %s: %w", ErrInvalidConfig, path, err)
	}
	return s, data, nil
}

// LoadProcess reads and strictly decodes an exec process.json.
func LoadProcess(path string) (*specs.Process, error) {
	data, err := readBounded(path)
	if err != nil {
		return nil, err
	}
	p, err := specjson.DecodeProcess(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrInvalidConfig, path, err)
	}
	return p, nil
}

func readBounded(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	defer f.Close()
	return readBoundedFrom(f, path)
}

// readBoundedFrom reads at most MaxConfigSize bytes of r, named name.
func readBoundedFrom(r io.Reader, name string) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxConfigSize+1))
	if err != nil {
		return nil, fmt.Errorf("%w: read %s: %w", ErrInvalidConfig, name, err)
	}
	if len(data) > MaxConfigSize {
		return nil, fmt.Errorf("%w: %s is larger than %d bytes", ErrInvalidConfig, name, MaxConfigSize)
	}
	return data, nil
}

// DecodeStrict decodes one JSON document into v, refusing unknown fields and
// trailing data.
func DecodeStrict(data []byte, v any) error { return specjson.Strict(data, v) }

// checkVersion accepts the 1.x releases whose fields runh's runtime-spec
// module knows (1.0 to 1.3), with or without a -dev/-rc suffix.
func checkVersion(v string) error {
	core, _, _ := strings.Cut(v, "-")
	parts := strings.Split(core, ".")
	if len(parts) != 3 {
		return fmt.Errorf("ociVersion %q is not a version runh understands (want 1.0.0 to 1.3.x)", v)
	}
	major, err1 := strconv.Atoi(parts[0])
	minor, err2 := strconv.Atoi(parts[1])
	_, err3 := strconv.Atoi(parts[2])
	if err1 != nil || err2 != nil || err3 != nil || major != 1 || minor > 3 || minor < 0 {
		return fmt.Errorf("ociVersion %q is not a version runh understands (want 1.0.0 to 1.3.x)", v)
	}
	return nil
}

// LoadSpecDropUnknown reads config.json like LoadSpec, except that JSON
// properties the runtime spec does not define are not an error: the spec
// says a runtime MUST NOT fail on one (runtime-tools misc_props). They are
// returned by path and dropped: runh hands runc its own encoding of what
// it decoded, so runc never acts on a property runh did not vet.
func LoadSpecDropUnknown(path string) (*specs.Spec, []string, error) {
	s, _, err := LoadSpec(path)
	if err == nil || !strings.Contains(err.Error(), "unknown field") {
		return s, nil, err
	}
	data, rerr := readBounded(path)
	if rerr != nil {
		return nil, nil, rerr
	}
	var lenient specs.Spec
	if err := json.Unmarshal(data, &lenient); err != nil {
		return nil, nil, fmt.Errorf("%w: %s: %w", ErrInvalidConfig, path, err)
	}
	if err := checkVersion(lenient.Version); err != nil {
		return nil, nil, fmt.Errorf("%w: %s: %w", ErrInvalidConfig, path, err)
	}
	var raw any
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, nil, fmt.Errorf("%w: %s: %w", ErrInvalidConfig, path, err)
	}
	var unknown []string
	unknownFields("", raw, reflect.TypeOf(lenient), &unknown)
	sort.Strings(unknown)
	return &lenient, unknown, nil
}

// unknownFields walks a decoded JSON value alongside the Go type it was
// decoded into and records the paths of object keys the type has no field
// for, matching names as encoding/json does (exactly, else ignoring case).
func unknownFields(path string, v any, t reflect.Type, out *[]string) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch val := v.(type) {
	case map[string]any:
		switch t.Kind() {
		case reflect.Map:
			for k, e := range val {
				unknownFields(joinPath(path, k), e, t.Elem(), out)
			}
		case reflect.Struct:
			fields := specFieldTypes(t)
			for k, e := range val {
				f, ok := fields[k]
				if !ok {
					for name, ff := range fields {
						if strings.EqualFold(name, k) {
							f, ok = ff, true
							break
						}
					}
				}
				if !ok {
					*out = append(*out, joinPath(path, k))
					continue
				}
				unknownFields(joinPath(path, k), e, f, out)
			}
		}
	case []any:
		if t.Kind() == reflect.Slice || t.Kind() == reflect.Array {
			for i, e := range val {
				unknownFields(fmt.Sprintf("%s[%d]", path, i), e, t.Elem(), out)
			}
		}
	}
}

func joinPath(path, k string) string {
	if path == "" {
		return k
	}
	return path + "." + k
}

// specFieldTypes maps a struct's JSON names to their types.
func specFieldTypes(t reflect.Type) map[string]reflect.Type {
	m := make(map[string]reflect.Type, t.NumField())
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		m[name] = f.Type
	}
	return m
}
