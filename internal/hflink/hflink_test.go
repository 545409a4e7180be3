package hflink

import (
	"net/url"
	"testing"
)

func TestNextStaysOnTheEndpoint(t *testing.T) {
	base, _ := url.Parse("https://hub.example")
	for h, want := range map[string]string{
		`<https://hub.example/api/x?cursor=2>; rel="next"`:                         "https://hub.example/api/x?cursor=2",
		`</api/x?cursor=2>; rel="next"`:                                            "https://hub.example/api/x?cursor=2",
		`<https://evil.example/api/x?cursor=2>; rel="next"`:                        "",
		`<http://hub.example/api/x>; rel="next"`:                                   "",
		`<https://hub.example/api/x>; rel="prev"`:                                  "",
		`<https://hub.example/a>; rel="prev", <https://hub.example/b>; rel="next"`: "https://hub.example/b",
		`garbage`: "",
	} {
		if got := Next(h, base); got != want {
			t.Errorf("Next(%q) = %q, want %q", h, got, want)
		}
	}
}
