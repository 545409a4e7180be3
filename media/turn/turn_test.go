package turn

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	good := []struct {
		body string
		want []Server
	}{
		{`{"iceServers":[{"urls":"turn:t.example:3478","username":"u","credential":"p"}]}`,
			[]Server{{URLs: []string{"turn:t.example:3478"}, Username: "u", Credential: "p"}}},
		{`{"iceServers":[{"urls":["stun:s.example:3478"]},{"urls":["turn:t.example:3478?transport=udp","turns:t.example:443?transport=tcp"],"username":"1733400000:u","credential":"a/b+c=","credentialType":"password"}],"ttl":600}`,
			[]Server{{URLs: []string{"stun:s.example:3478"}},
				{URLs: []string{"turn:t.example:3478?transport=udp", "turns:t.example:443?transport=tcp"}, Username: "1733400000:u", Credential: "a/b+c="}}},
	}
	for _, g := range good {
		got, err := Parse([]byte(g.body))
		if err != nil {
			t.Fatalf("Parse(%s): %v", g.body, err)
		}
		if len(got) != len(g.want) {
			t.Fatalf("Parse(%s) = %+v", g.body, got)
		}
		for i := range got {
			if strings.Join(got[i].URLs, " ") != strings.Join(g.want[i].URLs, " ") || got[i].Username != g.want[i].Username || got[i].Credential != g.want[i].Credential {
				t.Errorf("Parse(%s)[%d] = %+v, want %+v", g.body, i, got[i], g.want[i])
			}
		}
	}
	many := `{"iceServers":[` + strings.Repeat(`{"urls":"stun:a.b"},`, MaxServers) + `{"urls":"stun:a.b"}]}`
	bad := []string{
		``, `null`, `[]`, `{}`, `{"iceServers":[]}`, `{"iceServers":null}`, many,
		`{"iceServers":[{"urls":"turn:t.example:3478"}]}`,                              // TURN without credentials
		`{"iceServers":[{"urls":"turn:t.example:3478","username":"u"}]}`,               // no credential
		`{"iceServers":[{"urls":"http://t.example","username":"u","credential":"p"}]}`, // not an ICE URI
		`{"iceServers":[{"urls":7}]}`, `{"iceServers":[{"urls":[]}]}`, `{"iceServers":[{}]}`, `{"iceServers":[{"urls":[7]}]}`,
		`{"iceServers":[{"urls":"turn:t.example","username":"u\n","credential":"p"}]}`,
		`{"iceServers":[{"urls":"turn:t.example","username":"u","credential":"` + strings.Repeat("x", MaxCredential+1) + `"}]}`,
		`{"iceServers":[{"urls":"stun:` + strings.Repeat("a", MaxURLLen) + `"}]}`,
		`{"iceServers":[{"urls":[` + strings.Repeat(`"stun:a.b",`, MaxURLs) + `"stun:a.b"]}]}`,
		`{"iceServers":[{"urls":"stun:a.b"}]}` + strings.Repeat(" ", MaxBody),
	}
	for _, b := range bad {
		if s, err := Parse([]byte(b)); err == nil || !errors.Is(err, ErrInvalid) {
			t.Errorf("Parse(%.80q) = %+v, %v; want ErrInvalid", b, s, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"iceServers":[{"urls":"turn:t.example:3478","username":"u","credential":"p"}]}`))
	f.Add([]byte(`{"iceServers":[{"urls":["stun:s:1","turns:t:443?transport=tcp"],"username":"u","credential":"p"}]}`))
	f.Add([]byte(`{"iceServers":[{"urls":[[[[]]]]}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := Parse(b)
		if err != nil {
			return
		}
		if len(s) == 0 || len(s) > MaxServers {
			t.Fatalf("accepted %d servers", len(s))
		}
		for _, srv := range s {
			if err := checkServer(srv); err != nil || len(srv.URLs) == 0 || len(srv.URLs) > MaxURLs {
				t.Fatalf("accepted %+v: %v", srv, err)
			}
		}
	})
}

func TestClientFetch(t *testing.T) {
	var mu sync.Mutex
	var gotAuth, gotQuery string
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		gotAuth, gotQuery = r.Header.Get("Authorization"), r.URL.RawQuery
		st := status
		mu.Unlock()
		w.WriteHeader(st)
		_, _ = w.Write([]byte(`{"iceServers":[{"urls":"turn:127.0.0.1:3478","username":"u","credential":"p"}]}`))
	}))
	defer srv.Close()
	c := &Client{URL: srv.URL + "/credentials", TTL: 120 * time.Second}
	s, err := c.Fetch(context.Background(), "hf_secret")
	if err != nil || len(s) != 1 || s[0].Username != "u" {
		t.Fatalf("Fetch = %+v, %v", s, err)
	}
	if gotAuth != "Bearer hf_secret" || gotQuery != "ttl=120" {
		t.Errorf("request: Authorization %q, query %q", gotAuth, gotQuery)
	}
	if strings.Contains(gotQuery, "hf_secret") {
		t.Error("the token is in the URL")
	}
	if _, err := c.Fetch(context.Background(), ""); !errors.Is(err, ErrNoToken) {
		t.Errorf("no token: %v", err)
	}
	mu.Lock()
	status = http.StatusUnauthorized
	mu.Unlock()
	if _, err := c.Fetch(context.Background(), "bad"); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("401: %v", err)
	}
	mu.Lock()
	status = http.StatusBadGateway
	mu.Unlock()
	if _, err := c.Fetch(context.Background(), "x"); err == nil || !strings.Contains(err.Error(), "502") {
		t.Errorf("502: %v", err)
	}
	for _, u := range []string{"ftp://x/y", "http://user:pw@x/y", "relative"} {
		if _, err := (&Client{URL: u}).RequestURL(); err == nil {
			t.Errorf("RequestURL(%q) accepted", u)
		}
	}
	if u, _ := (&Client{}).RequestURL(); u != DefaultURL+"?ttl=600" {
		t.Errorf("default URL %q", u)
	}
}

func TestClientRedirectElsewhere(t *testing.T) {
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("the redirect was followed (Authorization %q)", r.Header.Get("Authorization"))
	}))
	defer other.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, strings.Replace(other.URL, "127.0.0.1", "localhost", 1)+"/c", http.StatusFound)
	}))
	defer srv.Close()
	if _, err := (&Client{URL: srv.URL}).Fetch(context.Background(), "tok"); err == nil {
		t.Fatal("a redirect to another host was accepted")
	}
}

func TestCoreSchedule(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	srv := []Server{{URLs: []string{"turn:a:1"}, Username: "u", Credential: "p"}}
	c := Core{TTL: 600 * time.Second}

	// No token: nothing to fetch, woken by the token poll.
	if _, changed := c.Token("", t0); changed || c.ShouldFetch(t0) {
		t.Fatal("no token: fetch planned or servers changed")
	}
	if w := c.Wake(t0); w != t0.Add(TokenPoll) {
		t.Errorf("wake without token %v", w.Sub(t0))
	}
	// A token: fetch at once.
	c.Token("tok", t0)
	if !c.ShouldFetch(t0) {
		t.Fatal("token given: no fetch due")
	}
	if got := c.Fetched(srv, t0); len(got) != 1 {
		t.Fatalf("Fetched applies %+v", got)
	}
	// Next at TTL/2.
	if c.ShouldFetch(t0.Add(299*time.Second)) || !c.ShouldFetch(t0.Add(300*time.Second)) {
		t.Errorf("refresh due at %v, want TTL/2", c.Due().Sub(t0))
	}
	if w := c.Wake(t0); w != t0.Add(TokenPoll) {
		t.Errorf("wake %v", w.Sub(t0))
	}
	// A failure at TTL/2: 30 s (±10 %) later, then doubling; servers kept
	// until they expire.
	t1 := t0.Add(300 * time.Second)
	d := c.Failed(t1, 0.5)
	if d != 30*time.Second {
		t.Errorf("first retry after %v, want 30s", d)
	}
	d = c.Failed(t1.Add(d), 0.5)
	if d < 59*time.Second || d > 61*time.Second {
		t.Errorf("second retry after %v, want about 60s", d)
	}
	for range 20 {
		d = c.Failed(t1, 0.5)
	}
	if d != RetryPolicy.Max {
		t.Errorf("retry capped at %v, want %v", d, RetryPolicy.Max)
	}
	if _, changed := c.Expire(t0.Add(599 * time.Second)); changed || len(c.Servers()) != 1 {
		t.Error("servers dropped before their expiry")
	}
	if w := c.Wake(t0.Add(590 * time.Second)); w != t0.Add(600*time.Second) {
		t.Errorf("wake before expiry at %v", w.Sub(t0))
	}
	if s, changed := c.Expire(t0.Add(600 * time.Second)); !changed || s != nil {
		t.Errorf("expiry: %+v %v", s, changed)
	}
	// A success resets the retry.
	c.Fetched(srv, t1)
	if d := c.Failed(t1, 0.5); d != 30*time.Second {
		t.Errorf("retry after a success: %v", d)
	}
	// A new token: fetch at once; the old servers stay until replaced.
	c.Fetched(srv, t1)
	if _, changed := c.Token("tok2", t1); changed || !c.ShouldFetch(t1) || len(c.Servers()) != 1 {
		t.Error("token change: no immediate fetch, or servers dropped")
	}
	// The same token again changes nothing.
	c.Fetched(srv, t1)
	if _, changed := c.Token("tok2", t1); changed || c.ShouldFetch(t1) {
		t.Error("same token: refetch")
	}
	// Sign-out: servers dropped, nothing planned.
	if s, changed := c.Token("", t1); !changed || s != nil || c.ShouldFetch(t1.Add(time.Hour)) {
		t.Error("sign-out kept the servers or planned a fetch")
	}
	// A tiny TTL still waits MinRefresh.
	c2 := Core{TTL: 2 * time.Second}
	c2.Token("t", t0)
	c2.Fetched(srv, t0)
	if c2.Due() != t0.Add(MinRefresh) {
		t.Errorf("tiny TTL: next at %v", c2.Due().Sub(t0))
	}
}

func TestMerge(t *testing.T) {
	st := []Server{{URLs: []string{"stun:s:1"}}}
	ex := []Server{{URLs: []string{"turn:t:1"}, Username: "u", Credential: "p"}}
	m := Merge(st, ex)
	if len(m) != 2 || m[0].URLs[0] != "stun:s:1" || m[1].URLs[0] != "turn:t:1" {
		t.Errorf("Merge = %+v", m)
	}
	m[0].URLs = nil
	if st[0].URLs == nil {
		t.Error("Merge aliased its input slice")
	}
	if len(Merge(nil, nil)) != 0 {
		t.Error("Merge(nil, nil) not empty")
	}
}

// fakeClock fires timers only when the test says.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []fakeTimer
	armed  chan time.Duration
}

type fakeTimer struct {
	at time.Time
	ch chan time.Time
}

func newFakeClock(t0 time.Time) *fakeClock {
	return &fakeClock{now: t0, armed: make(chan time.Duration, 100)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	ch := make(chan time.Time, 1)
	c.timers = append(c.timers, fakeTimer{at: c.now.Add(d), ch: ch})
	c.mu.Unlock()
	c.armed <- d
	return ch
}

// advance moves the clock and fires the timers due.
func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	keep := c.timers[:0]
	for _, tm := range c.timers {
		if !tm.at.After(c.now) {
			tm.ch <- c.now
		} else {
			keep = append(keep, tm)
		}
	}
	c.timers = keep
}

func TestRefresher(t *testing.T) {
	clk := newFakeClock(time.Unix(1_700_000_000, 0))
	var mu sync.Mutex
	token := ""
	fail := false
	var fetchedWith []string
	applied := make(chan []Server, 10)
	r := New(Config{
		TTL:   600 * time.Second,
		Clock: clk,
		Token: func() string { mu.Lock(); defer mu.Unlock(); return token },
		Fetch: func(_ context.Context, tok string) ([]Server, error) {
			mu.Lock()
			defer mu.Unlock()
			fetchedWith = append(fetchedWith, tok)
			if fail {
				return nil, errors.New("down")
			}
			return []Server{{URLs: []string{"turn:t:1"}, Username: tok, Credential: "p"}}, nil
		},
		Apply:  func(s []Server) error { applied <- s; return nil },
		Random: func() float64 { return 0.5 },
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); r.Run(ctx) }()
	defer func() { cancel(); <-done }()

	wait := func() time.Duration {
		t.Helper()
		select {
		case d := <-clk.armed:
			return d
		case <-time.After(10 * time.Second):
			t.Fatal("the refresher never waited")
		}
		return 0
	}
	applyWait := func() []Server {
		t.Helper()
		select {
		case s := <-applied:
			return s
		case <-time.After(10 * time.Second):
			t.Fatal("nothing applied")
		}
		return nil
	}
	// No token: it waits for the poll, fetching nothing.
	if d := wait(); d != TokenPoll {
		t.Errorf("no token: waits %v", d)
	}
	// Sign-in and Kick: fetched and applied at once.
	mu.Lock()
	token = "tok1"
	mu.Unlock()
	r.Kick()
	if s := applyWait(); len(s) != 1 || s[0].Username != "tok1" {
		t.Fatalf("applied %+v", s)
	}
	if d := wait(); d != TokenPoll {
		t.Errorf("after a fetch waits %v (the token poll comes first)", d)
	}
	if st := r.Status(); st.Servers != 1 || !st.Token || st.LastError != "" {
		t.Errorf("status %+v", st)
	}
	// Time passes to TTL/2 (five token polls): refreshed.
	for range 4 {
		clk.advance(TokenPoll)
		wait()
	}
	clk.advance(TokenPoll)
	if s := applyWait(); len(s) != 1 {
		t.Fatalf("refresh at TTL/2 applied %+v", s)
	}
	d := wait()
	// The next refresh (at 600 s) fails: retried 30 s later, the servers
	// kept until their expiry (900 s), then dropped.
	mu.Lock()
	fail = true
	mu.Unlock()
	for range 5 {
		clk.advance(d)
		d = wait()
	}
	if d != 30*time.Second {
		t.Errorf("after a failure waits %v, want 30s", d)
	}
	if st := r.Status(); st.LastError == "" || st.Servers != 1 {
		t.Errorf("status after a failure %+v", st)
	}
	for i := 0; i < 10; i++ {
		clk.advance(d)
		select {
		case s := <-applied:
			if s != nil {
				t.Fatalf("applied %+v during failures", s)
			}
			if now := clk.Now(); now.Sub(time.Unix(1_700_000_000, 0)) != 900*time.Second {
				t.Errorf("dropped at %v, want at the expiry (900 s)", now.Sub(time.Unix(1_700_000_000, 0)))
			}
			goto expired
		case d = <-clk.armed:
		case <-time.After(10 * time.Second):
			t.Fatal("stuck")
		}
	}
	t.Fatal("the servers never expired")
expired:
	wait()
	// Sign-out changes nothing more (already dropped); a new token is
	// fetched at once on Kick.
	mu.Lock()
	fail, token = false, "tok2"
	mu.Unlock()
	r.Kick()
	if s := applyWait(); len(s) != 1 || s[0].Username != "tok2" {
		t.Fatalf("after the new token applied %+v", s)
	}
	wait()
	mu.Lock()
	token = ""
	mu.Unlock()
	r.Kick()
	if s := applyWait(); s != nil {
		t.Fatalf("sign-out applied %+v", s)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, tok := range fetchedWith {
		if tok == "" {
			t.Error("fetched without a token")
		}
	}
}

func TestLoopbackURL(t *testing.T) {
	for u, want := range map[string]bool{
		"http://127.0.0.1:5/c": true, "http://localhost/c": true, "http://[::1]:8/c": true,
		DefaultURL: false, "": false, "http://10.0.0.1/c": false,
	} {
		if LoopbackURL(u) != want {
			t.Errorf("LoopbackURL(%q) != %v", u, want)
		}
	}
}
