package event

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// benchCorpus is every fixture, ten times over: a mix of sources, sizes and wrappings.
func benchCorpus(b *testing.B) []byte {
	b.Helper()
	files, err := filepath.Glob("testdata/events/*")
	if err != nil || len(files) == 0 {
		b.Fatal("no fixtures", err)
	}
	var buf bytes.Buffer
	for range 10 {
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				b.Fatal(err)
			}
			buf.Write(data)
			buf.WriteByte('\n')
		}
	}
	return buf.Bytes()
}

func BenchmarkScan(b *testing.B) {
	corpus := benchCorpus(b)
	b.SetBytes(int64(len(corpus)))
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		err := Scan(context.Background(), "bench", bytes.NewReader(corpus), func(*Event) error {
			n++
			return nil
		}, func(e *InputError) { b.Fatal(e) })
		if err != nil || n == 0 {
			b.Fatal(err, n)
		}
	}
}

// BenchmarkDecodeMap is the floor BenchmarkScan is measured against: decoding the same
// bytes into map[string]any with encoding/json and nothing else.
func BenchmarkDecodeMap(b *testing.B) {
	corpus := benchCorpus(b)
	b.SetBytes(int64(len(corpus)))
	b.ReportAllocs()
	for b.Loop() {
		dec := json.NewDecoder(bytes.NewReader(corpus))
		dec.UseNumber()
		for {
			var v any
			if err := dec.Decode(&v); err == io.EOF {
				break
			} else if err != nil {
				b.Fatal(err)
			}
		}
	}
}
