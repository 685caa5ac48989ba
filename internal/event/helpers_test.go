package event

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

func decodeStd(t testing.TB, data []byte) any {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		t.Fatalf("encoding/json rejects %q: %v", data, err)
	}
	return v
}

func equalJSON(a, b any) bool { return reflect.DeepEqual(a, b) }
