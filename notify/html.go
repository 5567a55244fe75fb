package notify

import (
	"bytes"
	"fmt"
	"html/template"
	"strings"

	"github.com/longrun/longrun"
)

// The HTML part of a result's e-mail: what the text says, with the
// result's thumbnail and its read-only link, which open on any device.
// Mail clients show inline styles only; every value is escaped.
var resultHTML = template.Must(template.New("result").Parse(`<!doctype html>
<html><body style="margin:0;padding:24px;background:#f4f4f7;font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;color:#1d1d27">
<div style="max-width:520px;margin:0 auto;background:#fff;border-radius:10px;padding:24px">
<h1 style="font-size:20px;margin:0 0 12px">{{.Subject}}</h1>
{{if .Thumbnail}}<a href="{{.Link}}"><img src="{{.Thumbnail}}" width="128" height="128" alt="{{.Name}}" style="display:block;border-radius:6px;margin:0 0 12px;background:#000"></a>{{end}}
<p style="margin:0 0 8px"><strong>{{.Name}}</strong>, version {{.Version}}{{if .Summary}}: {{.Summary}}{{end}}</p>
{{if .Error}}<p style="margin:0 0 8px;color:#a1263a">{{.Error}}</p>{{end}}
{{if .Figures}}<p style="margin:0 0 8px;color:#555">{{.Figures}}</p>{{end}}
<p style="margin:16px 0"><a href="{{.Link}}" style="display:inline-block;background:#6d4aff;color:#fff;text-decoration:none;padding:10px 16px;border-radius:6px">{{if .Error}}See what it shows{{else}}See the result{{end}}</a></p>
{{if .Retry}}<p style="margin:0 0 8px">Retry it from the page where you made it: <a href="{{.Retry}}">{{.Retry}}</a></p>{{end}}
{{if .Shared}}<p style="margin:0 0 8px;color:#555;font-size:13px">The link opens on any device, without signing in; whoever you give it to sees the result and its parameters.</p>{{end}}
<p style="margin:24px 0 0;color:#888;font-size:12px"><a href="{{.Unsubscribe}}" style="color:#888">Get no more of these e-mails</a></p>
</div></body></html>
`))

type resultPart struct {
	Subject, Name, Summary, Error, Figures string
	Version                                int64
	Link, Thumbnail, Retry, Unsubscribe    template.URL
	Shared                                 bool
}

// html renders the HTML part of c's result e-mail m, whose link is path.
func html(c *longrun.Configuration, m Mail, base, path string, kinds longrun.Kinds) string {
	base = strings.TrimSuffix(base, "/")
	p := resultPart{Subject: m.Subject, Name: c.Name, Version: c.Version, Link: template.URL(base + path),
		Unsubscribe: template.URL(m.Unsubscribe)}
	if k, ok := kinds[c.KindName()]; ok {
		if spec, err := k.Decode(c.Params); err == nil {
			p.Summary = spec.Summary()
		}
	}
	if token, ok := strings.CutPrefix(path, "/s/"); ok {
		p.Shared = true
		if c.Status == longrun.StatusDone && c.RenderedHash != "" {
			p.Thumbnail = template.URL(base + "/api/shared/" + token + "/image?thumb=1")
		}
	}
	if c.Status == longrun.StatusFailed {
		p.Error = c.Error
		if page := base + "/#" + c.ID; page != string(p.Link) {
			p.Retry = template.URL(page)
		}
	} else if c.Stats != nil {
		p.Figures = strings.TrimSpace(strings.ReplaceAll(extra(c.Stats), "\n", " ") +
			fmt.Sprintf(" %d iterations in %d ms.", c.Stats.Iterations, c.Stats.RenderMs))
	}
	var b bytes.Buffer
	if err := resultHTML.Execute(&b, p); err != nil {
		return ""
	}
	return b.String()
}
