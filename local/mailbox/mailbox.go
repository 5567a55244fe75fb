// Package mailbox is a development mailbox: mail is written as JSON files in
// a folder instead of being sent, a folder per owner, and listed back for
// the page: a listing reads only its owner's newest files, however much
// mail the others have.
package mailbox

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
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

// Open returns the mailbox at path, creating it. Messages kept at its top
// by earlier versions move into their owners' folders.
func Open(path string) (*Box, error) {
	if err := os.MkdirAll(path, 0o755); err != nil {
		return nil, err
	}
	b := &Box{path: path}
	entries, err := os.ReadDir(path)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".json") || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(path, e.Name()))
		var m Message
		if err != nil || json.Unmarshal(data, &m) != nil {
			continue // left where it is
		}
		dir := b.folder(m.Owner)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		if err := os.Rename(filepath.Join(path, e.Name()), filepath.Join(dir, e.Name())); err != nil {
			return nil, err
		}
	}
	return b, nil
}

var plainOwner = regexp.MustCompile(`^[0-9A-Za-z]{1,64}$`)

// folder is the owner's folder: named by the owner (an id is 32 hex
// digits), or by a hash of a name that is no plain word.
func (b *Box) folder(owner string) string {
	if !plainOwner.MatchString(owner) {
		sum := sha256.Sum256([]byte(owner))
		owner = "h" + hex.EncodeToString(sum[:16])
	}
	return filepath.Join(b.path, owner)
}

// Send stores m.
func (b *Box) Send(ctx context.Context, m notify.Mail) error {
	now := time.Now().UTC()
	msg := Message{ID: fmt.Sprintf("%020d-%s", now.UnixNano(), longrun.NewID()[:8]), SentAt: now, Mail: m}
	data, err := json.MarshalIndent(msg, "", "  ")
	if err != nil {
		return err
	}
	dir := b.folder(m.Owner)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return atomicfile.WriteBytes(filepath.Join(dir, msg.ID+".json"), 0o644, data)
}

// Messages lists the owner's messages, newest first, at most limit.
func (b *Box) Messages(ctx context.Context, owner string, limit int) ([]Message, error) {
	dir := b.folder(owner)
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return []Message{}, nil
	}
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
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
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
