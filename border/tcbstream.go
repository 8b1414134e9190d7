package border

// This file is a box's reassembly of the client's byte stream: segments are
// placed by sequence number from where the box believes the stream starts
// (its TCB's next sequence number), overlapping bytes are resolved by the
// box's overlap policy (first or last copy wins), bytes beyond a hole are
// buffered up to the box's out-of-order allowance and joined when the hole
// fills, and a short first segment can stop the box following the stream
// (the GFW of 2019). Buffers count against the flow table's memory budget.

// stream is the client's byte stream as one box reassembles it. Guarded by
// the flow's mutex.
type stream struct {
	base    uint32 // sequence number of buf[0]
	started bool
	buf     []byte
	ooo     []segment // segments beyond a hole, in arrival order
	oooLen  int
	segs    int  // segments that added bytes
	first   int  // bytes of the first segment
	stopped bool // the box follows the stream no further (cap, short first segment)
	noMem   bool // the memory budget refused the stream: rules fall back to each packet
}

type segment struct {
	seq  uint32
	data []byte
}

// feed adds the packet's data, as box b takes it (t.data at t.dataSeq), to
// t's stream.
func (e *Engine) feed(b *box, t *tcb) {
	if t.streamOff || len(t.data) == 0 {
		return
	}
	if t.st == nil {
		t.st = &stream{}
	}
	s := t.st
	if s.stopped || s.noMem {
		return
	}
	if !s.started {
		s.base, s.started = t.next, true
	}
	data := t.data
	rel := int64(int32(t.dataSeq - s.base))
	if rel < 0 {
		if -rel >= int64(len(data)) {
			return // entirely before the stream's start
		}
		data, rel = data[-rel:], 0
	}
	if int(rel) > len(s.buf) {
		// After a hole: buffered within the box's allowance, else dropped.
		if s.oooLen+len(data) <= b.outOfOrder && e.flows.reserve(int64(len(data))) {
			s.ooo = append(s.ooo, segment{t.dataSeq, append([]byte(nil), data...)})
			s.oooLen += len(data)
		}
		return
	}
	e.place(b, s, int(rel), data)
	for progress := true; progress && len(s.ooo) > 0 && !s.stopped && !s.noMem; {
		progress = false
		for i := 0; i < len(s.ooo); i++ {
			sg := s.ooo[i]
			r := int64(int32(sg.seq - s.base))
			if r > int64(len(s.buf)) {
				continue
			}
			s.ooo = append(s.ooo[:i], s.ooo[i+1:]...)
			s.oooLen -= len(sg.data)
			e.flows.reserve(-int64(len(sg.data)))
			d := sg.data
			if r < 0 {
				if -r >= int64(len(d)) {
					i--
					continue
				}
				d, r = d[-r:], 0
			}
			e.place(b, s, int(r), d)
			progress = true
			i--
		}
	}
}

// place writes data at offset rel (at most len(s.buf)) of the stream.
func (e *Engine) place(b *box, s *stream, rel int, data []byte) {
	overlap := min(len(s.buf)-rel, len(data))
	if overlap > 0 && b.overlapLast {
		copy(s.buf[rel:], data[:overlap])
	}
	add := data[overlap:]
	if len(add) == 0 {
		return
	}
	capBytes := b.maxBytes
	if room := capBytes - len(s.buf); len(add) >= room {
		add = add[:room]
		s.stopped = true
	}
	if len(add) == 0 {
		return
	}
	buf, ok := e.flows.growBuf(s.buf, len(add), capBytes)
	if !ok {
		s.noMem = true
		return
	}
	s.buf = append(buf, add...)
	s.segs++
	if s.segs == 1 {
		s.first = len(data)
	}
	if b.shortFirst > 0 && s.first <= b.shortFirst && s.segs >= 2 {
		s.stopped = true
	}
}

// restart empties the stream: it starts again at the TCB's next sequence
// number with the next data (resynchronisation).
func (t *flowTable) restart(s *stream) {
	if s == nil {
		return
	}
	t.reserve(-int64(s.oooLen))
	s.ooo, s.oooLen = nil, 0
	s.buf = s.buf[:0]
	s.started, s.segs, s.first, s.stopped = false, 0, 0, false
}

// releaseStream frees the memory of tc's stream.
func (t *flowTable) releaseStream(tc *tcb) {
	s := tc.st
	if s == nil {
		return
	}
	if s.buf != nil {
		t.bufBytes.Add(-int64(cap(s.buf)))
	}
	t.reserve(-int64(s.oooLen))
	tc.st = nil
}

// reserve books n bytes (negative: returns them) against the memory budget
// and reports whether they fit.
func (t *flowTable) reserve(n int64) bool {
	if n <= 0 {
		t.bufBytes.Add(n)
		return true
	}
	if t.bufBytes.Add(n) > t.maxBuf {
		t.bufBytes.Add(-n)
		return false
	}
	return true
}

// growBuf makes room for n more bytes in buf, within limit bytes and the
// budget; it returns the buffer to append to.
func (t *flowTable) growBuf(buf []byte, n, limit int) ([]byte, bool) {
	if cap(buf)-len(buf) >= n {
		return buf, true
	}
	newCap := min(max(2*cap(buf), len(buf)+n, 2048), max(limit, len(buf)+n))
	if !t.reserve(int64(newCap - cap(buf))) {
		return buf, false
	}
	b := make([]byte, len(buf), newCap)
	copy(b, buf)
	return b, true
}

// streamData returns the stream box r.box has reassembled for f, and false
// when the box has no stream for it (the memory budget refused one).
func (e *Engine) streamData(r *rule, f *flow) ([]byte, bool) {
	s := f.tcbs[r.box.slot].st
	if s == nil {
		return nil, true
	}
	if s.noMem {
		return nil, false
	}
	return s.buf, true
}

// streamStopped reports whether box r.box follows f's stream no further.
func streamStopped(r *rule, f *flow) bool {
	t := &f.tcbs[r.box.slot]
	return t.streamOff || t.st != nil && t.st.stopped
}

// releaseStreams frees the streams of the boxes whose reassembling rules
// are all done with f.
func (e *Engine) releaseStreams(f *flow) {
	for _, b := range e.tcpBoxes {
		t := &f.tcbs[b.slot]
		if t.st == nil {
			continue
		}
		done := f.rs != nil
		for _, i := range b.streamRules {
			if done && !f.rs[i].done {
				done = false
			}
		}
		if done {
			e.flows.releaseStream(t)
			t.streamOff = true
		}
	}
}
