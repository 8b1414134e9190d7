package report

import (
	"bytes"
	"strings"
	"testing"

	"github.com/splinter-lab/splinter/probe"
	"github.com/splinter-lab/splinter/scenario"
	"github.com/splinter-lab/splinter/score"
)

// TestHealthSection: a run's health is in the terminal summary, last, with
// its warning, and in report.html; a report without one has neither.
func TestHealthSection(t *testing.T) {
	sc, err := scenario.Embedded("two-lands")
	if err != nil {
		t.Fatal(err)
	}
	plan, err := sc.Plan()
	if err != nil {
		t.Fatal(err)
	}
	r := Build(sc, plan, 0, score.Score(nil, nil))
	var none bytes.Buffer
	r.WriteSummary(&none)
	if strings.Contains(none.String(), "Run health") {
		t.Errorf("a report without health shows one:\n%s", none.String())
	}
	r.Health = &probe.Health{Measurements: 2445, PerSecond: 18.5, DelaySamples: 9000, DelayMedian: 0.9, DelayP99: 55, DelayMax: 450,
		RTTBase: 15, RTTMedian: 26, RTTMax: 678, FactorMedian: 1.4, FactorMax: 3.2, FactorCap: 8, InFlightStart: 64, InFlightMin: 20, InFlightMax: 384,
		Retried: 60, Retries: 61, Changed: 11, OnTimeout: 49, OnTimeoutBy: map[probe.TimeoutBasis]int{probe.TimeoutTLS: 31, probe.TimeoutThroughput: 16, probe.TimeoutTCPConnect: 2}, Undecided: 3,
		Suspect: 0.1, Busy: true, Warning: "the machine was too busy for these figures to be trusted: <b>"}
	var s bytes.Buffer
	r.WriteSummary(&s)
	out := s.String()
	for _, want := range []string{
		"Run health:",
		"scheduling delay (how late a 10 ms timer fired): median 0.9 ms, 99th percentile 55 ms, largest 450 ms",
		"round trip to the control host: median 26 ms (smallest 15 ms, largest 678 ms)",
		"timeouts stretched ×1.4 (median), ×3.2 at most; measurements in flight bounded between 20 and 384",
		"measured again because the verdict rested on a timeout: 60 (61 more attempts; 11 changed their verdict)",
		"verdicts that rest on a timeout: 49 (tcp_connect 2, throughput 16, tls_handshake 31); 3 of them unknown: the measurement could not judge",
		"18.5 measurements per second",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	if !strings.HasSuffix(out, "WARNING: the machine was too busy for these figures to be trusted: <b>\n") {
		t.Errorf("summary does not end with the warning:\n%s", out)
	}
	var h bytes.Buffer
	if err := r.WriteHTML(&h); err != nil {
		t.Fatal(err)
	}
	html := h.String()
	if !strings.Contains(html, "<h2>Run health</h2>") || !strings.Contains(html, "Warning: the machine was too busy for these figures to be trusted: &lt;b&gt;") {
		t.Errorf("report.html lacks the health section or its warning")
	}
}
