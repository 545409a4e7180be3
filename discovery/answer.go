package discovery

import (
	"bytes"
	"cmp"
	"slices"

	"golang.org/x/net/dns/dnsmessage"
)

// mdnsPort is the mDNS port; queries from any other port are one-shot
// ("legacy unicast") queries, answered to their sender (RFC 6762 6.7).
const mdnsPort = 5353

// Reply builds the response to a query received on an interface whose
// records are r, or nil when the query asks nothing r holds. srcPort is
// the query's source port. unicast is true when the response goes back to
// the sender only (a one-shot query); otherwise it is multicast on the
// interface, which every querier listens to (also for questions with the
// unicast-response bit: see the package doc).
func Reply(q *dnsmessage.Message, r *Records, srcPort int) (resp *dnsmessage.Message, unicast bool) {
	if q.Header.Response || q.Header.OpCode != 0 || q.Header.RCode != 0 {
		return nil, false // RFC 6762 18.3, 18.11: ignored
	}
	legacy := srcPort != mdnsPort
	var ans, add []dnsmessage.Resource
	has := func(list []dnsmessage.Resource, x dnsmessage.Resource) bool {
		return slices.ContainsFunc(list, func(y dnsmessage.Resource) bool { return sameRecord(x, y) })
	}
	put := func(list *[]dnsmessage.Resource, xs ...dnsmessage.Resource) {
		for _, x := range xs {
			if !has(*list, x) {
				*list = append(*list, x)
			}
		}
	}
	for _, question := range q.Questions {
		if question.Class&^cacheFlush != dnsmessage.ClassINET && question.Class&^cacheFlush != dnsmessage.ClassANY {
			continue
		}
		t := question.Type
		any := t == dnsmessage.TypeALL
		switch {
		case sameName(question.Name, ServiceType) && (t == dnsmessage.TypePTR || any):
			put(&ans, r.PTR)
			put(&add, r.SRV, r.TXT)
			put(&add, r.A...)
		case sameName(question.Name, servicesEnum) && (t == dnsmessage.TypePTR || any):
			put(&ans, r.Enum)
		case sameName(question.Name, r.Instance):
			if t == dnsmessage.TypeSRV || any {
				put(&ans, r.SRV)
				put(&add, r.A...)
			}
			if t == dnsmessage.TypeTXT || any {
				put(&ans, r.TXT)
			}
		case sameName(question.Name, r.Host) && (t == dnsmessage.TypeA || any):
			put(&ans, r.A...)
		}
	}
	// Known-answer suppression (RFC 6762 7.1): what the querier already
	// holds with at least half its TTL left is not sent again.
	known := func(x dnsmessage.Resource) bool {
		return slices.ContainsFunc(q.Answers, func(k dnsmessage.Resource) bool {
			return sameRecord(x, k) && k.Header.TTL >= x.Header.TTL/2
		})
	}
	ans = slices.DeleteFunc(ans, known)
	if len(ans) == 0 {
		return nil, false
	}
	add = slices.DeleteFunc(add, func(x dnsmessage.Resource) bool { return has(ans, x) || known(x) })
	resp = &dnsmessage.Message{
		Header:      dnsmessage.Header{Response: true, Authoritative: true},
		Answers:     ans,
		Additionals: add,
	}
	if legacy {
		// The one-shot querier is a plain DNS client: its ID and
		// questions back, short TTLs, and no cache-flush bit (RFC 6762 6.7).
		resp.Header.ID = q.Header.ID
		resp.Questions = slices.Clone(q.Questions)
		resp.Answers, resp.Additionals = legacyCopy(ans), legacyCopy(add)
	}
	return resp, legacy
}

func legacyCopy(rs []dnsmessage.Resource) []dnsmessage.Resource {
	out := make([]dnsmessage.Resource, len(rs))
	for i, x := range rs {
		x.Header.Class &^= cacheFlush
		x.Header.TTL = min(x.Header.TTL, legacyTTL)
		out[i] = x
	}
	return out
}

// Announcement is the unsolicited response that announces r (RFC 6762
// 8.3), or says goodbye to it with TTL 0 (10.1). A goodbye leaves out the
// host's A records: the host name may still be published by the host's own
// responder (avahi), and the reference sends none either.
func Announcement(r *Records, goodbye bool) *dnsmessage.Message {
	ans := []dnsmessage.Resource{r.PTR, r.SRV, r.TXT}
	if !goodbye {
		ans = append(ans, r.A...)
	}
	ans = slices.Clone(ans)
	if goodbye {
		for i := range ans {
			ans[i].Header.TTL = 0
		}
	}
	return &dnsmessage.Message{Header: dnsmessage.Header{Response: true, Authoritative: true}, Answers: ans}
}

// Probe is the query that checks nobody else holds the instance and host
// names (RFC 6762 8.1), with the records we intend to publish in the
// authority section for the simultaneous-probe tie-break. It asks for
// multicast answers: a unicast answer to port 5353 may be taken by another
// responder's socket on this host.
func Probe(r *Records) *dnsmessage.Message {
	inst, host := mustName(r.Instance), mustName(r.Host)
	auth := slices.Clone(append([]dnsmessage.Resource{r.SRV, r.TXT}, r.A...))
	for i := range auth {
		auth[i].Header.Class &^= cacheFlush
	}
	return &dnsmessage.Message{
		Questions: []dnsmessage.Question{
			{Name: inst, Type: dnsmessage.TypeALL, Class: dnsmessage.ClassINET},
			{Name: host, Type: dnsmessage.TypeALL, Class: dnsmessage.ClassINET},
		},
		Authorities: auth,
	}
}

func mustName(s string) dnsmessage.Name {
	n, err := dnsmessage.NewName(s)
	if err != nil {
		panic(err) // Build checked every name it made
	}
	return n
}

// Dispute is what a message from another host says about our names.
type Dispute struct {
	// Instance or Host: another host answers with different records for
	// our instance name or our host name: it holds it.
	Instance, Host bool
	// Lost: another host probes for one of our names at the same time and
	// wins the tie-break (RFC 6762 8.2): probe again in one second.
	Lost bool
}

// Examine checks a message received from another host (never one of this
// host's own addresses) against our records. own says whether an address
// is one of this host's: an A record for our host name carrying it is not
// a conflict (we publish a subset of our addresses per interface).
// probing enables the tie-break against other hosts' probes.
func Examine(m *dnsmessage.Message, r *Records, own func([4]byte) bool, probing bool) Dispute {
	var d Dispute
	if m.Header.Response {
		for _, x := range append(slices.Clone(m.Answers), m.Additionals...) {
			if x.Header.TTL == 0 || x.Header.Class&^cacheFlush != dnsmessage.ClassINET {
				continue
			}
			switch {
			case sameName(x.Header.Name, r.Instance) && (x.Header.Type == dnsmessage.TypeSRV || x.Header.Type == dnsmessage.TypeTXT):
				if !sameRecord(x, r.SRV) && !sameRecord(x, r.TXT) {
					d.Instance = true
				}
			case sameName(x.Header.Name, r.Host) && x.Header.Type == dnsmessage.TypeA:
				a, ok := x.Body.(*dnsmessage.AResource)
				if ok && !own(a.A) && !slices.ContainsFunc(r.A, func(y dnsmessage.Resource) bool { return sameRecord(x, y) }) {
					d.Host = true
				}
			}
		}
		return d
	}
	if !probing || len(m.Authorities) == 0 {
		return d
	}
	var theirsInst, theirsHost []dnsmessage.Resource
	for _, x := range m.Authorities {
		switch {
		case sameName(x.Header.Name, r.Instance):
			theirsInst = append(theirsInst, x)
		case sameName(x.Header.Name, r.Host):
			theirsHost = append(theirsHost, x)
		}
	}
	if len(theirsInst) > 0 && tieBreak([]dnsmessage.Resource{r.SRV, r.TXT}, theirsInst) < 0 {
		d.Lost = true
	}
	if len(theirsHost) > 0 && tieBreak(r.A, theirsHost) < 0 {
		d.Lost = true
	}
	return d
}

// tieBreak compares two probes' records for one name as RFC 6762 8.2
// says: each list sorted, then compared record by record on class (without
// the cache-flush bit), type, then data bytewise; the first difference
// decides, and a list that runs out first loses. It returns >0 when ours
// wins, <0 when theirs wins, 0 when they are identical (no conflict).
func tieBreak(ours, theirs []dnsmessage.Resource) int {
	type key struct {
		class, typ uint16
		data       []byte
	}
	keys := func(rs []dnsmessage.Resource) []key {
		out := make([]key, 0, len(rs))
		for _, x := range rs {
			d, _ := rdata(x)
			out = append(out, key{uint16(x.Header.Class &^ cacheFlush), uint16(x.Header.Type), d})
		}
		slices.SortFunc(out, func(a, b key) int {
			return cmp.Or(cmp.Compare(a.class, b.class), cmp.Compare(a.typ, b.typ), bytes.Compare(a.data, b.data))
		})
		return out
	}
	a, b := keys(ours), keys(theirs)
	for i := 0; i < len(a) && i < len(b); i++ {
		if c := cmp.Or(cmp.Compare(a[i].class, b[i].class), cmp.Compare(a[i].typ, b[i].typ), bytes.Compare(a[i].data, b[i].data)); c != 0 {
			return c
		}
	}
	return cmp.Compare(len(a), len(b))
}
