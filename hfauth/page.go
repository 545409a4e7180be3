package hfauth

import (
	"html"
	"strings"
)

// CallbackPageCSP is the callback page's Content-Security-Policy: nothing
// is loaded from anywhere and no script runs; only the page's own style.
const CallbackPageCSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// CallbackPage is the HTML page the browser shows after Hugging Face sends
// it back: the result, and an invitation to close the window. The message
// (which may hold Hugging Face's error text, from the query) is escaped.
// Unlike the reference's page, it carries no script (the reference closes
// a popup after 3 s); the desktop app learns the result by polling.
func CallbackPage(r CallbackResult) string {
	icon, title, color := "❌", "Login Failed", "#ef4444"
	if r.Success {
		icon, title, color = "✅", "Login Successful", "#10b981"
	}
	var b strings.Builder
	b.WriteString(`<!DOCTYPE html>
<html>
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>`)
	b.WriteString(title)
	b.WriteString(` - Reachy Mini</title>
<style>
body { font-family: -apple-system, BlinkMacSystemFont, 'Segoe UI', Roboto, sans-serif; display: flex; justify-content: center;
  align-items: center; min-height: 100vh; margin: 0; background: #1a1a2e; color: white; }
.box { text-align: center; padding: 2rem; max-width: 400px; }
.icon { font-size: 4rem; margin-bottom: 1rem; }
h1 { color: `)
	b.WriteString(color)
	b.WriteString(`; margin-bottom: 0.5rem; }
p { color: #a0aec0; font-size: 1.1rem; line-height: 1.5; overflow-wrap: anywhere; }
.hint { margin-top: 2rem; padding: 1rem; background: rgba(255,255,255,0.1); border-radius: 8px; font-size: 0.9rem; }
</style>
</head>
<body>
<div class="box">
<div class="icon">`)
	b.WriteString(icon)
	b.WriteString(`</div>
<h1>`)
	b.WriteString(title)
	b.WriteString(`</h1>
<p>`)
	b.WriteString(html.EscapeString(r.Message))
	b.WriteString(`</p>
<div class="hint">You can close this window and return to your robot's app.</div>
</div>
</body>
</html>
`)
	return b.String()
}
