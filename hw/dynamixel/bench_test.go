package dynamixel

import (
	"encoding/binary"
	"testing"
)

// goal9 is a 9-motor goal position payload.
func goal9() []byte {
	data := make([]byte, 0, 36)
	for i := range reachyIDs {
		data = binary.LittleEndian.AppendUint32(data, uint32(2048+i))
	}
	return data
}

// TestHotPathNoAlloc enforces what the benchmarks report: the 50 Hz sync
// write and sync read do not allocate once the client is warm.
func TestHotPathNoAlloc(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	c, _ := newTestClient(reachyIDs...)
	data := goal9()
	write := func() {
		if err := c.SyncWrite(AddrGoalPosition, SizeGoalPosition, reachyIDs, data); err != nil {
			t.Fatal(err)
		}
	}
	read := func() {
		if _, err := c.SyncRead(AddrPresentPosition, SizePresentPosition, reachyIDs); err != nil {
			t.Fatal(err)
		}
	}
	write()
	read()
	if n := testing.AllocsPerRun(200, write); n != 0 {
		t.Errorf("SyncWrite: %v allocs", n)
	}
	if n := testing.AllocsPerRun(200, read); n != 0 {
		t.Errorf("SyncRead: %v allocs", n)
	}
	if n := testing.AllocsPerRun(200, func() {
		if _, err := c.Read(11, AddrHardwareErrorStatus, 1); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("Read: %v allocs", n)
	}
}

func BenchmarkSyncWriteGoal9(b *testing.B) {
	c, _ := newTestClient(reachyIDs...)
	data := goal9()
	b.ReportAllocs()
	for b.Loop() {
		if err := c.SyncWrite(AddrGoalPosition, SizeGoalPosition, reachyIDs, data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSyncReadPresent9(b *testing.B) {
	c, _ := newTestClient(reachyIDs...)
	b.ReportAllocs()
	for b.Loop() {
		res, err := c.SyncRead(AddrPresentPosition, SizePresentPosition, reachyIDs)
		if err != nil || len(res) != 9 {
			b.Fatal(err)
		}
	}
}

func BenchmarkCRC(b *testing.B) {
	pkt := AppendStatus(nil, 10, 0, make([]byte, 128))
	b.SetBytes(int64(len(pkt)))
	b.ReportAllocs()
	for b.Loop() {
		CRC(pkt)
	}
}

func BenchmarkParser9Status(b *testing.B) {
	var stream []byte
	for _, id := range reachyIDs {
		stream = AppendStatus(stream, id, 0, le32(int32(id)))
	}
	var p Parser
	b.SetBytes(int64(len(stream)))
	b.ReportAllocs()
	for b.Loop() {
		p.Write(stream)
		for {
			if _, ok := p.Next(); !ok {
				break
			}
		}
	}
}

// BenchmarkSyncReadPresent9Counted is BenchmarkSyncReadPresent9 with the
// per-device counters of the metrics on: their cost on the control tick.
func BenchmarkSyncReadPresent9Counted(b *testing.B) {
	c, _ := newTestClient(reachyIDs...)
	c.SetCounters(&Counters{})
	b.ReportAllocs()
	for b.Loop() {
		res, err := c.SyncRead(AddrPresentPosition, SizePresentPosition, reachyIDs)
		if err != nil || len(res) != 9 {
			b.Fatal(err)
		}
	}
}

// BenchmarkCounters9 is what the counters add to one 9-motor sync read:
// an exchange per motor.
func BenchmarkCounters9(b *testing.B) {
	var ctr Counters
	for b.Loop() {
		for _, id := range reachyIDs {
			ctr.add(id, Exchanges)
		}
	}
}
