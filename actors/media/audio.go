package media

import (
	"sync"

	"reachyd/media/gst"
)

// speakerRouter sends each consumer's audio to a speaker input of the
// audio pipeline. It runs on pion's goroutines (one packet at a time per
// session, many sessions at once), so it is a small lock-guarded table
// rather than actor state: an actor message per packet would cost more
// than the packet.
//
// Each session that sends audio takes a free input (slot) on its first
// packet and keeps it until it ends; with every input taken, a further
// talker is not heard (counted in dropped). The audio pipeline mixes the
// inputs. Packets are re-labelled with the payload type the pipeline
// expects (consumers negotiate their own).
type speakerRouter struct {
	mu       sync.Mutex
	senders  []*gst.UDPSender // one per input; ports follow pipeline restarts
	owner    []string         // session per input, "" when free
	bySess   map[string]int
	dropped  uint64
	forwards uint64
}

func newSpeakerRouter(n int) (*speakerRouter, error) {
	r := &speakerRouter{owner: make([]string, n), bySess: map[string]int{}}
	for range n {
		// Port 9 (discard) until the pipeline says where its inputs are.
		s, err := gst.NewUDPSender(9)
		if err != nil {
			r.close()
			return nil, err
		}
		r.senders = append(r.senders, s)
	}
	return r, nil
}

// setPorts aims the inputs at a (re)started pipeline's ports.
func (r *speakerRouter) setPorts(ports []int) {
	for i, s := range r.senders {
		if i < len(ports) {
			s.SetPort(ports[i])
		}
	}
}

// forward sends one RTP packet of session to its input.
func (r *speakerRouter) forward(session string, pkt []byte) {
	if len(pkt) < 12 || len(pkt) > 1500 {
		return
	}
	r.mu.Lock()
	slot, ok := r.bySess[session]
	if !ok {
		slot = -1
		for i, o := range r.owner {
			if o == "" {
				slot = i
				break
			}
		}
		if slot < 0 {
			r.dropped++
			r.mu.Unlock()
			return
		}
		r.owner[slot], r.bySess[session] = session, slot
	}
	r.forwards++
	s := r.senders[slot]
	r.mu.Unlock()
	var buf [1500]byte
	n := copy(buf[:], pkt)
	buf[1] = buf[1]&0x80 | gst.PayloadOpus
	_, _ = s.Write(buf[:n])
}

// end frees session's input.
func (r *speakerRouter) end(session string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if slot, ok := r.bySess[session]; ok {
		r.owner[slot] = ""
		delete(r.bySess, session)
	}
}

// talkers is the number of sessions holding an input.
func (r *speakerRouter) talkers() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.bySess)
}

func (r *speakerRouter) stats() (forwards, dropped uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.forwards, r.dropped
}

func (r *speakerRouter) close() {
	for _, s := range r.senders {
		_ = s.Close()
	}
}
