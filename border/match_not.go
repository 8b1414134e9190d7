package border

import (
	"bytes"
	"fmt"

	"github.com/splinter-lab/splinter/policy"
)

// NotMatch inverts another matcher: it holds where Match does not, so any
// list becomes an allowlist ("everything not listed is blocked"): a
// destination not in the allowed prefixes, an SNI not among the allowed
// names, a client not among the allowed sources. NeedMore stays NeedMore:
// it waits for what the inner matcher waits for. Note that a payload
// matcher that finds no protocol of its own does not hold, so `not` of a
// tls-sni allowlist also holds for data that is no ClientHello at all: an
// allowlist blocks what it cannot read. Match is required.
//
// Allowlisting is where the bordered Internet has been heading: Russia's
// mobile networks under shutdown pass only listed destinations since
// September 2025 (net4people/bbs#516), Iran's 2026 shutdowns only listed
// sources, with listed SNIs on top (bbs#561, bbs#630).
type NotMatch struct {
	Match policy.Matcher `yaml:"match"`
}

func init() {
	RegisterMatcher("not", "Holds where another matcher does not (an allowlist: everything not listed).",
		func() MatcherConfig { return &NotMatch{} })
}

// Kind implements policy.Matcher.
func (*NotMatch) Kind() string { return "not" }

// Validate implements policy.Matcher.
func (m *NotMatch) Validate(c *policy.Checker) {
	if m.Match == nil {
		c.Errorf("match", "not needs a matcher to invert")
		return
	}
	m.Match.Validate(c.Sub("match." + m.Match.Kind()))
}

// Compile implements MatcherConfig.
func (m *NotMatch) Compile(c *Compiler) (Matcher, error) {
	mc, ok := m.Match.(MatcherConfig)
	if !ok {
		return nil, fmt.Errorf("match: %w", compileErr(m.Match.Kind()))
	}
	inner, err := mc.Compile(c)
	if err != nil {
		return nil, fmt.Errorf("match %s: %w", m.Match.Kind(), err)
	}
	return &notMatcher{inner: inner, evidence: "not " + m.Match.Kind() + listNote(m.Match)}, nil
}

// listNote names the list an inverted matcher compares with, if any.
func listNote(m policy.Matcher) string {
	switch x := m.(type) {
	case *IPMatch:
		return listOrInline(x.List)
	case *TLSSNIMatch:
		return listOrInline(x.List)
	case *QUICSNIMatch:
		return listOrInline(x.List)
	case *HTTPMatch:
		return listOrInline(x.List)
	case *DNSMatch:
		return listOrInline(x.List)
	}
	return ""
}

func listOrInline(name string) string {
	if name == "" {
		return ""
	}
	return " in list " + name
}

type notMatcher struct {
	inner    Matcher
	evidence string
}

func (nm *notMatcher) Traits() Traits { return nm.inner.Traits() }

func (nm *notMatcher) Match(in *Inspection) Result {
	mark := len(in.ev)
	switch nm.inner.Match(in) {
	case Match:
		in.ev = in.ev[:mark] // what the inner matcher saw does not hold
		return NoMatch
	case NeedMore:
		return NeedMore
	}
	if _, ok := nm.inner.(*sniMatcher); ok && in.sc.hello.HasSNI {
		// The name the allowlist did not hold, for scoring.
		in.Evidence(EvidenceSNI, string(bytes.ToLower(in.sc.hello.ServerName())))
	}
	in.Evidence(EvidenceUnlisted, nm.evidence)
	return Match
}

// OpensRequest implements RequestOpener for an inner matcher that knows
// where its requests start.
func (nm *notMatcher) OpensRequest(data []byte) bool {
	if o, ok := nm.inner.(RequestOpener); ok {
		return o.OpensRequest(data)
	}
	return len(data) > 0
}

// EvidenceUnlisted is the evidence of a not matcher: what was not found.
const EvidenceUnlisted EvidenceKind = "unlisted"
