package web

import (
	"errors"
	"html/template"
	"net/http"

	"github.com/longrun/longrun"
)

// The links in e-mails lead to small pages of their own: a person follows
// them from a mail client, not from the app.
var emailPage = template.Must(template.New("email").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>longrun e-mail</title><link rel="stylesheet" href="/style.css"></head>
<body class="email-page"><main class="panel"><h1>{{.Title}}</h1><p>{{.Text}}</p>
{{if .Confirm}}<form method="post" action="/api/email/confirm?token={{.Confirm}}"><button>Confirm e-mails to this address</button></form>{{end}}
{{if .Token}}<form method="post" action="/api/email/unsubscribe?token={{.Token}}"><button class="danger">Unsubscribe {{.Addr}}</button></form>{{end}}
<p><a href="/">Open longrun</a></p></main>{{if .Confirmed}}<script type="module" src="/confirmed.js"></script>{{end}}</body></html>`))

// Confirmed tells the page's open tabs in this browser that an address was
// confirmed (confirmed.js), so none still says "Confirmation pending".
type emailPageData struct {
	Title, Text, Token, Confirm, Addr string
	Confirmed                         bool
}

func (s *server) emailPage(w http.ResponseWriter, r *http.Request, status int, d emailPageData) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; form-action 'self'; frame-ancestors 'none'")
	w.WriteHeader(status)
	if err := emailPage.Execute(w, d); err != nil {
		s.Logger.Warn("email page", "err", err)
	}
}

// linkFailed shows why a link from an e-mail did not work.
func (s *server) linkFailed(w http.ResponseWriter, r *http.Request, err error) {
	if e := (*longrun.Error)(nil); errors.As(err, &e) && e.Code == longrun.ECONFLICT {
		s.emailPage(w, r, http.StatusConflict, emailPageData{Title: "Nothing was changed", Text: e.Message})
		return
	}
	if longrun.ErrorCode(err) != longrun.ENOTFOUND {
		s.Logger.Error("e-mail link", "err", err, "requestId", RequestID(r.Context()))
		s.emailPage(w, r, http.StatusServiceUnavailable, emailPageData{Title: "Try again later",
			Text: "longrun could not record this just now (request " + RequestID(r.Context()) + ")."})
		return
	}
	s.emailPage(w, r, http.StatusNotFound, emailPageData{Title: "This link is not valid",
		Text: "It may have been copied incompletely. Nothing was changed."})
}

// confirmForm asks before confirming: a mail scanner that fetches every
// link of a message must not confirm an address nobody confirmed.
func (s *server) confirmForm(w http.ResponseWriter, r *http.Request) {
	token := r.URL.Query().Get("token")
	if !longrun.ValidID(token) {
		s.linkFailed(w, r, longrun.Errorf(longrun.ENOTFOUND, "invalid token"))
		return
	}
	s.emailPage(w, r, http.StatusOK, emailPageData{Title: "Confirm your address", Confirm: token,
		Text: "Get an e-mail from longrun when a render you asked for finishes?"})
}

// confirmEmail confirms, from the form of the confirmation mail's link.
func (s *server) confirmEmail(w http.ResponseWriter, r *http.Request) {
	a, err := s.Service.ConfirmAddress(r.Context(), r.URL.Query().Get("token"))
	if err != nil {
		s.linkFailed(w, r, err)
		return
	}
	s.emailPage(w, r, http.StatusOK, emailPageData{Title: "Address confirmed", Confirmed: true,
		Text: a.Addr + " will get an e-mail when a render it asked for finishes. Every e-mail has a link to stop them."})
}

// unsubscribeForm asks before unsubscribing: a link checker that follows
// the link must not unsubscribe anyone.
func (s *server) unsubscribeForm(w http.ResponseWriter, r *http.Request) {
	token := r.URL.Query().Get("token")
	if !longrun.ValidID(token) {
		s.linkFailed(w, r, longrun.Errorf(longrun.ENOTFOUND, "invalid token"))
		return
	}
	s.emailPage(w, r, http.StatusOK, emailPageData{Title: "Unsubscribe", Token: token, Addr: "this address",
		Text: "Stop e-mails from longrun to this address?"})
}

// unsubscribe stops the mail: from the form, or from a mail client's
// one-click unsubscribe (List-Unsubscribe-Post).
func (s *server) unsubscribe(w http.ResponseWriter, r *http.Request) {
	a, err := s.Service.Unsubscribe(r.Context(), r.URL.Query().Get("token"))
	if err != nil {
		s.linkFailed(w, r, err)
		return
	}
	s.emailPage(w, r, http.StatusOK, emailPageData{Title: "Unsubscribed",
		Text: a.Addr + " gets no more e-mails from longrun for this owner."})
}
