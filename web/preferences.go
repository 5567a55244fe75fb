package web

import (
	"net/http"

	"github.com/longrun/longrun"
)

// PreferencesBody is the owner's default channels: how a configuration that
// does not say is told of its ends. GET answers every channel said out.
type PreferencesBody struct {
	Notify longrun.Channels `json:"notify"`
}

func (s *server) preferences(w http.ResponseWriter, r *http.Request) {
	if s.Preferences == nil {
		Encode(w, http.StatusOK, PreferencesBody{Notify: (*longrun.Channels)(nil).Resolved(longrun.Channels{})})
		return
	}
	c, err := s.Preferences.Preferences(r.Context(), Owner(r.Context()))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	Encode(w, http.StatusOK, PreferencesBody{Notify: (*longrun.Channels)(nil).Resolved(c)})
}

func (s *server) setPreferences(w http.ResponseWriter, r *http.Request) {
	if s.Preferences == nil {
		s.fail(w, r, longrun.Errorf(longrun.ENOTFOUND, "this server keeps no preferences"))
		return
	}
	var in PreferencesBody
	if err := decode(w, r, &in); err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.Preferences.SetPreferences(r.Context(), Owner(r.Context()), in.Notify); err != nil {
		s.fail(w, r, err)
		return
	}
	Encode(w, http.StatusOK, PreferencesBody{Notify: (*longrun.Channels)(nil).Resolved(in.Notify)})
}
