package http

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
)

// MaxJSONBody bounds every JSON request body.
const MaxJSONBody = 64 << 10

// decode reads one JSON object into dst: size-limited, unknown fields rejected, nothing after it.
func decode(w http.ResponseWriter, r *http.Request, dst any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			return &httpError{http.StatusUnsupportedMediaType, "unsupported-media-type", "send the body as application/json"}
		}
	}
	r.Body = http.MaxBytesReader(w, r.Body, MaxJSONBody)
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return decodeError(err)
	}
	if err := dec.Decode(&struct{}{}); !errors.Is(err, io.EOF) {
		var maxErr *http.MaxBytesError
		if errors.As(err, &maxErr) {
			return decodeError(err)
		}
		return badRequest("body-trailing-data", "the body must hold exactly one JSON object")
	}
	return nil
}

func decodeError(err error) error {
	var maxErr *http.MaxBytesError
	var syntaxErr *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &maxErr):
		return &httpError{http.StatusRequestEntityTooLarge, "body-too-large", fmt.Sprintf("the body exceeds %d bytes", maxErr.Limit)}
	case errors.Is(err, io.EOF):
		return badRequest("body-empty", "a JSON body is required")
	case errors.As(err, &syntaxErr), errors.Is(err, io.ErrUnexpectedEOF):
		return badRequest("body-invalid-json", "the body is not valid JSON")
	case errors.As(err, &typeErr):
		return badRequest("body-wrong-type", fmt.Sprintf("field %q has the wrong type", typeErr.Field))
	default:
		var unknown string
		if n, _ := fmt.Sscanf(err.Error(), "json: unknown field %q", &unknown); n == 1 {
			return badRequest("body-unknown-field", fmt.Sprintf("unknown field %q", unknown))
		}
		return badRequest("body-invalid", "the body could not be read")
	}
}

// readJSONBody reads a JSON body (size-limited, content type checked) as bytes, for requests
// that are hashed (Idempotency-Key) before they are decoded with decodeBytes.
func readJSONBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			return nil, &httpError{http.StatusUnsupportedMediaType, "unsupported-media-type", "send the body as application/json"}
		}
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxJSONBody))
	if err != nil {
		return nil, decodeError(err)
	}
	return b, nil
}

// decodeBytes decodes one JSON object with the rules of decode.
func decodeBytes(b []byte, dst any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return decodeError(err)
	}
	if err := dec.Decode(&struct{}{}); !errors.Is(err, io.EOF) {
		return badRequest("body-trailing-data", "the body must hold exactly one JSON object")
	}
	return nil
}
