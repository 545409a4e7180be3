package datasets

import (
	"strconv"
	"testing"
)

func TestCoreSharesOneDownloadPerDataset(t *testing.T) {
	c := NewCore()
	n := 0
	newJob := func() string { n++; return "job" + strconv.Itoa(n) }
	job, start := c.Join("a/b", Waiter{}, newJob)
	if !start || job != "job1" {
		t.Fatalf("first join: %s %v", job, start)
	}
	if job, start := c.Join("a/b", Waiter{List: true}, newJob); start || job != "job1" {
		t.Fatalf("second join: %s %v", job, start)
	}
	if _, start := c.Join("c/d", Waiter{}, newJob); !start {
		t.Fatal("another dataset shares the download")
	}
	if c.Waiting("a/b") != 2 || c.Len() != 2 {
		t.Fatalf("waiting %d, len %d", c.Waiting("a/b"), c.Len())
	}
	job, ws := c.Done("a/b")
	if job != "job1" || len(ws) != 2 || ws[0].List || !ws[1].List {
		t.Fatalf("done: %s %+v", job, ws)
	}
	if _, running := c.Running("a/b"); running {
		t.Fatal("still running")
	}
	if job, start := c.Join("a/b", Waiter{}, newJob); !start || job != "job3" {
		t.Fatalf("join after done: %s %v", job, start)
	}
	if _, ws := c.Done("x/y"); ws != nil {
		t.Fatal("waiters of a download that never ran")
	}
}
