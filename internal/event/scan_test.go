package event

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// env is a minimal valid EventBridge event with the given id.
func env(id string) string {
	return `{"version":"0","id":"` + id + `","detail-type":"Thing Happened","source":"com.example","account":"111122223333",` +
		`"time":"2024-01-02T03:04:05Z","region":"us-east-1","resources":[],"detail":{}}`
}

// scanAll scans input and returns the ids emitted and the rejections, as strings.
func scanAll(t *testing.T, input string) (ids, errs []string) {
	t.Helper()
	err := Scan(context.Background(), "in.json", strings.NewReader(input), func(e *Event) error {
		ids = append(ids, e.ID)
		return nil
	}, func(e *InputError) {
		errs = append(errs, e.Error())
	})
	if err != nil {
		t.Fatalf("Scan: %v", err)
	}
	return ids, errs
}

func TestScanBadInput(t *testing.T) {
	notEvent := func(pos, what string) string {
		return "in.json:" + pos + ": " + what + " is not an event; " + expected
	}
	snsIn := func(msg string) string {
		b, _ := json.Marshal(map[string]string{"Type": "Notification", "Message": msg})
		return string(b)
	}
	wrapped := env("deep")
	for range MaxWrapDepth + 1 {
		wrapped = snsIn(wrapped)
	}
	big := `{"version":"0","id":"big","detail-type":"X","source":"s","account":"1","time":"2024-01-02T03:04:05Z","region":"r","detail":{"pad":"` +
		strings.Repeat("a", MaxEventSize) + `"}}`
	tests := []struct {
		name  string
		input string
		ids   []string
		errs  []string
	}{
		{"empty", "", nil, nil},
		{"only whitespace", " \n\t\r\n", nil, nil},
		{"byte order mark", "\xef\xbb\xbf" + env("a"), []string{"a"}, nil},
		{"crlf lines", env("a") + "\r\n" + env("b") + "\r\n", []string{"a", "b"}, nil},
		{"concatenated", env("a") + env("b") + " " + env("c"), []string{"a", "b", "c"}, nil},
		{"truncated document", `{"version":"0","id":`, nil, []string{
			"in.json:1:1: JSON value is not complete: the input ends before it is closed; the input may be truncated"}},
		{"truncated ndjson line", env("a") + "\n" + `{"version":"0","id":"b"` + "\n" + env("c") + "\n", []string{"a", "c"}, []string{
			"in.json:2:1: JSON value is not complete: line 3 starts a new value before this one is closed; complete or remove the truncated value"}},
		{"syntax error in ndjson", env("a") + "\n" + `{"id": x}` + "\n" + env("c") + "\n", []string{"a", "c"}, []string{
			"in.json:2:8: invalid JSON: invalid character 'x' looking for beginning of value; fix the JSON here"}},
		{"syntax error in a document", "{\n  \"id\": \"a\",\n  \"source\" \"b\"\n}\n", nil, []string{
			"in.json:3:12: invalid JSON: invalid character '\"' after object key (expected ':'); fix the JSON here (the rest of the input, from line 4, was skipped)"}},
		{"syntax error then more documents", "{\n  \"id\": 'a'\n}\n" + env("b") + "\n", []string{"b"}, []string{
			"in.json:2:9: invalid JSON: invalid character '\\'' looking for beginning of value; fix the JSON here (line 3 was skipped; reading resumed at line 4)"}},
		{"stray closing brace", env("a") + "}\n" + env("b"), []string{"a", "b"}, []string{
			"in.json:1:" + fmt.Sprint(len(env("a"))+1) + ": invalid JSON: invalid character '}' looking for beginning of value; fix the JSON here"}},
		{"control character in string", "{\"id\":\"a\tb\"}\n" + env("b"), []string{"b"}, []string{
			"in.json:1:9: invalid JSON: invalid character '\\t' in string literal; fix the JSON here"}},
		{"bad literal", "{\"ok\":tru}\n" + env("b"), []string{"b"}, []string{
			"in.json:1:10: invalid JSON: invalid character '}' in literal true (expecting 'e'); fix the JSON here"}},
		{"bad number", "{\"n\":1.}\n" + env("b"), []string{"b"}, []string{
			"in.json:1:8: invalid JSON: invalid character '}' after decimal point in numeric literal; fix the JSON here"}},
		{"number", "42", nil, []string{notEvent("1:1", "a JSON number")}},
		{"scalars", `"s" true null`, nil, []string{
			notEvent("1:1", "a JSON string"), notEvent("1:5", "a JSON boolean"), notEvent("1:10", "a JSON null")}},
		{"object of no known shape", `{"hello":1}`, nil, []string{notEvent("1:1", "JSON object")}},
		{"array", "[" + env("a") + ",\n 42,\n" + env("c") + "]", []string{"a", "c"}, []string{notEvent("2:2", "a JSON number")}},
		{"nested array", "[[" + env("a") + "]]", nil, []string{notEvent("1:2", "a JSON array inside an array or message")}},
		{"empty array", "[]\n[ ]", nil, nil},
		{"unclosed array", "[" + env("a") + ",", []string{"a"}, []string{
			"in.json:1:1: JSON array is not closed: the input ends before its ']'; the input may be truncated"}},
		{"array cut short by a line", "[" + env("a") + "\n" + env("b") + "\n", []string{"a", "b"}, []string{
			"in.json:1:1: JSON array is not closed: line 2 starts a new value before its ']'; close the array"}},
		{"trailing comma", "[\n" + env("a") + ",\n]\n" + env("b"), []string{"a", "b"}, []string{
			"in.json:3:1: invalid JSON: invalid character ']' looking for beginning of value; fix the JSON here"}},
		{"envelope lacks fields", `{"version":"0","id":"a","detail-type":"X","source":"s","detail":{}}`, nil, []string{
			`in.json:1:1: EventBridge event lacks "account", "time", "region"; an event needs id, detail-type, source, account, time, region and detail`}},
		{"envelope detail not an object", `{"id":"a","detail-type":"X","source":"s","account":"1","time":"2024-01-02T03:04:05Z","region":"r","detail":[]}`, nil, []string{
			`in.json:1:1: EventBridge event lacks "detail" (an object); an event needs id, detail-type, source, account, time, region and detail`}},
		{"envelope time", `{"id":"a","detail-type":"X","source":"s","account":"1","time":"yesterday","region":"r","detail":{}}`, nil, []string{
			`in.json:1:1: EventBridge event time "yesterday" is not an RFC 3339 time such as 2024-01-02T15:04:05Z`}},
		{"guardduty without type", `{"id":"a","detail-type":"GuardDuty Finding","source":"aws.guardduty","account":"1","time":"2024-01-02T03:04:05Z","region":"r","detail":{"id":"f"}}`, nil, []string{
			`in.json:1:1: GuardDuty finding has no "type"; a finding needs id, type, accountId, region, resource and service`}},
		{"security hub finding without id", `{"id":"a","detail-type":"Security Hub Findings - Imported","source":"aws.securityhub","account":"1","time":"2024-01-02T03:04:05Z","region":"r","detail":{"findings":[{"Title":"x"},{"Id":"f2","Types":["T"]}]}}`,
			[]string{"f2"}, []string{
				`in.json:1:1: detail.findings[0]: the Security Hub finding has no "Id"; an ASFF finding needs SchemaVersion, Id, ProductArn, GeneratorId, AwsAccountId, Types, CreatedAt, UpdatedAt, Severity, Title, Description and Resources`}},
		{"security hub without findings", `{"id":"a","detail-type":"Security Hub Findings - Imported","source":"aws.securityhub","account":"1","time":"2024-01-02T03:04:05Z","region":"r","detail":{"findings":[]}}`, nil, []string{
			`in.json:1:1: the Security Hub event has no findings; detail.findings must list ASFF findings`}},
		{"too deep", `{"a":` + strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth) + "}\n" + env("b"), []string{"b"}, []string{
			"in.json:1:1: JSON nests deeper than 64 levels (at line 1, column 69); flatten it"}},
		{"deep enough", `{"id":"x","a":` + strings.Repeat("[", MaxDepth-1) + strings.Repeat("]", MaxDepth-1) + "}", nil, []string{notEvent("1:1", "JSON object")}},
		{"invalid utf-8", "{\"id\":\"a\xffb\"}\n" + env("b"), []string{"b"}, []string{
			"in.json:1:9: invalid UTF-8 in a JSON string; re-encode the input as UTF-8"}},
		{"too big", env("a") + "\n" + big + "\n" + env("c"), []string{"a", "c"}, []string{
			fmt.Sprintf("in.json:2:1: event is %d bytes, over the 1048576-byte limit for one event; trim it or split it into separate events", len(big))}},
		{"sns message not json", snsIn("hello"), nil, []string{
			"in.json:1:1: Message: at 1:1 of the message text: invalid JSON: invalid character 'h' looking for beginning of value; fix the JSON here"}},
		{"sns message empty", snsIn(""), nil, []string{
			"in.json:1:1: Message: message body is empty; it must hold the event as JSON text"}},
		{"sqs records", `{"Records":[{"messageId":"1","body":"42"},{"messageId":"2","body":` + quote(env("b")) + `},{"eventSource":"aws:s3","s3":{}}]}`, []string{"b"}, []string{
			notEvent("1:1", "Records[0].body: a JSON number"),
			"in.json:1:1: Records[2]: record is neither an SQS message, an SNS notification nor a CloudTrail record; " + expected}},
		{"sqs body not a string", `{"MessageId":"1","Body":{"id":"a"}}`, nil, []string{
			"in.json:1:1: Body: message body is not a string of JSON; an SNS Message or SQS body must hold the event as JSON text"}},
		{"wrapped too deep", wrapped, nil, []string{
			"in.json:1:1: Message.Message.Message.Message.Message: event is wrapped in more than 4 SNS/SQS messages; unwrap it before sending"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ids, errs := scanAll(t, tt.input)
			if fmt.Sprint(ids) != fmt.Sprint(tt.ids) {
				t.Errorf("events %q, want %q", ids, tt.ids)
			}
			if strings.Join(errs, "\n") != strings.Join(tt.errs, "\n") {
				t.Errorf("rejections:\n%s\nwant:\n%s", strings.Join(errs, "\n"), strings.Join(tt.errs, "\n"))
			}
		})
	}
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// chunkReader hands out its data a few bytes at a time, so that values straddle reads.
type chunkReader struct {
	data []byte
	n    int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	n := min(c.n, len(p), len(c.data))
	copy(p, c.data[:n])
	c.data = c.data[n:]
	return n, nil
}

func TestScanSmallReads(t *testing.T) {
	input := "\xef\xbb\xbf[" + env("a") + ",\n" + env("b") + "]\n" + env("c") + "\n{\"id\":\"\\u00e9\\ud83d\\ude00\"}\n" + env("d")
	want, wantErrs := scanAll(t, input)
	for _, n := range []int{1, 2, 3, 7, 64} {
		var ids, errs []string
		err := Scan(context.Background(), "in.json", &chunkReader{data: []byte(input), n: n}, func(e *Event) error {
			ids = append(ids, e.ID)
			return nil
		}, func(e *InputError) { errs = append(errs, e.Error()) })
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(ids) != fmt.Sprint(want) || fmt.Sprint(errs) != fmt.Sprint(wantErrs) {
			t.Errorf("reads of %d bytes: %q %q, want %q %q", n, ids, errs, want, wantErrs)
		}
	}
}

// repeatReader yields a line over and over without holding more than one copy.
type repeatReader struct {
	line []byte
	left int
	off  int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if r.off == len(r.line) {
			if r.left == 0 {
				break
			}
			r.left--
			r.off = 0
		}
		c := copy(p[n:], r.line[r.off:])
		r.off += c
		n += c
	}
	if n == 0 {
		return 0, io.EOF
	}
	return n, nil
}

// A stream far larger than any one event is read with memory bounded by the event limit:
// the splitter's buffers never grow past one event plus one read.
func TestScanBoundedMemory(t *testing.T) {
	huge := `{"pad":"` + strings.Repeat("x", 3*MaxEventSize) + `"}` + "\n"
	r := io.MultiReader(strings.NewReader("["+env("first")+",\n"), strings.NewReader(huge[:len(huge)-1]),
		strings.NewReader(",\n"), &repeatReader{line: []byte(env("e") + ",\n"), left: 20000, off: len(env("e") + ",\n")}, strings.NewReader(env("last")+"]"))
	s := newSplitter(r)
	events, rejected, maxCap := 0, 0, 0
	for {
		it, err := s.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if it.err != nil {
			rejected++
		} else {
			events++
		}
		maxCap = max(maxCap, cap(s.val))
	}
	if events != 20002 || rejected != 1 {
		t.Errorf("events %d, rejected %d; want 20002 and 1", events, rejected)
	}
	if maxCap > 2*MaxEventSize {
		t.Errorf("value buffer grew to %d bytes", maxCap)
	}
}

func TestScanStopsOnEmitError(t *testing.T) {
	stop := errors.New("stop")
	n := 0
	err := Scan(context.Background(), "in", strings.NewReader(env("a")+env("b")), func(*Event) error {
		n++
		return stop
	}, func(*InputError) {})
	if !errors.Is(err, stop) || n != 1 {
		t.Errorf("err %v after %d events; want stop after 1", err, n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Scan(ctx, "in", strings.NewReader(env("a")), func(*Event) error { return nil }, func(*InputError) {}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled scan returned %v", err)
	}
}

func TestScanNilReject(t *testing.T) {
	err := Scan(context.Background(), "in", strings.NewReader("42\n"+env("a")+"\n{}"), func(*Event) error { return nil }, nil)
	var ie *InputError
	if !errors.As(err, &ie) || ie.Line != 1 || ie.Col != 1 {
		t.Errorf("got %v, want the first rejection", err)
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("disk on fire") }

func TestScanReadError(t *testing.T) {
	err := Scan(context.Background(), "in", failingReader{}, func(*Event) error { return nil }, func(*InputError) {})
	if err == nil || err.Error() != "in: disk on fire" {
		t.Errorf("got %v", err)
	}
}

func TestScanPath(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"b.json":           env("b"),
		"a/z.ndjson":       env("az1") + "\n" + env("az2") + "\n",
		"a/y.jsonl":        env("ay"),
		"notes.txt":        "not json",
		"c.JSON":           "[" + env("c") + "]",
		"d.json":           "{",
		"a/deeper/x.json":  env("adx"),
		"e.yaml":           "a: b",
		"zz/empty.ndjson":  "",
		"zz/spaces.ndjson": "\n\n",
	}
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var ids, errs []string
	collect := func(e *Event) error { ids = append(ids, e.ID); return nil }
	rej := func(e *InputError) { errs = append(errs, e.Error()) }
	if err := ScanPath(context.Background(), dir, nil, collect, rej); err != nil {
		t.Fatal(err)
	}
	if got, want := fmt.Sprint(ids), "[adx ay az1 az2 b c]"; got != want {
		t.Errorf("events %s, want %s", got, want)
	}
	wantErr := filepath.Join(dir, "d.json") + ":1:1: JSON value is not complete: the input ends before it is closed; the input may be truncated"
	if len(errs) != 1 || errs[0] != wantErr {
		t.Errorf("rejections %q, want %q", errs, wantErr)
	}

	ids, errs = nil, nil
	if err := ScanPath(context.Background(), "-", strings.NewReader(env("stdin")), collect, rej); err != nil || fmt.Sprint(ids) != "[stdin]" {
		t.Errorf("stdin: %v %q", err, ids)
	}
	if err := ScanPath(context.Background(), filepath.Join(dir, "missing.json"), nil, collect, rej); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

func TestFromJSON(t *testing.T) {
	two, err := os.ReadFile("testdata/events/securityhub-two-findings.json")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		data    string
		ids     []string
		wantErr string
	}{
		{"one event", env("a"), []string{"a"}, ""},
		{"security hub fans out", string(two), []string{
			"arn:aws:guardduty:us-east-1:111122223333:detector/123456789012abcdef0123456789abcd/finding/16afba5c5c43e07c9e3e5e2e544e95df",
			"arn:aws:guardduty:us-east-1:111122223333:detector/123456789012abcdef0123456789abcd/finding/d0e2f4a6b8c0d2e4f6a8b0c2d4e6f8a0"}, ""},
		{"not an event", `{"hello":1}`, nil, "1:1: JSON object is not an event; " + expected},
		{"partly bad", "[" + env("a") + ",1]", []string{"a"}, "1:" + fmt.Sprint(len(env("a"))+3) + ": a JSON number is not an event; " + expected},
		{"invalid", "{", nil, "1:1: JSON value is not complete: the input ends before it is closed; the input may be truncated"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			events, err := FromJSON([]byte(tt.data))
			var ids []string
			for _, e := range events {
				ids = append(ids, e.ID)
			}
			if fmt.Sprint(ids) != fmt.Sprint(tt.ids) {
				t.Errorf("ids %q, want %q", ids, tt.ids)
			}
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.wantErr {
				t.Errorf("error %q, want %q", got, tt.wantErr)
			}
		})
	}
}

// The decoder must give what encoding/json gives with UseNumber for any valid input.
func TestDecodeMatchesEncodingJSON(t *testing.T) {
	inputs := []string{
		`{"a":[1,-2.5e+3,0,true,false,null,"x\"y\\z\/\b\f\n\r\t\u00e9\ud83d\ude00\ud800\udc00\ud800x\udc00"],"b":{},"c":[],"a":"dup"}`,
		`"\u0000"`, `-0`, `1E5`, `[[[{}]]]`, `{"k":"` + "é😀" + `"}`,
	}
	for _, in := range inputs {
		got := decodeValid([]byte(in))
		want := decodeStd(t, []byte(in))
		if !equalJSON(got, want) {
			t.Errorf("%s: got %#v, want %#v", in, got, want)
		}
	}
}

func TestElementSpans(t *testing.T) {
	data := []byte(`{"x":{"findings":[0]}, "detail" : {"a":"]}\"","findings" : [ {"Id":"1","s":"]"} , [2,{"b":[]}],"3" ,4.5e1 ] } }`)
	spans := elementSpans(data, "detail", "findings")
	var got []string
	for _, s := range spans {
		got = append(got, string(s))
	}
	want := []string{`{"Id":"1","s":"]"}`, `[2,{"b":[]}]`, `"3"`, `4.5e1`}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %q, want %q", got, want)
	}
	if s := elementSpans(data, "nope"); s != nil {
		t.Errorf("missing path gave %q", s)
	}
	if s := bytes.Join(elementSpans([]byte(`{"Records":[]}`), "Records"), nil); len(s) != 0 {
		t.Errorf("empty list gave %q", s)
	}
}

func TestScanPathFollowsFileLinks(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(t.TempDir(), "real.json")
	if err := os.WriteFile(target, []byte(env("linked")), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, filepath.Join(dir, "link.json")); err != nil {
		t.Skip("no symlinks here:", err)
	}
	var ids []string
	err := ScanPath(context.Background(), dir, nil, func(e *Event) error { ids = append(ids, e.ID); return nil }, func(e *InputError) { t.Error(e) })
	if err != nil || fmt.Sprint(ids) != "[linked]" {
		t.Errorf("got %q, %v", ids, err)
	}
}
