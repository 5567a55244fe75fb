package longrun

// Limits are the bounds every configuration keeps, whatever its kind.
type Limits struct {
	MaxNameLen  int `json:"maxNameLength"`
	MaxEmailLen int `json:"maxEmailLength"`
}

// Meta is what a client needs to build its forms: each kind's schema,
// defaults, limits and presets, the limits of every configuration and the
// statuses. GET /api/meta serves it, so no client repeats these.
type Meta struct {
	Kinds       map[string]KindMeta `json:"kinds"`
	KindOrder   []string            `json:"kindOrder"`
	DefaultKind string              `json:"defaultKind"`
	Limits      Limits              `json:"limits"`
	Statuses    []Status            `json:"statuses"`
}

// Describe returns the meta of the kinds.
func (ks Kinds) Describe() Meta {
	m := Meta{Kinds: map[string]KindMeta{}, KindOrder: ks.Names(), DefaultKind: DefaultKind,
		Limits: Limits{MaxNameLen: MaxNameLen, MaxEmailLen: MaxEmailLen}, Statuses: Statuses}
	for name, k := range ks {
		m.Kinds[name] = k.Describe()
	}
	return m
}
