package http

import (
	_ "embed"
	"encoding/json"
	"net/http"
	"sync"

	"gopkg.in/yaml.v3"
)

// OpenAPIYAML is the API's OpenAPI 3 document, written by hand and checked against the routes
// by a test.
//
//go:embed openapi.yaml
var OpenAPIYAML []byte

var openapiJSONOnce = sync.OnceValues(func() ([]byte, error) {
	var doc any
	if err := yaml.Unmarshal(OpenAPIYAML, &doc); err != nil {
		return nil, err
	}
	return json.Marshal(doc)
})

func (s *Server) openapiJSON(w http.ResponseWriter, _ *http.Request) error {
	b, err := openapiJSONOnce()
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
	return nil
}

func (s *Server) openapiYAML(w http.ResponseWriter, _ *http.Request) error {
	w.Header().Set("Content-Type", "application/yaml")
	_, _ = w.Write(OpenAPIYAML)
	return nil
}
