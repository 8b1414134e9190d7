package policy

import (
	"errors"
	"net/netip"
	"strconv"
	"strings"

	"github.com/splinter-lab/splinter/internal/userfile"
)

// The vocabulary that several matcher and action kinds share: which end of a
// flow, how names are compared, which way within a flow, the fingerprint of
// injected packets. The kinds themselves (their configs, validation and
// behaviour, each in one place) are defined and registered by package
// border.

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

// NameList resolves a reference to a list of names (domains, regexes or
// keywords) and checks that mode applies to its kind.
func (c *Checker) NameList(field, name string, required bool, mode DomainMode) *List {
	OneOf(c, "mode", mode, true, Exact, Suffix, Regex, Substring)
	l := c.List(field, name, required, Domains, Regexes, Keywords)
	if l == nil {
		return nil
	}
	switch m := ModeFor(mode, l.Kind); {
	case (m == Exact || m == Suffix) && l.Kind != Domains,
		m == Regex && l.Kind != Regexes,
		m == Substring && l.Kind != Keywords:
		c.Errorf("mode", "mode %q does not apply to %s list %q", m, l.Kind, name)
	}
	return l
}

// AddrSetOf checks an address set given inline by a matcher (a list, or
// prefixes, or both) at field ("" for the config itself).
func (c *Checker) AddrSetOf(field, list string, prefixes []netip.Prefix) {
	(&AddrSet{list, prefixes}).validate(c, field)
}

// Peer names an end of a flow, as a target of injected packets.
type Peer string

// Peers. The zero value means the action's default.
const (
	Client Peer = "client"
	Server Peer = "server"
	ToBoth Peer = "both"
)

// FlowDir is a direction within a flow.
type FlowDir string

// Flow directions. The zero value means the action's default.
const (
	ClientToServer FlowDir = "client-to-server"
	ServerToClient FlowDir = "server-to-client"
	BothWays       FlowDir = "both"
)

// Fingerprint is the IP header fingerprint of injected packets. Its zero
// value leaves every field to the engine's stack (TTL 64, DF clear, its own
// IP-ID).
type Fingerprint struct {
	// TTL is the initial IP TTL; 0 means the engine's default.
	TTL uint8 `yaml:"ttl"`
	// CopyProbeTTL sets the TTL to the triggering packet's TTL (one GFW DNS
	// injector does).
	CopyProbeTTL bool `yaml:"copy-probe-ttl"`
	// DF sets the Don't Fragment bit.
	DF bool `yaml:"df"`
	// IPID is the IP identification: "zero", "random", a number or a range.
	IPID IPID `yaml:"ipid"`
}

// Validate reports contradictions in the fingerprint at field.
func (f *Fingerprint) Validate(c *Checker, field string) {
	if f.CopyProbeTTL && f.TTL != 0 {
		c.Errorf(field+".ttl", "ttl %d contradicts copy-probe-ttl", f.TTL)
	}
}

var qtypes = map[string]uint16{
	"A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "PTR": 12, "MX": 15, "TXT": 16,
	"AAAA": 28, "SRV": 33, "DS": 43, "DNSKEY": 48, "SVCB": 64, "HTTPS": 65, "ANY": 255,
}

// QType returns the number of a DNS query type given by name ("AAAA") or
// number ("28").
func QType(s string) (uint16, bool) {
	if n, ok := qtypes[upper(s)]; ok {
		return n, true
	}
	n, err := strconv.ParseUint(s, 10, 16)
	return uint16(n), err == nil
}

func upper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

// LocalRef reports whether ref names a file inside the policy's folder.
func LocalRef(ref string) bool { return userfile.CheckRef(ref) == nil }

// FileRef checks a file a config names (a block page's body-file): it must
// lie in the policy's folder.
func (c *Checker) FileRef(field, ref string) {
	if ref == "" {
		return
	}
	if err := userfile.CheckRef(ref); err != nil {
		var ue *userfile.Error
		if errors.As(err, &ue) {
			c.Errorf(field, "%s %q must lie in the policy's folder; it %s", strings.ReplaceAll(field, "-", " "), ref, ue.Detail)
			return
		}
		c.Errorf(field, "file %q: %v", ref, err)
	}
}

// FileUser is implemented by matcher and action configs that refer to files
// (a block page's body-file). Load calls ReadFiles with a function reading a
// file named relative to the policy file; problems are reported to c.
type FileUser interface {
	ReadFiles(c *Checker, read func(name string) ([]byte, error))
}
