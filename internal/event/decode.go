package event

import (
	"encoding/json"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// decodeValid decodes JSON that the splitter has already checked (syntax, depth, UTF-8)
// into the values encoding/json gives with UseNumber: map[string]any, []any, string,
// json.Number, bool and nil. Skipping the checks and reflection is what makes
// normalising cheaper than a plain json.Unmarshal.
func decodeValid(data []byte) any {
	d := decoder{data: data}
	return d.value()
}

type decoder struct {
	data []byte
	i    int
}

func (d *decoder) ws() {
	for d.i < len(d.data) && isSpace(d.data[d.i]) {
		d.i++
	}
}

func (d *decoder) value() any {
	d.ws()
	switch d.data[d.i] {
	case '{':
		d.i++
		m := make(map[string]any)
		d.ws()
		if d.data[d.i] == '}' {
			d.i++
			return m
		}
		for {
			d.ws()
			k := d.str()
			d.ws()
			d.i++ // ':'
			m[k] = d.value()
			d.ws()
			c := d.data[d.i]
			d.i++
			if c == '}' {
				return m
			}
		}
	case '[':
		d.i++
		a := []any{}
		d.ws()
		if d.data[d.i] == ']' {
			d.i++
			return a
		}
		for {
			a = append(a, d.value())
			d.ws()
			c := d.data[d.i]
			d.i++
			if c == ']' {
				return a
			}
		}
	case '"':
		return d.str()
	case 't':
		d.i += 4
		return true
	case 'f':
		d.i += 5
		return false
	case 'n':
		d.i += 4
		return nil
	}
	start := d.i
	for d.i < len(d.data) {
		c := d.data[d.i]
		if !(c >= '0' && c <= '9' || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E') {
			break
		}
		d.i++
	}
	return json.Number(d.data[start:d.i])
}

// str decodes the string starting at d.i, replacing lone surrogates with U+FFFD as
// encoding/json does.
func (d *decoder) str() string {
	d.i++
	start := d.i
	for d.data[d.i] != '"' {
		if d.data[d.i] == '\\' {
			return d.unquote(start)
		}
		d.i++
	}
	s := string(d.data[start:d.i])
	d.i++
	return s
}

func (d *decoder) unquote(start int) string {
	b := make([]byte, 0, d.i-start+16)
	b = append(b, d.data[start:d.i]...)
	for {
		c := d.data[d.i]
		switch c {
		case '"':
			d.i++
			return string(b)
		case '\\':
			d.i++
			e := d.data[d.i]
			d.i++
			switch e {
			case 'b':
				b = append(b, '\b')
			case 'f':
				b = append(b, '\f')
			case 'n':
				b = append(b, '\n')
			case 'r':
				b = append(b, '\r')
			case 't':
				b = append(b, '\t')
			case 'u':
				r := d.hex4(d.i)
				d.i += 4
				if utf16.IsSurrogate(r) {
					r2 := rune(-1)
					if d.i+6 <= len(d.data) && d.data[d.i] == '\\' && d.data[d.i+1] == 'u' {
						r2 = d.hex4(d.i + 2)
					}
					if dec := utf16.DecodeRune(r, r2); dec != unicode.ReplacementChar {
						d.i += 6
						r = dec
					} else {
						r = unicode.ReplacementChar
					}
				}
				b = utf8.AppendRune(b, r)
			default: // '"', '\\', '/'
				b = append(b, e)
			}
		default:
			b = append(b, c)
			d.i++
		}
	}
}

func (d *decoder) hex4(at int) rune {
	var r rune
	for _, c := range d.data[at : at+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r<<4 | rune(c)
	}
	return r
}

// skip moves past the value at d.i.
func (d *decoder) skip() {
	d.ws()
	switch d.data[d.i] {
	case '"':
		d.i++
		for d.data[d.i] != '"' {
			if d.data[d.i] == '\\' {
				d.i++
			}
			d.i++
		}
		d.i++
	case '{', '[':
		depth := 0
		for {
			switch d.data[d.i] {
			case '"':
				d.skip()
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
			}
			d.i++
			if depth == 0 {
				return
			}
		}
	default:
		for d.i < len(d.data) {
			c := d.data[d.i]
			if isSpace(c) || c == ',' || c == '}' || c == ']' {
				return
			}
			d.i++
		}
	}
}

// elementSpans returns the original bytes of each element of the array at path (object
// keys from the top) in valid JSON, so that an event split out of a larger value keeps
// the bytes it came with. With duplicate keys the last wins, as in decoding.
func elementSpans(data []byte, path ...string) [][]byte {
	d := decoder{data: data}
	for _, key := range path {
		d.ws()
		if d.i >= len(d.data) || d.data[d.i] != '{' {
			return nil
		}
		d.i++
		found := -1
		for {
			d.ws()
			if d.data[d.i] == '}' {
				break
			}
			k := d.str()
			d.ws()
			d.i++ // ':'
			d.ws()
			if k == key {
				found = d.i
			}
			d.skip()
			d.ws()
			if d.data[d.i] == ',' {
				d.i++
			}
		}
		if found < 0 {
			return nil
		}
		d.i = found
	}
	d.ws()
	if d.i >= len(d.data) || d.data[d.i] != '[' {
		return nil
	}
	d.i++
	var spans [][]byte
	for {
		d.ws()
		if d.data[d.i] == ']' {
			return spans
		}
		start := d.i
		d.skip()
		spans = append(spans, d.data[start:d.i])
		d.ws()
		if d.data[d.i] == ',' {
			d.i++
		}
	}
}
