// Package mailbox is a development mailbox: mail is written as JSON files in
// a folder instead of being sent, and listed back for the page.
package mailbox

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/longrun/longrun"
	"github.com/longrun/longrun/internal/atomicfile"
	"github.com/longrun/longrun/notify"
	"github.com/longrun/longrun/web"
)

// A Message is a stored mail.
type Message struct {
	ID     string    `json:"id"`
	SentAt time.Time `json:"sentAt"`
	notify.Mail
}

// A Box is a folder of messages.
type Box struct {
	path string
}

// Box implements these ports.
var (
	_ notify.Mailer = (*Box)(nil)
	_ web.Mailbox   = (*Box)(nil)
)

// Open returns the mailbox at path, creating it.
func Open(path string) (*Box, error) {
	if err := os.MkdirAll(path, 0o755); err != nil {
		return nil, err
	}
	return &Box{path: path}, nil
}

// Send stores m.
func (b *Box) Send(ctx context.Context, m notify.Mail) error {
	now := time.Now().UTC()
	msg := Message{ID: fmt.Sprintf("%020d-%s", now.UnixNano(), longrun.NewID()[:8]), SentAt: now, Mail: m}
	data, err := json.MarshalIndent(msg, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteBytes(filepath.Join(b.path, msg.ID+".json"), 0o644, data)
}

// Messages lists the owner's messages, newest first, at most limit.
func (b *Box) Messages(ctx context.Context, owner string, limit int) ([]Message, error) {
	entries, err := os.ReadDir(b.path)
	if err != nil {
		return nil, err
	}
	slices.Reverse(entries) // names start with the time sent
	out := []Message{}
	for _, e := range entries {
		if len(out) == limit {
			break
		}
		if !strings.HasSuffix(e.Name(), ".json") || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(b.path, e.Name()))
		if err != nil {
			continue // removed meanwhile
		}
		var m Message
		if json.Unmarshal(data, &m) == nil && m.Owner == owner {
			out = append(out, m)
		}
	}
	return out, nil
}

// MailFor lists the owner's latest messages for the page.
func (b *Box) MailFor(ctx context.Context, owner string, limit int) (any, error) {
	return b.Messages(ctx, owner, limit)
}
