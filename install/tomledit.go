package install

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strings"

	toml "github.com/pelletier/go-toml/v2"
	"github.com/pelletier/go-toml/v2/unstable"
)

// tomlDoc edits a TOML file in place. The text is never re-rendered: the
// library's parser locates tables and keys, new keys and tables are rendered
// by the library's encoder and spliced in, and everything else (comments,
// ordering, blank lines, unknown keys) is kept byte for byte. Every edit is
// re-parsed, and the caller checks the decoded result against the intended
// change (see checkOnly).
type tomlDoc struct {
	src []byte
}

type tomlBlock struct {
	key    []string // nil for the root table
	array  bool
	indent string // of the header line
	start  int    // start of the header line (0 for the root)
	body   int    // first byte after the header line
	kvs    []tomlKV
}

type tomlKV struct {
	key              []string
	indent           string
	rawStart, rawEnd int // "key = value", without a trailing comment
	lineEnd          int // after the newline
}

// errTOML marks a file that the TOML parser rejects.
var errTOML = errors.New("not valid TOML")

func decodeTOML(src []byte) (map[string]any, error) {
	m := map[string]any{}
	if err := toml.Unmarshal(src, &m); err != nil {
		var de *toml.DecodeError
		if errors.As(err, &de) {
			row, col := de.Position()
			return nil, fmt.Errorf("%w: line %d column %d: %s", errTOML, row, col, de.Error())
		}
		return nil, fmt.Errorf("%w: %w", errTOML, err)
	}
	return m, nil
}

func lineStart(src []byte, off int) int {
	return bytes.LastIndexByte(src[:off], '\n') + 1
}

func lineEnd(src []byte, off int) int {
	if i := bytes.IndexByte(src[off:], '\n'); i >= 0 {
		return off + i + 1
	}
	return len(src)
}

func keyParts(n *unstable.Node) ([]string, int) {
	var parts []string
	first := -1
	for it := n.Key(); it.Next(); {
		k := it.Node()
		if first < 0 {
			first = int(k.Raw.Offset)
		}
		parts = append(parts, string(k.Data))
	}
	return parts, first
}

// blocks splits the document into its root table and one block per
// [table] or [[array table]] header, in file order.
func (d *tomlDoc) blocks() ([]tomlBlock, error) {
	p := unstable.Parser{KeepComments: true}
	p.Reset(d.src)
	bs := []tomlBlock{{}}
	for p.NextExpression() {
		e := p.Expression()
		switch e.Kind {
		case unstable.Table, unstable.ArrayTable:
			key, off := keyParts(e)
			ls := lineStart(d.src, off)
			bs = append(bs, tomlBlock{
				key: key, array: e.Kind == unstable.ArrayTable, start: ls, body: lineEnd(d.src, off),
				indent: leadingSpace(d.src[ls:]),
			})
		case unstable.KeyValue:
			key, _ := keyParts(e)
			ls := lineStart(d.src, int(e.Raw.Offset))
			end := int(e.Raw.Offset + e.Raw.Length)
			b := &bs[len(bs)-1]
			b.kvs = append(b.kvs, tomlKV{key: key, indent: leadingSpace(d.src[ls:]),
				rawStart: int(e.Raw.Offset), rawEnd: end, lineEnd: lineEnd(d.src, end)})
		}
	}
	if err := p.Error(); err != nil {
		return nil, fmt.Errorf("%w: %w", errTOML, err)
	}
	return bs, nil
}

func leadingSpace(b []byte) string {
	i := 0
	for i < len(b) && (b[i] == ' ' || b[i] == '\t') {
		i++
	}
	return string(b[:i])
}

func hasPrefix(key, prefix []string) bool {
	return len(key) >= len(prefix) && reflect.DeepEqual(key[:len(prefix)], prefix)
}

// renderKV renders `key = value` with the library's encoder (quoting and
// escaping included), without the trailing newline.
func renderKV(key string, value any) (string, error) {
	b, err := toml.Marshal(map[string]any{key: value})
	if err != nil {
		return "", err
	}
	return strings.TrimRight(string(b), "\n"), nil
}

// renderHeader renders [a."b.c".d], quoting each part with the encoder.
func renderHeader(table []string) (string, error) {
	parts := make([]string, len(table))
	for i, k := range table {
		kv, err := renderKV(k, 0)
		if err != nil {
			return "", err
		}
		parts[i] = strings.TrimSuffix(kv, " = 0")
	}
	return "[" + strings.Join(parts, ".") + "]", nil
}

// set makes table.key = value. An existing key's value is replaced in
// place (a trailing comment survives); a missing key is added after the
// table's last key; a missing table is added after its closest relatives
// (the runc runtime's tables, say), or at the end of the file.
func (d *tomlDoc) set(table []string, key string, value any) error {
	bs, err := d.blocks()
	if err != nil {
		return err
	}
	line, err := renderKV(key, value)
	if err != nil {
		return err
	}
	for _, b := range bs {
		if b.array || !reflect.DeepEqual(b.key, table) && !(len(table) == 0 && b.key == nil) {
			continue
		}
		for _, kv := range b.kvs {
			if reflect.DeepEqual(kv.key, []string{key}) {
				d.splice(kv.rawStart, kv.rawEnd, line)
				return d.reparse()
			}
		}
		at, indent := b.body, b.indent+"  "
		if b.key == nil {
			indent = ""
		}
		if n := len(b.kvs); n > 0 {
			at, indent = b.kvs[n-1].lineEnd, b.kvs[n-1].indent
		}
		d.splice(at, at, ensureNL(d.src[:at])+indent+line+"\n")
		return d.reparse()
	}
	if len(table) == 0 {
		return fmt.Errorf("internal: no root table")
	}
	header, err := renderHeader(table)
	if err != nil {
		return err
	}
	// Next to its relatives: after the last table sharing the longest
	// prefix with it.
	at, indent, related := len(d.src), "", false
	for n := len(table) - 1; n > 0 && !related; n-- {
		for _, b := range bs[1:] {
			if hasPrefix(b.key, table[:n]) {
				// After the block's last key, so that a comment that
				// introduces the next table stays with that table.
				at, related = b.body, true
				if k := len(b.kvs); k > 0 {
					at = b.kvs[k-1].lineEnd
				}
				if len(b.key) <= len(table) {
					// Nested one level deeper per key part, as
					// "containerd config default" writes it.
					indent = b.indent + strings.Repeat("  ", len(table)-len(b.key))
				}
			}
		}
	}
	text := ensureNL(d.src[:at])
	if !related && at > 0 {
		text += "\n" // a table of its own at the end: set it apart
	}
	text += indent + header + "\n" + indent + "  " + line + "\n"
	d.splice(at, at, text)
	return d.reparse()
}

func ensureNL(before []byte) string {
	if len(before) > 0 && before[len(before)-1] != '\n' {
		return "\n"
	}
	return ""
}

func (d *tomlDoc) splice(from, to int, text string) {
	out := make([]byte, 0, len(d.src)+len(text))
	out = append(out, d.src[:from]...)
	out = append(out, text...)
	out = append(out, d.src[to:]...)
	d.src = out
}

// reparse proves the edit left valid TOML. A table that the file defines
// with dotted keys or an inline table cannot take a new [header]; that shows
// up here and stops the install.
func (d *tomlDoc) reparse() error {
	if _, err := decodeTOML(d.src); err != nil {
		return fmt.Errorf("the edit would not be valid TOML (is the table written as dotted keys or an inline table? add runh by hand): %w", err)
	}
	return nil
}

// lookup walks a decoded document.
func lookup(m map[string]any, path ...string) (any, bool) {
	var cur any = m
	for _, p := range path {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = mm[p]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// assign sets path to value in a decoded document, creating tables.
func assign(m map[string]any, path []string, value any) {
	for _, p := range path[:len(path)-1] {
		next, ok := m[p].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[p] = next
		}
		m = next
	}
	m[path[len(path)-1]] = value
}

// tomlEdit is one intended value: table.key = value. Values use the types
// the decoder yields (string, int64, bool, []any) so that checkOnly can
// compare them.
type tomlEdit struct {
	table []string
	key   string
	value any
}

// apply makes every edit that is not already so (a file already set up is
// returned byte for byte), then proves that nothing else changed.
func (d *tomlDoc) apply(edits []tomlEdit) ([]byte, error) {
	old, err := decodeTOML(d.src)
	if err != nil {
		return nil, err
	}
	want, _ := decodeTOML(d.src)
	for _, e := range edits {
		path := append(append([]string{}, e.table...), e.key)
		if cur, ok := lookup(old, path...); ok && reflect.DeepEqual(cur, e.value) {
			continue
		}
		if err := d.set(e.table, e.key, e.value); err != nil {
			return nil, err
		}
		assign(want, path, e.value)
	}
	got, err := decodeTOML(d.src)
	if err != nil {
		return nil, err
	}
	if err := checkOnly(got, want); err != nil {
		return nil, err
	}
	return d.src, nil
}
