package centraltest

import (
	"net/http"
	"strings"
	"testing"
)

// The fake's own checks: Bearer tokens, tokens in URLs counted, a POST
// without a stream refused, the switches.
func TestServerChecks(t *testing.T) {
	s := New("tok")
	defer s.Close()
	get := func(path, token string) int {
		req, _ := http.NewRequest(http.MethodGet, s.URL()+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if c := get("/api/robot-status", ""); c != 401 {
		t.Fatalf("no token: %d", c)
	}
	if c := get("/api/robot-status", "other"); c != 401 {
		t.Fatalf("wrong token: %d", c)
	}
	if c := get("/api/robot-status", "tok"); c != 200 {
		t.Fatalf("token: %d", c)
	}
	if c := get("/api/robot-status?token=tok", "tok"); c != 200 || s.TokenInURL() != 1 {
		t.Fatalf("token in URL: %d, counted %d", c, s.TokenInURL())
	}
	req, _ := http.NewRequest(http.MethodPost, s.URL()+"/send", strings.NewReader(`{"type":"list"}`))
	req.Header.Set("Authorization", "Bearer tok")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Fatalf("POST without a stream: %d", resp.StatusCode)
	}
	s.Fail.Store(503)
	if c := get("/api/robot-status", "tok"); c != 503 {
		t.Fatalf("Fail: %d", c)
	}
}

// A browser's preflight is answered without a token and allows the
// Authorization header; the answers themselves carry the origin grant.
func TestServerCORS(t *testing.T) {
	s := New("tok")
	defer s.Close()
	req, _ := http.NewRequest(http.MethodOptions, s.URL()+"/send", nil)
	req.Header.Set("Origin", "http://127.0.0.1:1")
	req.Header.Set("Access-Control-Request-Method", "POST")
	req.Header.Set("Access-Control-Request-Headers", "authorization,content-type")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	h := resp.Header
	if resp.StatusCode != http.StatusOK || h.Get("Access-Control-Allow-Origin") != "*" ||
		!strings.Contains(h.Get("Access-Control-Allow-Headers"), "authorization") ||
		!strings.Contains(h.Get("Access-Control-Allow-Methods"), "POST") || s.Preflights() != 1 {
		t.Fatalf("preflight: %d %v (counted %d)", resp.StatusCode, h, s.Preflights())
	}
	req, _ = http.NewRequest(http.MethodGet, s.URL()+"/api/robot-status", nil)
	req.Header.Set("Origin", "http://127.0.0.1:1")
	req.Header.Set("Authorization", "Bearer tok")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Fatalf("GET: %d %v", resp.StatusCode, resp.Header)
	}
}
