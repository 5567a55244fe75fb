package longrun

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// A Kind is one kind of computation a configuration may ask for: a Julia
// set's image, a classifier's training. The core keeps configurations,
// versions and their jobs; it knows what they compute only through a Kind
// and the Spec it reads. Each main builds its table of kinds (Kinds), so
// adding one touches the kind's own package and those tables.
type Kind interface {
	// Name is the kind's name in the API, the records and the metrics
	// ("julia").
	Name() string
	// Normalize reads a spec as a client sent it (nil when it sent none),
	// fills in its defaults and validates it within the deployment's
	// bounds, reporting every broken rule as a field error under prefix
	// ("params."). DecodeParams reads the JSON with those errors.
	Normalize(raw json.RawMessage, prefix string) (Spec, error)
	// Decode reads a spec Normalize made, as a store kept it (Spec.JSON).
	Decode(raw json.RawMessage) (Spec, error)
	// Describe is what GET /api/meta serves of the kind.
	Describe() KindMeta
}

// A Spec is one normalized configuration of a kind: what its versions
// compute.
type Spec interface {
	// JSON is the spec's canonical JSON, what stores keep and clients see.
	JSON() json.RawMessage
	// Hash is the spec's content hash: the hex SHA-256 of a versioned
	// encoding the kind documents. Equal hashes share one result, so a
	// kind bumps its encoding's version whenever a spec's result changes.
	Hash() string
	// Work estimates what the spec costs, in the kind's own unit (Julia:
	// iterations at most): what the quotas, the queue's fair shares and
	// the parts a worker cuts are measured in.
	Work() int64
	// Summary is a line for e-mails and lists ("c = −0.7+0.27i, 512×512,
	// depth 256").
	Summary() string
	// Name is a new configuration's name when its owner gives none.
	Name() string
}

// KindMeta is what a client needs to build a kind's form and show its
// results: a JSON Schema of its parameters, the defaults, the deployment's
// limits and presets.
type KindMeta struct {
	Title       string          `json:"title"`
	Description string          `json:"description"`
	Schema      json.RawMessage `json:"schema"`
	Defaults    any             `json:"defaults"`
	Limits      any             `json:"limits"`
	Presets     any             `json:"presets,omitempty"`
	// Choices are the kind's named lists a form offers beside its
	// presets (Julia: colormaps, square sizes).
	Choices map[string]any `json:"choices,omitempty"`
	// Result says how the result is shown: "image" (an image to explore),
	// "training" (a boundary image, curves and weights).
	Result string `json:"result"`
}

// DefaultKind is the kind of a create that names none, and of a record
// kept before kinds existed.
const DefaultKind = "julia"

// Kinds is a deployment's table of kinds, by name.
type Kinds map[string]Kind

// Kind returns the kind named name ("" is DefaultKind), or a field error
// naming the kinds there are.
func (ks Kinds) Kind(name string) (Kind, error) {
	if name == "" {
		name = DefaultKind
	}
	if k, ok := ks[name]; ok {
		return k, nil
	}
	var fe FieldErrors
	fe.Add("kind", "must be one of "+strings.Join(ks.Names(), ", "))
	return nil, fe.Err()
}

// Names lists the kinds, the default first, then by name.
func (ks Kinds) Names() []string {
	var names []string
	for n := range ks {
		if n != DefaultKind {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	if _, ok := ks[DefaultKind]; ok {
		names = append([]string{DefaultKind}, names...)
	}
	return names
}

// Spec decodes the current spec of c.
func (ks Kinds) Spec(c *Configuration) (Spec, error) {
	k, err := ks.Kind(c.KindName())
	if err != nil {
		return nil, fmt.Errorf("configuration %s: unknown kind %q", c.ID, c.KindName())
	}
	return k.Decode(c.Params)
}

// Given reports whether a client sent parameters at all: neither nothing
// nor null.
func Given(raw json.RawMessage) bool { return len(raw) > 0 && string(raw) != "null" }

// DecodeSpec reads a spec of type T as a store kept it: what a kind's
// Decode does when its spec is its JSON.
func DecodeSpec[T Spec](kind string, raw json.RawMessage) (Spec, error) {
	var s T
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, fmt.Errorf("%s: decode params: %w", kind, err)
	}
	return s, nil
}

// DecodeParams decodes a kind's parameters strictly into v: an unknown
// field, a value of the wrong type or JSON that is not an object is a
// field error under prefix ("params."), as clients see them everywhere.
func DecodeParams(raw json.RawMessage, prefix string, v any) error {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.DisallowUnknownFields()
	err := d.Decode(v)
	if err == nil && d.More() {
		err = errors.New("trailing data")
	}
	if err == nil {
		return nil
	}
	var fe FieldErrors
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &typeErr) && typeErr.Field != "":
		fe.Add(prefix+typeErr.Field, "must be "+article(typeErr.Type.String()))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		fe.Add(prefix+strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`), "unknown field")
	default:
		fe.Add(strings.TrimSuffix(prefix, "."), "must be an object")
	}
	return fe.Err()
}

// article names a Go type as a rule does ("an integer").
func article(goType string) string {
	switch {
	case strings.Contains(goType, "int"):
		return "an integer"
	case strings.Contains(goType, "float"):
		return "a number"
	case strings.Contains(goType, "string"):
		return "a string"
	case strings.Contains(goType, "bool"):
		return "true or false"
	case strings.HasPrefix(goType, "[]"):
		return "an array"
	}
	return "an object"
}
