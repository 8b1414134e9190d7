package strategy_test

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/splinter-lab/splinter/packet"
	"github.com/splinter-lab/splinter/strategy"
)

// Trigger matching (actions/trigger.py: Trigger.is_applicable): a field's
// value equals the trigger's exactly; flags compare as bits; a wildcard
// tests for text within text, or one set flag.
func TestTriggers(t *testing.T) {
	pa := get()
	pau := seg(client4, server4, packet.PSH|packet.ACK|packet.URG, 1, 1, nil, "x")
	for _, tc := range []struct {
		trigger string
		pkt     []byte
		fires   bool
	}{
		{"TCP:flags:PA", pa, true},
		{"TCP:flags:AP", pa, true},   // letters are bits: order does not matter
		{"TCP:flags:PA", pau, false}, // exactly PSH+ACK
		{"TCP:flags:A", pa, false},
		{"TCP:flags:24", pa, true}, // 0x18
		{"TCP:flags:P*", pau, true},
		{"TCP:flags:S*", pau, false},
		{"TCP:flags:", seg(client4, server4, 0, 1, 1, nil, ""), true},
		{"TCP:dport:80", pa, true},
		{"TCP:dport:443", pa, false},
		{"TCP:seq:1001", pa, true},
		{"TCP:window:502", pa, true},
		{"TCP:dataofs:5", pa, true},
		{"TCP:dataofs:8", getO(), true},
		{"TCP:options-mss:1460", syn(), true},
		{"TCP:options-wscale:7", syn(), true},
		{"TCP:options-timestamp:111", syn(), true}, // the first element of (TSval, TSecr)
		{"TCP:options-sackok:", syn(), true},
		{"TCP:options-sackok:", pa, true}, // "" also when absent, as Geneva's getter says
		{"TCP:options-mss:1460", pa, false},
		{"TCP:load:GET%20/%3Fq%3Dultrasurf%20HTTP/1.1%0D%0AHost%3A%20x%0D%0A%0D%0A", pa, true},
		{"TCP:load:ultrasurf*", pa, true},
		{"TCP:load:GET%20/*", pa, true}, // the load is compared percent-encoded
		{"TCP:load:GET/*", pa, false},
		{"TCP:load:", ack(), true},
		{"IP:ttl:64", pa, true},
		{"IP:src:198.18.0.66", pa, true},
		{"IP:src:198.18.*", pa, true},
		{"IP:dst:198.18.0.66", pa, false},
		{"IP:flags:DF", pa, true},
		{"IP:flags:", udp4(), true},
		{"IP:flags:D*", pa, true},
		{"IP:id:7", pa, true},
		{"IP:proto:6", pa, true},
		{"IP:len:79", pa, true},
		{"IP:ttl:64", get6(), true}, // the hop limit
		{"IP:len:79", get6(), false},
		{"IP:len:99", get6(), true}, // 40 + payload length
		{"IP:id:7", get6(), false},  // IPv6 has none
		{"UDP:dport:53", udp4(), true},
		{"UDP:dport:53", pa, false}, // no UDP layer
		{"TCP:dport:53", udp4(), false},
		{"UDP:load:", udp4(), true}, // scapy reads port 53 as DNS: no raw load
	} {
		out := apply(t, "["+tc.trigger+"]-drop-|", false, tc.pkt)
		if fired := len(out) == 0; fired != tc.fires {
			t.Errorf("[%s] fired %v, want %v", tc.trigger, fired, tc.fires)
		}
	}
}

// Gas (actions/trigger.py): N > 0 fires on the first N matches, 0 never,
// -N skips the first N matches and then fires on every one.
func TestGas(t *testing.T) {
	for _, tc := range []struct {
		gas  string
		want string // per packet: f fired, . let through
	}{
		{"", "fffff"},
		{":2", "ff..."},
		{":0", "....."},
		{":-2", "..fff"},
	} {
		e := strategy.New(strategy.MustParse("[TCP:flags:PA"+tc.gas+"]-drop-|"), strategy.Options{})
		got := ""
		for i := 0; i < 5; i++ {
			// a packet that does not match uses no gas
			if n := len(run(e, false, ack())); n != 1 {
				t.Fatalf("ack: %d packets", n)
			}
			if len(run(e, false, get())) == 0 {
				got += "f"
			} else {
				got += "."
			}
		}
		if got != tc.want {
			t.Errorf("gas %q: %s, want %s", tc.gas, got, tc.want)
		}
		if out, _ := e.Fired(); out[0] != strings.Count(tc.want, "f") {
			t.Errorf("gas %q: Fired %v", tc.gas, out)
		}
	}
}

// Duplicate (actions/duplicate.py) sends the packet down the left branch
// and a copy down the right, and the left subtree's packets go first: so
// duplicate(X,) sends the modified copy first, duplicate(,X) the original
// first.
func TestDuplicateOrder(t *testing.T) {
	before := applyOne(t, "[TCP:flags:A]-duplicate(tamper{TCP:flags:replace:R},)-|", ack(), 2)
	after := applyOne(t, "[TCP:flags:A]-duplicate(,tamper{TCP:flags:replace:R})-|", ack(), 2)
	if before[0].p.Flags != packet.RST || before[1].p.Flags != packet.ACK {
		t.Errorf("duplicate(X,): flags %#x then %#x", before[0].p.Flags, before[1].p.Flags)
	}
	if after[0].p.Flags != packet.ACK || after[1].p.Flags != packet.RST {
		t.Errorf("duplicate(,X): flags %#x then %#x", after[0].p.Flags, after[1].p.Flags)
	}
	if !bytes.Equal(after[0].b, ack()) {
		t.Error("the original is not sent unchanged")
	}
	three := applyOne(t, "[TCP:flags:A]-duplicate(duplicate(tamper{IP:ttl:replace:1},),tamper{IP:ttl:replace:3})-|", ack(), 3)
	if three[0].p.TTL != 1 || three[1].p.TTL != 64 || three[2].p.TTL != 3 {
		t.Errorf("TTLs %d %d %d, want 1 64 3", three[0].p.TTL, three[1].p.TTL, three[2].p.TTL)
	}
}

func TestDropSendEmpty(t *testing.T) {
	for _, tc := range []struct {
		dna  string
		want int
	}{
		{`[TCP:flags:PA]-drop-|`, 0},
		{`[TCP:flags:PA]-send-|`, 1},
		{`[TCP:flags:PA]-|`, 0}, // an empty tree sends nothing (actions/tree.py)
		{`[TCP:flags:PA]-duplicate(drop,)-|`, 1},
		{`[TCP:flags:PA]-duplicate(,send)-|`, 2},
		{`[TCP:flags:PA]-tamper{IP:ttl:replace:1}(drop,)-|`, 0},
		{`\/`, 1},
		{`\/ [TCP:flags:PA]-drop-|`, 1}, // an inbound tree does not see outbound packets
		{`[TCP:flags:S]-drop-|`, 1},
		// Every tree that fires runs on its own copy of the packet.
		{`[TCP:flags:PA]-duplicate-| [IP:ttl:64]-send-| [TCP:flags:S]-drop-|`, 3},
	} {
		out := apply(t, tc.dna, false, get())
		if len(out) != tc.want {
			t.Errorf("%s: %d packets, want %d", tc.dna, len(out), tc.want)
		}
		for _, b := range out {
			if !bytes.Equal(b, get()) && tc.dna != `[TCP:flags:PA]-tamper{IP:ttl:replace:1}(drop,)-|` {
				t.Errorf("%s: changed the packet", tc.dna)
			}
		}
	}
}

// Inbound trees hand back at most one packet, the first (engine.py:
// in_callback), and outbound ones do not touch inbound packets.
func TestInbound(t *testing.T) {
	dna := `[TCP:flags:PA]-drop-| \/ [TCP:flags:PA]-tamper{IP:ttl:replace:9}-| [TCP:flags:PA]-tamper{IP:ttl:replace:5}-|`
	in := apply(t, dna, true, get())
	if len(in) != 1 || parseView(t, in[0]).p.TTL != 9 {
		t.Fatalf("inbound: %x", in)
	}
	if out := apply(t, dna, false, get()); len(out) != 0 {
		t.Fatalf("outbound: %d packets", len(out))
	}
	if in := apply(t, `\/ [TCP:flags:PA]-drop-|`, true, get()); len(in) != 0 {
		t.Fatalf("inbound drop: %d packets", len(in))
	}
	if in := apply(t, `\/ [TCP:flags:SA]-drop-|`, true, get()); len(in) != 1 || !bytes.Equal(in[0], get()) {
		t.Fatalf("inbound untriggered: %x", in)
	}
}

// Tampers on every field (actions/tamper.py, layers/*.py). After a tamper
// scapy recomputes the IPv4 and TCP checksums unless the tamper set one of
// them; UDP's are left stale (layers/packet.py: Packet.set deletes only
// the IP and TCP checksums).
func TestTamperFields(t *testing.T) {
	type check func(v view) bool
	u16 := func(off int) func(v view) int {
		return func(v view) int { return int(binary.BigEndian.Uint16(v.b[off:])) }
	}
	for _, tc := range []struct {
		tamper  string
		pkt     []byte
		ok      check
		ipSum   bool // the IPv4 checksum is right
		tcpSum  bool // the transport checksum is right
		samelen bool
	}{
		{"IP:version:replace:5", get(), func(v view) bool { return v.b[0]>>4 == 5 }, true, true, true},
		{"IP:tos:replace:184", get(), func(v view) bool { return v.b[1] == 184 }, true, true, true},
		{"IP:id:replace:4660", get(), func(v view) bool { return u16(4)(v) == 4660 }, true, true, true},
		{"IP:flags:replace:MF", get(), func(v view) bool { return v.b[6]>>5 == 1 }, true, true, true},
		{"IP:flags:replace:evil+DF", get(), func(v view) bool { return v.b[6]>>5 == 6 }, true, true, true},
		{"IP:flags:replace:", get(), func(v view) bool { return v.b[6]>>5 == 0 }, true, true, true},
		{"IP:frag:replace:100", get(), func(v view) bool { return u16(6)(v)&0x1fff == 100 && v.b[6]>>5 == 2 }, true, false, true}, // a later fragment: no transport to verify
		{"IP:ttl:replace:1", get(), func(v view) bool { return v.p.TTL == 1 }, true, true, true},
		{"IP:ttl:add:10", get(), func(v view) bool { return v.p.TTL == 74 }, true, true, true},
		{"IP:proto:replace:17", get(), func(v view) bool { return v.b[9] == 17 }, true, false, true},
		{"IP:chksum:replace:4660", get(), func(v view) bool { return u16(10)(v) == 4660 }, false, true, true},
		{"IP:src:replace:192.0.2.1", get(), func(v view) bool { return v.p.Src.String() == "192.0.2.1" }, true, true, true},
		{"IP:dst:replace:203.0.113.9", get(), func(v view) bool { return v.p.Dst.String() == "203.0.113.9" }, true, true, true},
		{"IP:dst:corrupt", get(), func(v view) bool { return v.p.Dst != server4.Addr() }, true, true, true},
		{"TCP:sport:replace:1", get(), func(v view) bool { return v.p.SrcPort == 1 }, true, true, true},
		{"TCP:dport:replace:8080", get(), func(v view) bool { return v.p.DstPort == 8080 }, true, true, true},
		{"TCP:seq:replace:4294967295", get(), func(v view) bool { return v.p.Seq == 4294967295 }, true, true, true},
		{"TCP:seq:add:100", get(), func(v view) bool { return v.p.Seq == 1101 }, true, true, true},
		{"TCP:ack:corrupt", get(), func(v view) bool { return v.p.Ack != 5001 }, true, true, true},
		{"TCP:reserved:replace:5", get(), func(v view) bool { return v.tcp()[12]>>1&7 == 5 && v.dataofs() == 5 }, true, true, true},
		{"TCP:flags:replace:FSRPAUECN", get(), func(v view) bool { return v.flags9() == 0x1ff }, true, true, true},
		{"TCP:flags:replace:FRAPUN", get(), func(v view) bool { return v.flags9() == 0x100|0x3d }, true, true, true},
		{"TCP:flags:replace:", get(), func(v view) bool { return v.flags9() == 0 }, true, true, true},
		{"TCP:flags:add:1", get(), func(v view) bool { return v.flags9() == 0x19 }, true, true, true},
		{"TCP:window:replace:0", get(), func(v view) bool { return v.p.Window == 0 }, true, true, true},
		{"TCP:window:corrupt", get(), func(v view) bool { return v.p.Window%10 == 0 && v.p.Window >= 10 && v.p.Window < 200 }, true, true, true},
		{"TCP:chksum:replace:1", get(), func(v view) bool { return u16(36)(v) == 1 }, true, false, true},
		{"TCP:chksum:corrupt", get(), func(v view) bool { return true }, true, false, true},
		{"TCP:urgptr:replace:7", get(), func(v view) bool { return u16(38)(v) == 7 }, true, true, true},
		{"TCP:dataofs:replace:15", get(), func(v view) bool { return v.dataofs() == 15 }, true, true, true},
		{"UDP:sport:replace:1", udp4(), func(v view) bool { return v.p.SrcPort == 1 }, true, false, true},
		{"UDP:len:replace:9", udp4(), func(v view) bool { return u16(24)(v) == 9 }, true, false, true},
		{"UDP:len:corrupt", udp4(), func(v view) bool { return u16(24)(v) == 0 }, true, false, true},
		{"UDP:chksum:corrupt", udp4(), func(v view) bool { return u16(26)(v) == 0 }, true, true, true}, // 0: no checksum
		{"IP:ttl:replace:9", udp4(), func(v view) bool { return v.p.TTL == 9 }, true, true, true},
		{"IP:ttl:replace:9", get6(), func(v view) bool { return v.p.TTL == 9 }, true, true, true},
		{"IP:tos:replace:255", get6(), func(v view) bool { return v.b[0] == 0x6f && v.b[1]>>4 == 15 }, true, true, true},
		{"IP:src:replace:192.0.2.1", get6(), func(v view) bool { return v.p.Src == client6.Addr() }, true, true, true},
		{"TCP:seq:replace:5", get6(), func(v view) bool { return v.p.Seq == 5 }, true, true, true},
		{"TCP:chksum:replace:5", get6(), func(v view) bool { return u16(56)(v) == 5 }, true, false, true},
	} {
		dna := "[IP:ttl:64]-tamper{" + tc.tamper + "}-|"
		in := tc.pkt
		out := applyOne(t, dna, in, 1)
		v := out[0]
		if !tc.ok(v) {
			t.Errorf("%s: field not changed as expected\n%x", tc.tamper, v.b)
		}
		if v.ipSumOK() != tc.ipSum {
			t.Errorf("%s: IP checksum right: %v, want %v", tc.tamper, v.ipSumOK(), tc.ipSum)
		}
		if v.transportOK() != tc.tcpSum {
			t.Errorf("%s: transport checksum right: %v, want %v", tc.tamper, v.transportOK(), tc.tcpSum)
		}
		if tc.samelen && len(v.b) != len(in) {
			t.Errorf("%s: length %d, was %d", tc.tamper, len(v.b), len(in))
		}
	}
}

// IP:ihl changes four bits; scapy's header checksum covers the 20 bytes it
// built, and its TCP pseudo-header takes len - 4*ihl as the length.
// Corrupt leaves ihl 0 (scapy's fuzz() does not fuzz a field whose
// default is None).
func TestTamperIHL(t *testing.T) {
	for _, tc := range []struct {
		tamper string
		ihl    byte
	}{{"replace:6", 6}, {"corrupt", 0}, {"add:1", 6}} {
		in := get()
		out := apply(t, "[TCP:flags:PA]-tamper{IP:ihl:"+tc.tamper+"}-|", false, in)
		if len(out) != 1 {
			t.Fatalf("%s: %d packets", tc.tamper, len(out))
		}
		v := out[0]
		if v[0] != 0x40|tc.ihl || packet.Checksum(v[:20]) != 0 || len(v) != len(in) || !bytes.Equal(v[20:36], in[20:36]) {
			t.Errorf("%s: %x", tc.tamper, v)
		}
	}
}

// IP:len replaced: every byte still goes out, the header claims the new
// length (with a right header checksum), and the TCP checksum covers every
// byte built but takes len - 20 as the pseudo-header length
// (scapy/layers/inet.py: in4_pseudoheader). The next hop trims the packet
// to 64 bytes.
func TestTamperIPLen(t *testing.T) {
	in := get()
	v := applyOne(t, "[TCP:flags:PA]-tamper{IP:len:replace:64}-|", in, 1)[0].b
	if len(v) != len(in) || binary.BigEndian.Uint16(v[2:4]) != 64 || packet.Checksum(v[:20]) != 0 {
		t.Fatalf("%x", v)
	}
	if !bytes.Equal(v[20:36], in[20:36]) || !bytes.Equal(v[38:], in[38:]) {
		t.Fatal("transport changed beyond its checksum")
	}
	want := packet.TransportChecksum(client4.Addr(), server4.Addr(), packet.TCP, append([]byte(nil), v[20:]...))
	// TransportChecksum uses the segment's own length; scapy's uses 44.
	seg := append([]byte(nil), v[20:]...)
	seg[16], seg[17] = 0, 0
	got := binary.BigEndian.Uint16(v[36:38])
	var s uint32
	for _, w := range []uint16{0xc612, 0x0042, 0xc612, 0x6087, 6, 44} {
		s += uint32(w)
	}
	for i := 0; i+1 < len(seg); i += 2 {
		s += uint32(seg[i])<<8 | uint32(seg[i+1])
	}
	if len(seg)%2 == 1 {
		s += uint32(seg[len(seg)-1]) << 8
	}
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	if got != ^uint16(s) || got == want {
		t.Fatalf("TCP checksum %#x, want %#x (pseudo-header length 44)", got, ^uint16(s))
	}
	var p packet.IP
	if err := packet.Parse(v, &p); err != nil || packet.VerifyTransport(&p) {
		t.Fatalf("trimmed to 64 bytes the segment should not verify: %v", err)
	}
}

// TCP:dataofs replaced changes four bits: the header is neither padded
// nor cut, so the receiver reads payload bytes as options.
func TestTamperDataofs(t *testing.T) {
	in := get()
	v := applyOne(t, "[TCP:flags:PA]-tamper{TCP:dataofs:replace:10}-|", in, 1)[0]
	if v.dataofs() != 10 || len(v.b) != len(in) || !bytes.Equal(v.b[40:], in[40:]) || !v.transportOK() {
		t.Fatalf("%x", v.b)
	}
}

// Options (layers/tcp_layer.py: set_options): an option is replaced where
// it is, or appended; the options are padded to 4 bytes and the data
// offset, the lengths and checksums recomputed.
func TestTamperOptions(t *testing.T) {
	// Appended to a segment without options: WScale, 3 bytes, padded.
	v := applyOne(t, "[TCP:flags:PA]-tamper{TCP:options-wscale:replace:14}-|", get(), 1)[0]
	if v.dataofs() != 6 || !bytes.Equal(v.tcp()[20:24], []byte{3, 3, 14, 0}) || string(v.p.Payload) != getRequest || v.ipLen() != len(v.b) || !v.transportOK() || !v.ipSumOK() {
		t.Fatalf("wscale: %x", v.b)
	}
	// Replaced in place: the timestamp keeps its place and loses its echo.
	v = applyOne(t, "[TCP:flags:A]-tamper{TCP:options-timestamp:replace:5}-|", ack(), 1)[0]
	if !bytes.Equal(v.tcp()[20:32], []byte{1, 1, 8, 10, 0, 0, 0, 5, 0, 0, 0, 0}) || v.dataofs() != 8 {
		t.Fatalf("timestamp: %x", v.b)
	}
	// MD5 after NOP NOP TS: 12 + 18 = 30 bytes, padded to 32.
	v = applyOne(t, "[TCP:flags:A]-tamper{TCP:options-md5header:corrupt}-|", ack(), 1)[0]
	md5, ok := v.option(19)
	if !ok || len(md5) != 16 || v.dataofs() != 13 || len(v.b) != 20+52 || !v.transportOK() {
		t.Fatalf("md5: %x", v.b)
	}
	// UTO corrupt: 4 bytes, a value below 256.
	v = applyOne(t, "[TCP:flags:PA]-tamper{TCP:options-uto:corrupt}-|", getO(), 1)[0]
	if uto, ok := v.option(28); !ok || len(uto) != 2 || uto[0] != 0 || v.dataofs() != 9 {
		t.Fatalf("uto: %x", v.b)
	}
	// MSS add on a SYN.
	v = applyOne(t, "[TCP:flags:S]-tamper{TCP:options-mss:add:4}-|", syn(), 1)[0]
	if mss, _ := v.option(2); binary.BigEndian.Uint16(mss) != 1464 {
		t.Fatalf("mss: %x", v.b)
	}
	// A value scapy cannot pack: Geneva sends nothing.
	applyOne(t, "[TCP:flags:S]-tamper{TCP:options-mss:replace:70000}-|", syn(), 0)
	applyOne(t, "[TCP:flags:PA]-tamper{TCP:window:add:65535}-|", get(), 0)
	// Adding past 15 options words wraps the data offset as scapy does.
	v = applyOne(t, "[TCP:flags:A]-tamper{TCP:options-md5header:replace:"+strings.Repeat("ab", 30)+"}-|", ack(), 1)[0]
	if len(v.b) != 20+20+12+32 || v.tcp()[12]>>4 != (5+44/4)&15 {
		t.Fatalf("wrap: %x", v.b)
	}
}

// A corrupted load is one of Geneva's four (layers/layer.py: gen_load), or
// with Geneva2019's generators ten random letters and digits.
func TestTamperLoad(t *testing.T) {
	seen := map[string]bool{}
	e := strategy.New(strategy.MustParse("[TCP:flags:PA]-tamper{TCP:load:corrupt}-|"), strategy.Options{Rand: rand.New(rand.NewPCG(1, 1))})
	for i := 0; i < 200; i++ {
		out := run(e, false, get())
		v := parseView(t, out[0])
		pl := string(v.p.Payload)
		switch {
		case pl == "":
			seen["empty"] = true
		case strings.HasPrefix(pl, "GET / HTTP/1.1\r\nHost: www.example.com"):
			seen["http"] = true
		case strings.Contains(pl, "faceface"):
			seen["dns"] = true
		case len(pl) == 10 && strings.Trim(pl, "abcdefghijklmnopqrstuvwxyz0123456789") == "":
			seen["random"] = true
		default:
			t.Fatalf("load %q", pl)
		}
		if v.ipLen() != len(v.b) || !v.transportOK() || !v.ipSumOK() {
			t.Fatalf("lengths or checksums: %x", v.b)
		}
	}
	if len(seen) != 4 {
		t.Fatalf("saw %v", seen)
	}
	// Geneva as published with the CCS 2019 paper: random text only.
	e = strategy.New(strategy.MustParse("[TCP:flags:PA]-tamper{TCP:load:corrupt}-|"), strategy.Options{Rand: rand.New(rand.NewPCG(1, 1)), Generators: strategy.Geneva2019})
	for i := 0; i < 50; i++ {
		pl := string(parseView(t, run(e, false, get())[0]).p.Payload)
		if len(pl) != 10 || strings.Trim(pl, "abcdefghijklmnopqrstuvwxyz0123456789") != "" {
			t.Fatalf("Geneva2019 load %q, want ten letters and digits", pl)
		}
	}
	v := applyOne(t, "[TCP:flags:PA]-tamper{TCP:load:replace:GET%20/%E2%82%AC%FFx%zz}-|", get(), 1)[0]
	if string(v.p.Payload) != "GET /€\uFFFDx%zz" {
		t.Fatalf("load %q", v.p.Payload)
	}
	v = applyOne(t, "[TCP:flags:PA]-tamper{IP:load:replace:xyz}-|", get(), 1)[0]
	if string(v.b[20:]) != "xyz" || v.ipLen() != 23 {
		t.Fatalf("IP load %x", v.b)
	}
	v = applyOne(t, "[UDP:dport:53]-tamper{UDP:load:replace:abc}-|", udp4(), 1)[0]
	if string(v.b[28:]) != "abc" || binary.BigEndian.Uint16(v.b[24:26]) != 27 {
		t.Fatalf("UDP load %x (its length stays as it was)", v.b)
	}
}

// TCP segmentation (actions/fragment.py: tcp_segment).
func TestSegment(t *testing.T) {
	pl := getRequest // 39 bytes
	for _, tc := range []struct {
		frag  string
		parts []string
		seqs  []uint32
	}{
		{"tcp:8:True", []string{pl[:8], pl[8:]}, []uint32{1001, 1009}},
		{"tcp:8:False", []string{pl[8:], pl[:8]}, []uint32{1009, 1001}},
		{"tcp:-1:True", []string{pl[:19], pl[19:]}, []uint32{1001, 1020}},
		{"tcp:39:True", []string{pl[:19], pl[19:]}, []uint32{1001, 1020}}, // past the end: half
		{"tcp:0:True", []string{"", pl}, []uint32{1001, 1001}},
		{"tcp:-1:True:3", []string{pl[:22], pl[19:]}, []uint32{1001, 1020}},
		{"tcp:30:True:100", []string{pl, pl[30:]}, []uint32{1001, 1031}},
	} {
		out := applyOne(t, "[TCP:flags:PA]-fragment{"+tc.frag+"}-|", getO(), 2)
		for i, v := range out {
			if string(v.p.Payload) != tc.parts[i] || v.p.Seq != tc.seqs[i] || !v.transportOK() || !v.ipSumOK() || v.ipLen() != len(v.b) || v.dataofs() != 8 || v.p.Flags != packet.PSH|packet.ACK {
				t.Errorf("%s part %d: seq %d payload %q\n%x", tc.frag, i, v.p.Seq, v.p.Payload, v.b)
			}
		}
	}
	// Nested: 8 bytes, then the rest cut at 4.
	out := applyOne(t, "[TCP:flags:PA]-fragment{tcp:8:True}(,fragment{tcp:4:True})-|", get(), 3)
	for i, want := range []string{pl[:8], pl[8:12], pl[12:]} {
		if string(out[i].p.Payload) != want {
			t.Errorf("nested part %d: %q", i, out[i].p.Payload)
		}
	}
	// Sequence numbers wrap.
	wrap := seg(client4, server4, packet.PSH|packet.ACK, 0xfffffffe, 1, nil, "abcdef")
	out = applyOne(t, "[TCP:flags:PA]-fragment{tcp:4:True}-|", wrap, 2)
	if out[1].p.Seq != 2 {
		t.Errorf("wrapped seq %d", out[1].p.Seq)
	}
	// Nothing to cut: two copies.
	out = applyOne(t, "[TCP:flags:A]-fragment{tcp:-1:True}-|", ack(), 2)
	if !bytes.Equal(out[0].b, ack()) || !bytes.Equal(out[1].b, ack()) {
		t.Error("a segment without payload is not duplicated")
	}
	// IPv6.
	out = applyOne(t, "[TCP:flags:PA]-fragment{tcp:-1:True}-|", get6(), 2)
	if string(out[1].p.Payload) != pl[19:] || !out[1].transportOK() || out[1].p.Seq != 1020 {
		t.Errorf("IPv6 segment %x", out[1].b)
	}
}

// IP fragmentation (actions/fragment.py: ip_fragment over scapy's
// fragment()): offsets in 8-byte units, MF on the first, more than two
// fragments merged into the second, which then carries just DF.
func TestIPFragment(t *testing.T) {
	in := get() // 59 bytes of TCP
	tcp := in[20:]
	for _, tc := range []struct {
		frag    string
		first   int // bytes of TCP in the first fragment sent
		offsets [2]uint16
		flags   [2]uint8 // IPv4 flags bits (MF=1, DF=2)
	}{
		{"ip:-1:True", 24, [2]uint16{0, 3}, [2]uint8{3, 2}},
		{"ip:-1:False", 35, [2]uint16{3, 0}, [2]uint8{2, 3}},
		{"ip:2:True", 16, [2]uint16{0, 2}, [2]uint8{3, 2}},
		{"ip:100:True", 24, [2]uint16{0, 3}, [2]uint8{3, 2}}, // too large: half
		{"ip:4:True", 32, [2]uint16{0, 4}, [2]uint8{3, 2}},   // two fragments: the second keeps DF
	} {
		out := applyOne(t, "[TCP:flags:PA]-fragment{"+tc.frag+"}-|", in, 2)
		var joined [2][]byte
		for i, v := range out {
			ff := binary.BigEndian.Uint16(v.b[6:8])
			if ff&0x1fff != tc.offsets[i] || uint8(ff>>13) != tc.flags[i] || !v.ipSumOK() || v.ipLen() != len(v.b) {
				t.Errorf("%s fragment %d: offset %d flags %d\n%x", tc.frag, i, ff&0x1fff, ff>>13, v.b)
			}
			joined[ff&0x1fff/max(tc.offsets[0], tc.offsets[1])] = v.b[20:]
		}
		if len(out[0].b)-20 != tc.first || !bytes.Equal(append(joined[0], joined[1]...), tcp) {
			t.Errorf("%s: fragments do not reassemble", tc.frag)
		}
	}
	// A later action sees no TCP layer in a fragment.
	out := applyOne(t, "[TCP:flags:PA]-fragment{ip:-1:True}(tamper{TCP:flags:replace:R},tamper{IP:ttl:replace:3})-|", in, 2)
	if !bytes.Equal(out[0].b[20:], tcp[:24]) || out[1].p.TTL != 3 {
		t.Error("tamper on a fragment")
	}
	// Without payload, or on IPv6: two copies.
	for _, p := range [][]byte{ack(), get6()} {
		out := applyOne(t, "[IP:ttl:64]-fragment{ip:-1:True}-|", p, 2)
		if !bytes.Equal(out[0].b, p) || !bytes.Equal(out[1].b, p) {
			t.Errorf("not duplicated: %x", out[0].b)
		}
	}
}

// Sleep (actions/sleep.py): the packet goes to Options.Delay; a copy made
// by duplicate after the sleep does not sleep.
func TestSleep(t *testing.T) {
	var delayed []time.Duration
	e := strategy.New(strategy.MustParse("[TCP:flags:PA]-sleep{0.25}(duplicate(tamper{IP:ttl:replace:2},),)-|"), strategy.Options{
		Delay: func(b []byte, d time.Duration) {
			if parseView(t, b).p.TTL != 2 {
				t.Errorf("delayed the wrong packet")
			}
			delayed = append(delayed, d)
		},
	})
	out := run(e, false, get())
	if len(out) != 1 || !bytes.Equal(out[0], get()) || len(delayed) != 1 || delayed[0] != 250*time.Millisecond {
		t.Fatalf("out %d delayed %v", len(out), delayed)
	}
	// Without a Delay hook the packet is emitted last.
	out = apply(t, "[TCP:flags:PA]-sleep{9}(duplicate(tamper{IP:ttl:replace:2},),)-|", false, get())
	if len(out) != 2 || parseView(t, out[1]).p.TTL != 2 {
		t.Fatalf("%x", out)
	}
}

// Junk, truncated and non-TCP packets go through untouched and never
// crash the engine.
func TestJunk(t *testing.T) {
	dna := "[TCP:flags:PA]-duplicate(tamper{TCP:options-md5header:corrupt}(fragment{ip:-1:True},),fragment{tcp:-1:False})-|"
	for _, p := range [][]byte{nil, {0x45}, {0x60, 0, 0}, []byte("not a packet at all, really"), get()[:30]} {
		out := apply(t, dna, false, p)
		if len(out) != 1 || !bytes.Equal(out[0], p) {
			t.Errorf("%x: %x", p, out)
		}
	}
}

// An untriggered packet is emitted as it came, without allocating.
func TestNoAllocWhenNotTriggered(t *testing.T) {
	e := strategy.New(strategy.MustParse("[TCP:flags:PA]-duplicate(tamper{TCP:load:corrupt},)-| [TCP:options-mss:1460]-drop-|"), strategy.Options{})
	p := ack()
	var n int
	emit := func(b []byte) {
		if &b[0] != &p[0] {
			t.Fatal("not the same bytes")
		}
		n++
	}
	allocs := testing.AllocsPerRun(100, func() { e.Outbound(p, emit) })
	if allocs != 0 || n == 0 {
		t.Fatalf("%v allocations", allocs)
	}
}

func BenchmarkOutbound(b *testing.B) {
	e := strategy.New(strategy.MustParse("[TCP:flags:PA]-duplicate(tamper{TCP:dataofs:replace:10}(tamper{TCP:chksum:corrupt},),)-|"), strategy.Options{})
	for _, tc := range []struct {
		name string
		pkt  []byte
	}{{"untriggered", ack()}, {"duplicate-tamper", get()}} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				e.Outbound(tc.pkt, func([]byte) {})
			}
		})
	}
}

// FuzzEngine: no strategy and no packet crash the engine; inbound trees
// emit at most one packet.
func FuzzEngine(f *testing.F) {
	pkts := [][]byte{syn(), ack(), get(), getO(), get6(), udp4(), {0x45, 0, 0, 20}}
	for i, r := range readCCS19(f) {
		f.Add(r.dna, pkts[i%len(pkts)])
	}
	for i, dna := range readVectorDNA(f) {
		f.Add(dna, pkts[i%len(pkts)])
	}
	f.Fuzz(func(t *testing.T, dna string, pkt []byte) {
		s, err := strategy.Parse(dna)
		if err != nil {
			return
		}
		e := strategy.New(s, strategy.Options{Delay: func([]byte, time.Duration) {}})
		in := append([]byte(nil), pkt...)
		for i := 0; i < 2; i++ {
			e.Outbound(pkt, func(b []byte) {
				if b == nil {
					t.Fatal("nil packet")
				}
			})
			n := 0
			e.Inbound(pkt, func([]byte) { n++ })
			if n > 1 {
				t.Fatalf("inbound emitted %d packets", n)
			}
		}
		if !bytes.Equal(in, pkt) {
			t.Fatal("the engine wrote into the packet it was given")
		}
	})
}
