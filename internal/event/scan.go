package event

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
	"unsafe"
)

// Limits on what one input value may be. They bound the memory a replay needs whatever
// the input, and keep a hostile or corrupt file from exhausting the process.
const (
	// MaxEventSize is the largest JSON value accepted as one event, in bytes. An element of
	// a top-level array counts on its own, so an array of any length streams.
	MaxEventSize = 1 << 20
	// MaxDepth is the deepest nesting of objects and arrays accepted inside one value.
	MaxDepth = 64
	// MaxWrapDepth is how many SNS/SQS envelopes may wrap an event.
	MaxWrapDepth = 4
)

// readSize is the read buffer; a value larger than this spans refills.
const readSize = 64 << 10

// InputError is a rejected part of an input, with the 1-based line and column (in bytes)
// of the start of the bad value, or of the syntax error.
type InputError struct {
	Input     string
	Line, Col int
	// Index is the 0-based position of the rejected value among the input's values (the
	// elements of a top-level array count one each), so a caller that answers per value,
	// as the HTTP intake does, can say which one.
	Index int
	Err   error
}

// Error gives the rejection as INPUT:LINE:COL: MESSAGE, the form editors and CI logs link.
func (e *InputError) Error() string {
	if e.Input == "" {
		return fmt.Sprintf("%d:%d: %v", e.Line, e.Col, e.Err)
	}
	return fmt.Sprintf("%s:%d:%d: %v", e.Input, e.Line, e.Col, e.Err)
}

// Unwrap returns the reason without its position.
func (e *InputError) Unwrap() error { return e.Err }

// Scan reads every JSON value in r (one value, a top-level array of values, newline
// delimited or concatenated values), normalises each and calls emit for every event, in
// input order. A value that cannot be read or is no event goes to reject, and scanning
// carries on with the next value; after a syntax error it resumes at the next line that
// starts with '{' or '['. input names r in errors. When reject is nil, Scan reads on and
// returns the first rejection. Scan returns emit's error, a read error, or ctx's error.
func Scan(ctx context.Context, input string, r io.Reader, emit func(*Event) error, reject func(*InputError)) error {
	if reject == nil {
		var first *InputError
		err := Scan(ctx, input, r, emit, func(e *InputError) {
			if first == nil {
				first = e
			}
		})
		if err == nil && first != nil {
			return first
		}
		return err
	}
	s := newSplitter(r)
	var cur item
	index := -1
	n := &normaliser{emit: emit, fail: func(err error) {
		reject(&InputError{Input: input, Line: cur.line, Col: cur.col, Index: index, Err: err})
	}}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		it, err := s.next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", input, err)
		}
		index++
		if it.err != nil {
			reject(&InputError{Input: input, Line: it.line, Col: it.col, Index: index, Err: it.err})
			continue
		}
		cur = it
		n.value(it.data)
		if n.stop != nil {
			return n.stop
		}
	}
}

// ScanPath scans a file, every .json, .jsonl and .ndjson file under a directory (in
// lexical order of their paths), or stdin when path is "-". Errors name the file.
func ScanPath(ctx context.Context, path string, stdin io.Reader, emit func(*Event) error, reject func(*InputError)) error {
	if path == "-" {
		return Scan(ctx, "-", stdin, emit, reject)
	}
	info, err := os.Stat(path)
	if err != nil {
		return err
	}
	if !info.IsDir() {
		return scanFile(ctx, path, emit, reject)
	}
	var files []string
	err = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !isEventFile(p) {
			return nil
		}
		if d.Type()&fs.ModeSymlink != 0 {
			// A linked file is read like any other; a link to a directory is not followed.
			if fi, err := os.Stat(p); err != nil || !fi.Mode().IsRegular() {
				return err
			}
		} else if !d.Type().IsRegular() {
			return nil
		}
		files = append(files, p)
		return nil
	})
	if err != nil {
		return err
	}
	sort.Strings(files)
	for _, f := range files {
		if err := scanFile(ctx, f, emit, reject); err != nil {
			return err
		}
	}
	return nil
}

func isEventFile(p string) bool {
	switch strings.ToLower(filepath.Ext(p)) {
	case ".json", ".jsonl", ".ndjson":
		return true
	}
	return false
}

func scanFile(ctx context.Context, path string, emit func(*Event) error, reject func(*InputError)) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return Scan(ctx, path, f, emit, reject)
}

// FromJSON normalises the JSON value in data (or each value, when data holds several)
// into its events. Every rejected part is reported in the returned error, which joins
// *InputError values positioned within data; the events that could be read are returned
// all the same.
func FromJSON(data []byte) ([]*Event, error) {
	var events []*Event
	var errs []error
	err := Scan(context.Background(), "", bytes.NewReader(data), func(e *Event) error {
		events = append(events, e)
		return nil
	}, func(e *InputError) { errs = append(errs, e) })
	if err != nil {
		errs = append(errs, err)
	}
	return events, errors.Join(errs...)
}

// item is one value found by the splitter, or one rejection.
type item struct {
	data      []byte // valid JSON, owned by the splitter: valid until the next call
	line, col int
	err       error
}

// Splitter states. Values are found by a byte-level JSON state machine rather than by
// json.Decoder because the decoder buffers a whole value before it can say it is too big,
// cannot say on which line a syntax error is, and cannot carry on after one.
const (
	stTop       = iota // between top-level values
	stArrFirst         // after the '[' of a top-level array
	stArrNext          // after an element of a top-level array
	stArrElem          // after a ',' in a top-level array
	stValue            // expecting a value inside a value
	stObjFirst         // after '{'
	stObjKey           // after ',' in an object
	stColon            // after an object key
	stObjNext          // after an object member
	stListFirst        // after a nested '['
	stListNext         // after a nested array element
	stStr              // in a string
	stStrEsc           // after '\' in a string
	stStrU             // in a \u escape
	stNumMinus         // after '-'
	stNumZero          // after a leading 0
	stNumInt           // in the integer part
	stNumDot           // after '.'
	stNumFrac          // in the fraction
	stNumE             // after 'e'
	stNumESign         // after the exponent's sign
	stNumExp           // in the exponent
	stLit              // in true, false or null
	stSkip             // after a syntax error: skipping to the end of the line
	stLineStart        // after a syntax error: at the start of a line
)

type splitter struct {
	r        io.Reader
	buf      []byte
	pos, end int
	started  bool
	eof      bool
	rerr     error

	line, col int // of buf[pos]: 1-based line, bytes already read on that line

	state int
	stack []byte // open containers of the current value
	inKey bool
	hexes int
	lit   string
	litAt int

	// The current value.
	val                 []byte
	seg                 int // start in buf of bytes not yet copied to val, or -1
	over                bool
	size                int
	startLine, startCol int

	// The top-level array being streamed.
	inArray             bool
	arrayLine, arrayCol int

	// A syntax error waiting for the resynchronisation point to be known.
	pending          *item
	pendingLine      int
	skippedSomething bool
}

func newSplitter(r io.Reader) *splitter {
	return &splitter{r: r, buf: make([]byte, readSize), seg: -1, line: 1}
}

// newTextSplitter splits JSON text already in memory (an SNS or SQS message body)
// without a read buffer of its own.
func newTextSplitter(text string) *splitter {
	// The splitter only reads buf, so the string's bytes can serve without a copy.
	s := &splitter{buf: unsafe.Slice(unsafe.StringData(text), len(text)), end: len(text), eof: true, started: true, seg: -1, line: 1}
	if strings.HasPrefix(text, string(bom)) {
		s.pos = len(bom)
	}
	return s
}

// fill reads more input, first saving the current value's bytes that are still only in buf.
func (s *splitter) fill() bool {
	if s.eof {
		return false
	}
	if s.seg >= 0 {
		s.keep(s.buf[s.seg:s.end])
		s.seg = 0
	}
	s.pos, s.end = 0, 0
	want := 1
	if !s.started {
		want = len(bom) // enough to recognise a byte order mark
	}
	for s.end < want && !s.eof {
		n, err := s.r.Read(s.buf[s.end:])
		s.end += n
		if err != nil {
			if err != io.EOF {
				s.rerr = err
			}
			s.eof = true
		}
	}
	if !s.started {
		s.started = true
		// A byte order mark says the text is UTF-8; it is no part of the JSON.
		if bytes.HasPrefix(s.buf[:s.end], bom) {
			s.pos = len(bom)
			if s.pos == s.end {
				return s.fill()
			}
		}
	}
	return s.pos < s.end
}

var bom = []byte("\xef\xbb\xbf")

// keep appends b to the current value unless the value is already too big to keep.
func (s *splitter) keep(b []byte) {
	s.size += len(b)
	if s.over {
		return
	}
	if s.size > MaxEventSize {
		s.over = true
		s.val = s.val[:0]
		return
	}
	s.val = append(s.val, b...)
}

func (s *splitter) begin() {
	s.val = s.val[:0]
	s.seg = s.pos
	s.over = false
	s.size = 0
	s.startLine, s.startCol = s.line, s.col+1
	s.stack = s.stack[:0]
	s.state = stValue
}

// finish ends the current value at buf[end] and returns it, or why it is rejected.
func (s *splitter) finish(end int) item {
	var data []byte
	if s.size == 0 {
		// The whole value is in the read buffer: hand it out from there, uncopied.
		data = s.buf[s.seg:end]
		s.size = len(data)
		s.over = s.size > MaxEventSize
	} else {
		s.keep(s.buf[s.seg:end])
		data = s.val
	}
	s.seg = -1
	if s.inArray {
		s.state = stArrNext
	} else {
		s.state = stTop
	}
	it := item{data: data, line: s.startLine, col: s.startCol}
	if s.over {
		it.data = nil
		it.err = fmt.Errorf("event is %d bytes, over the %d-byte limit for one event; trim it or split it into separate events", s.size, MaxEventSize)
		return it
	}
	if !utf8.Valid(data) {
		off := invalidUTF8At(data)
		it.line, it.col = advancePos(s.startLine, s.startCol, data[:off])
		it.data = nil
		it.err = errors.New("invalid UTF-8 in a JSON string; re-encode the input as UTF-8")
	}
	return it
}

func invalidUTF8At(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 {
			return i
		}
		i += n
	}
	return len(b)
}

// advancePos is the position just after b, when b starts at line:col.
func advancePos(line, col int, b []byte) (int, int) {
	if nl := bytes.Count(b, []byte{'\n'}); nl > 0 {
		return line + nl, len(b) - bytes.LastIndexByte(b, '\n')
	}
	return line, col + len(b)
}

// afterValue moves on once a string, number, literal or container inside a value ends.
// It reports whether the whole value has ended.
func (s *splitter) afterValue() bool {
	if len(s.stack) == 0 {
		return true
	}
	if s.stack[len(s.stack)-1] == '{' {
		s.state = stObjNext
	} else {
		s.state = stListNext
	}
	return false
}

// fail records a syntax error at the current byte and starts resynchronising.
func (s *splitter) fail(c byte, context string) {
	s.seg = -1
	inValue := s.state != stArrNext
	started := s.startLine
	if !inValue {
		started = s.arrayLine
	}
	if s.col == 0 && (c == '{' || c == '[') && s.line > started {
		// A line that starts a new value inside an unfinished one: the unfinished one was
		// cut short, which is how a truncated line of NDJSON looks. Resume right here.
		if inValue {
			s.pending = &item{line: s.startLine, col: s.startCol, err: fmt.Errorf(
				"JSON value is not complete: line %d starts a new value before this one is closed; complete or remove the truncated value", s.line)}
		} else {
			s.pending = &item{line: s.arrayLine, col: s.arrayCol, err: fmt.Errorf(
				"JSON array is not closed: line %d starts a new value before its ']'; close the array", s.line)}
		}
		s.pendingLine = s.line
		s.inArray = false
		s.state = stLineStart
		return
	}
	s.pending = &item{line: s.line, col: s.col + 1, err: fmt.Errorf(
		"invalid JSON: invalid character %s %s; fix the JSON here", quoteChar(c), context)}
	s.pendingLine = s.line
	s.skippedSomething = false
	s.inArray = false
	s.state = stSkip
}

// resume delivers the pending syntax error once reading can go on at line s.line.
func (s *splitter) resume() item {
	it := *s.pending
	s.pending = nil
	switch {
	case s.line == s.pendingLine+2:
		it.err = fmt.Errorf("%w (line %d was skipped; reading resumed at line %d)", it.err, s.pendingLine+1, s.line)
	case s.line > s.pendingLine+2:
		it.err = fmt.Errorf("%w (lines %d to %d were skipped; reading resumed at line %d)", it.err, s.pendingLine+1, s.line-1, s.line)
	}
	s.state = stTop
	return it
}

func quoteChar(c byte) string {
	switch {
	case c == '"':
		return `'"'`
	case c >= 0x80:
		return fmt.Sprintf(`'\x%02x'`, c)
	}
	return strconv.QuoteRune(rune(c))
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// next returns the next value or rejection, io.EOF at the end, or a read error.
func (s *splitter) next() (item, error) {
	for {
		if s.pos >= s.end && !s.fill() {
			return s.atEOF()
		}
		c := s.buf[s.pos]
		switch s.state {
		case stTop, stArrElem, stArrFirst:
			if isSpace(c) {
				break
			}
			if c == ']' && s.state == stArrFirst {
				s.inArray = false
				s.state = stTop
				break
			}
			if c == '[' && s.state == stTop {
				s.inArray = true
				s.arrayLine, s.arrayCol = s.line, s.col+1
				s.state = stArrFirst
				break
			}
			s.begin()
			continue // the value's first byte is taken by stValue
		case stArrNext:
			switch {
			case isSpace(c):
			case c == ',':
				s.state = stArrElem
			case c == ']':
				s.inArray = false
				s.state = stTop
			default:
				s.fail(c, "after array element (expected ',' or ']')")
				continue
			}
		case stValue, stListFirst:
			switch {
			case isSpace(c):
			case c == '{' || c == '[':
				if len(s.stack) >= MaxDepth {
					s.pending = &item{line: s.startLine, col: s.startCol, err: fmt.Errorf(
						"JSON nests deeper than %d levels (at line %d, column %d); flatten it", MaxDepth, s.line, s.col+1)}
					s.pendingLine = s.line
					s.skippedSomething = false
					s.seg = -1
					s.inArray = false
					s.state = stSkip
					continue
				}
				s.stack = append(s.stack, c)
				if c == '{' {
					s.state = stObjFirst
				} else {
					s.state = stListFirst
				}
			case c == ']' && s.state == stListFirst:
				s.stack = s.stack[:len(s.stack)-1]
				if s.advance(c); s.afterValue() {
					return s.finish(s.pos), nil
				}
				continue
			case c == '"':
				s.inKey = false
				s.state = stStr
			case c == '-':
				s.state = stNumMinus
			case c == '0':
				s.state = stNumZero
			case c >= '1' && c <= '9':
				s.state = stNumInt
			case c == 't':
				s.lit, s.litAt, s.state = "true", 1, stLit
			case c == 'f':
				s.lit, s.litAt, s.state = "false", 1, stLit
			case c == 'n':
				s.lit, s.litAt, s.state = "null", 1, stLit
			default:
				s.fail(c, "looking for beginning of value")
				continue
			}
		case stObjFirst, stObjKey:
			switch {
			case isSpace(c):
			case c == '"':
				s.inKey = true
				s.state = stStr
			case c == '}' && s.state == stObjFirst:
				s.stack = s.stack[:len(s.stack)-1]
				if s.advance(c); s.afterValue() {
					return s.finish(s.pos), nil
				}
				continue
			default:
				s.fail(c, "looking for beginning of object key string")
				continue
			}
		case stColon:
			switch {
			case isSpace(c):
			case c == ':':
				s.state = stValue
			default:
				s.fail(c, "after object key (expected ':')")
				continue
			}
		case stObjNext, stListNext:
			close, what := byte('}'), "after object key:value pair (expected ',' or '}')"
			if s.state == stListNext {
				close, what = ']', "after array element (expected ',' or ']')"
			}
			switch {
			case isSpace(c):
			case c == ',':
				if s.state == stObjNext {
					s.state = stObjKey
				} else {
					s.state = stValue
				}
			case c == close:
				s.stack = s.stack[:len(s.stack)-1]
				if s.advance(c); s.afterValue() {
					return s.finish(s.pos), nil
				}
				continue
			default:
				s.fail(c, what)
				continue
			}
		case stStr:
			// Most of a document is string bytes: take them in one sweep.
			i := s.pos
			for i < s.end {
				b := s.buf[i]
				if b == '"' || b == '\\' || b < 0x20 {
					break
				}
				i++
			}
			s.col += i - s.pos
			s.pos = i
			if i == s.end {
				continue
			}
			c = s.buf[i]
			switch {
			case c == '"':
				if s.inKey {
					s.state = stColon
					break
				}
				if s.advance(c); s.afterValue() {
					return s.finish(s.pos), nil
				}
				continue
			case c == '\\':
				s.state = stStrEsc
			default:
				s.fail(c, "in string literal")
				continue
			}
		case stStrEsc:
			switch c {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.state = stStr
			case 'u':
				s.hexes = 0
				s.state = stStrU
			default:
				s.fail(c, "in string escape code")
				continue
			}
		case stStrU:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
				s.fail(c, `in \u hexadecimal character escape`)
				continue
			}
			if s.hexes++; s.hexes == 4 {
				s.state = stStr
			}
		case stNumMinus:
			switch {
			case c == '0':
				s.state = stNumZero
			case c >= '1' && c <= '9':
				s.state = stNumInt
			default:
				s.fail(c, "in numeric literal")
				continue
			}
		case stNumZero, stNumInt:
			switch {
			case c >= '0' && c <= '9' && s.state == stNumInt:
			case c == '.':
				s.state = stNumDot
			case c == 'e' || c == 'E':
				s.state = stNumE
			default:
				if s.afterValue() {
					return s.finish(s.pos), nil
				}
				continue
			}
		case stNumDot:
			if c < '0' || c > '9' {
				s.fail(c, "after decimal point in numeric literal")
				continue
			}
			s.state = stNumFrac
		case stNumFrac:
			switch {
			case c >= '0' && c <= '9':
			case c == 'e' || c == 'E':
				s.state = stNumE
			default:
				if s.afterValue() {
					return s.finish(s.pos), nil
				}
				continue
			}
		case stNumE:
			switch {
			case c == '+' || c == '-':
				s.state = stNumESign
			case c >= '0' && c <= '9':
				s.state = stNumExp
			default:
				s.fail(c, "in exponent of numeric literal")
				continue
			}
		case stNumESign:
			if c < '0' || c > '9' {
				s.fail(c, "in exponent of numeric literal")
				continue
			}
			s.state = stNumExp
		case stNumExp:
			if c < '0' || c > '9' {
				if s.afterValue() {
					return s.finish(s.pos), nil
				}
				continue
			}
		case stLit:
			if c != s.lit[s.litAt] {
				s.fail(c, fmt.Sprintf("in literal %s (expecting %s)", s.lit, quoteChar(s.lit[s.litAt])))
				continue
			}
			if s.litAt++; s.litAt == len(s.lit) {
				if s.advance(c); s.afterValue() {
					return s.finish(s.pos), nil
				}
				continue
			}
		case stSkip:
			if c == '\n' {
				s.state = stLineStart
			} else if !isSpace(c) && s.line > s.pendingLine {
				s.skippedSomething = true
			}
		case stLineStart:
			switch {
			case c == '{' || c == '[':
				return s.resume(), nil
			case c == '\n':
			default:
				if !isSpace(c) {
					s.skippedSomething = true
				}
				s.state = stSkip
			}
		}
		s.advance(c)
	}
}

func (s *splitter) advance(c byte) {
	s.pos++
	if c == '\n' {
		s.line++
		s.col = 0
	} else {
		s.col++
	}
}

func (s *splitter) atEOF() (item, error) {
	if s.rerr != nil {
		return item{}, s.rerr
	}
	switch s.state {
	case stTop:
		return item{}, io.EOF
	case stArrFirst, stArrNext, stArrElem:
		s.state = stTop
		s.inArray = false
		return item{line: s.arrayLine, col: s.arrayCol, err: errors.New(
			"JSON array is not closed: the input ends before its ']'; the input may be truncated")}, nil
	case stSkip, stLineStart:
		it := *s.pending
		s.pending = nil
		s.state = stTop
		if s.skippedSomething {
			it.err = fmt.Errorf("%w (the rest of the input, from line %d, was skipped)", it.err, s.pendingLine+1)
		}
		return it, nil
	case stNumZero, stNumInt, stNumFrac, stNumExp:
		if len(s.stack) == 0 {
			return s.finish(s.pos), nil
		}
	}
	s.seg = -1
	s.state = stTop
	s.inArray = false
	return item{line: s.startLine, col: s.startCol, err: errors.New(
		"JSON value is not complete: the input ends before it is closed; the input may be truncated")}, nil
}
