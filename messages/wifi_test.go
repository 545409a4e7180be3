package messages

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

// A password never reaches a log line through a message: protoactor logs
// the message an actor crashed on and dead letters with slog.Any, and fmt
// prints them in errors.
func TestWifiPasswordsArePrintedRedacted(t *testing.T) {
	for _, m := range []any{
		&ConnectWifi{SSID: "home", Password: "hunter22"}, ConnectWifi{SSID: "home", Password: "hunter22"},
		&SetupWifiHotspot{SSID: "ap", Password: "hunter22"}, SetupWifiHotspot{SSID: "ap", Password: "hunter22"},
	} {
		var b bytes.Buffer
		slog.New(slog.NewTextHandler(&b, nil)).Info("dead letter", slog.Any("message", m))
		slog.New(slog.NewJSONHandler(&b, nil)).Info("dead letter", slog.Any("message", m))
		b.WriteString(fmt.Sprintf("%v %+v %s", m, m, m))
		if out := b.String(); strings.Contains(out, "hunter22") || !strings.Contains(out, "redacted") {
			t.Errorf("%T printed as: %s", m, out)
		}
	}
}
