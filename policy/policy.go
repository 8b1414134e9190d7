package policy

import (
	"fmt"
	"net/netip"
	"slices"
	"time"

	"gopkg.in/yaml.v3"
)

// Policy is the canonical, typed description of what one border does. The
// YAML files are an adapter onto it (see Load). The zero value is not a
// usable policy: Validate says what is missing (a name and at least one rule).
type Policy struct {
	// Name identifies the policy ("CN-2024").
	Name string `yaml:"name"`
	// Meta says whose policy this is and where its description comes from.
	Meta Meta `yaml:"meta"`
	// Lists are the named lists rules refer to, keyed by name. Each List's
	// Name equals its key.
	Lists map[string]*List `yaml:"lists"`
	// TCP is the censor's TCP state model: its boxes, each with its own
	// per-flow state that reacts to resets and odd segments, which is what
	// evasion strategies exploit.
	TCP TCPModel `yaml:"tcp"`
	// IP is what the censor does with IPv4 fragments.
	IP IPModel `yaml:"ip"`
	// Rules are evaluated by the engine independently: every rule whose
	// scope and matchers hold runs its actions (censors run separate boxes
	// in parallel, so rules are not first-match).
	Rules []Rule `yaml:"rules"`

	// Source is the file the policy was read from ("" when built in Go).
	Source string `yaml:"-"`
	// History names the history the policy is a version of ("" for a
	// policy written on its own); Name is then the version's name.
	History string `yaml:"-"`
	// Pos is where the policy document starts.
	Pos Pos `yaml:"-"`

	// pos holds the position of every YAML node by path
	// ("rules[2].match[0].tls-sni.list"); nil for policies built in Go.
	pos map[string]Pos
	// bad holds the paths that failed to decode, so that Validate does not
	// report their zero values a second time.
	bad map[string]bool
	// files are the files read besides the policy's own (see Files).
	files []string
	// doc is the policy document of a history version (see Standalone).
	doc *yaml.Node
}

// Files lists the files Load or ReadFiles read besides the policy file
// itself (list sources, block-page bodies), slash-separated and relative to
// the policy's folder, in the order read.
func (p *Policy) Files() []string { return p.files }

// Meta describes the policy as a whole. Its zero value is usable.
type Meta struct {
	// Jurisdiction is the code of the state that applies the policy ("CN").
	Jurisdiction string `yaml:"jurisdiction"`
	// Authority is the body that operates or mandates the filtering.
	Authority string `yaml:"authority"`
	// LegalBasis names the law or order the filtering rests on, if known.
	LegalBasis string `yaml:"legal-basis"`
	// Year is the year whose behaviour the policy describes.
	Year int `yaml:"year"`
	// Effective is the date the policy describes; zero if unknown.
	Effective Date `yaml:"effective"`
	// Description is one paragraph for people.
	Description string `yaml:"description"`
	// Sources cite the papers and reports the policy is built from.
	Sources []string `yaml:"sources"`
}

// Rule is one censorship behaviour: when a packet or flow is in Scope and
// every matcher in Match holds (on the packets Inspect selects), the engine
// runs every action in Actions. The zero value is not usable: a rule needs an
// ID, a Source, a Year, at least one matcher and at least one action.
type Rule struct {
	// ID is unique in the policy ("cn-sni-mb-ra").
	ID string `yaml:"id"`
	// Description says what the rule models, for people.
	Description string `yaml:"description"`
	// Source cites the paper or report the behaviour comes from. Required.
	Source string `yaml:"source"`
	// Year is the year the behaviour was observed. Required.
	Year int `yaml:"year"`
	// Match holds the matchers; all must hold (logical AND).
	Match []Matcher `yaml:"match"`
	// Actions run, in order, when the rule triggers.
	Actions []Action `yaml:"actions"`
	// Scope says which traffic the rule considers at all.
	Scope Scope `yaml:"scope"`
	// Inspect says which packets of a flow the matchers see and how.
	Inspect Inspect `yaml:"inspect"`

	// Pos is where the rule was declared.
	Pos Pos `yaml:"-"`
}

// Direction is the direction of traffic across the border relative to the
// jurisdiction that applies the policy.
type Direction string

// Directions. Outbound traffic goes from inside the jurisdiction to outside
// (a client at home reaching a foreign server); inbound the reverse. The zero
// value means Both.
const (
	Outbound Direction = "outbound"
	Inbound  Direction = "inbound"
	Both     Direction = "both"
)

// Protocol is a transport protocol.
type Protocol string

// Protocols.
const (
	TCP  Protocol = "tcp"
	UDP  Protocol = "udp"
	ICMP Protocol = "icmp"
)

// Scope says which traffic a rule considers; it is checked before any
// matcher. Its zero value is usable: both directions, every protocol, every
// port and address, always, with probability 1.
type Scope struct {
	// Direction of the flow (who opened it) relative to the jurisdiction;
	// "" means both.
	Direction Direction `yaml:"direction"`
	// Protocols, if not empty, restricts the rule to these protocols.
	Protocols []Protocol `yaml:"protocols"`
	// Ports, if not empty, restricts the rule to these destination (server)
	// ports.
	Ports []PortRange `yaml:"ports"`
	// SrcPortGreaterThanDst restricts the rule to flows whose source port is
	// greater than the destination port (the GFW's QUIC filter).
	SrcPortGreaterThanDst bool `yaml:"src-port-greater-than-dst"`
	// Destinations, if set, restricts the rule to servers in these addresses.
	Destinations AddrSet `yaml:"destinations"`
	// Sources, if set, restricts the rule to clients in these addresses.
	Sources AddrSet `yaml:"sources"`
	// Probability is the chance in [0, 1] that the rule considers a given
	// flow at all (the GFW misses about 3% of HTTP requests; the fully
	// encrypted traffic filter blocks 26.3%). nil means 1; use P to set it
	// from Go. The engine draws once per flow.
	Probability *float64 `yaml:"probability"`
	// Active limits when the rule is in force; its zero value is always.
	Active Window `yaml:"active"`
}

// P returns a pointer to p, for Scope.Probability and other optional
// probabilities.
func P(p float64) *float64 { return &p }

// Prob returns *p, or 1 when p is nil: the reading of every optional
// probability in this package.
func Prob(p *float64) float64 {
	if p == nil {
		return 1
	}
	return *p
}

// AddrSet is a set of addresses given by a named prefixes list, inline
// prefixes, or both (the union). Its zero value is the empty set, which in a
// Scope means "any address".
type AddrSet struct {
	// List names a prefixes list.
	List string `yaml:"list"`
	// Prefixes are inline prefixes.
	Prefixes []netip.Prefix `yaml:"prefixes"`
}

// IsZero reports whether the set is unset.
func (a AddrSet) IsZero() bool { return a.List == "" && len(a.Prefixes) == 0 }

// Window is when a rule is in force: between From and Until (either may be
// zero, meaning open-ended; Until is the last day in force), or within any of
// Periods (several dated episodes of one behaviour: Iran's throttling of
// 2011-12 and 2012, its shutdowns), and, if Daily is set, only during that
// time of day. Times are in UTC. The zero value is "always".
type Window struct {
	From  Date       `yaml:"from"`
	Until Date       `yaml:"until"`
	Daily ClockRange `yaml:"daily"`
	// Periods, if not empty, replace From and Until: the window holds on
	// the days of any of them.
	Periods []Period `yaml:"periods"`
}

// Period is a run of days: From to Until, both included; either may be
// zero (open-ended). Its zero value is every day.
type Period struct {
	From  Date `yaml:"from"`
	Until Date `yaml:"until"`
}

// Contains reports whether t lies in the period.
func (p Period) Contains(t time.Time) bool {
	if !p.From.IsZero() && t.Before(p.From.Time()) {
		return false
	}
	return p.Until.IsZero() || t.Before(p.Until.Time().Add(24*time.Hour))
}

// IsZero reports whether the window is "always".
func (w Window) IsZero() bool {
	return w.From.IsZero() && w.Until.IsZero() && w.Daily == (ClockRange{}) && len(w.Periods) == 0
}

// Contains reports whether the window holds at t: within its dates (Until
// is the last day, so the window closes at the next midnight UTC) and its
// daily hours.
func (w Window) Contains(t time.Time) bool {
	if len(w.Periods) > 0 {
		in := false
		for _, p := range w.Periods {
			if p.Contains(t) {
				in = true
				break
			}
		}
		if !in {
			return false
		}
	} else if !(Period{From: w.From, Until: w.Until}).Contains(t) {
		return false
	}
	return w.Daily.Contains(t)
}

// Edges returns the instants at which the window's dates open or close
// (a From, the midnight after an Until), in order, without duplicates: the
// dates at which a rule starts or stops being in force. Daily hours are not
// edges.
func (w Window) Edges() []time.Time {
	periods := w.Periods
	if len(periods) == 0 {
		periods = []Period{{From: w.From, Until: w.Until}}
	}
	var out []time.Time
	for _, p := range periods {
		if !p.From.IsZero() {
			out = append(out, p.From.Time())
		}
		if !p.Until.IsZero() {
			out = append(out, p.Until.Time().Add(24*time.Hour))
		}
	}
	slices.SortFunc(out, func(a, b time.Time) int { return a.Compare(b) })
	return slices.CompactFunc(out, func(a, b time.Time) bool { return a.Equal(b) })
}

// PacketSelect says which packets of a flow the matchers of a rule inspect.
type PacketSelect string

// Packet selections. The zero value means All.
const (
	// First inspects only the first data packet in each direction the
	// matchers look at (the fully-encrypted filter, Russia's throttler).
	First PacketSelect = "first"
	// FirstN inspects the first Inspect.N data packets.
	FirstN PacketSelect = "first-n"
	// All inspects every packet.
	All PacketSelect = "all"
	// FirstRequest inspects only the first client data packet that opens a
	// request of the rule's protocol (an HTTP request line for http, a TLS
	// handshake record for tls-sni), each on its own: packets that do not
	// look like one are skipped, not counted (India's Airtel box: Geneva,
	// CCS 2019, Table 1).
	FirstRequest PacketSelect = "first-request"
	// WhileRequest inspects client data packets from the flow's first, each
	// on its own, for as long as they open a request of the rule's protocol
	// that is not yet whole: a packet that opens none ends the inspection
	// (a copy with a corrupted payload hides what follows), and one that
	// opens a request but is cut short (no Host yet) leaves it open for the
	// next (a truncated copy hides nothing). Kazakhstan's HTTP box in 2019:
	// Geneva's strategy library (strategies.md), Kazakhstan column.
	WhileRequest PacketSelect = "while-request"
)

// Inspect says which packets of a flow a rule's matchers see and how the
// engine prepares them, and on which of the policy's TCP boxes the rule runs
// (each GFW box has its own TCP state machine). The zero value is usable:
// the default box, every packet, each on its own, no handshake required,
// checksums ignored, no buffer limit.
type Inspect struct {
	// Box names the TCP box (TCPModel.Boxes) whose state the rule's TCP
	// flows are tracked by; "" means the policy's default box.
	Box string `yaml:"box"`
	// Packets selects packets; "" means all.
	Packets PacketSelect `yaml:"packets"`
	// N is the number of data packets for FirstN.
	N int `yaml:"n"`
	// ReassembleTCP reassembles the client's byte stream before matching.
	ReassembleTCP bool `yaml:"reassemble-tcp"`
	// ReassembleTLS joins a handshake message split over several TLS
	// records; without it a ClientHello in two records evades.
	ReassembleTLS bool `yaml:"reassemble-tls"`
	// RequireSYN tracks only flows whose client SYN the box saw.
	RequireSYN bool `yaml:"require-syn"`
	// Only20ByteTCPHeader parses only TCP segments whose header is exactly
	// 20 bytes (no options), as Henan's firewall does.
	Only20ByteTCPHeader bool `yaml:"only-20-byte-tcp-header"`
	// VerifyChecksums ignores packets with bad checksums (the GFW does not).
	VerifyChecksums bool `yaml:"verify-checksums"`
	// MaxBytes is the reassembly buffer; a request longer than this evades.
	// 0 means unlimited.
	MaxBytes int `yaml:"max-bytes"`
}

// Pos is a position in a policy or list file. Line and Column count from 1;
// Column is 0 for errors in line-oriented list files. The zero Pos means
// "unknown" (a policy built in Go).
type Pos struct {
	File   string
	Line   int
	Column int
}

// IsValid reports whether the position is known.
func (p Pos) IsValid() bool { return p.Line > 0 }

// String formats the position as file:line:column, file:line, or "".
func (p Pos) String() string {
	switch {
	case !p.IsValid():
		return p.File
	case p.Column == 0:
		return fmt.Sprintf("%s:%d", p.File, p.Line)
	default:
		return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Column)
	}
}
