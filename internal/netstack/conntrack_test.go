package netstack

import (
	"testing"
	"time"

	"github.com/splinter-lab/splinter/packet"
)

// The firewall's source is net/netfilter/nf_conntrack_proto_tcp.c
// (tcp_error, tcp_new, tcp_in_window) with the defaults of every kernel
// since 2.6 (nf_conntrack_tcp_loose=1, nf_conntrack_tcp_be_liberal=0),
// and the rule `-m conntrack --ctstate INVALID -j DROP` of ufw's
// before.rules and firewalld's default zone.

// TestFirewallDropsInvalid plays crafted segments at the server of an
// established connection with and without the firewall: what conntrack
// marks INVALID never reaches TCP, the rest meets Linux's TCP as before.
func TestFirewallDropsInvalid(t *testing.T) {
	frapun := uint8(packet.FIN | packet.RST | packet.ACK | packet.PSH | packet.URG)
	send := func(flags uint8, ack func(p *peer) uint32, payload string) func(p *peer) {
		return func(p *peer) { p.send(p.raw(flags, ack(p), []byte(payload), p.tsOption())) }
	}
	good := func(p *peer) uint32 { return p.rcvNxt }
	corrupt := func(p *peer) uint32 { return p.rcvNxt + 0x40000000 }
	for _, tc := range []struct {
		name      string
		conntrack string // what conntrack does, cited
		act       func(p *peer)
		bare      string // the outcome without the firewall (Linux's TCP)
		firewall  string // with it
	}{
		{"InvalidFlags", "tcp_error: FIN+RST+ACK+PSH+URG is not in tcp_valid_flags (Geneva's TCB desync with invalid flags, CCS 2019 Table 1 row 4)",
			send(frapun, good, "EVIL"), "replies [] reset", `replies [] read "."`},
		{"RSTACKWithWrongAck", "tcp_in_window: an acknowledgment beyond what the receiver sent (III) fails, INVALID (Geneva's teardown with a corrupt ack, row 25)",
			send(packet.RST|packet.ACK, corrupt, ""), "replies [] reset", `replies [] read "."`},
		{"RSTACKInWindow", "tcp_in_window holds: a valid RST passes and resets",
			send(packet.RST|packet.ACK, good, ""), "replies [] reset", "replies [] reset"},
		{"FINWithoutACK", "tcp_error: a lone FIN is not in tcp_valid_flags; Linux's TCP drops a segment without ACK anyway",
			send(packet.FIN, good, "EVIL"), `replies [] read "."`, `replies [] read "."`},
		{"DataInWindow", "tcp_in_window holds: in-sequence data passes",
			func(p *peer) { p.data("ok") }, `replies [] read "ok."`, `replies [] read "ok."`},
		{"DataFarBeyondWindow", "tcp_in_window: a sequence number past the window the receiver offered (I) fails; without the firewall Linux answers it with a duplicate ACK",
			func(p *peer) {
				p.sndNxt += 1 << 30
				p.send(p.raw(packet.ACK|packet.PSH, p.rcvNxt, []byte("EVIL"), p.tsOption()))
				p.sndNxt -= 1 << 30
			}, `replies [ACK] read "."`, `replies [] read "."`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ec := establishedCase{name: tc.name, act: tc.act, read: "."}
			if tc.name == "DataInWindow" {
				ec.read = "ok."
			}
			if got := runEstablishedConfig(t, ec, Config{}); got != tc.bare {
				t.Errorf("without the firewall: got %s, want %s", got, tc.bare)
			}
			if got := runEstablishedConfig(t, ec, Config{DropInvalid: true}); got != tc.firewall {
				t.Errorf("%s\nwith the firewall: got %s, want %s", tc.conntrack, got, tc.firewall)
			}
		})
	}
}

// TestFirewallDropsStraySYNACK: tcp_new refuses a SYN+ACK that belongs to
// no connection (TCB turnaround's first packet), so the listener behind
// the firewall never sees it and sends no RST, where a bare Linux server
// does (TestSYNACKToListenerGetsRST). A SYN then opens a connection.
func TestFirewallDropsStraySYNACK(t *testing.T) {
	p := newStackPeerConfig(t, Config{DropInvalid: true}, peerAddr, stackAddr)
	p.sndNxt = p.iss
	p.send(p.raw(packet.SYN|packet.ACK, 4242, nil, nil))
	if q := p.next(300 * time.Millisecond); q != nil {
		t.Fatalf("the stack answered a stray SYN+ACK behind the firewall: %v", q.Flags)
	}
	p.connect()
	p.data("hello")
	if s, err := p.read(5); err != nil || s != "hello" {
		t.Fatalf("after the stray SYN+ACK the connection reads %q, %v", s, err)
	}
}
