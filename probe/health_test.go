package probe_test

import (
	"strings"
	"testing"
	"time"

	"github.com/splinter-lab/splinter/clock"
	"github.com/splinter-lab/splinter/probe"
)

// measured makes n measurements with verdict v; first, if not empty, is
// the verdict of an earlier attempt, and basis what the reported verdict
// rests on.
func measured(n int, v probe.Verdict, first probe.Verdict, basis probe.TimeoutBasis) []*probe.Measurement {
	var out []*probe.Measurement
	for range n {
		tk := &probe.TestKeys{Verdict: v, Timeout: basis}
		if first != "" {
			tk.Attempts = []probe.Attempt{{Verdict: first, Timeout: probe.TimeoutDNS}}
		}
		out = append(out, &probe.Measurement{TestKeys: tk})
	}
	return out
}

// TestHealth: the counts, the estimate of verdicts that still rest on the
// machine, and the warning when that passes half a percent or the
// scheduling delay's 99th percentile passes 250 ms.
func TestHealth(t *testing.T) {
	var ms []*probe.Measurement
	ms = append(ms, measured(85, probe.Accessible, "", "")...)
	ms = append(ms, measured(10, probe.Accessible, probe.DNS, "")...)       // a transient, caught
	ms = append(ms, measured(5, probe.TLS, probe.TLS, probe.TimeoutTLS)...) // a censor, confirmed
	h := probe.NewHealth(ms, 10*time.Second, nil)
	if h.Measurements != 100 || h.PerSecond != 10 || h.Retried != 15 || h.Retries != 15 || h.Changed != 10 || h.OnTimeout != 5 || h.OnTimeoutBy[probe.TimeoutTLS] != 5 {
		t.Errorf("health %+v", h)
	}
	// Each of 115 attempts was a transient with the chance 10/115; a
	// measurement of an open site ends on two in a row with its square:
	// 100 × (10/115)² = 0.76 of a verdict, over half a percent of 100.
	if h.Suspect != 0.8 || !h.Busy || !strings.Contains(h.Warning, "about 1 verdicts may rest on the machine's slowness") {
		t.Errorf("suspect %.2f, busy %v, warning %q", h.Suspect, h.Busy, h.Warning)
	}
	if s := h.Summary(); !strings.Contains(s, "15 measured again (15 attempts, 10 changed their verdict); 5 verdicts rest on a timeout (tls_handshake 5)") || !strings.Contains(s, "WARNING") {
		t.Errorf("summary %q", s)
	}

	// Retries that changed nothing: nothing suspect, no warning.
	quiet := append(measured(95, probe.Accessible, "", ""), measured(5, probe.TLS, probe.TLS, probe.TimeoutTLS)...)
	if h := probe.NewHealth(quiet, 10*time.Second, nil); h.Suspect != 0 || h.Busy || h.Warning != "" {
		t.Errorf("quiet run: suspect %.2f, busy %v, warning %q", h.Suspect, h.Busy, h.Warning)
	}

	// Verdicts that could not be judged, measured again: unknown on the
	// throughput test (or the control); the first attempt's accessible
	// rested on the same inconclusive test, so no verdict changed. The run
	// warns, those sites were not judged, but does not blame the machine
	// (a slow path does it too).
	undecided := append(measured(98, probe.Accessible, "", ""), measured(2, probe.Unknown, probe.Accessible, probe.TimeoutThroughput)...)
	h = probe.NewHealth(undecided, 10*time.Second, nil)
	if h.Undecided != 2 || h.OnTimeout != 2 || h.Changed != 0 || h.Busy || !strings.HasPrefix(h.Warning, "2 verdicts could not be judged") {
		t.Errorf("undecided run: undecided %d, busy %v, warning %q", h.Undecided, h.Busy, h.Warning)
	}
	if s := h.Summary(); !strings.Contains(s, "2 verdicts rest on a timeout (throughput 2), 2 of them unknown") {
		t.Errorf("summary %q", s)
	}
	// An unknown verdict that rests on no timeout (a bad input) is not
	// the machine's.
	bad := append(measured(99, probe.Accessible, "", ""), measured(1, probe.Unknown, "", "")...)
	if h := probe.NewHealth(bad, 10*time.Second, nil); h.Undecided != 0 || h.Busy {
		t.Errorf("bad input: undecided %d, busy %v", h.Undecided, h.Busy)
	}

	// A pacer that saw a quarter of its timers fire 300 ms late.
	clk := clock.NewManual(t0)
	p := probe.NewPacer(probe.PacerConfig{Clock: clk})
	for i := range 100 {
		d := time.Millisecond
		if i%4 == 0 {
			d = 300 * time.Millisecond
		}
		p.ObserveDelay(d)
	}
	h = probe.NewHealth(quiet, 10*time.Second, p)
	if h.DelaySamples != 100 || h.DelayMax != 300 || h.DelayP99 < 270 || !h.Busy || !strings.Contains(h.Warning, "scheduling delay's 99th percentile was") {
		t.Errorf("busy pacer: %+v", h)
	}
	if h.InFlightStart != 64 || h.FactorCap != 8 {
		t.Errorf("in flight from %d, factor cap %.0f", h.InFlightStart, h.FactorCap)
	}
}
