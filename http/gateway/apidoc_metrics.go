package gateway

// GET /metrics, for the live API document (served on the API unless
// --metrics-addr moves it to a listener of its own).

func init() {
	apiDocs["GET /metrics"] = opDoc{tag: "root", summary: "Prometheus metrics", respType: "text/plain", ext: true,
		desc: "reachyd's metrics in the Prometheus text format (OpenMetrics when asked): control loop, bus, supervision, " +
			"HTTP, WebSocket, apps, jobs, media, Go runtime and process. No authentication, as most exporters; it exposes " +
			"no secrets. See docs/operations.md, Metrics."}
}
