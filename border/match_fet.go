package border

import (
	"strconv"

	"github.com/splinter-lab/splinter/dissect"
	"github.com/splinter-lab/splinter/policy"
)

// FullyEncryptedMatch matches a payload that looks fully encrypted: it
// matches when none of the exemptions Ex1-Ex5 of "How China Detects and
// Blocks Fully Encrypted Traffic" (USENIX Security 2023) holds. Only the
// flow's first client data packet is examined, never reassembled. The zero
// value is not usable; the registered default has the paper's thresholds.
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

func init() {
	RegisterMatcher("fully-encrypted", "First payload looks fully encrypted: none of exemptions Ex1-Ex5 holds (USENIX Security 2023 thresholds by default).",
		func() MatcherConfig { return DefaultFullyEncrypted() })
}

// Kind implements policy.Matcher.
func (*FullyEncryptedMatch) Kind() string { return "fully-encrypted" }

// Validate implements policy.Matcher.
func (m *FullyEncryptedMatch) Validate(c *policy.Checker) {
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

// Compile implements MatcherConfig.
func (m *FullyEncryptedMatch) Compile(*Compiler) (Matcher, error) {
	return &fetMatcher{cfg: *m, x: dissect.Exemptions{PopcountLow: m.PopcountLow, PopcountHigh: m.PopcountHigh,
		PrintablePrefix: m.PrintablePrefix, PrintableRatio: m.PrintableRatio, PrintableRun: m.PrintableRun,
		Protocols: m.ExemptProtocols}}, nil
}

type fetMatcher struct {
	cfg FullyEncryptedMatch
	x   dissect.Exemptions
}

func (*fetMatcher) Traits() Traits { return Traits{Layer: LayerPayload, Protocols: OnlyTCP} }

func (fm *fetMatcher) Match(in *Inspection) Result {
	b := in.p.Payload // the first data packet, never reassembled
	if len(b) == 0 {
		return NeedMore
	}
	if fm.cfg.MinLen > 0 && len(b) < fm.cfg.MinLen || fm.cfg.MaxLen > 0 && len(b) > fm.cfg.MaxLen {
		return NoMatch
	}
	if exempt, _ := dissect.FullyEncryptedExemptWith(b, fm.x); exempt {
		return NoMatch
	}
	in.Evidence(EvidenceFullyEncrypted, strconv.Itoa(len(b))+" bytes, no exemption")
	return Match
}
