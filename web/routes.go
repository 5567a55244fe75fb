package web

import (
	"embed"
	"io/fs"
	"net/http"
	"strings"

	"github.com/klauspost/compress/gzhttp"

	"github.com/longrun/longrun"
)

//go:embed static
var static embed.FS

// OpenAPI is the API's published contract, an OpenAPI 3.1 document, served
// at GET /api/openapi.json.
//
//go:embed openapi.json
var OpenAPI []byte

// routes lists every route the server answers.
func (s *server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/health", s.health)
	mux.HandleFunc("GET /api/meta", s.meta)
	mux.HandleFunc("GET /api/openapi.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Write(OpenAPI)
	})
	mux.HandleFunc("GET /api/configurations", s.list)
	mux.HandleFunc("POST /api/configurations", s.create)
	mux.HandleFunc("GET /api/configurations/{id}", s.get)
	mux.HandleFunc("PUT /api/configurations/{id}", s.update)
	mux.HandleFunc("DELETE /api/configurations/{id}", s.delete)
	mux.HandleFunc("POST /api/configurations/{id}/render", s.rerender)
	mux.HandleFunc("POST /api/configurations/{id}/cancel", s.cancel)
	mux.HandleFunc("POST /api/configurations/{id}/email", s.sendResult)
	mux.HandleFunc("GET /api/configurations/{id}/image", s.image)
	mux.HandleFunc("GET /api/configurations/{id}/artifacts/{name}", s.artifact)
	mux.HandleFunc("GET /api/configurations/{id}/preview", s.preview)
	mux.HandleFunc("GET /api/configurations/{id}/timeline", s.timeline)
	mux.HandleFunc("GET /api/mail", s.mail)
	mux.HandleFunc("GET /api/email/confirm", s.confirmForm)
	mux.HandleFunc("POST /api/email/confirm", s.confirmEmail)
	mux.HandleFunc("GET /api/email/unsubscribe", s.unsubscribeForm)
	mux.HandleFunc("POST /api/email/unsubscribe", s.unsubscribe)
	mux.HandleFunc("GET /api/configurations/{id}/link", s.link)
	mux.HandleFunc("DELETE /api/configurations/{id}/link", s.revokeLinks)
	mux.HandleFunc("GET /api/shared/{token}", s.sharedGet)
	mux.HandleFunc("GET /api/shared/{token}/image", s.sharedImage)
	mux.HandleFunc("GET /api/shared/{token}/artifacts/{name}", s.sharedArtifact)
	mux.HandleFunc("GET /api/live", s.live)
	mux.HandleFunc("GET /api/push-token", s.pushToken)
	mux.HandleFunc("GET /api/push/key", s.pushKey)
	mux.HandleFunc("GET /api/updates", s.updates)
	mux.HandleFunc("GET /api/preferences", s.preferences)
	mux.HandleFunc("PUT /api/preferences", s.setPreferences)
	mux.HandleFunc("POST /api/devices", s.addDevice)
	mux.HandleFunc("DELETE /api/devices", s.removeDevice)
	files, _ := fs.Sub(static, "static")
	page := assets(files)
	// A read-only link's page: the result, on any device, no session; the
	// link's token goes to no other site.
	mux.HandleFunc("GET /s/{token}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", pagePolicy)
		w.Header().Set("Referrer-Policy", "no-referrer")
		shared := r.Clone(r.Context())
		shared.URL.Path = "/share.html"
		serveAsset(w, shared, page)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasPrefix(r.URL.Path, "/api/"):
			if allow := allowed(mux, r); len(allow) > 0 {
				w.Header().Set("Allow", strings.Join(allow, ", "))
				s.fail(w, r, &longrun.Error{Code: longrun.EMETHOD, Message: r.Method + " is not allowed here; use " + strings.Join(allow, " or ")})
				return
			}
			s.fail(w, r, longrun.Errorf(longrun.ENOTFOUND, "no such API route: %s %s", r.Method, r.URL.Path))
		case r.Method != http.MethodGet && r.Method != http.MethodHead:
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		default:
			w.Header().Set("Content-Security-Policy", pagePolicy)
			serveAsset(w, r, page)
		}
	})
	return compressed(Protect(s.withSession(s.uncleanAPIPaths(mux)), s.Logger))
}

// compressed gzips every response but the WebSocket's (its upgrade takes
// the connection over) to a client that accepts it, for responses of 1 KiB
// or more and of a type not compressed already (PNG is not). On API
// Gateway the compressed body goes base64, as any binary body. (The
// wrapper is made here, not at package init: a binary that links this
// package without serving it, the render and notify functions, must not
// reach the server's handlers, which the IAM test's call graph would
// count as calls they can make.)
func compressed(h http.Handler) http.Handler {
	wrap, err := gzhttp.NewWrapper(gzhttp.MinSize(1024))
	if err != nil {
		panic(err) // the options are constants
	}
	gz := wrap(h)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/live" {
			h.ServeHTTP(w, r)
			return
		}
		gz.ServeHTTP(w, r)
	})
}

// uncleanAPIPaths answers an API path with dot segments or empty ones a
// JSON 404: the mux would redirect it (307, with an HTML body) to its
// cleaned form, which may be another route or the page.
func (s *server) uncleanAPIPaths(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		if strings.HasPrefix(p, "/api/") && (strings.Contains(p, "//") || strings.Contains(p, "/./") || strings.Contains(p, "/../") ||
			strings.HasSuffix(p, "/.") || strings.HasSuffix(p, "/..")) {
			s.fail(w, r, longrun.Errorf(longrun.ENOTFOUND, "no such API route: %s %s", r.Method, p))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// pagePolicy lets the page run only its own script and style, load images
// from itself or (on AWS) presigned HTTPS URLs, connect to itself or a
// WebSocket API, and be framed by nobody.
const pagePolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' https: data:; " +
	"connect-src 'self' wss: ws:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

// allowed lists the methods the mux routes r's path to, other than the
// page's catch-all.
func allowed(mux *http.ServeMux, r *http.Request) []string {
	var out []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := mux.Handler(probe); pattern != "/" && pattern != "" {
			out = append(out, m)
		}
	}
	return out
}
