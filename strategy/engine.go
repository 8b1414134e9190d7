package strategy

import (
	"encoding/binary"
	"encoding/hex"
	"math/rand/v2"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/splinter-lab/splinter/packet"
)

// Options configure an Engine. The zero value is usable: randomness then
// comes from a fixed seed and sleeping packets are emitted at once.
type Options struct {
	// Rand draws every random value (corrupt tampers). Nil means a PCG
	// seeded with (1, 2), so that runs repeat.
	Rand *rand.Rand
	// Delay receives each packet a sleep action holds back, with how long
	// to hold it; the packet is fresh and belongs to the callee, who sends
	// it when the time has passed (Geneva's engine.py sends it from a
	// thread after time.sleep). Nil emits such packets through emit right
	// after the others, as if the sleep were zero.
	Delay func(pkt []byte, d time.Duration)
	// Generators is the version of Geneva's value generators that corrupt
	// tampers draw from; the zero value is Geneva's code as it is now.
	Generators Generators
}

// Generators names a version of Geneva's value generators (the gen_*
// methods of its layers), for replaying an experiment with the code it
// ran.
type Generators int

const (
	// GenevaCurrent is Geneva's code since May 2020 (layers/layer.py): a
	// corrupt load is one of "", a DNS request, an HTTP request for
	// www.example.com, or ten random letters and digits.
	GenevaCurrent Generators = iota
	// Geneva2019 is the code published with the CCS 2019 paper (first
	// public commit, 2019-11-15, actions/layer.py): a corrupt load is
	// always ten random letters and digits. The other generators are the
	// same.
	Geneva2019
)

// Engine applies one Strategy to the packets of one host. It keeps the
// state a strategy has (the gas left in each trigger) and is safe for use
// by several goroutines; emit and Delay run with the engine locked and
// must not call back into it.
type Engine struct {
	mu    sync.Mutex
	out   []tree
	in    []tree
	rand  *rand.Rand
	delay func([]byte, time.Duration)
	gen   Generators
	// scratch
	parsed   packet.IP
	orig     wire
	outs     []*wire
	delayed  []*wire
	firedOut []int
	firedIn  []int
}

type tree struct {
	t        *Tree
	gas      int
	flagBits uint16 // TCP flags trigger value, as bits
}

// New returns an engine that applies s. It copies nothing but reads s
// while running: s must not change afterwards.
func New(s *Strategy, opts Options) *Engine {
	e := &Engine{rand: opts.Rand, delay: opts.Delay, gen: opts.Generators}
	if e.rand == nil {
		e.rand = rand.New(rand.NewPCG(1, 2))
	}
	compile := func(ts []Tree) []tree {
		out := make([]tree, len(ts))
		for i := range ts {
			out[i] = tree{t: &ts[i], gas: ts[i].Trigger.Gas}
			tr := ts[i].Trigger
			if tr.Field == TCPFlags {
				if tr.Value.IsNum {
					out[i].flagBits = uint16(tr.Value.Num)
				} else {
					out[i].flagBits, _ = parseTCPFlags(tr.Value.Text)
				}
			}
		}
		return out
	}
	e.out = compile(s.Outbound)
	e.in = compile(s.Inbound)
	e.firedOut = make([]int, len(e.out))
	e.firedIn = make([]int, len(e.in))
	return e
}

// Outbound applies the outbound forest to pkt, a raw IPv4 or IPv6 packet
// the host sends, and emits the packets to send in their order. When no
// tree fires (or pkt is not a packet Geneva could read) it emits pkt
// itself, borrowed; every other packet it emits is fresh and belongs to
// emit's callee.
func (e *Engine) Outbound(pkt []byte, emit func([]byte)) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.apply(pkt, e.out, e.firedOut, false, emit)
}

// Inbound applies the inbound forest to pkt, a raw packet the host
// receives, and emits at most one packet: Geneva's engine hands the kernel
// the first packet its inbound trees return, or drops the packet when they
// return none (engine.py: in_callback). Ownership is as for Outbound.
func (e *Engine) Inbound(pkt []byte, emit func([]byte)) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.apply(pkt, e.in, e.firedIn, true, emit)
}

// Fired returns how many packets each outbound and each inbound tree has
// fired on so far (Geneva punishes strategies whose trees never run).
func (e *Engine) Fired() (outbound, inbound []int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]int(nil), e.firedOut...), append([]int(nil), e.firedIn...)
}

// apply is Strategy.run_on_packet (actions/strategy.py): every tree whose
// trigger matches the original packet runs on a fresh copy of it, and the
// packets of all of them are sent in tree order; if none matched, the
// packet goes unchanged.
func (e *Engine) apply(pkt []byte, forest []tree, fired []int, inbound bool, emit func([]byte)) {
	if len(forest) == 0 || packet.Parse(pkt, &e.parsed) != nil {
		emit(pkt)
		return
	}
	e.orig.load(pkt, &e.parsed)
	e.outs = e.outs[:0]
	ran := false
	for i := range forest {
		if !e.triggers(&forest[i]) {
			continue
		}
		ran = true
		fired[i]++
		e.run(forest[i].t.Root, e.orig.clone(), true)
	}
	if !ran {
		emit(pkt)
		return
	}
	if inbound {
		if len(e.outs) > 0 {
			if b := e.outs[0].build(); b != nil {
				emit(b)
			}
		}
		e.outs = e.outs[:0]
		return
	}
	e.delayed = e.delayed[:0]
	for _, w := range e.outs {
		if w.delay > 0 {
			e.delayed = append(e.delayed, w)
			continue
		}
		if b := w.build(); b != nil {
			emit(b)
		}
	}
	for _, w := range e.delayed {
		b := w.build()
		if b == nil {
			continue
		}
		if e.delay != nil {
			e.delay(b, time.Duration(w.delay*float64(time.Second)))
		} else {
			emit(b)
		}
	}
	e.outs = e.outs[:0]
}

// triggers is Trigger.is_applicable (actions/trigger.py), gas included.
func (e *Engine) triggers(t *tree) bool {
	tr := &t.t.Trigger
	if !e.orig.has(tr.Field) {
		return false
	}
	if !matches(&e.orig, tr, t.flagBits) {
		return false
	}
	if !tr.HasGas {
		return true
	}
	bomb := tr.Gas < 0
	switch {
	case t.gas == 0:
		return bomb
	case t.gas > 0:
		t.gas--
		return true
	default:
		t.gas++
		return false
	}
}

// matches compares the packet's field with the trigger's value as Python
// does in Trigger.is_applicable: a number equals only a number, text only
// text; TCP flags compare as bits (scapy's FlagValue), and a wildcard on
// them tests one flag (FlagValue iterates over the names of its set flags);
// a wildcard on text tests for a substring.
func matches(w *wire, tr *Trigger, flagBits uint16) bool {
	g := w.get(tr.Field)
	if tr.Field == TCPFlags {
		if tr.Wildcard {
			return g.num&int64(flagBits) != 0
		}
		return uint16(g.num) == flagBits
	}
	if tr.Wildcard {
		return !g.isNum && !g.opaque && strings.Contains(g.str, tr.Value.Text)
	}
	if tr.Value.IsNum {
		return g.isNum && g.num == tr.Value.Num
	}
	return !g.isNum && !g.opaque && g.str == tr.Value.Text
}

// run is ActionTree.do_run (actions/tree.py): an action returns a packet
// for each child; a missing child sends its packet, a present one runs on
// it. Packets are collected left subtree first. An empty tree sends
// nothing.
func (e *Engine) run(a *Action, w *wire, root bool) {
	if a == nil {
		if !root {
			e.outs = append(e.outs, w)
		}
		return
	}
	l, r := e.act(a, w)
	if l != nil {
		if a.Left == nil {
			e.outs = append(e.outs, l)
		} else {
			e.run(a.Left, l, false)
		}
	}
	if r != nil {
		if a.Right == nil {
			e.outs = append(e.outs, r)
		} else {
			e.run(a.Right, r, false)
		}
	}
}

// act runs one action, returning the packets for its left and right child.
func (e *Engine) act(a *Action, w *wire) (l, r *wire) {
	switch a.Kind {
	case Send:
		return w, nil
	case Drop: // actions/drop.py
		return nil, nil
	case Duplicate: // actions/duplicate.py: the packet left, a copy right
		c := w.clone()
		c.delay = 0 // the copy is a new Geneva Packet, without the sleep
		return w, c
	case Sleep: // actions/sleep.py: the last sleep on a packet counts
		w.delay = a.Seconds
		return w, nil
	case Tamper:
		e.tamper(a, w)
		return w, nil
	case Fragment:
		if a.Segment {
			return segment(a, w)
		}
		return fragment(a, w)
	}
	return w, nil
}

// tamper is TamperAction.tamper (actions/tamper.py) followed by
// Packet.set (layers/packet.py): nothing happens when the layer is
// missing; otherwise the IP and TCP checksums are deleted (scapy recomputes
// them) and the field is set, which makes that field explicit again (so
// TCP:chksum:corrupt puts a random checksum on the wire).
func (e *Engine) tamper(a *Action, w *wire) {
	f := a.Field
	if !w.has(f) {
		return
	}
	in := f.info()
	var num int64
	var isNum bool
	var text string
	switch a.Mode {
	case Replace:
		num, isNum, text = a.Value.Num, a.Value.IsNum, a.Value.Text
	case Add:
		old := w.get(f)
		if !old.isNum {
			return // int() of the old value fails: the packet is left alone
		}
		num, isNum = old.num+a.Value.Num, true
	case Corrupt:
		num, isNum, text = e.corrupt(f)
	}
	w.touch()
	if !w.v6 {
		w.delIPSum = true
	}
	if w.l4 == packet.TCP {
		w.delTCPSum = true
	}
	switch in.kind {
	case kindNum:
		w.setNum(f, num)
	case kindTCPFlags:
		if !isNum {
			v, _ := parseTCPFlags(text)
			num = int64(v)
		}
		w.setNum(f, num)
	case kindIPFlags:
		if !isNum {
			v, _ := parseIPFlags(text)
			num = int64(v)
		}
		w.setNum(f, num)
	case kindAddr:
		a, _ := netip.ParseAddr(text)
		w.setAddr(f, a)
	case kindLoad:
		w.setLoad(f, loadBytes(text))
	case kindOption:
		o := tcpOpt{num: num, isNum: isNum}
		if !isNum {
			o.data, _ = hex.DecodeString(text)
		}
		w.setOption(f, o)
	}
}

// corrupt draws a value for f as Geneva's generators do (layers/*.py:
// gen_* methods; the rest come from scapy's fuzz(), which leaves fields
// whose default is None, such as IP:ihl and UDP:len and UDP:chksum, None,
// and Layer.gen turns None into 0).
func (e *Engine) corrupt(f Field) (num int64, isNum bool, text string) {
	r := e.rand
	switch f {
	case IPIHL, UDPLen, UDPChksum:
		return 0, true, ""
	case IPLen: // gen_len
		return 1 + r.Int64N(500), true, ""
	case IPChksum, TCPChksum: // gen_chksum
		return 1 + r.Int64N(65535), true, ""
	case IPSrc, IPDst: // RandIP
		return 0, false, netip.AddrFrom4([4]byte{byte(r.IntN(256)), byte(r.IntN(256)), byte(r.IntN(256)), byte(r.IntN(256))}).String()
	case IPFlags: // gen_flags: a fuzzed 3-bit value
		return r.Int64N(8), true, ""
	case TCPDataofs: // gen_dataofs
		return 1 + r.Int64N(15), true, ""
	case TCPWindow: // gen_window: range(10, 200, 10)
		return 10 * (1 + r.Int64N(19)), true, ""
	case TCPFlags: // gen_flags: half the time a common combination
		if r.IntN(2) == 0 {
			common := [...]string{"S", "A", "SA", "PA", "FA", "R", "P", "F", "RA", ""}
			return 0, false, common[r.IntN(len(common))]
		}
		return r.Int64N(512), true, ""
	case IPLoad, TCPLoad, UDPLoad: // gen_load
		if e.gen != Geneva2019 {
			switch r.IntN(4) {
			case 0:
				return 0, false, ""
			case 1:
				return 0, false, "__DNS_REQUEST__"
			case 2:
				return 0, false, "__HTTP_REQUEST__"
			}
		}
		const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
		var b [10]byte
		for i := range b {
			b[i] = alphabet[r.IntN(len(alphabet))]
		}
		return 0, false, string(b[:])
	}
	in := f.info()
	if in.kind == kindOption { // gen_options
		switch in.opt {
		case 2:
			return r.Int64N(65536), true, ""
		case 3, 14, 28:
			return r.Int64N(256), true, ""
		case 8:
			return r.Int64N(4294967295), true, ""
		case 19:
			var b [16]byte
			for i := range b {
				b[i] = byte(r.IntN(256))
			}
			return 0, false, hex.EncodeToString(b[:])
		}
		return 0, false, ""
	}
	// fuzz(): a random value of the field's width.
	return r.Int64N(int64(1) << in.bits), true, ""
}

// segment is FragmentAction.tcp_segment (actions/fragment.py): a TCP
// packet with a payload is cut into two segments, the first carrying
// payload[:size+overlap] and the second payload[size:] with its sequence
// number advanced by size; size -1, or one past the end, means half.
// Both are rebuilt with the IP length and checksum, the TCP checksum and
// the data offset computed. A packet without TCP payload is duplicated.
func segment(a *Action, w *wire) (*wire, *wire) {
	if w.l4 != packet.TCP || len(w.payload()) == 0 {
		c := w.clone()
		c.delay = 0
		return w, c
	}
	w.touch()
	pay := w.payload()
	size := a.Size
	if size == -1 || size > len(pay)-1 {
		size = len(pay) / 2
	}
	overlap := min(len(pay)-size, a.Overlap)
	// Geneva builds the packet without its payload and dissects those
	// bytes again (IP(packet["IP"])): an explicit IP length shorter than
	// the header cuts the TCP header there and scapy keeps the rest as
	// padding, sent last; a data offset shorter than the header leaves
	// the remaining header bytes as payload. The header is then rebuilt
	// with its options normalized.
	tcp := w.b[w.ipHdr : w.ipHdr+w.tcpHdr]
	trailer := w.b[len(w.b)-w.trail:]
	if !w.v6 && !w.delIPLen {
		vis := int(binary.BigEndian.Uint16(w.b[2:4])) - 4*int(w.b[0]&15)
		if vis >= 20 && vis < len(tcp) {
			trailer = append(append([]byte(nil), tcp[vis:]...), trailer...)
			tcp = tcp[:vis]
		}
	}
	optLen := min(max(int(tcp[12]>>4)-5, 0)*4, len(tcp)-20)
	opts, _ := serializeOptions(parseOptions(tcp[20 : 20+optLen]))
	extra := tcp[20+optLen:]
	mk := func(part []byte, seqAdd int) *wire {
		n := &wire{v6: w.v6, ipHdr: w.ipHdr, l4: packet.TCP, tcpHdr: 20 + len(opts), bad: w.bad, touched: true, trail: len(trailer)}
		n.b = make([]byte, 0, w.ipHdr+20+len(opts)+len(extra)+len(part)+len(trailer))
		n.b = append(n.b, w.b[:w.ipHdr+20]...)
		n.b = append(n.b, opts...)
		n.b = append(n.b, extra...)
		n.b = append(n.b, part...)
		n.b = append(n.b, trailer...)
		t := n.b[n.ipHdr:]
		binary.BigEndian.PutUint32(t[4:8], binary.BigEndian.Uint32(t[4:8])+uint32(seqAdd))
		n.delIPLen, n.delIPSum, n.delTCPSum, n.delTCPOff = true, true, true, true
		return n
	}
	p1 := mk(pay[:size+overlap], 0)
	p2 := mk(pay[size:], size)
	if a.InOrder {
		return p1, p2
	}
	return p2, p1
}

// fragment is FragmentAction.ip_fragment (actions/fragment.py) over
// scapy's fragment(): the IP payload (the transport header and payload as
// built) is cut at size*8 bytes, or at half rounded down to 8 bytes when
// size is -1 or too large; scapy's further fragments are merged into the
// second, which then carries exactly DF. The first has MF added. Both are
// raw IP payload to scapy (no TCP layer for later actions). A packet
// without payload, or too short to cut, is duplicated. IPv6 packets, which
// Geneva never handled, are duplicated as well.
func fragment(a *Action, w *wire) (*wire, *wire) {
	if w.v6 || len(w.payload()) == 0 || w.isDNS() {
		c := w.clone()
		c.delay = 0
		return w, c
	}
	// bytes(packet["TCP"]): the transport as scapy builds it, with its own
	// deleted fields computed.
	full := w.clone()
	full.buildTransport()
	load := full.transport()
	var fs int
	if a.Size == -1 || a.Size*8 > len(load) || len(load) <= 8 {
		fs = len(load) / 2 / 8 * 8
	} else {
		fs = a.Size * 8
	}
	mk := func(part []byte, fragAdd int, mf bool) *wire {
		n := &wire{ipHdr: w.ipHdr, bad: w.bad}
		n.b = make([]byte, 0, w.ipHdr+len(part))
		n.b = append(n.b, full.b[:w.ipHdr]...)
		n.b = append(n.b, part...)
		ff := binary.BigEndian.Uint16(n.b[6:8])
		off := (ff&0x1fff + uint16(fragAdd)) & 0x1fff
		ff = ff&0xe000 | off
		if mf {
			ff |= 0x2000
		}
		binary.BigEndian.PutUint16(n.b[6:8], ff)
		n.delIPLen, n.delIPSum = true, true
		return n
	}
	if fs == 0 {
		// fragment() with size 0 returns the packet itself; Geneva sends
		// it twice.
		c1, c2 := w.clone(), w.clone()
		c1.delay, c2.delay = 0, 0
		return c1, c2
	}
	nb := (len(load)-1)/fs + 1
	var p1, p2 *wire
	switch {
	case nb == 1:
		p1 = mk(load, 0, false)
		p2 = p1.clone()
	case nb == 2:
		p1 = mk(load[:fs], 0, true)
		p2 = mk(load[fs:], fs/8, false)
	default:
		p1 = mk(load[:fs], 0, true)
		p2 = mk(load[fs:], fs/8, true)
		binary.BigEndian.PutUint16(p2.b[6:8], binary.BigEndian.Uint16(p2.b[6:8])&0x1fff|0x4000)
	}
	if a.InOrder {
		return p1, p2
	}
	return p2, p1
}

// buildTransport computes the TCP fields scapy would compute when building
// the transport on its own (its checksum still uses the IP header above).
func (w *wire) buildTransport() {
	if w.l4 != packet.TCP {
		return
	}
	t := w.transport()
	if w.delTCPOff {
		d := 5 + (w.tcpHdr-20+3)/4
		t[12] = byte((d<<4 | int(t[12]&15)) & 0xff)
		w.delTCPOff = false
	}
	if w.delTCPSum {
		t[16], t[17] = 0, 0
		binary.BigEndian.PutUint16(t[16:18], w.transportSum(packet.TCP, t))
		w.delTCPSum = false
	}
}
