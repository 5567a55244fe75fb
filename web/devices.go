package web

import (
	"net/http"
	"time"

	"github.com/longrun/longrun"
)

// Devices are the browsers an owner asked to be notified on with the page
// closed (Web Push). The page subscribes with the server's VAPID public
// key (GET /api/push/key) and hands the subscription over; the notifier
// sends to it. Only endpoints on the browsers' push services are taken
// (Deps.PushHosts), so no owner can make the server POST where it likes.

// PushKey is the answer of GET /api/push/key.
type PushKey struct {
	PublicKey string `json:"publicKey"`
}

// pushKey answers with the key the page subscribes with, or 404 where
// device notifications are off.
func (s *server) pushKey(w http.ResponseWriter, r *http.Request) {
	if s.Devices == nil || s.PushKey == "" {
		s.fail(w, r, longrun.Errorf(longrun.ENOTFOUND, "this server sends no device notifications"))
		return
	}
	w.Header().Set("Cache-Control", "public, max-age=3600")
	Encode(w, http.StatusOK, PushKey{PublicKey: s.PushKey})
}

func (s *server) pushHosts() []string {
	if len(s.PushHosts) > 0 {
		return s.PushHosts
	}
	return longrun.PushServices
}

// addDevice keeps the browser's push subscription for the owner.
func (s *server) addDevice(w http.ResponseWriter, r *http.Request) {
	if s.Devices == nil {
		s.fail(w, r, longrun.Errorf(longrun.ENOTFOUND, "this server sends no device notifications"))
		return
	}
	var in struct {
		longrun.Device
		// The browser's toJSON gives it, mostly null: the push service
		// says when a subscription is gone.
		ExpirationTime *float64 `json:"expirationTime"`
	}
	if err := decode(w, r, &in, "expirationTime"); err != nil {
		s.fail(w, r, err)
		return
	}
	d := in.Device
	if err := longrun.CheckDevice(d, s.pushHosts()); err != nil {
		s.fail(w, r, err)
		return
	}
	d.AddedAt = s.now().UTC()
	if err := s.Devices.AddDevice(r.Context(), Owner(r.Context()), d); err != nil {
		s.fail(w, r, err)
		return
	}
	Encode(w, http.StatusCreated, DeviceAnswer{Endpoint: d.Endpoint, AddedAt: d.AddedAt})
}

// DeviceAnswer says a device is kept.
type DeviceAnswer struct {
	Endpoint string    `json:"endpoint"`
	AddedAt  time.Time `json:"addedAt"`
}

// removeDevice forgets the browser of the endpoint in the body.
func (s *server) removeDevice(w http.ResponseWriter, r *http.Request) {
	if s.Devices == nil {
		s.fail(w, r, longrun.Errorf(longrun.ENOTFOUND, "this server sends no device notifications"))
		return
	}
	var d struct {
		Endpoint string `json:"endpoint"`
	}
	if err := decode(w, r, &d); err != nil {
		s.fail(w, r, err)
		return
	}
	if d.Endpoint == "" {
		s.fail(w, r, &longrun.Error{Code: longrun.EINVALID, Message: "which device?", Fields: []longrun.FieldError{{Field: "endpoint", Rule: "required"}}})
		return
	}
	if err := s.Devices.RemoveDevice(r.Context(), Owner(r.Context()), d.Endpoint); err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
