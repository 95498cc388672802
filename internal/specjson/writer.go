package specjson

import (
	"strconv"
	"unicode/utf8"
)

// writer is what the generated encoders write to: the methods of easyjson's
// jwriter.Writer that they call (internal/fixorder points them here). Not
// jwriter itself: its buffer package imports net, whose package init and
// pages cost ~0.2 ms on every runh call. Strings are escaped exactly as
// encoding/json escapes them, which codec_test.go checks.
type writer struct {
	buf          []byte
	err          error
	noEscapeHTML bool
}

func (w *writer) RawByte(c byte)              { w.buf = append(w.buf, c) }
func (w *writer) RawString(s string)          { w.buf = append(w.buf, s...) }
func (w *writer) Bool(v bool)                 { w.buf = strconv.AppendBool(w.buf, v) }
func (w *writer) Int(v int)                   { w.buf = strconv.AppendInt(w.buf, int64(v), 10) }
func (w *writer) Int32(v int32)               { w.buf = strconv.AppendInt(w.buf, int64(v), 10) }
func (w *writer) Int64(v int64)               { w.buf = strconv.AppendInt(w.buf, v, 10) }
func (w *writer) Uint(v uint)                 { w.buf = strconv.AppendUint(w.buf, uint64(v), 10) }
func (w *writer) Uint16(v uint16)             { w.buf = strconv.AppendUint(w.buf, uint64(v), 10) }
func (w *writer) Uint32(v uint32)             { w.buf = strconv.AppendUint(w.buf, uint64(v), 10) }
func (w *writer) Uint64(v uint64)             { w.buf = strconv.AppendUint(w.buf, v, 10) }
func (w *writer) BuildBytes() ([]byte, error) { return w.buf, w.err }

// Raw writes an already encoded value (the generated code passes it
// json.Marshal's result for the spec's one interface{} field).
func (w *writer) Raw(data []byte, err error) {
	switch {
	case w.err != nil:
	case err != nil:
		w.err = err
	case len(data) > 0:
		w.buf = append(w.buf, data...)
	default:
		w.buf = append(w.buf, "null"...)
	}
}

const hexDigits = "0123456789abcdef"

// String writes s as a JSON string the way encoding/json does: ", \ and
// control characters escaped (\b \f \n \r \t by name, the rest as \u00xx),
// <, > and & as \u003c, \u003e, \u0026 unless noEscapeHTML, invalid UTF-8
// as \ufffd, and U+2028 and U+2029 escaped.
func (w *writer) String(s string) {
	b := append(w.buf, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && (w.noEscapeHTML || c != '<' && c != '>' && c != '&') {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	w.buf = append(b, '"')
}
