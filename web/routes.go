package web

import (
	"embed"
	"io/fs"
	"net/http"
	"strings"

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
	mux.HandleFunc("GET /api/configurations/{id}/image", s.image)
	mux.HandleFunc("GET /api/mail", s.mail)
	mux.HandleFunc("GET /api/live", s.live)
	mux.HandleFunc("GET /api/push-token", s.pushToken)
	files, _ := fs.Sub(static, "static")
	page := http.FileServerFS(files)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasPrefix(r.URL.Path, "/api/"):
			s.fail(w, r, longrun.Errorf(longrun.ENOTFOUND, "no such API route: %s %s", r.Method, r.URL.Path))
		case r.Method != http.MethodGet && r.Method != http.MethodHead:
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		default:
			w.Header().Set("Cache-Control", "no-cache")
			page.ServeHTTP(w, r)
		}
	})
	return s.withSession(mux)
}
