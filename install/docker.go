package install

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
)

// editDocker adds runh to daemon.json's "runtimes" (docker run --runtime
// NAME). Keys keep their order; unknown keys and any other settings of an
// existing runh entry are kept. JSON has no comments to keep.
func editDocker(src []byte, o Options) ([]byte, error) {
	if len(bytes.TrimSpace(src)) == 0 {
		src = []byte("{}")
	}
	top, err := decodeObject(src)
	if err != nil {
		return nil, err
	}
	want, err := decodeAny(src)
	if err != nil {
		return nil, err
	}
	runtimes, err := top.object("runtimes")
	if err != nil {
		return nil, err
	}
	entry, err := runtimes.object(o.Name)
	if err != nil {
		return nil, fmt.Errorf("runtimes: %w", err)
	}
	entry.set("path", o.Path)
	runtimes.set(o.Name, entry)
	top.set("runtimes", runtimes)
	assign(want, []string{"runtimes", o.Name, "path"}, o.Path)
	if o.SetDefault {
		top.set("default-runtime", o.Name)
		want["default-runtime"] = o.Name
	}
	compact, err := json.Marshal(top)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if err := json.Indent(&out, compact, "", jsonIndent(src)); err != nil {
		return nil, err
	}
	out.WriteByte('\n')
	got, err := decodeAny(out.Bytes())
	if err != nil {
		return nil, err
	}
	if err := checkOnly(got, want); err != nil {
		return nil, err
	}
	// Already registered: leave the file byte for byte as it was.
	if before, _ := decodeAny(src); reflect.DeepEqual(before, got) {
		return src, nil
	}
	return out.Bytes(), nil
}

// object is a JSON object that keeps its keys' order.
type object []member

type member struct {
	key   string
	value json.RawMessage
}

func decodeObject(data []byte) (object, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, fmt.Errorf("not a JSON object%s", jsonErr(err))
	}
	var obj object
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("not valid JSON%s", jsonErr(err))
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, fmt.Errorf("not valid JSON%s", jsonErr(err))
		}
		obj = append(obj, member{tok.(string), raw})
	}
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("not valid JSON%s", jsonErr(err))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("not valid JSON: data after the top-level object")
	}
	return obj, nil
}

func jsonErr(err error) string {
	if err == nil {
		return ""
	}
	return ": " + err.Error()
}

// object returns the member key as an object (empty if absent).
func (o object) object(key string) (object, error) {
	for _, m := range o {
		if m.key == key {
			sub, err := decodeObject(m.value)
			if err != nil {
				return nil, fmt.Errorf("%q: %w", key, err)
			}
			return sub, nil
		}
	}
	return object{}, nil
}

// set replaces the member in place, or appends it.
func (o *object) set(key string, value any) {
	raw, _ := json.Marshal(value)
	for i := range *o {
		if (*o)[i].key == key {
			(*o)[i].value = raw
			return
		}
	}
	*o = append(*o, member{key, raw})
}

func (o object) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, m := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(m.key)
		b.Write(k)
		b.WriteByte(':')
		b.Write(m.value)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

func decodeAny(data []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	m := map[string]any{}
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("not valid JSON: %w", err)
	}
	return m, nil
}

// jsonIndent keeps the file's indentation (two spaces for a new file): the
// spaces and tabs that start the first line with text after them.
func jsonIndent(src []byte) string {
	for i := 0; i < len(src); i++ {
		if src[i] != '\n' {
			continue
		}
		j := i + 1
		for j < len(src) && (src[j] == ' ' || src[j] == '\t') {
			j++
		}
		if j > i+1 && j < len(src) && !strings.ContainsRune(" \t\n\f\r", rune(src[j])) {
			return string(src[i+1 : j])
		}
	}
	return "  "
}
