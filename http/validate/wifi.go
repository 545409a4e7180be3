package validate

import "net/url"

// QueryString validates a str query parameter (loc ["query", name]). def
// nil makes it required: absent gives FastAPI's missing error with input
// null. An empty value (?x=) is a value.
func QueryString(values url.Values, name string, def *string) (string, Errors) {
	s, ok := queryValue(values, name)
	if ok {
		return s, nil
	}
	if def != nil {
		return *def, nil
	}
	var errs Errors
	Missing([]any{"query", name}, nil, &errs)
	return "", errs
}

// SealedConnect is the reference's SealedConnect body model (POST
// /wifi/connect_sealed): five required strings. Their sizes are checked
// where they are decoded (package wifi), as decrypt_failed errors.
type SealedConnect struct {
	SSID, Kid, EPK, Nonce, CT string
}

// SealedConnectFromValue validates a decoded SealedConnect body.
func SealedConnectFromValue(v any) (SealedConnect, Errors) {
	var errs Errors
	get, ok := bodyModel(v, &errs)
	if !ok {
		return SealedConnect{}, errs
	}
	var out SealedConnect
	for _, f := range []struct {
		key string
		dst *string
	}{{"ssid", &out.SSID}, {"kid", &out.Kid}, {"epk", &out.EPK}, {"nonce", &out.Nonce}, {"ct", &out.CT}} {
		x, ok := get(f.key)
		if !ok {
			Missing([]any{"body", f.key}, v, &errs)
			continue
		}
		if s, ok := String(x, []any{"body", f.key}, &errs); ok {
			*f.dst = s
		}
	}
	if errs != nil {
		return SealedConnect{}, errs
	}
	return out, nil
}
