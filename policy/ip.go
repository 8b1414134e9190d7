package policy

import (
	"strings"
	"time"
)

// IPModel is what the censor does with IPv4 fragments. Its zero value
// reassembles nothing: each fragment is looked at on its own, so a request
// cut into fragments is never seen whole.
type IPModel struct {
	// Reassemble joins the fragments of an IPv4 packet and inspects the
	// whole packet, as it would have been sent unfragmented, when its last
	// missing fragment crosses the border. The fragments themselves pass as
	// they came (the censor is on the path); what the rules decide about
	// the whole applies to the fragment that completed it.
	Reassemble bool `yaml:"reassemble"`
	// Overlap says which bytes win where fragments overlap; "" means
	// FragmentFirstUnlessCovered.
	Overlap FragmentOverlap `yaml:"overlap"`
	// Timeout is how long the fragments of an incomplete packet are kept,
	// from the first; 0 means 30 s (Linux's ipfrag_time).
	Timeout time.Duration `yaml:"timeout"`
	// Source cites the behaviour. Required when Reassemble is set.
	Source string `yaml:"source"`
}

// FragmentOverlap is a policy for overlapping IPv4 fragments.
type FragmentOverlap string

// Overlap policies.
const (
	// FragmentFirst: the first copy of each byte wins.
	FragmentFirst FragmentOverlap = "first"
	// FragmentLast: the last copy of each byte wins.
	FragmentLast FragmentOverlap = "last"
	// FragmentFirstUnlessCovered: the first copy wins, except that a later
	// fragment that begins before an earlier one and ends after it
	// replaces it (Khattak et al., FOCI 2013, for the GFW).
	FragmentFirstUnlessCovered FragmentOverlap = "first-unless-covered"
)

// DefaultFragmentTimeout is IPModel.Timeout's default.
const DefaultFragmentTimeout = 30 * time.Second

func (m *IPModel) validate(c *Checker) {
	c = c.Sub("ip")
	OneOf(c, "overlap", m.Overlap, true, FragmentFirst, FragmentLast, FragmentFirstUnlessCovered)
	if m.Timeout < 0 {
		c.Errorf("timeout", "a timeout cannot be negative")
	}
	if m.Reassemble && strings.TrimSpace(m.Source) == "" {
		c.Errorf("source", "cite the source of the fragment reassembly")
	}
	if !m.Reassemble && (m.Overlap != "" || m.Timeout != 0) {
		c.Errorf("reassemble", "overlap and timeout apply only with reassemble: true")
	}
}
