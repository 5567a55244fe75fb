package longrun

import (
	"encoding/json"
	"fmt"
	"time"
)

// record is a configuration as stores keep it and change feeds carry it.
// Its JSON names are the attribute names of the DynamoDB item too (package
// aws/attr converts it).
type record struct {
	ID           string          `json:"id"`
	Owner        string          `json:"owner"`
	Client       string          `json:"client,omitempty"`
	Name         string          `json:"name"`
	Kind         string          `json:"kind,omitempty"`
	Params       json.RawMessage `json:"params"`
	ParamsHash   string          `json:"paramsHash"`
	Work         int64           `json:"work,omitempty"`
	NotifyEmail  string          `json:"notifyEmail,omitempty"`
	Notify       *Channels       `json:"notify,omitempty"`
	Trace        string          `json:"trace,omitempty"`
	Version      int64           `json:"version"`
	Rev          int64           `json:"rev"`
	Seq          int64           `json:"seq"`
	Change       string          `json:"change,omitempty"`
	Status       Status          `json:"status"`
	Progress     float64         `json:"progress"`
	Live         json.RawMessage `json:"live,omitempty"`
	Error        string          `json:"error,omitempty"`
	NotifyError  string          `json:"notifyError,omitempty"`
	MailRequests int64           `json:"mailRequests,omitempty"`
	ShareGen     int64           `json:"shareGen,omitempty"`
	RenderedHash string          `json:"renderedHash,omitempty"`
	Stats        *Stats          `json:"stats,omitempty"`
	QueuedAt     time.Time       `json:"queuedAt,omitzero"`
	StartedAt    time.Time       `json:"startedAt,omitzero"`
	FinishedAt   time.Time       `json:"finishedAt,omitzero"`
	Tiling       *Tiling         `json:"tiling,omitempty"`
	History      []Earlier       `json:"history,omitempty"`
	CreatedAt    time.Time       `json:"createdAt"`
	UpdatedAt    time.Time       `json:"updatedAt"`
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
