// Package hflink follows the Hugging Face Hub API's paginated listings
// (the Link header's rel="next"), for reachyd's two Hub clients: app spaces
// and recorded-move datasets.
package hflink

import (
	"net/url"
	"strings"
)

// Next returns the rel="next" URL of a Link header when it stays on the
// endpoint's scheme and host (the token must not follow a link elsewhere).
func Next(h string, base *url.URL) string {
	if base == nil {
		return ""
	}
	for _, part := range strings.Split(h, ",") {
		seg := strings.Split(part, ";")
		if len(seg) < 2 {
			continue
		}
		isNext := false
		for _, p := range seg[1:] {
			if strings.ReplaceAll(strings.TrimSpace(p), " ", "") == `rel="next"` {
				isNext = true
			}
		}
		raw := strings.TrimSpace(seg[0])
		if !isNext || !strings.HasPrefix(raw, "<") || !strings.HasSuffix(raw, ">") {
			continue
		}
		u, err := base.Parse(raw[1 : len(raw)-1])
		if err == nil && u.Scheme == base.Scheme && u.Host == base.Host {
			return u.String()
		}
	}
	return ""
}
