package longrun

import (
	"encoding/json"
	"strings"
)

// An Input is a create or an edit as a client sends it. An edit replaces
// the configuration: an omitted field takes its default (Name: one the
// kind makes from the parameters; NotifyEmail: none; each parameter: the
// kind's default). Kind is DefaultKind when omitted; an edit keeps it.
type Input struct {
	Name        *string         `json:"name"`
	Kind        *string         `json:"kind"`
	Params      json.RawMessage `json:"params"`
	NotifyEmail *string         `json:"notifyEmail"`
	// Notify is how to be told of its ends; omitted: the owner's default.
	Notify *Channels `json:"notify"`
}

// Draft returns the normalized input, or an EINVALID error listing every
// rule it breaks, with the kinds of ks.
func (in *Input) Draft(ks Kinds) (Draft, error) {
	var d Draft
	var fe FieldErrors
	name := ""
	if in.Kind != nil {
		name = *in.Kind
	}
	k, kerr := ks.Kind(name)
	fe.errs = append(fe.errs, Fields(kerr)...)
	var spec Spec
	if k != nil {
		var perr error
		spec, perr = k.Normalize(in.Params, "params.")
		fe.errs = append(fe.errs, Fields(perr)...)
		d.Kind = k.Name()
	}
	if in.Name != nil {
		d.Name = strings.TrimSpace(*in.Name)
		fe.errs = append(fe.errs, Fields(CheckName(d.Name))...)
	} else if spec != nil {
		d.Name = spec.Name()
	}
	if in.NotifyEmail != nil {
		d.NotifyEmail = strings.TrimSpace(*in.NotifyEmail)
		fe.errs = append(fe.errs, Fields(CheckEmail(d.NotifyEmail))...)
	}
	if err := fe.Err(); err != nil {
		return Draft{}, err
	}
	d.Spec, d.Notify = spec, in.Notify
	return d, nil
}
