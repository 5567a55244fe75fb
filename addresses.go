package longrun

import (
	"context"
	"time"
)

// An Address is an owner's e-mail address as notifications see it: mail
// goes to it only after the address confirmed, through the link in the one
// confirmation mail, that it wants mail from that owner.
type Address struct {
	Owner, Addr string
	// Token is in the confirmation link and UnsubscribeToken in the
	// unsubscribe links; each names this record alone and does only its
	// own work. A record from before UnsubscribeToken has none: its Token
	// unsubscribes too.
	Token            string
	UnsubscribeToken string
	RequestedAt      time.Time // when the confirmation mail was sent
	Confirmed        bool
	OptedOut         bool // unsubscribed: no more mail, no new confirmation
}

// Address statuses, as views show them.
const (
	EmailPending      = "pending"      // a confirmation mail was sent; nothing more until it is followed
	EmailConfirmed    = "confirmed"    // notifications go out
	EmailUnsubscribed = "unsubscribed" // the address asked for no more mail
	EmailSuppressed   = "suppressed"   // the address bounced or complained
)

// Addresses keeps owners' addresses and the suppression list.
type Addresses interface {
	// Address returns owner's record of addr; ENOTFOUND if none.
	Address(ctx context.Context, owner, addr string) (Address, error)
	// AddressByToken returns the record a link's token (either) names;
	// ENOTFOUND if none.
	AddressByToken(ctx context.Context, token string) (Address, error)
	// PutAddress stores a record; it reports false, storing nothing, when
	// create is set and owner's record of the address exists.
	PutAddress(ctx context.Context, a Address, create bool) (bool, error)
	// Suppress puts addr on the suppression list (a hard bounce or a
	// complaint); Suppressed reports whether it is on it.
	Suppress(ctx context.Context, addr, reason string) error
	Suppressed(ctx context.Context, addr string) (bool, error)
}

// EmailStatus is what a view says of owner's address: "" when there is
// none, else one of the Email… statuses.
func EmailStatus(ctx context.Context, as Addresses, owner, addr string) (string, error) {
	if addr == "" || as == nil {
		return "", nil
	}
	if s, err := as.Suppressed(ctx, addr); err != nil || s {
		return EmailSuppressed, err
	}
	a, err := as.Address(ctx, owner, addr)
	switch {
	case ErrorCode(err) == ENOTFOUND:
		return EmailPending, nil
	case err != nil:
		return "", err
	case a.OptedOut:
		return EmailUnsubscribed, nil
	case a.Confirmed:
		return EmailConfirmed, nil
	}
	return EmailPending, nil
}

// ConfirmAddress follows a confirmation link: its address gets its
// owner's notifications from now on. An unsubscribe link's token does not
// confirm, and an address that unsubscribed stays so: following its old
// confirmation link again does not undo that.
func (s *Service) ConfirmAddress(ctx context.Context, token string) (Address, error) {
	return s.setAddress(ctx, token, func(a *Address) error {
		switch {
		case token != a.Token:
			return errInvalidLink
		case a.OptedOut:
			return Errorf(ECONFLICT, "%s unsubscribed: this link no longer confirms it", a.Addr)
		}
		a.Confirmed = true
		return nil
	})
}

// Unsubscribe follows an unsubscribe link: its address gets no more mail
// from that owner. A confirmation link's token does not unsubscribe.
func (s *Service) Unsubscribe(ctx context.Context, token string) (Address, error) {
	return s.setAddress(ctx, token, func(a *Address) error {
		if token != a.UnsubscribeToken && (a.UnsubscribeToken != "" || token != a.Token) {
			return errInvalidLink
		}
		a.Confirmed, a.OptedOut = false, true
		return nil
	})
}

var errInvalidLink = Errorf(ENOTFOUND, "this link is not valid")

func (s *Service) setAddress(ctx context.Context, token string, fn func(*Address) error) (Address, error) {
	if s.Addresses == nil || !ValidID(token) {
		return Address{}, Errorf(ENOTFOUND, "this link is not valid")
	}
	a, err := s.Addresses.AddressByToken(ctx, token)
	if ErrorCode(err) == ENOTFOUND {
		return Address{}, Errorf(ENOTFOUND, "this link is not valid")
	}
	if err != nil {
		return Address{}, err
	}
	if err := fn(&a); err != nil {
		return Address{}, err
	}
	_, err = s.Addresses.PutAddress(ctx, a, false)
	return a, err
}

// RecordMailFailure records on the configuration why its version's e-mail
// could not be sent, when retrying cannot help (the address was refused).
func (s *Service) RecordMailFailure(ctx context.Context, id string, version int64, reason string) error {
	_, err := s.Store.UpdateConfiguration(ctx, id, func(c *Configuration) error {
		return c.MailFailed(version, reason, s.now())
	})
	if code := ErrorCode(err); code == ENOTFOUND || code == ECONFLICT {
		return nil
	}
	return err
}
