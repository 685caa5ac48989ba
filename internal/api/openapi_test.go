package api

import (
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/firebreak-sec/firebreak/internal/store"
)

// servedElsewhere are the operations the document describes that the route table does
// not hold: the event intake, served by package server beside this API, and the
// document itself, served before authentication.
var servedElsewhere = []string{"POST /v1/events", "GET " + OpenAPIPath}

// pathParam is a path parameter of a route pattern or a document path.
var pathParam = regexp.MustCompile(`\{[^}]*\}`)

// operationKey names an operation as "METHOD /path/{}", its parameters' names dropped, so
// that a route and the document agree however each names them.
func operationKey(method, path string) string {
	return strings.ToUpper(method) + " " + pathParam.ReplaceAllString(path, "{}")
}

// httpMethods are the keys of a path item that are operations.
var httpMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

type openAPIDocument struct {
	OpenAPI    string                                `json:"openapi"`
	Security   []map[string][]string                 `json:"security"`
	Paths      map[string]map[string]json.RawMessage `json:"paths"`
	Components struct {
		SecuritySchemes map[string]json.RawMessage `json:"securitySchemes"`
	} `json:"components"`
}

type openAPIOperation struct {
	Security   *[]map[string][]string     `json:"security"`
	Parameters []map[string]any           `json:"parameters"`
	Responses  map[string]json.RawMessage `json:"responses"`
}

func loadOpenAPI(t *testing.T) (openAPIDocument, map[string]any) {
	t.Helper()
	var doc openAPIDocument
	if err := json.Unmarshal(OpenAPI(), &doc); err != nil {
		t.Fatalf("openapi.json is not JSON: %v", err)
	}
	var tree map[string]any
	if err := json.Unmarshal(OpenAPI(), &tree); err != nil {
		t.Fatal(err)
	}
	return doc, tree
}

// TestOpenAPIMatchesRoutes checks that the document describes exactly the operations
// served: every route of the table the router is built from, and nothing the table does
// not hold except what is served elsewhere.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	doc, _ := loadOpenAPI(t)
	if !regexp.MustCompile(`^3\.1\.\d+$`).MatchString(doc.OpenAPI) {
		t.Errorf("openapi %q, want 3.1.x", doc.OpenAPI)
	}
	documented := map[string]bool{}
	for path, item := range doc.Paths {
		for m := range item {
			if slices.Contains(httpMethods, m) {
				documented[operationKey(m, path)] = true
			}
		}
	}
	served := map[string]bool{}
	for _, rt := range routeTable() {
		key := operationKey(rt.method, rt.pattern)
		served[key] = true
		if !documented[key] {
			t.Errorf("route %s %s is not in openapi.json", rt.method, rt.pattern)
		}
	}
	for _, key := range servedElsewhere {
		served[operationKey(strings.Fields(key)[0], strings.Fields(key)[1])] = true
	}
	for key := range documented {
		if !served[key] {
			t.Errorf("openapi.json describes %s, which no route serves", key)
		}
	}
}

// TestOpenAPIOperations checks each operation against what the router does with it:
// guarded routes require the bearer scheme (the intake its API key, the document
// nothing), every path parameter is declared, and an operation that can refuse a caller
// documents the refusal.
func TestOpenAPIOperations(t *testing.T) {
	doc, tree := loadOpenAPI(t)
	for _, s := range []string{"bearer", "apiKey"} {
		if _, ok := doc.Components.SecuritySchemes[s]; !ok {
			t.Errorf("security scheme %s is not declared", s)
		}
	}
	if len(doc.Security) != 1 || doc.Security[0]["bearer"] == nil {
		t.Errorf("document-wide security %v, want bearer", doc.Security)
	}
	guarded := map[string]bool{}
	for _, rt := range routeTable() {
		guarded[operationKey(rt.method, rt.pattern)] = true
	}
	for path, item := range doc.Paths {
		for m, raw := range item {
			if !slices.Contains(httpMethods, m) {
				continue
			}
			key := operationKey(m, path)
			var op openAPIOperation
			if err := json.Unmarshal(raw, &op); err != nil {
				t.Errorf("%s: %v", key, err)
				continue
			}
			switch {
			case guarded[key]:
				if op.Security != nil {
					t.Errorf("%s overrides the bearer requirement, yet the route is guarded", key)
				}
				for _, status := range []string{"401", "403", "429", "503"} {
					if _, ok := op.Responses[status]; !ok {
						t.Errorf("%s does not document %s", key, status)
					}
				}
			case key == operationKey("POST", "/v1/events"):
				if op.Security == nil || len(*op.Security) != 1 || (*op.Security)[0]["apiKey"] == nil {
					t.Errorf("%s: security %v, want apiKey", key, op.Security)
				}
			case key == operationKey("GET", OpenAPIPath):
				if op.Security == nil || len(*op.Security) != 0 {
					t.Errorf("%s: security %v, want none", key, op.Security)
				}
			}
			var declared []string
			for _, p := range op.Parameters {
				if ref, ok := p["$ref"].(string); ok {
					p, _ = resolve(tree, ref).(map[string]any)
				}
				if p["in"] == "path" {
					declared = append(declared, p["name"].(string))
				}
			}
			var inPath []string
			for _, m := range pathParam.FindAllString(path, -1) {
				inPath = append(inPath, strings.Trim(m, "{}"))
			}
			slices.Sort(declared)
			slices.Sort(inPath)
			if !slices.Equal(declared, inPath) {
				t.Errorf("%s declares path parameters %v, want %v", key, declared, inPath)
			}
		}
	}
}

// TestOpenAPIReferences checks that every $ref in the document points at something in it.
func TestOpenAPIReferences(t *testing.T) {
	_, tree := loadOpenAPI(t)
	var walk func(where string, v any)
	walk = func(where string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, e := range v {
				if ref, ok := e.(string); ok && k == "$ref" && resolve(tree, ref) == nil {
					t.Errorf("%s: $ref %s points at nothing", where, ref)
				}
				walk(where+"/"+k, e)
			}
		case []any:
			for _, e := range v {
				walk(where, e)
			}
		}
	}
	walk("#", tree)
}

// resolve follows a local JSON pointer (#/components/schemas/Problem), or returns nil.
func resolve(tree map[string]any, ref string) any {
	rest, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return nil
	}
	var cur any = tree
	for _, part := range strings.Split(rest, "/") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[strings.ReplaceAll(strings.ReplaceAll(part, "~1", "/"), "~0", "~")]
	}
	return cur
}

// TestServeOpenAPI checks that the document is served without credentials, that only GET
// reaches it, and that serving it opens no other route.
func TestServeOpenAPI(t *testing.T) {
	f := newFixture(t, store.SQLite, RateLimit{}, nil)
	w := f.do(t, http.MethodGet, OpenAPIPath, "", "")
	if w.Code != http.StatusOK || w.Header().Get("Content-Type") != "application/json" || w.Body.String() != string(OpenAPI()) {
		t.Errorf("GET %s: %d %q, want 200 application/json with the document", OpenAPIPath, w.Code, w.Header().Get("Content-Type"))
	}
	w = f.do(t, http.MethodPost, OpenAPIPath, "", "{}")
	if w.Code != http.StatusMethodNotAllowed || w.Header().Get("Allow") != "GET" || w.Header().Get("Content-Type") != ProblemContentType {
		t.Errorf("POST %s: %d Allow %q, want a 405 problem allowing GET", OpenAPIPath, w.Code, w.Header().Get("Allow"))
	}
	if w := f.do(t, http.MethodGet, "/v1/incidents", "", ""); w.Code != http.StatusUnauthorized {
		t.Errorf("GET /v1/incidents without credentials: %d, want 401", w.Code)
	}
}
