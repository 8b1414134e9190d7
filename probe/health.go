package probe

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"
)

// Health is how steady a run of measurements was: what the machine did to
// them (the pacer's figures) and what the probe did about it (the
// measurements made again, the verdicts that still rest on a timeout).
// Busy says when the machine was too busy for the figures to be trusted,
// Warning why, and which verdicts were left undecided. NewHealth makes one.
type Health struct {
	Measurements int     `json:"measurements"`
	Seconds      float64 `json:"seconds"`
	PerSecond    float64 `json:"measurements_per_second"`

	// The scheduling delay, in milliseconds: how much later than asked a
	// 10 ms timer fired (zero without a pacer).
	DelaySamples int     `json:"scheduling_delay_samples"`
	DelayMedian  float64 `json:"scheduling_delay_median_ms"`
	DelayP99     float64 `json:"scheduling_delay_p99_ms"`
	DelayMax     float64 `json:"scheduling_delay_max_ms"`
	// The round trip to the control host, in milliseconds: the smallest,
	// the median and the largest (zero without them).
	RTTBase   float64 `json:"rtt_base_ms"`
	RTTMedian float64 `json:"rtt_median_ms"`
	RTTMax    float64 `json:"rtt_max_ms"`
	// The factor timeouts were stretched by: its median over the run and
	// its largest; FactorCap is the pacer's cap.
	FactorMedian float64 `json:"timeout_factor_median"`
	FactorMax    float64 `json:"timeout_factor_max"`
	FactorCap    float64 `json:"timeout_factor_cap"`
	// The bound on measurements in flight: at first, its smallest and its
	// largest.
	InFlightStart int `json:"in_flight_start"`
	InFlightMin   int `json:"in_flight_min"`
	InFlightMax   int `json:"in_flight_max"`

	// Retried is how many measurements were made more than once, Retries
	// how many attempts that added, and Changed how many retried
	// measurements ended with another verdict than their first attempt's:
	// a timeout that did not come back, the machine's, not a censor's.
	Retried int `json:"retried"`
	Retries int `json:"retries"`
	Changed int `json:"changed"`
	// OnTimeout is how many reported verdicts rest on a timeout, and
	// OnTimeoutBy how many on each (each was measured again and timed out
	// again, unless retries were off).
	OnTimeout   int                  `json:"rest_on_timeout"`
	OnTimeoutBy map[TimeoutBasis]int `json:"rest_on_timeout_by"`
	// Undecided is how many reported verdicts are unknown because what
	// they rest on timed out or ran too slow, measured again: no control
	// came back, or the throughput test could not tell throttling from
	// slowness ("cannot judge throttling").
	Undecided int `json:"undecided"`
	// Suspect estimates how many reported verdicts still rest on the
	// machine rather than a censor: each attempt gave a transient timeout
	// verdict with the chance Changed / attempts, so a measurement of an
	// open site ends on one with that chance to the power of its
	// attempts.
	Suspect float64 `json:"suspect"`
	// Busy is set when the machine was too busy for the figures to be
	// trusted. Warning says why, for people, and names the verdicts left
	// undecided (Undecided), whatever the cause.
	Busy    bool   `json:"busy"`
	Warning string `json:"warning,omitempty"`
}

// Limits of a run that can be trusted.
const (
	// SuspectShare is the share of measurements that may be suspect
	// (Health.Suspect) before a run is called busy: half a percent.
	SuspectShare = 0.005
	// BusyDelayP99 is the scheduling delay's 99th percentile above which
	// a run is called busy.
	BusyDelayP99 = 250 * time.Millisecond
)

// NewHealth assesses a run: its measurements, how long it took, and the
// pacer that paced it (nil: no figures of the machine).
func NewHealth(ms []*Measurement, elapsed time.Duration, p *Pacer) *Health {
	var t HealthTally
	for _, m := range ms {
		t.Add(m)
	}
	return t.Health(elapsed, p)
}

// A HealthTally counts what a run's health needs of its measurements as
// they come, so that a run that streams them need not keep them. The zero
// value is ready; it is not safe for concurrent use.
type HealthTally struct {
	n, retried, retries, changed, onTimeout, undecided, attempts int
	by                                                           map[TimeoutBasis]int
}

// Add counts m.
func (t *HealthTally) Add(m *Measurement) {
	t.n++
	if t.by == nil {
		t.by, t.attempts = map[TimeoutBasis]int{}, 1
	}
	tk := m.TestKeys
	if tk == nil {
		return
	}
	if n := len(tk.Attempts); n > 0 {
		t.retried++
		t.retries += n
		t.attempts = max(t.attempts, n+1)
		// An undecided verdict came back as undecided as the first
		// attempt's: not a change.
		if tk.Attempts[0].Verdict != tk.Verdict && !(tk.Verdict == Unknown && tk.Timeout != "") {
			t.changed++
		}
	}
	if tk.Timeout != "" {
		t.onTimeout++
		t.by[tk.Timeout]++
		if tk.Verdict == Unknown {
			t.undecided++
		}
	}
}

// Health assesses the run counted so far, which took elapsed, paced by p
// (nil: no figures of the machine).
func (t *HealthTally) Health(elapsed time.Duration, p *Pacer) *Health {
	h := &Health{Measurements: t.n, Seconds: round(elapsed.Seconds(), 1), OnTimeoutBy: map[TimeoutBasis]int{}, FactorMedian: 1, FactorMax: 1}
	if elapsed > 0 {
		h.PerSecond = round(float64(t.n)/elapsed.Seconds(), 1)
	}
	if p != nil {
		s := p.Stats()
		ms := func(d time.Duration) float64 { return round(float64(d)/float64(time.Millisecond), 2) }
		h.DelaySamples = s.DelaySamples
		h.DelayMedian, h.DelayP99, h.DelayMax = ms(s.DelayMedian), ms(s.DelayP99), ms(s.DelayMax)
		h.RTTBase, h.RTTMedian, h.RTTMax = ms(s.RTTBase), ms(s.RTTMedian), ms(s.RTTMax)
		h.FactorMedian, h.FactorMax, h.FactorCap = round(s.FactorMedian, 2), round(s.FactorMax, 2), p.cfg.MaxFactor
		h.InFlightStart, h.InFlightMin, h.InFlightMax = s.LimitStart, s.LimitMin, s.LimitMax
	}
	h.Retried, h.Retries, h.Changed, h.OnTimeout, h.Undecided = t.retried, t.retries, t.changed, t.onTimeout, t.undecided
	for b, n := range t.by {
		h.OnTimeoutBy[b] = n
	}
	attempts := max(t.attempts, 1)
	if total := h.Measurements + h.Retries; total > 0 && h.Changed > 0 {
		if h.Retries == 0 {
			attempts = 1
		}
		q := float64(h.Changed) / float64(total)
		h.Suspect = round(min(float64(h.OnTimeout), float64(h.Measurements)*math.Pow(q, float64(attempts))), 1)
	}
	var why []string
	if h.Measurements > 0 && h.Suspect >= SuspectShare*float64(h.Measurements) {
		why = append(why, fmt.Sprintf("about %.0f verdicts may rest on the machine's slowness rather than a censor (a retry changed %d verdicts in %d attempts)",
			h.Suspect, h.Changed, h.Measurements+h.Retries))
	}
	if h.DelayP99 > float64(BusyDelayP99)/float64(time.Millisecond) {
		why = append(why, fmt.Sprintf("the scheduling delay's 99th percentile was %.0f ms", h.DelayP99))
	}
	var warn []string
	if len(why) > 0 {
		h.Busy = true
		warn = append(warn, "the machine was too busy for these figures to be trusted: "+strings.Join(why, "; ")+"; measure again on a quieter machine")
	}
	if h.Undecided > 0 {
		warn = append(warn, fmt.Sprintf("%d verdicts could not be judged, even measured again (no control came back, or the downloads ran too slow, on a slow path or a busy machine, to tell throttling): they are unknown, not accessible", h.Undecided))
	}
	h.Warning = strings.Join(warn, ". ")
	return h
}

// Summary is the health in one line, for logs.
func (h *Health) Summary() string {
	var parts []string
	if h.DelaySamples > 0 {
		parts = append(parts, fmt.Sprintf("scheduling delay median %.1f ms, p99 %.0f ms, max %.0f ms", h.DelayMedian, h.DelayP99, h.DelayMax))
	}
	if h.RTTBase > 0 {
		parts = append(parts, fmt.Sprintf("round trip to the control %.0f ms (smallest %.0f, largest %.0f)", h.RTTMedian, h.RTTBase, h.RTTMax))
	}
	if h.InFlightStart > 0 {
		parts = append(parts, fmt.Sprintf("timeouts ×%.1f (median), ×%.1f (largest); in flight %d to %d", h.FactorMedian, h.FactorMax, h.InFlightMin, h.InFlightMax))
	}
	parts = append(parts, fmt.Sprintf("%d measured again (%d attempts, %d changed their verdict)", h.Retried, h.Retries, h.Changed))
	parts = append(parts, fmt.Sprintf("%d verdicts rest on a timeout%s, %d of them unknown", h.OnTimeout, h.byBasis(), h.Undecided))
	parts = append(parts, fmt.Sprintf("%.1f measurements/s", h.PerSecond))
	s := strings.Join(parts, "; ")
	if h.Warning != "" {
		s += "\nWARNING: " + h.Warning
	}
	return s
}

// byBasis lists OnTimeoutBy, largest first, in parentheses.
func (h *Health) byBasis() string {
	if len(h.OnTimeoutBy) == 0 {
		return ""
	}
	keys := make([]TimeoutBasis, 0, len(h.OnTimeoutBy))
	for k := range h.OnTimeoutBy {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if h.OnTimeoutBy[keys[i]] != h.OnTimeoutBy[keys[j]] {
			return h.OnTimeoutBy[keys[i]] > h.OnTimeoutBy[keys[j]]
		}
		return keys[i] < keys[j]
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, h.OnTimeoutBy[k])
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

func round(x float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(x*p) / p
}
