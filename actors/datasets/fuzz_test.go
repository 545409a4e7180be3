package datasets

import (
	"encoding/json"
	"path"
	"strings"
	"testing"
)

// FuzzListing feeds arbitrary tree listings to the parser and checks that
// whatever it accepts is safe to write: paths inside the snapshot, links
// into blobs/, blob names of hex digits, sizes within the limits.
func FuzzListing(f *testing.F) {
	oid := strings.Repeat("a", 40)
	sha := strings.Repeat("b", 64)
	f.Add(`[{"type":"file","path":"data/a.json","size":3,"oid":"` + oid + `"}]`)
	f.Add(`[{"type":"file","path":"a.wav","size":3,"oid":"` + oid + `","lfs":{"oid":"` + sha + `","size":3,"pointerSize":130}}]`)
	f.Add(`[{"type":"directory","path":"data","size":0,"oid":"` + oid + `"},{"type":"file","path":"../x.json","size":1,"oid":"` + oid + `"}]`)
	f.Add(`[{"type":"file","path":"data/x/y.json","size":1,"oid":"` + oid + `"}]`)
	f.Add(`{}`)
	lim := Limits{MaxFiles: 50, MaxFileBytes: 1 << 20, MaxTotalBytes: 4 << 20}.withDefaults()
	f.Fuzz(func(t *testing.T, data string) {
		var entries []treeEntry
		if json.Unmarshal([]byte(data), &entries) != nil {
			return
		}
		files, _, err := selectFiles(entries, lim)
		if err != nil {
			return
		}
		var total int64
		for _, fl := range files {
			if checkPath(fl.path) != nil || !wanted(fl.path) {
				t.Fatalf("accepted path %q", fl.path)
			}
			if !(fl.lfs && isHex(fl.etag, 64) || !fl.lfs && isHex(fl.etag, 40)) {
				t.Fatalf("accepted blob name %q", fl.etag)
			}
			target := path.Join("snapshots/c", path.Dir(fl.path), linkTarget(fl.path, fl.etag))
			if target != "blobs/"+fl.etag {
				t.Fatalf("%q links to %q", fl.path, target)
			}
			if fl.size < 0 || fl.size > lim.MaxFileBytes {
				t.Fatalf("accepted size %d", fl.size)
			}
			total += fl.size
		}
		if len(files) > lim.MaxFiles || total > lim.MaxTotalBytes {
			t.Fatalf("accepted %d files, %d bytes", len(files), total)
		}
	})
}

// FuzzRevision: the commit read from a dataset's info is 40 hex digits or
// an error.
func FuzzRevision(f *testing.F) {
	f.Add(`{"sha":"` + strings.Repeat("0", 40) + `"}`)
	f.Add(`{"sha":"../../x"}`)
	f.Fuzz(func(t *testing.T, data string) {
		c, err := parseRevision([]byte(data))
		if err == nil && !isHex(c, 40) {
			t.Fatalf("accepted commit %q", c)
		}
	})
}
