package testutil

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/longrun/longrun"
)

// A PushService stands in for a browser vendor's push service (RFC 8030):
// it takes a notification only if its VAPID signature (RFC 8292) holds for
// the server's key and its own origin, and a TTL is set; it decrypts the
// payload (RFC 8291) with the subscription's private key and secret, as
// the browser would, and keeps what it read.
type PushService struct {
	*httptest.Server
	t *testing.T
	// VAPIDKey is the public key the server must sign with.
	VAPIDKey string
	// Delivered, if set, gets each notification as it is taken.
	Delivered func(PushMessage)

	mu      sync.Mutex
	subs    map[string]*pushSub
	got     []PushMessage
	refused []string
}

type pushSub struct {
	key    *ecdh.PrivateKey
	auth   []byte
	status int // what the service answers for it; 0: 201
}

// A PushMessage is one notification the push service took.
type PushMessage struct {
	Device  string // the name of the subscription
	Payload []byte // decrypted
	TTL     int
	Topic   string
	Urgency string
	Subject string // the VAPID JWT's sub
}

// NewPushService starts a push service over TLS; its Client trusts it.
func NewPushService(t *testing.T, vapidKey string) *PushService {
	p := &PushService{t: t, VAPIDKey: vapidKey, subs: map[string]*pushSub{}}
	p.Server = httptest.NewTLSServer(http.HandlerFunc(p.serve))
	t.Cleanup(p.Close)
	return p
}

// Subscribe makes a subscription, as a browser's pushManager.subscribe
// does: its endpoint on this service, its key pair and secret.
func (p *PushService) Subscribe(name string) longrun.Device {
	key, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		p.t.Fatal(err)
	}
	auth := make([]byte, 16)
	rand.Read(auth)
	p.mu.Lock()
	p.subs[name] = &pushSub{key: key, auth: auth}
	p.mu.Unlock()
	enc := base64.RawURLEncoding.EncodeToString
	return longrun.Device{Endpoint: p.URL + "/push/" + name, Keys: longrun.DeviceKeys{P256dh: enc(key.PublicKey().Bytes()), Auth: enc(auth)}}
}

// Answer makes the service answer status for the subscription (410: it
// was unsubscribed; 500: the service is failing).
func (p *PushService) Answer(name string, status int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.subs[name].status = status
}

// Messages returns what the service took, in order.
func (p *PushService) Messages() []PushMessage {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]PushMessage(nil), p.got...)
}

// Refused returns why the service refused requests.
func (p *PushService) Refused() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.refused...)
}

func (p *PushService) serve(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, "/push/")
	p.mu.Lock()
	sub := p.subs[name]
	p.mu.Unlock()
	body, _ := io.ReadAll(r.Body)
	msg, err := p.read(r, sub, name, body)
	if err != nil {
		p.mu.Lock()
		p.refused = append(p.refused, err.Error())
		p.mu.Unlock()
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if sub.status != 0 {
		w.WriteHeader(sub.status)
		return
	}
	p.mu.Lock()
	p.got = append(p.got, msg)
	p.mu.Unlock()
	if p.Delivered != nil {
		p.Delivered(msg)
	}
	w.WriteHeader(http.StatusCreated)
}

func (p *PushService) read(r *http.Request, sub *pushSub, name string, body []byte) (PushMessage, error) {
	if sub == nil {
		return PushMessage{}, fmt.Errorf("no subscription %q", name)
	}
	if r.Method != http.MethodPost || r.Header.Get("Content-Encoding") != "aes128gcm" {
		return PushMessage{}, errors.New("not a POST of an aes128gcm body")
	}
	ttl, err := strconv.Atoi(r.Header.Get("TTL"))
	if err != nil || ttl < 0 {
		return PushMessage{}, errors.New("no TTL header")
	}
	subject, err := p.checkVAPID(r.Header.Get("Authorization"))
	if err != nil {
		return PushMessage{}, err
	}
	payload, err := decrypt(sub, body)
	if err != nil {
		return PushMessage{}, err
	}
	return PushMessage{Device: name, Payload: payload, TTL: ttl, Topic: r.Header.Get("Topic"), Urgency: r.Header.Get("Urgency"), Subject: subject}, nil
}

// checkVAPID verifies "vapid t=JWT, k=KEY": the key the server's, the JWT
// signed with it (ES256), for this service's origin, expiring within a day.
func (p *PushService) checkVAPID(h string) (string, error) {
	jwt, k := vapidParts(h)
	if !strings.HasPrefix(h, "vapid ") || jwt == "" || k != p.VAPIDKey {
		return "", fmt.Errorf("the Authorization is not vapid with the server's key: %q", h)
	}
	claims, err := verifyES256(jwt, k)
	if err != nil {
		return "", err
	}
	if claims.Aud != p.URL {
		return "", fmt.Errorf("the VAPID JWT is for %q, not this service (%s)", claims.Aud, p.URL)
	}
	if exp := time.Unix(claims.Exp, 0); exp.Before(time.Now()) || exp.After(time.Now().Add(24*time.Hour)) {
		return "", fmt.Errorf("the VAPID JWT expires at %v, not within a day", exp)
	}
	if !strings.HasPrefix(claims.Sub, "mailto:") && !strings.HasPrefix(claims.Sub, "https:") {
		return "", fmt.Errorf("the VAPID JWT's sub %q is no mailto: or https: contact", claims.Sub)
	}
	return claims.Sub, nil
}

// vapidParts are the JWT (t=) and the key (k=) of a vapid Authorization.
func vapidParts(h string) (jwt, k string) {
	for _, part := range strings.Split(strings.TrimPrefix(h, "vapid "), ",") {
		part = strings.TrimSpace(part)
		if v, ok := strings.CutPrefix(part, "t="); ok {
			jwt = v
		} else if v, ok := strings.CutPrefix(part, "k="); ok {
			k = v
		}
	}
	return jwt, k
}

type vapidClaims struct {
	Aud, Sub string
	Exp      int64
}

// verifyES256 checks the JWT's ES256 signature with the uncompressed
// P-256 key k (base64url) and returns its claims.
func verifyES256(jwt, k string) (vapidClaims, error) {
	var claims vapidClaims
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return claims, errors.New("not a JWT")
	}
	pub, _ := base64.RawURLEncoding.DecodeString(k)
	x, y := elliptic.Unmarshal(elliptic.P256(), pub) //nolint:staticcheck // the uncompressed point of RFC 8292
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if x == nil || len(sig) != 64 || !ecdsa.Verify(&ecdsa.PublicKey{Curve: elliptic.P256(), X: x, Y: y}, digest[:],
		new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
		return claims, errors.New("the VAPID JWT's ES256 signature does not hold")
	}
	var header struct{ Alg string }
	hb, _ := base64.RawURLEncoding.DecodeString(parts[0])
	cb, _ := base64.RawURLEncoding.DecodeString(parts[1])
	if json.Unmarshal(hb, &header) != nil || json.Unmarshal(cb, &claims) != nil || header.Alg != "ES256" {
		return claims, errors.New("the VAPID JWT does not decode")
	}
	return claims, nil
}

// decrypt opens an aes128gcm body (RFC 8188) with the keys of RFC 8291.
func decrypt(sub *pushSub, body []byte) ([]byte, error) {
	if len(body) < 21 {
		return nil, errors.New("a body too short for its header")
	}
	salt, rs, idlen := body[:16], binary.BigEndian.Uint32(body[16:20]), int(body[20])
	if idlen != 65 || len(body) < 21+idlen || rs < 18 {
		return nil, errors.New("the header does not carry the server's public key")
	}
	serverPub, err := ecdh.P256().NewPublicKey(body[21 : 21+idlen])
	if err != nil {
		return nil, err
	}
	shared, err := sub.key.ECDH(serverPub)
	if err != nil {
		return nil, err
	}
	mac := hmac.New(sha256.New, sub.auth)
	mac.Write(shared)
	prkKey := mac.Sum(nil)
	info := append(append([]byte("WebPush: info\x00"), sub.key.PublicKey().Bytes()...), serverPub.Bytes()...)
	mac = hmac.New(sha256.New, prkKey)
	mac.Write(append(info, 1))
	ikm := mac.Sum(nil)
	prk, err := hkdf.Extract(sha256.New, ikm, salt)
	if err != nil {
		return nil, err
	}
	cek, err := hkdf.Expand(sha256.New, prk, "Content-Encoding: aes128gcm\x00", 16)
	if err != nil {
		return nil, err
	}
	nonce, err := hkdf.Expand(sha256.New, prk, "Content-Encoding: nonce\x00", 12)
	if err != nil {
		return nil, err
	}
	block, _ := aes.NewCipher(cek)
	gcm, _ := cipher.NewGCM(block)
	plain, err := gcm.Open(nil, nonce, body[21+idlen:], nil)
	if err != nil {
		return nil, fmt.Errorf("the payload does not decrypt with the subscription's keys: %w", err)
	}
	plain = bytes.TrimRight(plain, "\x00")
	if len(plain) == 0 || plain[len(plain)-1] != 2 {
		return nil, errors.New("the payload lacks the last record's delimiter")
	}
	return plain[:len(plain)-1], nil
}
