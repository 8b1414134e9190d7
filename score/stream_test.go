package score_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/splinter-lab/splinter/border"
	"github.com/splinter-lab/splinter/probe"
	"github.com/splinter-lab/splinter/score"
)

var (
	t0       = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	vantage  = netip.MustParseAddr("198.18.0.10")
	resolver = netip.MustParseAddr("198.18.0.53")
	server   = netip.MustParseAddr("198.18.96.5")
)

func measurement(input string, start time.Time, runtime float64, v probe.Verdict) *probe.Measurement {
	return &probe.Measurement{Input: input, TestRuntime: runtime, Annotations: map[string]string{},
		TestKeys: &probe.TestKeys{Start: start, Verdict: v,
			Vantage: probe.Vantage{Host: "cn-client-1", CC: "CN", Addrs: []netip.Addr{vantage}, Resolver: resolver}}}
}

func forged(at time.Time, name string) border.Decision {
	return border.Decision{Time: at, Border: "CN", Rule: "dns-poison", Action: "dns-inject", Effect: border.EffectForgedAnswer,
		Layer: border.LayerDNS, Proto: "udp", Client: netip.AddrPortFrom(resolver, 40000), Server: netip.AddrPortFrom(server, 53),
		Evidence: []border.Evidence{{Kind: border.EvidenceQName, Value: name + "."}}}
}

func sniReset(at time.Time, name string) border.Decision {
	return border.Decision{Time: at, Border: "CN", Rule: "sni-rst", Action: "rst", Effect: border.EffectReset,
		Layer: border.LayerTLS, Proto: "tcp", Client: netip.AddrPortFrom(vantage, 50000), Server: netip.AddrPortFrom(server, 443),
		Evidence: []border.Evidence{{Kind: border.EvidenceSNI, Value: name}}}
}

// TestStream: a stream told the decisions, the measurements' beginnings
// and ends and the time scores each measurement once its window has
// closed, as the batch scoring does; it then forgets the decisions of
// closed windows, keeping per resolver and name one decision of each rule
// (a poisoned cache answers later measurements too), and joins a
// resolver's repeated decisions of one rule once.
func TestStream(t *testing.T) {
	var got []score.Item
	s := score.NewStream(score.StreamOptions{Limits: score.Limits{Items: -1, Disagreements: -1}, Item: func(it score.Item) { got = append(got, it) }})
	poisoned, reset := "www.blocked-news.cn", "www.reset-vpn.com"
	a := measurement("http://"+poisoned+"/", t0, 2, probe.DNS)
	b := measurement("https://"+reset+"/", t0, 2, probe.TLS)
	ds := []border.Decision{forged(t0.Add(300*time.Millisecond), poisoned), sniReset(t0.Add(time.Second), reset)}
	s.Begin(1, t0)
	s.Begin(2, t0)
	for _, d := range ds {
		s.Decision(d)
	}
	s.Measurement(1, a)
	s.Measurement(2, b)
	s.Advance(t0.Add(2 * time.Second))
	if len(got) != 0 {
		t.Fatalf("%d items scored before their windows closed", len(got))
	}
	s.Advance(t0.Add(10 * time.Second))
	if len(got) != 2 {
		t.Fatalf("%d items scored after both windows closed, want 2", len(got))
	}
	batch := score.ScoreWith([]*probe.Measurement{a, b}, ds, score.Options{})
	for i, it := range got {
		if want := batch.Items[i]; it.Input != want.Input || it.Truth != want.Truth || len(it.Decisions) != len(want.Decisions) {
			t.Errorf("streamed %s: truth %s by %d decisions; batch: %s by %d", it.Input, it.Truth, len(it.Decisions), want.Truth, len(want.Decisions))
		}
	}
	if got[0].Truth != probe.DNS || got[1].Truth != probe.TLS {
		t.Errorf("truths %s, %s; want dns, tls", got[0].Truth, got[1].Truth)
	}
	if held, pending := s.Held(); held != 1 || pending != 0 {
		t.Errorf("after the windows closed the stream holds %d decisions and %d measurements; want the poisoned name's one", held, pending)
	}

	// Later, the resolver answers from its poisoned cache, and asks again
	// once: the measurement is joined to the rule's first decision only.
	c := measurement("http://"+poisoned+"/", t0.Add(30*time.Second), 1, probe.DNS)
	s.Begin(3, c.TestKeys.Start)
	s.Decision(forged(c.TestKeys.Start.Add(100*time.Millisecond), poisoned))
	s.Measurement(3, c)
	res := s.Result()
	if len(got) != 3 || got[2].Truth != probe.DNS || len(got[2].Decisions) != 1 {
		t.Fatalf("the later measurement: %d items, last %+v; want dns by one decision", len(got), got[len(got)-1])
	}
	if res.Total != 3 || res.Agree != 3 {
		t.Errorf("result %d/%d, want 3/3", res.Agree, res.Total)
	}
}

// TestTallyLimits: a bounded tally counts every item and keeps the first
// of each (vantage, domain, verdicts) of the blocked or disputed ones, up
// to its bound, and the disagreements up to theirs; its counts are those
// of a tally that keeps everything.
func TestTallyLimits(t *testing.T) {
	all := score.NewTally(score.Limits{Items: -1, Disagreements: -1})
	some := score.NewTally(score.Limits{Items: 2, Disagreements: 1})
	for i, c := range []struct {
		domain          string
		measured, truth probe.Verdict
	}{
		{"a.com", probe.Accessible, probe.Accessible},
		{"b.com", probe.DNS, probe.DNS},
		{"b.com", probe.DNS, probe.DNS}, // alike to the one before
		{"c.com", probe.TLS, probe.Accessible},
		{"d.com", probe.TCPIP, probe.DNS}, // beyond both bounds
	} {
		it := score.Item{Vantage: "cn-client-1", Domain: c.domain, Input: "http://" + c.domain + "/", Measured: c.measured, Truth: c.truth}
		all.Add(it)
		some.Add(it)
		if all.Total() != i+1 {
			t.Fatalf("total %d after %d items", all.Total(), i+1)
		}
	}
	a, s := all.Result(), some.Result()
	if s.Total != 5 || s.Agree != a.Agree || s.Accuracy != a.Accuracy || len(s.PerClass) != len(a.PerClass) {
		t.Errorf("bounded: %d items, %d agree; unbounded %d, %d", s.Total, s.Agree, a.Total, a.Agree)
	}
	for i := range a.Confusion.Counts {
		for j := range a.Confusion.Counts[i] {
			if s.Confusion.Counts[i][j] != a.Confusion.Counts[i][j] {
				t.Errorf("confusion [%d][%d]: %d bounded, %d not", i, j, s.Confusion.Counts[i][j], a.Confusion.Counts[i][j])
			}
		}
	}
	if len(s.Items) != 2 || s.Items[0].Domain != "b.com" || s.Items[1].Domain != "c.com" || s.ItemsOmitted != 2 {
		t.Errorf("kept %d items (%v), omitted %d; want b.com and c.com, 2 omitted", len(s.Items), s.Items, s.ItemsOmitted)
	}
	if len(s.Disagree) != 1 || s.DisagreeOmitted != 1 || len(a.Disagree) != 2 {
		t.Errorf("disagreements: %d kept, %d omitted (unbounded %d); want 1, 1 (2)", len(s.Disagree), s.DisagreeOmitted, len(a.Disagree))
	}
}
