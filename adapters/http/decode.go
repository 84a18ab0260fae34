package http

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
)

// MaxJSONBody bounds every JSON request body.
const MaxJSONBody = 64 << 10

// decode reads one JSON object into dst: size-limited, UTF-8 only, unknown fields and duplicate
// keys rejected, nothing after it, every string clean text and every id well-formed.
func decode(w http.ResponseWriter, r *http.Request, dst any) error {
	b, err := readJSONBody(w, r)
	if err != nil {
		return err
	}
	return decodeBytes(b, dst)
}

// checkContentType accepts application/json in UTF-8 (the only charset JSON has, RFC 8259 §8.1).
func checkContentType(r *http.Request) error {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return nil
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/json" {
		return &httpError{http.StatusUnsupportedMediaType, "unsupported-media-type", "send the body as application/json"}
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") && !strings.EqualFold(cs, "utf8") {
		return &httpError{http.StatusUnsupportedMediaType, "unsupported-media-type", "send the body as application/json in UTF-8"}
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
	if err := checkContentType(r); err != nil {
		return nil, err
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
	if err := checkDuplicateKeys(b); err != nil {
		return err
	}
	return checkBody(dst)
}

// checkDuplicateKeys refuses an object that names a key twice, at any depth. Keys are compared
// case-insensitively because encoding/json matches field names that way: {"phone":…,"Phone":…}
// would otherwise let the last one win silently.
func checkDuplicateKeys(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	type frame struct {
		obj    bool
		keys   map[string]bool
		expKey bool
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return nil //nolint:nilerr // syntax errors were reported by the decoder already
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{', '[':
				if top != nil && top.obj {
					top.expKey = true
				}
				stack = append(stack, &frame{obj: t == '{', keys: map[string]bool{}, expKey: true})
			case '}', ']':
				stack = stack[:len(stack)-1]
			}
			continue
		case string:
			if top != nil && top.obj && top.expKey {
				k := strings.ToLower(t)
				if top.keys[k] {
					return badRequest("body-duplicate-key", fmt.Sprintf("the key %q appears twice", safeName(t)))
				}
				top.keys[k] = true
				top.expKey = false
				continue
			}
		}
		if top != nil && top.obj {
			top.expKey = true
		}
	}
}
