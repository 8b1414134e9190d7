package border

import (
	"errors"
	"strconv"

	"github.com/splinter-lab/splinter/dissect"
	"github.com/splinter-lab/splinter/packet"
	"github.com/splinter-lab/splinter/policy"
)

// DNSMatch matches a DNS query (over UDP, or TCP with its length prefix) by
// its question name, flattened to a dotted lower-case string, read as the
// GFW's injectors read it (Wallbleed, NDSS 2025): the first question, the
// count fields as the quirks below say. The zero value (with a list) is a
// strict parser: one question, any counts, any class, names up to 255.
type DNSMatch struct {
	// List holds the names; Mode says how they are compared.
	List string            `yaml:"list"`
	Mode policy.DomainMode `yaml:"mode"`
	// QTypes, if not empty, restricts the match to these query types
	// ("A", "AAAA", "HTTPS", or a number).
	QTypes []string `yaml:"qtypes"`
	// RequireQDCount1 ignores queries whose QDCOUNT is not 1 (QDCOUNT=2
	// evades all three GFW injectors).
	RequireQDCount1 bool `yaml:"require-qdcount1"`
	// RequireZeroCounts ignores queries with non-zero ANCOUNT, NSCOUNT or
	// ARCOUNT (raising them evades GFW injectors #2 and #3).
	RequireZeroCounts bool `yaml:"require-zero-counts"`
	// IgnoreCounts parses one question whatever the count fields say (the
	// Wallbleed injector). Exclusive with the two above.
	IgnoreCounts bool `yaml:"ignore-counts"`
	// RequireQClassIN ignores queries whose QCLASS is not IN (added by the
	// GFW after Wallbleed's disclosure).
	RequireQClassIN bool `yaml:"require-qclass-in"`
	// MaxNameLen is the longest flattened name matched (Wallbleed: 126);
	// 0 means 255.
	MaxNameLen int `yaml:"max-name-len"`
	// MatchResponses also matches datagrams with QR set; by default only
	// queries match.
	MatchResponses bool `yaml:"match-responses"`
}

func init() {
	RegisterMatcher("dns", "DNS question name against a list (exact, suffix, regex or substring), with query types and the parse quirks of real injectors.",
		func() MatcherConfig { return &DNSMatch{} })
}

// Kind implements policy.Matcher.
func (*DNSMatch) Kind() string { return "dns" }

// Validate implements policy.Matcher.
func (m *DNSMatch) Validate(c *policy.Checker) {
	c.NameList("list", m.List, true, m.Mode)
	for i, t := range m.QTypes {
		if _, ok := policy.QType(t); !ok {
			c.Errorf("qtypes["+strconv.Itoa(i)+"]", "unknown query type %q", t)
		}
	}
	if m.IgnoreCounts && (m.RequireQDCount1 || m.RequireZeroCounts) {
		c.Errorf("ignore-counts", "ignore-counts contradicts require-qdcount1 and require-zero-counts")
	}
	if m.MaxNameLen < 0 || m.MaxNameLen > 255 {
		c.Errorf("max-name-len", "max-name-len %d is not in [0, 255]", m.MaxNameLen)
	}
}

// Compile implements MatcherConfig.
func (m *DNSMatch) Compile(c *Compiler) (Matcher, error) {
	l, err := c.List(m.List)
	dm := &dnsMatcher{cfg: m, list: l, reassemble: c.Rule().Inspect.ReassembleTCP}
	for _, t := range m.QTypes {
		q, _ := policy.QType(t)
		dm.qtypes = append(dm.qtypes, q)
	}
	return dm, err
}

type dnsMatcher struct {
	cfg        *DNSMatch
	list       *policy.Compiled
	qtypes     []uint16
	reassemble bool
}

func (*dnsMatcher) Traits() Traits { return Traits{Layer: LayerDNS, Protocols: OnlyTCP | OnlyUDP} }

func (dm *dnsMatcher) Match(in *Inspection) Result {
	q := &in.sc.dns
	var err error
	if in.p.Proto == packet.TCP {
		// DNS over TCP: the query starts the stream; later segments of a
		// flow are not queries the way datagrams each are.
		if in.Packets() > 1 && !dm.reassemble {
			return NoMatch
		}
		err = dissect.ParseDNSTCP(in.data, q)
	} else {
		err = dissect.ParseDNS(in.data, q)
	}
	if errors.Is(err, dissect.ErrIncomplete) {
		return NeedMore
	}
	c := dm.cfg
	if err != nil || q.QR() && !c.MatchResponses || len(in.data) < 12 {
		return NoMatch
	}
	if c.RequireQDCount1 && q.QDCount != 1 {
		return NoMatch
	}
	if c.RequireZeroCounts && (q.ANCount != 0 || q.NSCount != 0 || q.ARCount != 0) {
		return NoMatch
	}
	if c.RequireQClassIN && q.QClass != 1 {
		return NoMatch
	}
	if len(dm.qtypes) > 0 {
		ok := false
		for _, t := range dm.qtypes {
			ok = ok || t == q.QType
		}
		if !ok {
			return NoMatch
		}
	}
	name := q.Name()
	if c.MaxNameLen > 0 && len(name) > c.MaxNameLen {
		return NoMatch
	}
	if item, ok := dm.list.MatchDomain(name, c.Mode); ok {
		in.Evidence(EvidenceQName, string(name))
		in.Evidence(EvidenceListItem, item)
		return Match
	}
	return NoMatch
}
