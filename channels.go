package longrun

import "context"

// Channels says how an owner wants to hear that a version finished or
// failed, channel by channel; a field left out (nil) takes the owner's
// default, and the owner's default left out is yes. A configuration holds
// its own; Preferences hold the owner's.
type Channels struct {
	// Page: the open page's toast and browser notification.
	Page *bool `json:"page,omitempty"`
	// Device: the owner's devices, through their push services.
	Device *bool `json:"device,omitempty"`
	// Email: the configuration's confirmed address.
	Email *bool `json:"email,omitempty"`
}

// The channels by name.
const (
	ChannelPage   = "page"
	ChannelDevice = "device"
	ChannelEmail  = "email"
)

func (c Channels) field(name string) *bool {
	switch name {
	case ChannelPage:
		return c.Page
	case ChannelDevice:
		return c.Device
	case ChannelEmail:
		return c.Email
	}
	return nil
}

// Wants reports whether a configuration whose own choice is c, of an owner
// whose default is owner, is to be told on the channel.
func (c *Channels) Wants(name string, owner Channels) bool {
	if c != nil {
		if v := c.field(name); v != nil {
			return *v
		}
	}
	if v := owner.field(name); v != nil {
		return *v
	}
	return true
}

// Decides reports whether c itself says yes or no for the channel (else
// the owner's default does).
func (c *Channels) Decides(name string) bool { return c != nil && c.field(name) != nil }

// Resolved is every channel said out, owner's defaults filled in.
func (c *Channels) Resolved(owner Channels) Channels {
	yes := func(name string) *bool { v := c.Wants(name, owner); return &v }
	return Channels{Page: yes(ChannelPage), Device: yes(ChannelDevice), Email: yes(ChannelEmail)}
}

// Preferences keep each owner's default channels.
type Preferences interface {
	// Preferences returns owner's defaults (none set: every channel).
	Preferences(ctx context.Context, owner string) (Channels, error)
	SetPreferences(ctx context.Context, owner string, c Channels) error
}
