package strategy_test

import (
	"bytes"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/splinter-lab/splinter/packet"
)

// tcpFlags maps Geneva's letters to the 9-bit flags value.
func tcpFlags(s string) int {
	v := 0
	for _, c := range s {
		v |= 1 << strings.IndexRune("FSRPAUECN", c)
	}
	return v
}

// isGenevaLoad reports whether a payload is one of the four loads
// Geneva's corrupt draws (layers/layer.py: gen_load).
func isGenevaLoad(pl string) bool {
	return pl == "" || pl == "GET / HTTP/1.1\r\nHost: www.example.com\r\n\r\n" ||
		strings.Contains(pl, "\x08faceface\x03com") ||
		len(pl) == 10 && strings.Trim(pl, "abcdefghijklmnopqrstuvwxyz0123456789") == ""
}

var (
	reFlags = regexp.MustCompile(`tamper\{TCP:flags:replace:([A-Z]+)\}`)
	reTTL   = regexp.MustCompile(`tamper\{IP:ttl:replace:(\d+)\}`)
	reLen   = regexp.MustCompile(`tamper\{IP:len:replace:(\d+)\}`)
	reOfs   = regexp.MustCompile(`tamper\{TCP:dataofs:replace:(\d+)\}`)
)

// checkInsertion checks the packet a row's tampers made from in: every
// tamper the DNA names shows in it.
func checkInsertion(t *testing.T, name, dna string, in []byte, v view) {
	t.Helper()
	var orig packet.IP
	if err := packet.Parse(in, &orig); err != nil {
		t.Fatal(err)
	}
	if m := reFlags.FindStringSubmatch(dna); m != nil && v.flags9() != tcpFlags(m[1]) {
		t.Errorf("%s: flags %#x, want %s", name, v.flags9(), m[1])
	}
	if m := reTTL.FindStringSubmatch(dna); m != nil && strconv.Itoa(int(v.p.TTL)) != m[1] {
		t.Errorf("%s: TTL %d, want %s", name, v.p.TTL, m[1])
	}
	if m := reOfs.FindStringSubmatch(dna); m != nil && strconv.Itoa(v.dataofs()) != m[1] {
		t.Errorf("%s: data offset %d, want %s", name, v.dataofs(), m[1])
	}
	if m := reLen.FindStringSubmatch(dna); m != nil {
		if strconv.Itoa(v.ipLen()) != m[1] || len(v.b) != len(in) {
			t.Errorf("%s: IP length %d of %d bytes, want %s of %d", name, v.ipLen(), len(v.b), m[1], len(in))
		}
	}
	if strings.Contains(dna, "TCP:chksum:corrupt") && v.transportOK() {
		t.Errorf("%s: TCP checksum still right", name)
	}
	if !strings.Contains(dna, "TCP:chksum:corrupt") && !strings.Contains(dna, "IP:len") && !v.transportOK() {
		t.Errorf("%s: TCP checksum wrong", name)
	}
	if !v.ipSumOK() {
		t.Errorf("%s: IP checksum wrong", name)
	}
	if strings.Contains(dna, "TCP:ack:corrupt") && v.p.Ack == orig.Ack {
		t.Errorf("%s: ack unchanged", name)
	}
	if strings.Contains(dna, "TCP:load:corrupt") && !isGenevaLoad(string(v.p.Payload)) {
		t.Errorf("%s: load %q", name, v.p.Payload)
	}
	if strings.Contains(dna, "options-md5header:corrupt") {
		if md5, ok := v.option(19); !ok || len(md5) != 16 {
			t.Errorf("%s: no MD5 option: %x", name, v.b)
		}
	}
	if strings.Contains(dna, "options-wscale:corrupt") {
		if ws, ok := v.option(3); !ok || len(ws) != 1 || len(v.b) != len(in)+4 {
			t.Errorf("%s: no window scale option: %x", name, v.b)
		}
	}
	if strings.Contains(dna, "options-uto:corrupt") {
		if uto, ok := v.option(28); !ok || len(uto) != 2 || v.dataofs() != 6 {
			t.Errorf("%s: no UTO option: %x", name, v.b)
		}
	}
	if v.p.Seq != orig.Seq || v.p.SrcPort != orig.SrcPort || v.p.Dst != orig.Dst {
		t.Errorf("%s: changed more than its tampers", name)
	}
}

// TestCCS19 applies every strategy of Table 1 (Bock et al., CCS 2019) to a
// client's SYN, the ACK that ends its handshake and its HTTP request
// holding the forbidden keyword, and checks what would go on the wire:
// which packets, in which order, changed how. testdata/geneva-vectors.txt
// has the same strategies byte for byte against Geneva itself.
func TestCCS19(t *testing.T) {
	pkts := map[string][]byte{"S": syn(), "A": ack(), "PA": get()}
	for _, r := range readCCS19(t) {
		for kind, in := range pkts {
			out := apply(t, r.dna, false, in)
			name := r.name + " on " + kind
			trig := ""
			if m := regexp.MustCompile(`^\[TCP:flags:([A-Z]+)\]`).FindStringSubmatch(r.dna); m != nil {
				trig = m[1]
			}
			if trig != kind && !(kind == "A" && strings.Contains(r.dna, "[TCP:flags:A]")) {
				if len(out) != 1 || !bytes.Equal(out[0], in) {
					t.Errorf("%s: not triggered, yet emitted %x", name, out)
				}
				continue
			}
			vs := make([]view, len(out))
			for i, b := range out {
				vs[i] = parseView(t, b)
			}
			switch {
			case strings.HasPrefix(r.dna, "[TCP:flags:PA]-fragment{tcp:8:False}"):
				if kind == "A" {
					if len(vs) != 1 || vs[0].p.Seq == 1001 || !vs[0].transportOK() {
						t.Errorf("%s: seq not corrupted: %x", name, out)
					}
					continue
				}
				if len(vs) != 2 || string(vs[0].p.Payload) != getRequest[8:] || vs[0].p.Seq != 1009 || string(vs[1].p.Payload) != getRequest[:8] || vs[1].p.Seq != 1001 {
					t.Errorf("%s: %x", name, out)
				}
			case strings.HasPrefix(r.dna, "[TCP:flags:PA]-fragment{tcp:8:True}(,fragment{tcp:4:True})"):
				if len(vs) != 3 || string(vs[0].p.Payload) != getRequest[:8] || string(vs[1].p.Payload) != getRequest[8:12] ||
					string(vs[2].p.Payload) != getRequest[12:] || vs[1].p.Seq != 1009 || vs[2].p.Seq != 1013 {
					t.Errorf("%s: %x", name, out)
				}
			case strings.HasPrefix(r.dna, "[TCP:flags:PA]-fragment{tcp:-1:True}"):
				if len(vs) != 2 || string(vs[0].p.Payload) != getRequest[:19] || vs[1].p.Seq != 1020 {
					t.Errorf("%s: %x", name, out)
				}
			case strings.HasPrefix(r.dna, "[TCP:flags:PA]-tamper{TCP:options-uto:corrupt}"):
				if len(vs) != 1 {
					t.Fatalf("%s: %d packets", name, len(vs))
				}
				checkInsertion(t, name, r.dna, in, vs[0])
			case strings.Contains(r.dna, "-duplicate("):
				if len(vs) != 2 {
					t.Fatalf("%s: %d packets", name, len(vs))
				}
				orig, mod := vs[1], vs[0] // duplicate(X,): the modified copy first
				if strings.Contains(r.dna, "-duplicate(,") {
					orig, mod = vs[0], vs[1]
				}
				if !bytes.Equal(orig.b, in) {
					t.Errorf("%s: original not sent unchanged (in its place)", name)
				}
				checkInsertion(t, name, r.dna, in, mod)
			default:
				t.Errorf("%s: no expectation for %s", name, r.dna)
			}
		}
	}
}
