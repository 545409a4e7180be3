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
