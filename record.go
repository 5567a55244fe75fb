package longrun

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// record is a configuration as stores keep it and change feeds carry it.
// Its JSON names are the attribute names of the DynamoDB item too.
type record struct {
	ID           string    `json:"id"`
	Owner        string    `json:"owner"`
	Name         string    `json:"name"`
	Params       Params    `json:"params"`
	ParamsHash   string    `json:"paramsHash"`
	NotifyEmail  string    `json:"notifyEmail,omitempty"`
	Version      int64     `json:"version"`
	Rev          int64     `json:"rev"`
	Seq          int64     `json:"seq"`
	Change       string    `json:"change,omitempty"`
	Status       Status    `json:"status"`
	Progress     float64   `json:"progress"`
	Error        string    `json:"error,omitempty"`
	RenderedHash string    `json:"renderedHash,omitempty"`
	Stats        *Stats    `json:"stats,omitempty"`
	CreatedAt    time.Time `json:"createdAt"`
	UpdatedAt    time.Time `json:"updatedAt"`
}

// MarshalRecord encodes c whole, owner and counters included, for storage.
func (c *Configuration) MarshalRecord() ([]byte, error) { return json.Marshal((*record)(c)) }

// UnmarshalRecord decodes what MarshalRecord encoded.
func UnmarshalRecord(b []byte) (*Configuration, error) {
	var r record
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("decode configuration record: %w", err)
	}
	return (*Configuration)(&r), nil
}

// StreamImage encodes c as a DynamoDB stream image, the shape change feeds
// hand the notifier.
func StreamImage(c *Configuration) (map[string]events.DynamoDBAttributeValue, error) {
	b, err := c.MarshalRecord()
	if err != nil {
		return nil, err
	}
	return RecordStreamImage(b)
}

// RecordStreamImage encodes a record MarshalRecord wrote as a DynamoDB
// stream image, without decoding it into a Configuration first.
func RecordStreamImage(b []byte) (map[string]events.DynamoDBAttributeValue, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v map[string]any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	return toAttributes(v), nil
}

// FromStreamImage decodes a DynamoDB stream image of a configuration.
func FromStreamImage(m map[string]events.DynamoDBAttributeValue) (*Configuration, error) {
	b, err := json.Marshal(fromAttributes(m))
	if err != nil {
		return nil, err
	}
	return UnmarshalRecord(b)
}

func toAttributes(m map[string]any) map[string]events.DynamoDBAttributeValue {
	out := make(map[string]events.DynamoDBAttributeValue, len(m))
	for k, v := range m {
		out[k] = toAttribute(v)
	}
	return out
}

func toAttribute(v any) events.DynamoDBAttributeValue {
	switch v := v.(type) {
	case string:
		return events.NewStringAttribute(v)
	case json.Number:
		return events.NewNumberAttribute(v.String())
	case bool:
		return events.NewBooleanAttribute(v)
	case map[string]any:
		return events.NewMapAttribute(toAttributes(v))
	case []any:
		l := make([]events.DynamoDBAttributeValue, len(v))
		for i, e := range v {
			l[i] = toAttribute(e)
		}
		return events.NewListAttribute(l)
	}
	return events.NewNullAttribute()
}

func fromAttributes(m map[string]events.DynamoDBAttributeValue) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = fromAttribute(v)
	}
	return out
}

func fromAttribute(v events.DynamoDBAttributeValue) any {
	switch v.DataType() {
	case events.DataTypeString:
		return v.String()
	case events.DataTypeNumber:
		return json.Number(v.Number())
	case events.DataTypeBoolean:
		return v.Boolean()
	case events.DataTypeMap:
		return fromAttributes(v.Map())
	case events.DataTypeList:
		l := make([]any, len(v.List()))
		for i, e := range v.List() {
			l[i] = fromAttribute(e)
		}
		return l
	}
	return nil
}

// View is a configuration as its owner sees it over the API and in pushes.
type View struct {
	ID           string    `json:"id"`
	Name         string    `json:"name"`
	Params       Params    `json:"params"`
	ParamsHash   string    `json:"paramsHash"`
	Version      int64     `json:"version"`
	ETag         string    `json:"etag"`
	Status       Status    `json:"status"`
	Progress     float64   `json:"progress"`
	RenderedHash string    `json:"renderedHash"`
	Outdated     bool      `json:"outdated"`
	ImageURL     string    `json:"imageUrl"`
	Error        string    `json:"error"`
	Stats        *Stats    `json:"stats"`
	CreatedAt    time.Time `json:"createdAt"`
	UpdatedAt    time.Time `json:"updatedAt"`
	NotifyEmail  string    `json:"notifyEmail"`
}

// View returns what the owner sees. The image URL names the rendered hash,
// so a browser never shows a cached image of other parameters.
func (c *Configuration) View() View {
	v := View{ID: c.ID, Name: c.Name, Params: c.Params, ParamsHash: c.ParamsHash, Version: c.Version,
		ETag: c.ETag(), Status: c.Status, Progress: c.Progress, RenderedHash: c.RenderedHash,
		Outdated: c.Outdated(), Error: c.Error, Stats: c.Stats, CreatedAt: c.CreatedAt,
		UpdatedAt: c.UpdatedAt, NotifyEmail: c.NotifyEmail}
	if c.RenderedHash != "" {
		v.ImageURL = "/api/configurations/" + c.ID + "/image?h=" + c.RenderedHash[:16]
	}
	return v
}
