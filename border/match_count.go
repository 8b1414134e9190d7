package border

import (
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/splinter-lab/splinter/policy"
)

// CountKey says what a packet-count matcher counts packets by.
type CountKey string

// Count keys. The zero value means CountByClient.
const (
	// CountByClient counts the packets of a client address, whatever the
	// server (Iran 2025: ICMP from a subscriber).
	CountByClient CountKey = "client-ip"
	// CountByServer counts the packets to a server address.
	CountByServer CountKey = "server-ip"
	// CountByPair counts the packets between a client and a server address.
	CountByPair CountKey = "client-server"
)

// PacketCountMatch matches a packet once more than After packets of its key
// went through the rule's scope within Window of each other: the third
// ICMP echo of a subscriber, say (Iran after the June 2025 shutdown, on MCI
// and TCI: "blocked after 2 or 3 packets", net4people/bbs#489). It judges
// every packet, flows or not, on its own; the counts are engine state,
// bounded in number. The registered default counts by client with After 2
// and Window 1m.
type PacketCountMatch struct {
	Key CountKey `yaml:"key"`
	// After is how many packets pass before the matcher holds.
	After int `yaml:"after"`
	// AfterMax, if more than After, makes each key's threshold a uniform
	// draw in [After, AfterMax] ("2 or 3 packets").
	AfterMax int `yaml:"after-max"`
	// Window ends a key's count after that long without a packet.
	Window time.Duration `yaml:"window"`
}

func init() {
	RegisterMatcher("packet-count", "More than N packets of a client (or server, or pair) within a window: the packets after the N-th match.",
		func() MatcherConfig { return &PacketCountMatch{After: 2, Window: time.Minute} })
}

// Kind implements policy.Matcher.
func (*PacketCountMatch) Kind() string { return "packet-count" }

// Validate implements policy.Matcher.
func (m *PacketCountMatch) Validate(c *policy.Checker) {
	policy.OneOf(c, "key", m.Key, true, CountByClient, CountByServer, CountByPair)
	if m.After < 0 {
		c.Errorf("after", "after %d is negative", m.After)
	}
	if m.AfterMax != 0 && m.AfterMax < m.After {
		c.Errorf("after-max", "after-max %d is below after %d", m.AfterMax, m.After)
	}
	if m.Window <= 0 {
		c.Errorf("window", "packet-count needs a positive window")
	}
}

// Compile implements MatcherConfig.
func (m *PacketCountMatch) Compile(c *Compiler) (Matcher, error) {
	return &countMatcher{cfg: *m, rule: c.r.idx}, nil
}

type countMatcher struct {
	cfg  PacketCountMatch
	rule int
}

func (*countMatcher) Traits() Traits {
	return Traits{Layer: LayerIP, Header: true, PerPacket: true}
}

func (cm *countMatcher) Match(in *Inspection) Result {
	k := countKey{rule: cm.rule}
	switch cm.cfg.Key {
	case CountByServer:
		k.b = in.server.Addr()
	case CountByPair:
		k.a, k.b = in.client.Addr(), in.server.Addr()
	default:
		k.a = in.client.Addr()
	}
	e := in.e
	n, limit := e.counts.add(k, e.clock.Now(), cm.cfg.Window, func() int {
		if cm.cfg.AfterMax > cm.cfg.After {
			return cm.cfg.After + int(e.uint32n(uint32(cm.cfg.AfterMax-cm.cfg.After+1)))
		}
		return cm.cfg.After
	})
	if n <= limit {
		return NoMatch
	}
	in.Evidence(EvidenceCount, strconv.Itoa(n)+" packets, more than "+strconv.Itoa(limit))
	return Match
}

// EvidenceCount is the evidence of a packet-count matcher.
const EvidenceCount EvidenceKind = "count"

type countKey struct {
	rule int
	a, b netip.Addr
}

type countEntry struct {
	n, limit int
	last     time.Time
}

// countTable holds the running counts of packet-count matchers, at most
// maxCounts keys; its zero value is usable.
type countTable struct {
	mu sync.Mutex
	m  map[countKey]*countEntry
}

const maxCounts = 1 << 16

// add counts a packet of k at now and returns the key's count and
// threshold; limit draws a new key's threshold.
func (t *countTable) add(k countKey, now time.Time, window time.Duration, limit func() int) (int, int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.m == nil {
		t.m = make(map[countKey]*countEntry)
	}
	c := t.m[k]
	if c != nil && now.Sub(c.last) > window {
		c = nil
	}
	if c == nil {
		if len(t.m) >= maxCounts {
			for ok, oc := range t.m {
				if now.Sub(oc.last) > window {
					delete(t.m, ok)
				}
			}
			if len(t.m) >= maxCounts {
				return 0, 0 // full: the packet is not counted
			}
		}
		c = &countEntry{limit: limit()}
		t.m[k] = c
	}
	c.n++
	c.last = now
	return c.n, c.limit
}
