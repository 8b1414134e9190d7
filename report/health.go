package report

import (
	"fmt"
	"html/template"
	"io"
	"sort"
	"strings"

	"github.com/splinter-lab/splinter/probe"
)

// HealthLines are the run's health for people, one fact a line (nil
// without a health): what the machine did to the measurements and what
// the probe did about it.
func (r *Report) HealthLines() []string {
	h := r.Health
	if h == nil {
		return nil
	}
	var out []string
	if h.DelaySamples > 0 {
		out = append(out, fmt.Sprintf("scheduling delay (how late a 10 ms timer fired): median %.1f ms, 99th percentile %.0f ms, largest %.0f ms", h.DelayMedian, h.DelayP99, h.DelayMax))
	}
	if h.RTTBase > 0 {
		out = append(out, fmt.Sprintf("round trip to the control host: median %.0f ms (smallest %.0f ms, largest %.0f ms)", h.RTTMedian, h.RTTBase, h.RTTMax))
	}
	if h.InFlightStart > 0 {
		out = append(out, fmt.Sprintf("timeouts stretched ×%.1f (median), ×%.1f at most; measurements in flight bounded between %d and %d", h.FactorMedian, h.FactorMax, h.InFlightMin, h.InFlightMax))
	}
	out = append(out, fmt.Sprintf("measured again because the verdict rested on a timeout: %d (%d more attempts; %d changed their verdict)", h.Retried, h.Retries, h.Changed))
	line := fmt.Sprintf("verdicts that rest on a timeout: %d", h.OnTimeout)
	if len(h.OnTimeoutBy) > 0 {
		keys := make([]probe.TimeoutBasis, 0, len(h.OnTimeoutBy))
		for k := range h.OnTimeoutBy {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
		var parts []string
		for _, k := range keys {
			parts = append(parts, fmt.Sprintf("%s %d", k, h.OnTimeoutBy[k]))
		}
		line += " (" + strings.Join(parts, ", ") + ")"
	}
	if h.Undecided > 0 {
		line += fmt.Sprintf("; %d of them unknown: the measurement could not judge", h.Undecided)
	}
	out = append(out, line)
	out = append(out, fmt.Sprintf("%.1f measurements per second", h.PerSecond))
	return out
}

// writeHealth prints the run's health for the terminal, if there is one.
func (r *Report) writeHealth(w io.Writer) {
	if r.Health == nil {
		return
	}
	fmt.Fprintf(w, "\nRun health:\n")
	for _, l := range r.HealthLines() {
		fmt.Fprintf(w, "  %s\n", l)
	}
	if r.Health.Warning != "" {
		fmt.Fprintf(w, "\nWARNING: %s\n", r.Health.Warning)
	}
}

const healthHTML = `{{if .Health}}<section>
<h2>Run health</h2>
<p class="sub">How busy the machine was, and what the probe did about it: timeouts stretched and measurements in flight bounded by what the machine kept up with, and every verdict that rested on a timeout measured again.</p>
{{if .Health.Warning}}<p class="flag">Warning: {{.Health.Warning}}</p>{{end}}
<ul>{{range .HealthLines}}<li>{{.}}</li>{{end}}</ul>
</section>
{{end}}`

var _ = template.Must(page.New("health").Parse(healthHTML))
