package api

import (
	_ "embed"
	"net/http"
	"strconv"
)

// OpenAPIPath is where the API serves its OpenAPI document, without credentials.
const OpenAPIPath = "/v1/openapi.json"

// openAPIDoc is the OpenAPI 3.1 description of the /v1 API, event intake included. It is
// written by hand; a test holds it to the route table, so that a route cannot be added or
// removed without the document following.
//
//go:embed openapi.json
var openAPIDoc []byte

// OpenAPI returns the OpenAPI document, for tools that want it without a running server.
func OpenAPI() []byte {
	return append([]byte(nil), openAPIDoc...)
}

// serveOpenAPI serves the document. It runs before, and without, authentication: clients
// are generated from it before they hold a token, and it tells no more than the API's own
// answers do.
func serveOpenAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(openAPIDoc)))
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(openAPIDoc)
	}
}
