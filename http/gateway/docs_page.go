package gateway

import (
	"embed"
	"net/http"

	"github.com/labstack/echo/v4"
)

// docsFiles are the documentation page, its script and its style sheet,
// written for reachyd (docs/): built into the binary, so /docs works on a
// robot with no Internet access.
//
//go:embed docs/docs.html docs/docs.js docs/docs.css
var docsFiles embed.FS

// docsCSP keeps the page to this daemon: its own script, style and
// /openapi.json, nothing from elsewhere, no inline code.
const docsCSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

func docsHeaders(c echo.Context) {
	h := c.Response().Header()
	h.Set("Content-Security-Policy", docsCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-cache")
}

func (g *Gateway) docsPage(c echo.Context) error {
	b, err := docsFiles.ReadFile("docs/docs.html")
	if err != nil {
		return err
	}
	docsHeaders(c)
	return c.Blob(http.StatusOK, "text/html; charset=utf-8", b)
}

func (g *Gateway) docsAsset(name, contentType string) echo.HandlerFunc {
	return func(c echo.Context) error {
		b, err := docsFiles.ReadFile("docs/" + name)
		if err != nil {
			return err
		}
		docsHeaders(c)
		return c.Blob(http.StatusOK, contentType, b)
	}
}
