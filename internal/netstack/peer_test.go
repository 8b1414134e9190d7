package netstack

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/splinter-lab/splinter/packet"
)

// A peer is the far end of one TCP connection with a real Stack, written
// by hand so that a test can send any segment it likes (the crafted packets
// of an evasion strategy) and see every packet the stack sends back. The
// stack is the server: it listens, the peer connects.
type peer struct {
	t   *testing.T
	st  *Stack
	out chan []byte // every packet the stack emitted, in order
	ln  net.Listener
	app net.Conn // the server application's end of the connection

	me, them netip.AddrPort
	iss      uint32 // the peer's initial sequence number
	irs      uint32 // the stack's initial sequence number
	sndNxt   uint32 // next sequence number the peer sends
	rcvNxt   uint32 // next sequence number the peer expects from the stack
	tsVal    uint32 // the peer's timestamp clock
	tsEcr    uint32 // the stack's last TSval
	noTS     bool   // send no timestamp option
}

var (
	peerAddr  = netip.MustParseAddrPort("198.18.0.1:40000")
	stackAddr = netip.MustParseAddrPort("198.18.0.2:80")
)

// timeout bounds every wait for the stack: generous, for a loaded machine.
const timeout = 5 * time.Second

// newStackPeer starts a stack listening on stackAddr, with the Linux input
// layer on or off.
func newStackPeer(t *testing.T, gvisorOnly bool) *peer {
	t.Helper()
	return newStackPeerOn(t, gvisorOnly, peerAddr, stackAddr)
}

// newStackPeerOn is newStackPeer with the peer at me and the stack at them.
func newStackPeerOn(t *testing.T, gvisorOnly bool, me, them netip.AddrPort) *peer {
	t.Helper()
	return newStackPeerConfig(t, Config{gvisorOnly: gvisorOnly}, me, them)
}

// newStackPeerConfig is newStackPeerOn with a stack built from cfg (its
// addresses and Send are set here).
func newStackPeerConfig(t *testing.T, cfg Config, me, them netip.AddrPort) *peer {
	t.Helper()
	out := make(chan []byte, 4096)
	cfg.Addrs = []netip.Addr{them.Addr()}
	cfg.Send = func(b []byte) {
		out <- append([]byte(nil), b...)
	}
	st, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	ln, err := st.ListenTCP(them)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return &peer{t: t, st: st, out: out, ln: ln, me: me, them: them, iss: 1000, tsVal: 5000}
}

// connect does the three-way handshake with timestamps, SACK and window
// scaling, and accepts the connection on the stack's side.
func (p *peer) connect() {
	p.t.Helper()
	p.sndNxt = p.iss
	syn := []byte{2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 0, 0, 0, 0, 0, 1, 3, 3, 7}
	binary.BigEndian.PutUint32(syn[8:], p.tsVal)
	p.send(p.raw(packet.SYN, 0, nil, syn))
	sa := p.expect(func(q *packet.IP) bool { return q.Flags == packet.SYN|packet.ACK }, "SYN-ACK")
	if sa.Ack != p.iss+1 {
		p.t.Fatalf("SYN-ACK acks %d, want %d", sa.Ack, p.iss+1)
	}
	p.irs = sa.Seq
	p.rcvNxt = sa.Seq + 1
	p.sndNxt = p.iss + 1
	p.noteTS(sa)
	p.send(p.seg(packet.ACK, nil))
	type res struct {
		c   net.Conn
		err error
	}
	ch := make(chan res, 1)
	go func() { c, err := p.ln.Accept(); ch <- res{c, err} }()
	select {
	case r := <-ch:
		if r.err != nil {
			p.t.Fatal(r.err)
		}
		p.app = r.c
		p.t.Cleanup(func() { r.c.Close() })
	case <-time.After(timeout):
		p.t.Fatal("the stack accepted no connection")
	}
}

// tsOption is NOP, NOP, timestamps.
func (p *peer) tsOption() []byte {
	if p.noTS {
		return nil
	}
	o := make([]byte, 12)
	o[0], o[1], o[2], o[3] = 1, 1, 8, 10
	binary.BigEndian.PutUint32(o[4:], p.tsVal)
	binary.BigEndian.PutUint32(o[8:], p.tsEcr)
	return o
}

// raw builds a segment from the peer with the given sequence number,
// acknowledgment and options.
func (p *peer) raw(flags uint8, ack uint32, payload, opts []byte) []byte {
	return packet.AppendTCP(nil, packet.TCPSegment{Src: p.me, Dst: p.them, Seq: p.sndNxt, Ack: ack, Flags: flags,
		Window: 65535, Payload: payload, Options: opts})
}

// seg builds the next in-sequence segment, acknowledging all the stack
// sent, with a timestamp.
func (p *peer) seg(flags uint8, payload []byte) []byte {
	p.tsVal++
	return p.raw(flags, p.rcvNxt, payload, p.tsOption())
}

func (p *peer) send(b []byte) { p.st.Deliver(b) }

// data sends payload in sequence and advances sndNxt.
func (p *peer) data(payload string) {
	p.send(p.seg(packet.ACK|packet.PSH, []byte(payload)))
	p.sndNxt += uint32(len(payload))
}

func (p *peer) noteTS(q *packet.IP) {
	if v, _, ok := timestamps(q.Transport[20:q.TCPHdrLen]); ok {
		p.tsEcr = v
	}
}

// next returns the next packet the stack sends, or nil after d.
func (p *peer) next(d time.Duration) *packet.IP {
	select {
	case b := <-p.out:
		q := new(packet.IP)
		if err := packet.Parse(b, q); err != nil {
			p.t.Fatalf("the stack sent a packet that does not parse: %v", err)
		}
		return q
	case <-time.After(d):
		return nil
	}
}

// expect returns the first packet the stack sends that matches, failing
// the test after the timeout; it records the stack's timestamps.
func (p *peer) expect(match func(*packet.IP) bool, what string) *packet.IP {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		q := p.next(time.Until(deadline))
		if q == nil {
			p.t.Fatalf("the stack sent no %s", what)
		}
		p.noteTS(q)
		if match(q) {
			return q
		}
	}
}

// sync sends the in-sequence data "." and returns every packet the stack
// sent before acknowledging it: the stack's answers to what the test sent
// before. A TCP endpoint handles its segments in order, so nothing it
// sends for an earlier segment comes after this acknowledgment. If the
// stack answers with a RST instead (the connection is gone), sync returns
// what came before it and reset.
func (p *peer) sync() (before []*packet.IP, reset bool) {
	p.t.Helper()
	p.data(".")
	deadline := time.Now().Add(timeout)
	for {
		q := p.next(time.Until(deadline))
		if q == nil {
			p.t.Fatalf("the stack did not acknowledge in-sequence data (got %s)", describe(before))
		}
		p.noteTS(q)
		if q.Flags&packet.RST != 0 {
			return before, true
		}
		if pureACK(q) && int32(q.Ack-p.sndNxt) >= 0 {
			return before, false
		}
		before = append(before, q)
	}
}

// read reads exactly n bytes of what the application receives.
func (p *peer) read(n int) (string, error) {
	p.app.SetReadDeadline(time.Now().Add(timeout))
	b := make([]byte, n)
	k, err := io.ReadFull(p.app, b)
	return string(b[:k]), err
}

// readAll reads what the application receives until the stream ends or
// fails.
func (p *peer) readAll() (string, error) {
	p.app.SetReadDeadline(time.Now().Add(timeout))
	var sb strings.Builder
	_, err := io.Copy(&sb, p.app)
	return sb.String(), err
}

// timestamps reads the timestamp option out of TCP options.
func timestamps(opts []byte) (val, ecr uint32, ok bool) {
	for i := 0; i < len(opts); {
		switch opts[i] {
		case 0:
			return 0, 0, false
		case 1:
			i++
			continue
		}
		if i+1 >= len(opts) || opts[i+1] < 2 || i+int(opts[i+1]) > len(opts) {
			return 0, 0, false
		}
		if opts[i] == 8 && opts[i+1] == 10 {
			return binary.BigEndian.Uint32(opts[i+2:]), binary.BigEndian.Uint32(opts[i+6:]), true
		}
		i += int(opts[i+1])
	}
	return 0, 0, false
}

func describe(qs []*packet.IP) string {
	if len(qs) == 0 {
		return "nothing"
	}
	var s []string
	for _, q := range qs {
		s = append(s, segString(q))
	}
	return strings.Join(s, "; ")
}

func segString(q *packet.IP) string {
	f := ""
	for i, n := range "FSRPAU" {
		if q.Flags&(1<<i) != 0 {
			f += string(n)
		}
	}
	return f + " seq " + itoa(q.Seq) + " ack " + itoa(q.Ack) + " len " + itoa(uint32(len(q.Payload)))
}

func itoa(v uint32) string {
	var b [10]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			return string(b[i:])
		}
	}
}

// isReset reports whether err is the connection being reset.
func isReset(err error) bool {
	return errors.Is(err, syscall.ECONNRESET)
}

// pureACK reports whether q is a bare acknowledgment.
func pureACK(q *packet.IP) bool {
	return q.Flags&(packet.SYN|packet.FIN|packet.RST) == 0 && q.Flags&packet.ACK != 0 && len(q.Payload) == 0
}
