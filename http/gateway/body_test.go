package gateway

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
)

// bodyServer serves one route that reads its whole body, behind the
// gateway's body middleware.
func bodyServer(t *testing.T) string {
	t.Helper()
	g := &Gateway{}
	e := echo.New()
	e.Use(g.bodyLimit(1 << 20))
	e.POST("/echo", func(c echo.Context) error {
		b, err := readBody(c)
		if err != nil {
			return bodyError(c, err)
		}
		return c.String(http.StatusOK, fmt.Sprint(len(b)))
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: e, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// A body trickled a byte every 100 ms is cut off once it falls behind
// the grace plus the minimum rate; a body that keeps up is read whole.
func TestSlowBodyDropped(t *testing.T) {
	old := bodyGrace
	bodyGrace = 300 * time.Millisecond
	defer func() { bodyGrace = old }()
	addr := bodyServer(t)

	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n")
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
			if _, err := c.Write([]byte("x")); err != nil {
				return
			}
		}
	}()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no answer to a trickled body: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusRequestTimeout || !strings.Contains(string(b), "too slowly") {
		t.Fatalf("trickled body: %d %s", resp.StatusCode, b)
	}

	// 64 KiB in 16 pieces over 1.6 s, well past the grace: 40 KiB/s keeps
	// ahead of the minimum rate.
	pr, pw := io.Pipe()
	go func() {
		chunk := strings.Repeat("y", 4<<10)
		for i := 0; i < 16; i++ {
			time.Sleep(100 * time.Millisecond)
			if _, err := io.WriteString(pw, chunk); err != nil {
				return
			}
		}
		pw.Close()
	}()
	req, _ := http.NewRequest("POST", "http://"+addr+"/echo", pr)
	req.ContentLength = 64 << 10
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "65536" {
		t.Fatalf("steady body: %d %s", resp.StatusCode, b)
	}
}
