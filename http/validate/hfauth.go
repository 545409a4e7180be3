package validate

// TokenRequestFromValue validates the reference's TokenRequest body of
// POST /api/hf-auth/save-token: {"token": str}.
func TokenRequestFromValue(v any) (string, Errors) {
	return requiredField(v, "token", String)
}
