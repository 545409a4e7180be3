package mujoco

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// The reference's MJCF is written for MuJoCo 3.3 and uses five things
// MuJoCo 2.2 does not know (hardware.md section 5). Patch22 rewrites a copy
// of a scene and the files it includes so that 2.2 loads it:
//
//   - dampratio and kv on position actuators and their defaults: dropped
//     (the actuators keep kp and forcerange; joint damping stays);
//   - resolution on cameras: dropped (the renderer picks the size);
//   - inheritrange on actuators: dropped (New sets every motor's control
//     range from the motor limits);
//   - <connect site1 site2>: rewritten as <connect body1 body2 anchor>, with
//     the bodies holding the two sites and site1's position in body1 as the
//     anchor, which is exact when the sites coincide at qpos0, as the
//     reference's closing sites do.
//
// The copies go to a temporary folder laid out as the original (scenes/ and
// the model beside it), with the original's other entries (assets: meshes,
// textures) linked in, so relative paths resolve as before.

// Limits on what Patch22 reads: the reference's model is 59 kB.
const (
	maxMJCF     = 4 << 20
	maxIncludes = 16
	maxDepth    = 64
	maxLinks    = 1000
)

var errMJCF = errors.New("mjcf")

// patchAttrs are the attributes dropped, by element.
var patchAttrs = map[string][]string{
	"position": {"dampratio", "kv", "inheritrange"},
	"general":  {"inheritrange"},
	"camera":   {"resolution"},
}

type siteInfo struct{ body, pos string }

// Patch22 writes a MuJoCo 2.2 version of the scene file scene (and of the
// files it includes, one level, as the reference's scenes include the
// robot) into a new temporary folder, and returns the scene's copy and a
// function removing the folder.
func Patch22(scene string) (string, func(), error) {
	scene, err := filepath.Abs(scene)
	if err != nil {
		return "", nil, err
	}
	sceneDir := filepath.Dir(scene)
	main, err := readMJCF(scene)
	if err != nil {
		return "", nil, err
	}
	files := map[string][]byte{scene: main}
	incs, err := includes(main)
	if err != nil {
		return "", nil, fmt.Errorf("%s: %w", scene, err)
	}
	// root is the folder copied: the scene's, or its parent when the scene
	// includes a file there (the reference's scenes/ include ../reachy_mini.xml).
	root := sceneDir
	within := func(dir, p string) bool { return strings.HasPrefix(p, dir+string(filepath.Separator)) }
	for _, inc := range incs {
		p := filepath.Clean(filepath.Join(sceneDir, inc))
		switch {
		case filepath.IsAbs(inc):
			return "", nil, fmt.Errorf("%w: %s includes an absolute path %s", errMJCF, scene, inc)
		case within(root, p):
		case within(filepath.Dir(sceneDir), p):
			root = filepath.Dir(sceneDir)
		default:
			return "", nil, fmt.Errorf("%w: %s includes %s, outside its folder and its parent", errMJCF, scene, inc)
		}
		if files[p], err = readMJCF(p); err != nil {
			return "", nil, err
		}
	}
	sites := map[string]siteInfo{}
	for p, b := range files {
		if err := collectSites(b, sites); err != nil {
			return "", nil, fmt.Errorf("%s: %w", p, err)
		}
	}
	tmp, err := os.MkdirTemp("", "reachyd-mjcf-*")
	if err != nil {
		return "", nil, err
	}
	cleanup := func() { os.RemoveAll(tmp) }
	fail := func(err error) (string, func(), error) { cleanup(); return "", nil, err }
	for p, b := range files {
		out, err := patchMJCF(b, sites)
		if err != nil {
			return fail(fmt.Errorf("%s: %w", p, err))
		}
		rel, _ := filepath.Rel(root, p)
		dst := filepath.Join(tmp, rel)
		if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
			return fail(err)
		}
		if err := os.WriteFile(dst, out, 0o600); err != nil {
			return fail(err)
		}
	}
	// Everything else of the mjcf folder (assets/) is linked, not copied.
	entries, err := os.ReadDir(root)
	if err != nil {
		return fail(err)
	}
	if len(entries) > maxLinks {
		return fail(fmt.Errorf("%w: %s has more than %d entries", errMJCF, root, maxLinks))
	}
	for _, e := range entries {
		dst := filepath.Join(tmp, e.Name())
		if _, err := os.Lstat(dst); err == nil {
			continue
		}
		if err := os.Symlink(filepath.Join(root, e.Name()), dst); err != nil {
			return fail(err)
		}
	}
	rel, _ := filepath.Rel(root, scene)
	return filepath.Join(tmp, rel), cleanup, nil
}

func readMJCF(p string) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxMJCF+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxMJCF {
		return nil, fmt.Errorf("%w: %s is larger than %d bytes", errMJCF, p, maxMJCF)
	}
	return b, nil
}

func attr(se xml.StartElement, name string) (string, bool) {
	for _, a := range se.Attr {
		if a.Name.Local == name {
			return a.Value, true
		}
	}
	return "", false
}

// walk calls f for each start element with the names of the enclosing
// bodies (innermost last), within the depth limit.
func walk(b []byte, f func(se xml.StartElement, bodies []string) error) error {
	d := xml.NewDecoder(bytes.NewReader(b))
	var stack []string // element names
	var bodies []string
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%w: %w", errMJCF, err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if len(stack) >= maxDepth {
				return fmt.Errorf("%w: nested deeper than %d", errMJCF, maxDepth)
			}
			if err := f(t, bodies); err != nil {
				return err
			}
			stack = append(stack, t.Name.Local)
			if t.Name.Local == "body" {
				n, _ := attr(t, "name")
				bodies = append(bodies, n)
			}
		case xml.EndElement:
			if len(stack) == 0 {
				return fmt.Errorf("%w: unbalanced </%s>", errMJCF, t.Name.Local)
			}
			if stack[len(stack)-1] == "body" {
				bodies = bodies[:len(bodies)-1]
			}
			stack = stack[:len(stack)-1]
		}
	}
}

func includes(b []byte) ([]string, error) {
	var out []string
	err := walk(b, func(se xml.StartElement, _ []string) error {
		if se.Name.Local == "include" {
			if f, ok := attr(se, "file"); ok {
				if len(out) >= maxIncludes {
					return fmt.Errorf("%w: more than %d includes", errMJCF, maxIncludes)
				}
				out = append(out, f)
			}
		}
		return nil
	})
	return out, err
}

func collectSites(b []byte, sites map[string]siteInfo) error {
	return walk(b, func(se xml.StartElement, bodies []string) error {
		if se.Name.Local != "site" || len(bodies) == 0 {
			return nil
		}
		name, ok := attr(se, "name")
		if !ok {
			return nil
		}
		pos, ok := attr(se, "pos")
		if !ok {
			pos = "0 0 0"
		}
		sites[name] = siteInfo{body: bodies[len(bodies)-1], pos: pos}
		return nil
	})
}

// patchMJCF re-encodes b with the attributes MuJoCo 2.2 lacks dropped and
// site connects rewritten.
func patchMJCF(b []byte, sites map[string]siteInfo) ([]byte, error) {
	d := xml.NewDecoder(bytes.NewReader(b))
	var out bytes.Buffer
	e := xml.NewEncoder(&out)
	depth := 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %w", errMJCF, err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if depth++; depth > maxDepth {
				return nil, fmt.Errorf("%w: nested deeper than %d", errMJCF, maxDepth)
			}
			t = t.Copy()
			// MJCF has no namespaces, and a prefixed name can come out
			// of the encoder as one that does not read back ("<A:0/>"
			// becomes "<0 xmlns=...>").
			if t.Name.Space != "" {
				return nil, fmt.Errorf("%w: element %s:%s: MJCF has no XML namespaces", errMJCF, t.Name.Space, t.Name.Local)
			}
			for _, a := range t.Attr {
				if a.Name.Space != "" {
					return nil, fmt.Errorf("%w: attribute %s:%s: MJCF has no XML namespaces", errMJCF, a.Name.Space, a.Name.Local)
				}
			}
			if drop := patchAttrs[t.Name.Local]; drop != nil {
				kept := t.Attr[:0]
				for _, a := range t.Attr {
					if !contains(drop, a.Name.Local) {
						kept = append(kept, a)
					}
				}
				t.Attr = kept
			}
			if t.Name.Local == "connect" {
				if t, err = rewriteConnect(t, sites); err != nil {
					return nil, err
				}
			}
			tok = t
		case xml.EndElement:
			depth--
		case xml.ProcInst:
			if t.Target == "xml" {
				continue // the encoder writes none; MuJoCo needs none
			}
		}
		if err := e.EncodeToken(tok); err != nil {
			return nil, fmt.Errorf("%w: %w", errMJCF, err)
		}
	}
	if err := e.Flush(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func rewriteConnect(t xml.StartElement, sites map[string]siteInfo) (xml.StartElement, error) {
	s1, ok1 := attr(t, "site1")
	s2, ok2 := attr(t, "site2")
	if !ok1 || !ok2 {
		return t, nil
	}
	a, okA := sites[s1]
	b, okB := sites[s2]
	if !okA || !okB || a.body == "" || b.body == "" {
		return t, fmt.Errorf("%w: connect %s %s: a site is missing or in an unnamed body", errMJCF, s1, s2)
	}
	var attrs []xml.Attr
	for _, x := range t.Attr {
		if x.Name.Local != "site1" && x.Name.Local != "site2" {
			attrs = append(attrs, x)
		}
	}
	attrs = append(attrs,
		xml.Attr{Name: xml.Name{Local: "body1"}, Value: a.body},
		xml.Attr{Name: xml.Name{Local: "body2"}, Value: b.body},
		xml.Attr{Name: xml.Name{Local: "anchor"}, Value: a.pos})
	t.Attr = attrs
	return t, nil
}
