package main

import (
	"log/slog"
	"net"
	"os"

	"reachyd/hfauth"
)

// hfOAuthClientIDDefault is the reference's: HF_OAUTH_CLIENT_ID if set (even
// empty, which turns OAuth sign-in off), else Pollen Robotics' OAuth app.
func hfOAuthClientIDDefault() string {
	if v, ok := os.LookupEnv("HF_OAUTH_CLIENT_ID"); ok {
		return v
	}
	return hfauth.DefaultClientID
}

// hfAuthService configures the Hugging Face sign-in of /api/hf-auth: the
// --hf-endpoint, huggingface_hub's token files, the OAuth app and scopes
// (HF_OAUTH_SCOPES, as the reference), the redirect URI's host (the
// wireless robot's reachy-mini.local) and port (the API's), and the central
// server asked when no relay actor runs (REACHY_CENTRAL_URL, as the
// reference).
func hfAuthService(o *Options, api net.Addr, log *slog.Logger) *hfauth.Service {
	port := o.Port
	if a, ok := api.(*net.TCPAddr); ok {
		port = a.Port
	}
	svc := hfauth.New(hfauth.Config{
		Hub:        hfauth.Hub{Endpoint: o.HFEndpoint},
		ClientID:   o.HFOAuthClientID,
		Scopes:     os.Getenv("HF_OAUTH_SCOPES"),
		Wireless:   o.WirelessVersion,
		Port:       port,
		CentralURL: o.CentralURL, // --central-url, default $REACHY_CENTRAL_URL
	})
	log.Debug("hugging face sign-in", "endpoint", o.HFEndpoint, "token", svc.Store().TokenPath(),
		"oauth", svc.Configured(), "redirect", svc.RedirectURI(false))
	return svc
}
