package border

import (
	"net/netip"
	"strconv"

	"github.com/splinter-lab/splinter/packet"
	"github.com/splinter-lab/splinter/policy"
)

// TCPFlagsMatch matches a TCP packet whose flags are exactly one of Flags,
// sent by From: the trigger of a censor that reacts to the handshake itself
// rather than to what the connection carries (the GFW on 2025-08-20, 00:34
// to 01:48 CST: every SYN and every SYN+ACK on port 443 drew forged
// RST+ACKs; GFW Report, net4people/bbs#511). It judges every packet on its
// own, the server's included, so a rule on it fires once per matching
// packet. Flags is required.
type TCPFlagsMatch struct {
	// Flags are the combinations that match ("syn", "syn-ack", "rst-ack",
	// "fin-ack", ...); the packet's flags must equal one of them, PSH, ECE
	// and CWR aside.
	Flags []policy.TCPFlags `yaml:"flags"`
	// From is the sender: client, server, or "" for either.
	From policy.Peer `yaml:"from"`
}

func init() {
	RegisterMatcher("tcp-flags", "A TCP packet whose flags equal one of the given combinations (syn, syn-ack...), from the client, the server or either.",
		func() MatcherConfig { return &TCPFlagsMatch{} })
}

// Kind implements policy.Matcher.
func (*TCPFlagsMatch) Kind() string { return "tcp-flags" }

// Validate implements policy.Matcher.
func (m *TCPFlagsMatch) Validate(c *policy.Checker) {
	if len(m.Flags) == 0 {
		c.Errorf("flags", "tcp-flags needs at least one combination of flags")
	}
	for i, f := range m.Flags {
		if f == 0 {
			c.Errorf("flags["+strconv.Itoa(i)+"]", "an empty combination of flags")
		}
	}
	policy.OneOf(c, "from", m.From, true, policy.Client, policy.Server, policy.ToBoth)
}

// Compile implements MatcherConfig.
func (m *TCPFlagsMatch) Compile(*Compiler) (Matcher, error) {
	fm := &flagsMatcher{from: m.From}
	for _, f := range m.Flags {
		fm.want = append(fm.want, wireFlags(f))
	}
	return fm, nil
}

// wireFlags turns policy flags into the TCP header's flag bits.
func wireFlags(f policy.TCPFlags) uint8 {
	var b uint8
	for _, x := range []struct {
		p policy.TCPFlags
		w uint8
	}{{policy.FlagFIN, packet.FIN}, {policy.FlagSYN, packet.SYN}, {policy.FlagRST, packet.RST}, {policy.FlagPSH, packet.PSH}, {policy.FlagACK, packet.ACK}, {policy.FlagURG, packet.URG}} {
		if f&x.p != 0 {
			b |= x.w
		}
	}
	return b
}

type flagsMatcher struct {
	want []uint8
	from policy.Peer
}

func (fm *flagsMatcher) Traits() Traits {
	return Traits{Layer: LayerIP, Header: true, Protocols: OnlyTCP, PerPacket: true, ServerPackets: fm.from != policy.Client}
}

// significant are the flags compared: PSH, ECE and CWR vary with stacks.
const significant = packet.FIN | packet.SYN | packet.RST | packet.ACK | packet.URG

func (fm *flagsMatcher) Match(in *Inspection) Result {
	p := in.p
	fromClient := netip.AddrPortFrom(p.Src, p.SrcPort) == in.client
	if fm.from == policy.Client && !fromClient || fm.from == policy.Server && fromClient {
		return NoMatch
	}
	got := p.Flags & significant
	for _, w := range fm.want {
		if got == w&significant {
			in.Evidence(EvidenceTCPFlags, flagNames(got))
			return Match
		}
	}
	return NoMatch
}

// EvidenceTCPFlags is the evidence of a tcp-flags matcher: the packet's
// flags.
const EvidenceTCPFlags EvidenceKind = "tcp-flags"

func flagNames(f uint8) string {
	s := ""
	for _, x := range []struct {
		b uint8
		n string
	}{{packet.SYN, "syn"}, {packet.FIN, "fin"}, {packet.RST, "rst"}, {packet.PSH, "psh"}, {packet.ACK, "ack"}, {packet.URG, "urg"}} {
		if f&x.b != 0 {
			if s != "" {
				s += "+"
			}
			s += x.n
		}
	}
	return s
}
