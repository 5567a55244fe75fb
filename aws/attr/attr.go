// Package attr converts longrun's JSON records (longrun.MarshalRecord) to
// and from DynamoDB attribute values. One walker, Build, turns a record into
// any representation of attribute values: the stream images of Lambda's
// events here, the SDK's item types in aws/dynamo. Numbers stay exact
// strings throughout.
//
// It imports no AWS SDK package, so the core's notifier can decode stream
// images with it.
package attr

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-lambda-go/events"

	"github.com/longrun/longrun"
)

// A Builder makes one representation's attribute values.
type Builder[A any] struct {
	S    func(string) A // a string
	N    func(string) A // a number, as its decimal text
	Bool func(bool) A
	Null func() A
	M    func(map[string]A) A
	L    func([]A) A
}

// Tree decodes a JSON object, numbers as json.Number.
func Tree(record []byte) (map[string]any, error) {
	d := json.NewDecoder(bytes.NewReader(record))
	d.UseNumber()
	var v map[string]any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

// BuildMap builds the attribute values of a decoded JSON object.
func BuildMap[A any](m map[string]any, b Builder[A]) map[string]A {
	out := make(map[string]A, len(m))
	for k, v := range m {
		out[k] = Build(v, b)
	}
	return out
}

// Build builds the attribute value of a decoded JSON value.
func Build[A any](v any, b Builder[A]) A {
	switch v := v.(type) {
	case string:
		return b.S(v)
	case json.Number:
		return b.N(v.String())
	case bool:
		return b.Bool(v)
	case map[string]any:
		return b.M(BuildMap(v, b))
	case []any:
		l := make([]A, len(v))
		for i, e := range v {
			l[i] = Build(e, b)
		}
		return b.L(l)
	}
	return b.Null()
}

// Events builds the attribute values of Lambda's DynamoDB events.
var Events = Builder[events.DynamoDBAttributeValue]{
	S: events.NewStringAttribute, N: events.NewNumberAttribute, Bool: events.NewBooleanAttribute,
	Null: events.NewNullAttribute, M: events.NewMapAttribute, L: events.NewListAttribute,
}

// Image encodes a record as a stream image.
func Image(record []byte) (map[string]events.DynamoDBAttributeValue, error) {
	t, err := Tree(record)
	if err != nil {
		return nil, err
	}
	return BuildMap(t, Events), nil
}

// StreamImage encodes c as a stream image, the shape change feeds hand the
// notifier.
func StreamImage(c *longrun.Configuration) (map[string]events.DynamoDBAttributeValue, error) {
	b, err := c.MarshalRecord()
	if err != nil {
		return nil, err
	}
	return Image(b)
}

// Configuration decodes a stream image of a configuration.
func Configuration(img map[string]events.DynamoDBAttributeValue) (*longrun.Configuration, error) {
	b, err := ReadRecord(img, readEvent)
	if err != nil {
		return nil, err
	}
	return longrun.UnmarshalRecord(b)
}

// A Reader reads one representation's attribute values: a map, a list, or
// a scalar as JSON decodes it (string, json.Number, bool or nil).
type Reader[A any] func(A) (scalar any, m map[string]A, l []A, kind Kind, err error)

// Kind says what a Reader found.
type Kind int

const (
	Scalar Kind = iota
	Map
	List
)

// ReadMap reads attribute values back into a decoded JSON object.
func ReadMap[A any](m map[string]A, r Reader[A]) (map[string]any, error) {
	out := make(map[string]any, len(m))
	for k, a := range m {
		v, err := Read(a, r)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		out[k] = v
	}
	return out, nil
}

// Read reads an attribute value back into a decoded JSON value.
func Read[A any](a A, r Reader[A]) (any, error) {
	v, m, l, kind, err := r(a)
	switch {
	case err != nil:
		return nil, err
	case kind == Map:
		return ReadMap(m, r)
	case kind == List:
		out := make([]any, len(l))
		for i, e := range l {
			if out[i], err = Read(e, r); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	return v, nil
}

// ReadRecord reads attribute values back into their JSON record.
func ReadRecord[A any](m map[string]A, r Reader[A]) ([]byte, error) {
	v, err := ReadMap(m, r)
	if err != nil {
		return nil, err
	}
	return json.Marshal(v)
}

func readEvent(a events.DynamoDBAttributeValue) (any, map[string]events.DynamoDBAttributeValue, []events.DynamoDBAttributeValue, Kind, error) {
	switch a.DataType() {
	case events.DataTypeString:
		return a.String(), nil, nil, Scalar, nil
	case events.DataTypeNumber:
		return json.Number(a.Number()), nil, nil, Scalar, nil
	case events.DataTypeBoolean:
		return a.Boolean(), nil, nil, Scalar, nil
	case events.DataTypeNull:
		return nil, nil, nil, Scalar, nil
	case events.DataTypeMap:
		return nil, a.Map(), nil, Map, nil
	case events.DataTypeList:
		return nil, nil, a.List(), List, nil
	}
	return nil, nil, nil, Scalar, fmt.Errorf("unsupported attribute type %v", a.DataType())
}
