package hfauth

import (
	"net/url"
	"strings"
	"testing"
)

func TestParseTokenResponse(t *testing.T) {
	for in, want := range map[string]TokenResponse{
		`{"access_token":"hf_a","refresh_token":"r","expires_in":28800}`: {AccessToken: "hf_a", RefreshToken: "r", ExpiresIn: 28800},
		`{"accessToken":"hf_b","expires_in":"60"}`:                       {AccessToken: "hf_b", ExpiresIn: 60},
		`{"error":"slow_down","error_description":"x"}`:                  {Error: "slow_down", ErrorDesc: "x"},
		`{"access_token":"hf_c","expires_in":-5,"refresh_token":"a b"}`:  {AccessToken: "hf_c"},
	} {
		got, err := ParseTokenResponse([]byte(in))
		if err != nil || got != want {
			t.Errorf("%s: %+v %v", in, got, err)
		}
	}
	for _, in := range []string{``, `[]`, `{}`, `{"access_token":5}`, `{"access_token":"a\nb"}`, `{"token_type":"bearer"}`} {
		if _, err := ParseTokenResponse([]byte(in)); err == nil {
			t.Errorf("%s accepted", in)
		}
	}
}

func FuzzParseTokenResponse(f *testing.F) {
	f.Add([]byte(`{"access_token":"hf_a","refresh_token":"r","expires_in":28800,"token_type":"bearer"}`))
	f.Add([]byte(`{"accessToken":"hf_b","expires_in":"1e300"}`))
	f.Add([]byte(`{"error":"authorization_pending"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseTokenResponse(b)
		if err != nil {
			return
		}
		if r.AccessToken == "" && r.Error == "" {
			t.Fatal("neither token nor error")
		}
		if r.AccessToken != "" && !validToken(r.AccessToken) || r.RefreshToken != "" && !validToken(r.RefreshToken) {
			t.Fatalf("a token that cannot go in a header: %q %q", r.AccessToken, r.RefreshToken)
		}
		if r.ExpiresIn < 0 || r.ExpiresIn > 10*365*24*3600 {
			t.Fatalf("expires_in %d", r.ExpiresIn)
		}
	})
}

func TestParseDeviceCode(t *testing.T) {
	d, err := ParseDeviceCode([]byte(`{"device_code":"d","user_code":"ABCD-1234","verification_uri":"https://hf.co/oauth/device","expires_in":300}`))
	if err != nil || d.Interval != 5 || d.ExpiresIn != 300 || d.VerificationURIComplete != "https://hf.co/oauth/device" {
		t.Fatalf("%+v %v", d, err)
	}
	d, _ = ParseDeviceCode([]byte(`{"device_code":"d","user_code":"u","verification_uri":"https://a/","verification_uri_complete":"javascript:x","interval":0,"expires_in":99999}`))
	if d.Interval != 1 || d.ExpiresIn != 3600 || d.VerificationURIComplete != "https://a/" {
		t.Errorf("clamps: %+v", d)
	}
	for _, in := range []string{`{"device_code":"d","user_code":"u"}`, `{"user_code":"u","verification_uri":"https://a"}`, `{"device_code":"d","user_code":"u","verification_uri":"ftp://a"}`} {
		if _, err := ParseDeviceCode([]byte(in)); err == nil {
			t.Errorf("%s accepted", in)
		}
	}
}

func FuzzParseDeviceCode(f *testing.F) {
	f.Add([]byte(`{"device_code":"d","user_code":"ABCD-1234","verification_uri":"https://hf.co/oauth/device","verification_uri_complete":"https://hf.co/oauth/device?user_code=ABCD-1234","interval":5,"expires_in":900}`))
	f.Add([]byte(`{"device_code":"d","user_code":"u","verification_uri":"http://x","interval":"7"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := ParseDeviceCode(b)
		if err != nil {
			return
		}
		if d.Interval < 1 || d.Interval > 60 || d.ExpiresIn < 1 || d.ExpiresIn > 3600 {
			t.Fatalf("timing %+v", d)
		}
		if !httpURL(d.VerificationURI) || !httpURL(d.VerificationURIComplete) || d.DeviceCode == "" || d.UserCode == "" {
			t.Fatalf("%+v", d)
		}
	})
}

func FuzzParseCallback(f *testing.F) {
	f.Add("code=abc&state=xyz")
	f.Add("error=access_denied&error_description=%3Cb%3E&state=s")
	f.Add("code=a&code=b;state")
	f.Fuzz(func(t *testing.T, raw string) {
		q, _ := url.ParseQuery(raw)
		c := ParseCallback(q)
		for _, v := range []string{c.Code, c.State, c.Error, c.ErrorDescription} {
			if len(v) > maxCallbackField {
				t.Fatalf("field of %d bytes", len(v))
			}
		}
		// The message adds no markup to the page.
		page := CallbackPage(CallbackResult{Message: c.ErrorDescription})
		bare := CallbackPage(CallbackResult{})
		for _, ch := range []string{"<", ">", `"`, "'"} {
			if strings.Count(page, ch) != strings.Count(bare, ch) {
				t.Fatalf("unescaped %s in the page", ch)
			}
		}
	})
}
