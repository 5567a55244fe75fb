package longrun

import (
	"fmt"
	"strings"
)

// An Input is a create or an edit as a client sends it. An edit replaces
// the configuration: an omitted field takes its default (Name: one made
// from c; NotifyEmail: none; each parameter: its default, except C).
type Input struct {
	Name        *string      `json:"name"`
	Params      *ParamsInput `json:"params"`
	NotifyEmail *string      `json:"notifyEmail"`
}

// Draft returns the normalized input, or an EINVALID error listing every
// rule it breaks, within the default bounds.
func (in *Input) Draft() (Draft, error) { return in.DraftWithin(Bounds{}) }

// DraftWithin is Draft within bounds b.
func (in *Input) DraftWithin(b Bounds) (Draft, error) {
	var d Draft
	var fe FieldErrors
	p, perr := in.Params.NormalizeWithin("params.", b)
	fe.errs = append(fe.errs, Fields(perr)...)
	if in.Name != nil {
		d.Name = strings.TrimSpace(*in.Name)
		fe.errs = append(fe.errs, Fields(CheckName(d.Name))...)
	} else if perr == nil {
		d.Name = fmt.Sprintf("c = %g%+gi", p.C.Re, p.C.Im)
	}
	if in.NotifyEmail != nil {
		d.NotifyEmail = strings.TrimSpace(*in.NotifyEmail)
		fe.errs = append(fe.errs, Fields(CheckEmail(d.NotifyEmail))...)
	}
	if err := fe.Err(); err != nil {
		return Draft{}, err
	}
	d.Params = p
	return d, nil
}
