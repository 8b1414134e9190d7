package policy

import (
	"net/netip"
	"strconv"
	"strings"
)

// The built-in matcher kinds. Each is a config struct; its zero value is
// usable unless its doc says otherwise, and NewMatcher returns it with the
// kind's defaults. YAML keys are the yaml tags.

// Side says which end of a flow an address or port matcher looks at.
type Side string

// Sides. The zero value means Dst.
const (
	Src    Side = "src"    // the client (the flow's initiator)
	Dst    Side = "dst"    // the server
	Either Side = "either" // either end
)

// DomainMode says how a name is compared with a list.
type DomainMode string

// Domain modes. The zero value means the list's natural mode: Suffix for a
// domains list, Regex for a regexes list, Substring for a keywords list.
const (
	// Exact: the name equals an item (or lies under a "*." item).
	Exact DomainMode = "exact"
	// Suffix: the name equals an item or is a subdomain of one.
	Suffix DomainMode = "suffix"
	// Regex: an item of a regexes list matches the flattened, lower-cased
	// name (anchor it yourself: `(^|\.)example\.com$`).
	Regex DomainMode = "regex"
	// Substring: a keyword occurs anywhere in the name (loose patterns
	// like Russia's "*t.co*").
	Substring DomainMode = "substring"
)

// ModeFor returns m, or the natural mode of a list of kind k if m is "".
func ModeFor(m DomainMode, k ListKind) DomainMode {
	if m != "" {
		return m
	}
	switch k {
	case Regexes:
		return Regex
	case Keywords:
		return Substring
	}
	return Suffix
}

// checkNameList resolves a list of names and checks mode against its kind.
func checkNameList(c *Checker, field, name string, required bool, mode DomainMode) {
	OneOf(c, "mode", mode, true, Exact, Suffix, Regex, Substring)
	l := c.List(field, name, required, Domains, Regexes, Keywords)
	if l == nil {
		return
	}
	switch m := ModeFor(mode, l.Kind); {
	case (m == Exact || m == Suffix) && l.Kind != Domains,
		m == Regex && l.Kind != Regexes,
		m == Substring && l.Kind != Keywords:
		c.Errorf("mode", "mode %q does not apply to %s list %q", m, l.Kind, name)
	}
}

// IPMatch matches the address of one end of a flow against prefixes: a
// prefixes list, inline prefixes, or both. It needs at least one.
type IPMatch struct {
	List     string         `yaml:"list"`
	Prefixes []netip.Prefix `yaml:"prefixes"`
	// Side is the end whose address is matched; "" means dst.
	Side Side `yaml:"side"`
}

func (*IPMatch) Kind() string { return "ip" }

func (m *IPMatch) Validate(c *Checker) {
	OneOf(c, "side", m.Side, true, Src, Dst, Either)
	(&AddrSet{m.List, m.Prefixes}).validate(c, "")
	if m.List == "" && len(m.Prefixes) == 0 {
		c.Errorf("", "ip needs a list or prefixes")
	}
}

// PortMatch matches the port of one end of a flow. It needs ports or a
// ports list.
type PortMatch struct {
	Ports []PortRange `yaml:"ports"`
	List  string      `yaml:"list"`
	// Side is the end whose port is matched; "" means dst.
	Side Side `yaml:"side"`
}

func (*PortMatch) Kind() string { return "port" }

func (m *PortMatch) Validate(c *Checker) {
	OneOf(c, "side", m.Side, true, Src, Dst, Either)
	c.List("list", m.List, false, Ports)
	if m.List == "" && len(m.Ports) == 0 {
		c.Errorf("", "port needs ports or a list")
	}
	for i, r := range m.Ports {
		if r.Lo == 0 || r.Lo > r.Hi {
			c.Errorf("ports["+strconv.Itoa(i)+"]", "invalid port range %q", r)
		}
	}
}

// ProtocolMatch matches the transport protocol. It needs at least one.
type ProtocolMatch struct {
	Protocols []Protocol `yaml:"protocols"`
}

func (*ProtocolMatch) Kind() string { return "protocol" }

func (m *ProtocolMatch) Validate(c *Checker) {
	if len(m.Protocols) == 0 {
		c.Errorf("protocols", "protocol needs at least one protocol")
	}
	for i, p := range m.Protocols {
		OneOf(c, "protocols["+strconv.Itoa(i)+"]", p, false, TCP, UDP, ICMP)
	}
}

// DNSMatch matches a DNS query (over UDP, or TCP with its length prefix) by
// its question name, flattened to a dotted lower-case string. The parse
// quirks of real injectors are parameters; the zero value (with a list) is
// a strict parser: one question, any counts, any class, names up to 255.
type DNSMatch struct {
	// List holds the names; Mode says how they are compared.
	List string     `yaml:"list"`
	Mode DomainMode `yaml:"mode"`
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

func (*DNSMatch) Kind() string { return "dns" }

func (m *DNSMatch) Validate(c *Checker) {
	checkNameList(c, "list", m.List, true, m.Mode)
	for i, t := range m.QTypes {
		if _, ok := QType(t); !ok {
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

var qtypes = map[string]uint16{
	"A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "PTR": 12, "MX": 15, "TXT": 16,
	"AAAA": 28, "SRV": 33, "DS": 43, "DNSKEY": 48, "SVCB": 64, "HTTPS": 65, "ANY": 255,
}

// QType returns the number of a query type given by name ("AAAA") or
// number ("28").
func QType(s string) (uint16, bool) {
	if n, ok := qtypes[strings.ToUpper(s)]; ok {
		return n, true
	}
	n, err := strconv.ParseUint(s, 10, 16)
	return uint16(n), err == nil
}

// TLSSNIMatch matches the server_name of a TLS ClientHello against a list.
// Whether a ClientHello split over segments or records is seen is the
// rule's Inspect. List is required.
type TLSSNIMatch struct {
	List string     `yaml:"list"`
	Mode DomainMode `yaml:"mode"`
	// MatchMissing also matches a ClientHello without SNI.
	MatchMissing bool `yaml:"match-missing"`
}

func (*TLSSNIMatch) Kind() string { return "tls-sni" }

func (m *TLSSNIMatch) Validate(c *Checker) { checkNameList(c, "list", m.List, true, m.Mode) }

// ESNIMatch matches a ClientHello carrying the encrypted_server_name
// extension. Its default is the draft code point 0xffce.
type ESNIMatch struct {
	Extension uint16 `yaml:"extension"`
}

func (*ESNIMatch) Kind() string { return "esni" }

func (m *ESNIMatch) Validate(c *Checker) {
	if m.Extension == 0 {
		c.Errorf("extension", "extension code point is 0")
	}
}

// ECHMatch matches a ClientHello carrying the encrypted_client_hello
// extension (0xfe0d by default). If OuterList is set, the outer SNI must
// also match it (the GFW blocks ECH only for forbidden outer names).
type ECHMatch struct {
	Extension uint16     `yaml:"extension"`
	OuterList string     `yaml:"outer-list"`
	Mode      DomainMode `yaml:"mode"`
}

func (*ECHMatch) Kind() string { return "ech" }

func (m *ECHMatch) Validate(c *Checker) {
	if m.Extension == 0 {
		c.Errorf("extension", "extension code point is 0")
	}
	checkNameList(c, "outer-list", m.OuterList, false, m.Mode)
}

// HTTPField is a part of an HTTP request a matcher looks at.
type HTTPField string

// HTTP fields.
const (
	// HTTPHost is the Host header, matched as a name (Mode).
	HTTPHost HTTPField = "host"
	// HTTPPath is the request-target of the request line, matched as text.
	HTTPPath HTTPField = "path"
	// HTTPRequest is the whole request head, matched as text (keywords
	// anywhere).
	HTTPRequest HTTPField = "request"
)

// HTTPMatch matches an HTTP/1.x request. Each field in Fields is compared
// with List: the host as a name (Mode), path and request as text (a
// keywords or regexes list). The zero value (with a list) looks at the host.
type HTTPMatch struct {
	List   string      `yaml:"list"`
	Mode   DomainMode  `yaml:"mode"`
	Fields []HTTPField `yaml:"fields"`
	// Conditional lists apply only when the request contains a trigger
	// word (the GFW's longer list when a request contains "search").
	Conditional []ConditionalList `yaml:"conditional"`
	// StrictRequestLine matches only requests with a known method, exactly
	// three request-line elements and a valid HTTP version (a corrupted
	// version or an extra element evades the GFW).
	StrictRequestLine bool `yaml:"strict-request-line"`
}

// ConditionalList is a list that applies when a request contains When.
type ConditionalList struct {
	When string `yaml:"when"`
	List string `yaml:"list"`
}

func (*HTTPMatch) Kind() string { return "http" }

// FieldsOrDefault returns Fields, or [host] if empty.
func (m *HTTPMatch) FieldsOrDefault() []HTTPField {
	if len(m.Fields) == 0 {
		return []HTTPField{HTTPHost}
	}
	return m.Fields
}

func (m *HTTPMatch) Validate(c *Checker) {
	if m.List == "" && len(m.Conditional) == 0 {
		c.Errorf("list", "http needs a list or conditional lists")
	}
	hostOnly := true
	for i, f := range m.FieldsOrDefault() {
		OneOf(c, "fields["+strconv.Itoa(i)+"]", f, false, HTTPHost, HTTPPath, HTTPRequest)
		hostOnly = hostOnly && f == HTTPHost
	}
	check := func(field, name string, required bool) {
		if hostOnly {
			checkNameList(c, field, name, required, m.Mode)
			return
		}
		if l := c.List(field, name, required, Keywords, Regexes); l != nil && m.Mode != "" {
			c.Errorf("mode", "mode applies only to the host field")
		}
	}
	check("list", m.List, false)
	for i, cl := range m.Conditional {
		f := "conditional[" + strconv.Itoa(i) + "]"
		if cl.When == "" {
			c.Errorf(f+".when", "a conditional list needs a trigger word")
		}
		check(f+".list", cl.List, true)
	}
}

// QUICSNIMatch matches the SNI of a QUIC Initial, decrypted with the keys
// derived from its Destination Connection ID. List is required.
type QUICSNIMatch struct {
	List string     `yaml:"list"`
	Mode DomainMode `yaml:"mode"`
	// Versions are the QUIC versions decrypted; default [1] (QUIC v2
	// evades the GFW).
	Versions []uint32 `yaml:"versions"`
	// MaxFrames is how many frames are scanned for the CRYPTO frame before
	// giving up; 0 means all (a CRYPTO frame buried behind many PING and
	// PADDING frames evades the GFW).
	MaxFrames int `yaml:"max-frames"`
}

func (*QUICSNIMatch) Kind() string { return "quic-sni" }

func (m *QUICSNIMatch) Validate(c *Checker) {
	checkNameList(c, "list", m.List, true, m.Mode)
	if m.MaxFrames < 0 {
		c.Errorf("max-frames", "max-frames %d is negative", m.MaxFrames)
	}
	if len(m.Versions) == 0 {
		c.Errorf("versions", "quic-sni needs at least one version")
	}
}

// FullyEncryptedMatch matches a payload that looks fully encrypted: it
// matches when none of the exemptions Ex1-Ex5 of "How China Detects and
// Blocks Fully Encrypted Traffic" (USENIX Security 2023) holds. The zero
// value is not usable; NewMatcher gives the paper's thresholds.
type FullyEncryptedMatch struct {
	// Ex1: exempt if the average set bits per byte is <= PopcountLow or
	// >= PopcountHigh (3.4, 4.6).
	PopcountLow  float64 `yaml:"popcount-low"`
	PopcountHigh float64 `yaml:"popcount-high"`
	// Ex2: exempt if the first PrintablePrefix bytes are printable (6).
	PrintablePrefix int `yaml:"printable-prefix"`
	// Ex3: exempt if more than PrintableRatio of the bytes are printable (0.5).
	PrintableRatio float64 `yaml:"printable-ratio"`
	// Ex4: exempt if a run of more than PrintableRun contiguous bytes is
	// printable (20).
	PrintableRun int `yaml:"printable-run"`
	// Ex5: exempt if the payload starts like TLS (0x16 or 0x17, 0x03,
	// 0x00-0x09) or HTTP ("GET ", "PUT ", "POST ", "HEAD ").
	ExemptProtocols bool `yaml:"exempt-protocols"`
	// MinLen and MaxLen, if not 0, restrict the match to payload lengths
	// in [MinLen, MaxLen] (Shadowsocks probing candidates: 160-700).
	MinLen int `yaml:"min-len"`
	MaxLen int `yaml:"max-len"`
}

// DefaultFullyEncrypted returns the thresholds of USENIX Security 2023.
func DefaultFullyEncrypted() *FullyEncryptedMatch {
	return &FullyEncryptedMatch{
		PopcountLow: 3.4, PopcountHigh: 4.6, PrintablePrefix: 6,
		PrintableRatio: 0.5, PrintableRun: 20, ExemptProtocols: true,
	}
}

func (*FullyEncryptedMatch) Kind() string { return "fully-encrypted" }

func (m *FullyEncryptedMatch) Validate(c *Checker) {
	if !(m.PopcountLow >= 0 && m.PopcountLow < m.PopcountHigh && m.PopcountHigh <= 8) {
		c.Errorf("popcount-low", "popcount thresholds %v and %v: want 0 <= low < high <= 8", m.PopcountLow, m.PopcountHigh)
	}
	if m.PrintablePrefix < 0 {
		c.Errorf("printable-prefix", "printable-prefix %d is negative", m.PrintablePrefix)
	}
	if !(m.PrintableRatio >= 0 && m.PrintableRatio <= 1) {
		c.Errorf("printable-ratio", "printable-ratio %v is not in [0, 1]", m.PrintableRatio)
	}
	if m.PrintableRun < 0 {
		c.Errorf("printable-run", "printable-run %d is negative", m.PrintableRun)
	}
	if m.MinLen < 0 || m.MaxLen < 0 || (m.MaxLen != 0 && m.MaxLen < m.MinLen) {
		c.Errorf("min-len", "length bounds [%d, %d] are not a range", m.MinLen, m.MaxLen)
	}
}

// AppProtocol is an application protocol a payload may look like.
type AppProtocol string

// Application protocols recognised by ProtocolAllowlistMatch.
const (
	AppDNS  AppProtocol = "dns"
	AppHTTP AppProtocol = "http"
	AppTLS  AppProtocol = "tls"
)

// ProtocolAllowlistMatch matches a flow none of whose first Packets client
// data packets looks like one of Allow (Iran's protocol filter, FOCI 2020:
// DNS >= 12 bytes, QR=0, QDCOUNT<15, ANCOUNT=0, no length prefix; HTTP >= 8
// bytes starting with a method and a space; TLS >= 41 bytes, record length
// equal to ClientHello length, version 0x0301-0x0303). NewMatcher gives
// Packets 2 and all three protocols.
type ProtocolAllowlistMatch struct {
	Packets int           `yaml:"packets"`
	Allow   []AppProtocol `yaml:"allow"`
}

func (*ProtocolAllowlistMatch) Kind() string { return "protocol-allowlist" }

func (m *ProtocolAllowlistMatch) Validate(c *Checker) {
	if m.Packets <= 0 {
		c.Errorf("packets", "packets %d: want at least 1", m.Packets)
	}
	if len(m.Allow) == 0 {
		c.Errorf("allow", "protocol-allowlist needs at least one allowed protocol")
	}
	for i, p := range m.Allow {
		OneOf(c, "allow["+strconv.Itoa(i)+"]", p, false, AppDNS, AppHTTP, AppTLS)
	}
}

// AnyMatch matches everything in the rule's scope. Its zero value is usable.
type AnyMatch struct{}

func (*AnyMatch) Kind() string        { return "any" }
func (*AnyMatch) Validate(c *Checker) {}

func init() {
	RegisterMatcher("ip", "Source or destination address in a prefixes list or inline prefixes.",
		func() Matcher { return &IPMatch{} })
	RegisterMatcher("port", "Source or destination port in ports or a ports list.",
		func() Matcher { return &PortMatch{} })
	RegisterMatcher("protocol", "Transport protocol is one of tcp, udp, icmp.",
		func() Matcher { return &ProtocolMatch{} })
	RegisterMatcher("dns", "DNS question name against a list (exact, suffix, regex or substring), with query types and the parse quirks of real injectors.",
		func() Matcher { return &DNSMatch{} })
	RegisterMatcher("tls-sni", "TLS ClientHello server_name against a list.",
		func() Matcher { return &TLSSNIMatch{} })
	RegisterMatcher("esni", "TLS ClientHello carries the ESNI extension (0xffce).",
		func() Matcher { return &ESNIMatch{Extension: 0xffce} })
	RegisterMatcher("ech", "TLS ClientHello carries ECH (0xfe0d), optionally with an outer SNI in a list.",
		func() Matcher { return &ECHMatch{Extension: 0xfe0d} })
	RegisterMatcher("http", "HTTP request Host, path or whole head against a list, with conditional lists.",
		func() Matcher { return &HTTPMatch{} })
	RegisterMatcher("quic-sni", "SNI of a decrypted QUIC Initial against a list.",
		func() Matcher { return &QUICSNIMatch{Versions: []uint32{1}} })
	RegisterMatcher("fully-encrypted", "First payload looks fully encrypted: none of exemptions Ex1-Ex5 holds (USENIX Security 2023 thresholds by default).",
		func() Matcher { return DefaultFullyEncrypted() })
	RegisterMatcher("protocol-allowlist", "None of the first N client data packets looks like an allowed protocol (dns, http, tls).",
		func() Matcher {
			return &ProtocolAllowlistMatch{Packets: 2, Allow: []AppProtocol{AppDNS, AppHTTP, AppTLS}}
		})
	RegisterMatcher("any", "Matches everything in the rule's scope.",
		func() Matcher { return &AnyMatch{} })
}
