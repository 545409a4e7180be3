package validate

import (
	"net/url"
	"testing"
)

func TestQueryString(t *testing.T) {
	q, _ := url.ParseQuery("ssid=a&ssid=b&empty=")
	if s, errs := QueryString(q, "ssid", nil); errs != nil || s != "b" {
		t.Errorf("repeated: %q %v (Starlette keeps the last)", s, errs)
	}
	if s, errs := QueryString(q, "empty", nil); errs != nil || s != "" {
		t.Errorf("empty: %q %v", s, errs)
	}
	def := "reachy-mini-ap"
	if s, errs := QueryString(q, "absent", &def); errs != nil || s != def {
		t.Errorf("default: %q %v", s, errs)
	}
	_, errs := QueryString(q, "password", nil)
	if string(errs.Body()) != `{"detail":[{"type":"missing","loc":["query","password"],"msg":"Field required","input":null}]}` || errs.Status() != 422 {
		t.Errorf("missing: %d %s", errs.Status(), errs.Body())
	}
}

func TestSealedConnect(t *testing.T) {
	v, _ := DecodeBody([]byte(`{"ssid":"home","kid":"k","epk":"e","nonce":"n","ct":"c","extra":1}`))
	s, errs := SealedConnectFromValue(v)
	if errs != nil || s != (SealedConnect{SSID: "home", Kid: "k", EPK: "e", Nonce: "n", CT: "c"}) {
		t.Errorf("%+v %v", s, errs)
	}
	for body, want := range map[string]string{
		``:   `{"detail":[{"type":"missing","loc":["body"],"msg":"Field required","input":null}]}`,
		`[]`: `{"detail":[{"type":"model_attributes_type","loc":["body"],"msg":"Input should be a valid dictionary or object to extract fields from","input":[]}]}`,
		`{"ssid":1,"kid":"k","epk":"e","nonce":"n"}`: `{"detail":[{"type":"string_type","loc":["body","ssid"],"msg":"Input should be a valid string","input":1},{"type":"missing","loc":["body","ct"],"msg":"Field required","input":{"ssid":1,"kid":"k","epk":"e","nonce":"n"}}]}`,
	} {
		v, _ := DecodeBody([]byte(body))
		_, errs := SealedConnectFromValue(v)
		if string(errs.Body()) != want {
			t.Errorf("%s:\n got %s\nwant %s", body, errs.Body(), want)
		}
	}
}

// FuzzSealedConnect: any body gives a model or pydantic errors, never a
// panic.
func FuzzSealedConnect(f *testing.F) {
	f.Add([]byte(`{"ssid":"home","kid":"k","epk":"e","nonce":"n","ct":"c"}`))
	f.Add([]byte(`{"ssid":null}`))
	f.Add([]byte(`[1,2]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		v, errs := DecodeBody(body)
		if errs != nil {
			return
		}
		s, errs := SealedConnectFromValue(v)
		if errs == nil && v == nil {
			t.Fatalf("no body accepted: %+v", s)
		}
	})
}
