package kit

import (
	"context"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// LogRing keeps the recent log lines of each service (the "actor" or
// "component" attribute of a record) for the services endpoint. It wraps
// the daemon's slog handler; records below Level are not kept.
type LogRing struct {
	mu    sync.Mutex
	per   int
	Level slog.Level
	rings map[string]*lineRing
	// tail is every service's lines together, with followers (logtail.go).
	tail logTail
}

type lineRing struct {
	lines []string
	next  int
	full  bool
}

// NewLogRing keeps the last per lines of each service.
func NewLogRing(per int) *LogRing {
	return &LogRing{per: per, Level: slog.LevelInfo, rings: map[string]*lineRing{}}
}

// secretKeys are attribute keys whose values are never kept.
var secretKeys = []string{"token", "key", "secret", "password", "authorization"}

func redacted(k string) bool {
	k = strings.ToLower(k)
	for _, s := range secretKeys {
		if strings.Contains(k, s) {
			return true
		}
	}
	return false
}

func (r *LogRing) add(service, line string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	rg := r.rings[service]
	if rg == nil {
		rg = &lineRing{lines: make([]string, r.per)}
		r.rings[service] = rg
	}
	rg.lines[rg.next] = line
	rg.next = (rg.next + 1) % r.per
	if rg.next == 0 {
		rg.full = true
	}
}

// Lines returns a service's kept lines, oldest first.
func (r *LogRing) Lines(service string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	rg := r.rings[service]
	if rg == nil {
		return nil
	}
	var out []string
	if rg.full {
		out = append(out, rg.lines[rg.next:]...)
	}
	return append(out, rg.lines[:rg.next]...)
}

// Services lists the services that logged something.
func (r *LogRing) Services() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, 0, len(r.rings))
	for k := range r.rings {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Handler wraps next: every record still goes to next, and records of a
// service at Level or above are also kept.
func (r *LogRing) Handler(next slog.Handler) slog.Handler {
	return &ringHandler{ring: r, next: next}
}

type ringHandler struct {
	ring    *LogRing
	next    slog.Handler
	service string
	attrs   string // preformatted attributes from WithAttrs
	group   string
}

func (h *ringHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.ring.Level || h.next.Enabled(ctx, l)
}

func (h *ringHandler) Handle(ctx context.Context, rec slog.Record) error {
	if rec.Level >= h.ring.Level {
		service := h.service
		var b strings.Builder
		b.WriteString(rec.Time.UTC().Format(time.RFC3339))
		b.WriteByte(' ')
		b.WriteString(rec.Level.String())
		b.WriteByte(' ')
		b.WriteString(rec.Message)
		b.WriteString(h.attrs)
		rec.Attrs(func(a slog.Attr) bool {
			if a.Key == "actor" || a.Key == "component" {
				service = a.Value.String()
				return true
			}
			appendAttr(&b, h.group, a)
			return true
		})
		if service == "" {
			service = "reachyd"
		}
		line := b.String()
		h.ring.add(service, line)
		h.ring.tail.add(daemonLine(rec, service, line))
	}
	if h.next.Enabled(ctx, rec.Level) {
		return h.next.Handle(ctx, rec)
	}
	return nil
}

// daemonLine turns a service's kept line ("<time> <LEVEL> <message>...")
// into the daemon-wide one: millisecond time, and the service named after
// the level.
func daemonLine(rec slog.Record, service, line string) LogLine {
	rest := line
	// Skip the per-service line's time and level.
	for i := 0; i < 2; i++ {
		if j := strings.IndexByte(rest, ' '); j >= 0 {
			rest = rest[j+1:]
		}
	}
	t := rec.Time
	if t.IsZero() {
		t = time.Now()
	}
	return LogLine{Time: t, Text: t.UTC().Format("2006-01-02T15:04:05.000Z07:00") + " " + rec.Level.String() + " " + service + ": " + rest}
}

func appendAttr(b *strings.Builder, group string, a slog.Attr) {
	if a.Equal(slog.Attr{}) {
		return
	}
	key := a.Key
	if group != "" {
		key = group + "." + key
	}
	b.WriteByte(' ')
	b.WriteString(key)
	b.WriteByte('=')
	if redacted(a.Key) {
		b.WriteString("[redacted]")
		return
	}
	v := a.Value.Resolve().String()
	if v == "" || strings.ContainsAny(v, " \"=\n") {
		v = strconv.Quote(v)
	}
	b.WriteString(v)
}

func (h *ringHandler) WithAttrs(as []slog.Attr) slog.Handler {
	n := *h
	n.next = h.next.WithAttrs(as)
	var b strings.Builder
	b.WriteString(h.attrs)
	for _, a := range as {
		if a.Key == "actor" || a.Key == "component" {
			n.service = a.Value.String()
			continue
		}
		appendAttr(&b, h.group, a)
	}
	n.attrs = b.String()
	return &n
}

func (h *ringHandler) WithGroup(name string) slog.Handler {
	n := *h
	n.next = h.next.WithGroup(name)
	if n.group == "" {
		n.group = name
	} else {
		n.group += "." + name
	}
	return &n
}
