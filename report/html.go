package report

import (
	"fmt"
	"html/template"
	"io"
	"math"
	"net/netip"
	"sort"
	"strings"

	"github.com/splinter-lab/splinter/border"
	"github.com/splinter-lab/splinter/probe"
	"github.com/splinter-lab/splinter/score"
)

// verdictColors gives every verdict its colour, in the heatmap legend, the
// method bars and the evidence list alike.
var verdictColors = map[probe.Verdict]string{
	probe.Accessible:  "#3a9d5d",
	probe.DNS:         "#7b4fc9",
	probe.TCPIP:       "#444c5c",
	probe.HTTPFailure: "#d9480f",
	probe.HTTPDiff:    "#e8a317",
	probe.TLS:         "#c2255c",
	probe.QUIC:        "#1c7ed6",
	probe.Throttled:   "#66a80f",
	probe.Residual:    "#862e9c",
	probe.Down:        "#868e96",
	probe.NonExistent: "#ced4da",
	probe.Unknown:     "#adb5bd",
}

// heat maps a share reachable to a colour from red (0) through amber to
// green (1).
func heat(share float64) string {
	if share < 0 {
		return "#f1f3f5"
	}
	// Hue 0 (red) to 130 (green).
	h := 130 * share
	l := 52 - 6*math.Abs(share-0.5)
	return fmt.Sprintf("hsl(%.0f,62%%,%.0f%%)", h, l)
}

type bar struct {
	Verdict probe.Verdict
	N       int
	X, W    float64
	Color   string
}

type methodRow struct {
	Code, Name string
	Vantages   string
	Total      int
	Bars       []bar
	Rules      []ruleLine
	Behind     string
}

// ruleLine is one rule that acted on a jurisdiction's measurements, with
// what it did and its citation.
type ruleLine struct {
	Border, Rule string
	Actions      string // "dns-inject × 152, residual × 3"
	Citation
	Cited bool
}

type evidence struct {
	Domain, Vantage, CC, Category string
	Measured, Truth               probe.Verdict
	MColor, TColor                string
	Agree                         bool
	Reason                        string
	Lines                         []ChainStep
}

// ChainStep is one line of an evidence chain: what a measurement saw at one
// step, or a border decision behind it.
type ChainStep struct {
	// Kind is dns, ctrl, tcp, tls, quic, http, thr (throughput), res
	// (residual) or border.
	Kind string `json:"kind"`
	Text string `json:"text"`
	// Bad marks a step that failed or was tampered with.
	Bad bool `json:"bad,omitempty"`
}

type view struct {
	*Report
	Accuracy   string
	Heat       [][]heatCell
	Methods    []methodRow
	Legend     []bar
	Classes    []score.ClassScore
	Labels     []probe.Verdict
	Matrix     [][]matrixCell
	Evidence   []evidence
	NBlocked   int
	Elapsed    string
	HeatWidth  int
	HeatHeight int
	Glossary   Glossary
}

type heatCell struct {
	X, Y         int
	Color, Label string
	Tip          string
	Dark         bool
}

type matrixCell struct {
	N     int
	Color string
	Diag  bool
}

// WriteHTML writes the self-contained report.html.
func (r *Report) WriteHTML(w io.Writer) error {
	v := &view{Report: r, Glossary: NewGlossary()}
	s := r.Score
	if s == nil {
		s = &score.Result{}
	}
	v.Accuracy = fmt.Sprintf("%.2f%%", 100*s.Accuracy)
	if r.Elapsed > 0 {
		v.Elapsed = fmt.Sprintf("%.1f s", r.Elapsed.Seconds())
	}
	// Heatmap geometry.
	const cw, ch, left, top = 38, 30, 150, 70
	v.HeatWidth = left + cw*len(r.Categories) + 10
	v.HeatHeight = top + ch*len(r.Jurisdictions) + 10
	for ji, j := range r.Jurisdictions {
		var row []heatCell
		for ci, c := range r.Categories {
			cell := r.Cells[ji][ci]
			hc := heatCell{X: left + ci*cw, Y: top + ji*ch, Color: heat(cell.Share())}
			if cell.Total > 0 {
				hc.Label = fmt.Sprintf("%.0f", 100*cell.Share())
				hc.Tip = fmt.Sprintf("%s × %s (%s): %d of %d reachable", j.Name, c.Name, c.Code, cell.Reachable, cell.Total)
				if len(cell.Blocked) > 0 {
					hc.Tip += "\nblocked: " + strings.Join(cell.Blocked, "\n         ")
				}
				hc.Dark = cell.Share() > 0.25 && cell.Share() < 0.75
			}
			row = append(row, hc)
		}
		v.Heat = append(v.Heat, row)
	}
	// Methods per jurisdiction.
	for _, vd := range append(append([]probe.Verdict{}, probe.Verdicts...), probe.Unknown) {
		v.Legend = append(v.Legend, bar{Verdict: vd, Color: verdictColors[vd]})
	}
	for _, j := range r.Jurisdictions {
		if j.Total == 0 {
			continue
		}
		mr := methodRow{Code: j.Code, Name: j.Name, Vantages: strings.Join(j.Vantages, ", "), Total: j.Total}
		x := 0.0
		for _, vd := range append(append([]probe.Verdict{}, probe.Verdicts...), probe.Unknown) {
			n := j.Methods[vd]
			if n == 0 {
				continue
			}
			wd := 600 * float64(n) / float64(j.Total)
			mr.Bars = append(mr.Bars, bar{Verdict: vd, N: n, X: x, W: wd, Color: verdictColors[vd]})
			x += wd
		}
		if len(j.Behind) > 0 {
			mr.Behind = methods(j.Behind)
		}
		mr.Rules = r.ruleLines(j.Rules)
		v.Methods = append(v.Methods, mr)
	}
	// Accuracy.
	v.Classes = s.PerClass
	v.Labels = s.Confusion.Labels
	maxOff := 1
	for i, row := range s.Confusion.Counts {
		for j, n := range row {
			if i != j && n > maxOff {
				maxOff = n
			}
		}
	}
	for i, row := range s.Confusion.Counts {
		var mrow []matrixCell
		for j, n := range row {
			c := matrixCell{N: n, Diag: i == j}
			switch {
			case n == 0:
				c.Color = "#fff"
			case i == j:
				c.Color = "#d3f9d8"
			default:
				c.Color = fmt.Sprintf("rgba(224,49,49,%.2f)", 0.15+0.6*float64(n)/float64(maxOff))
			}
			mrow = append(mrow, c)
		}
		v.Matrix = append(v.Matrix, mrow)
	}
	// Evidence chains: every blocked or disputed measurement.
	for _, it := range s.Items {
		if !it.Measured.Blocked() && !it.Truth.Blocked() && it.Measured == it.Truth {
			continue
		}
		if it.Measured.Blocked() {
			v.NBlocked++
		}
		m := it.Measurement
		v.Evidence = append(v.Evidence, evidence{
			Domain: it.Domain, Vantage: it.Vantage, CC: it.CC, Category: it.Category,
			Measured: it.Measured, Truth: it.Truth, MColor: verdictColors[it.Measured], TColor: verdictColors[it.Truth],
			Agree: it.Measured == it.Truth, Reason: it.Reason, Lines: Chain(m, it.Measured, it.Decisions),
		})
	}
	sort.SliceStable(v.Evidence, func(a, b int) bool {
		if v.Evidence[a].Agree != v.Evidence[b].Agree {
			return !v.Evidence[a].Agree
		}
		return false
	})
	return page.Execute(w, v)
}

// ruleLines groups a jurisdiction's rule counts by rule, with citations.
func (r *Report) ruleLines(counts map[RuleAction]int) []ruleLine {
	type key struct{ border, policy, rule string }
	acts := map[key]map[border.ActionKind]int{}
	for ra, n := range counts {
		k := key{ra.Border, ra.Policy, ra.Rule}
		if acts[k] == nil {
			acts[k] = map[border.ActionKind]int{}
		}
		acts[k][ra.Action] += n
	}
	var out []ruleLine
	for k, as := range acts {
		var parts []string
		for a, n := range as {
			parts = append(parts, fmt.Sprintf("%s × %d", a, n))
		}
		sort.Strings(parts)
		l := ruleLine{Border: k.border, Rule: k.rule, Actions: strings.Join(parts, ", ")}
		l.Citation, l.Cited = r.citation(k.policy, k.rule)
		out = append(out, l)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Border != out[j].Border {
			return out[i].Border < out[j].Border
		}
		return out[i].Rule < out[j].Rule
	})
	return out
}

// Chain lists what a measurement saw and what the borders did, in order:
// its DNS answers, the control's view, failed connects and handshakes, its
// fetches, throughput and residual checks, then the decisions (ds) joined
// to it. measured is its verdict (a fetch that succeeded is marked bad on
// an http-diff).
func Chain(m *probe.Measurement, measured probe.Verdict, ds []border.Decision) []ChainStep {
	var out []ChainStep
	if m != nil && m.TestKeys != nil {
		tk := m.TestKeys
		for _, q := range tk.Queries {
			t := fmt.Sprintf("%s %s via %s (%s): %s", q.QueryType, q.Hostname, q.ResolverAddress.Addr(), q.Engine, answers(q.Answers))
			if q.Failure != nil {
				t += " — " + *q.Failure
			}
			for _, l := range q.Late {
				t += "; then " + answers(l)
			}
			out = append(out, ChainStep{Kind: "dns", Text: t, Bad: q.Failure != nil || len(q.Late) > 0})
		}
		if c := tk.Control; c != nil {
			out = append(out, ChainStep{Kind: "ctrl", Text: "control resolved " + addrs(c.DNS.Addrs) + fmt.Sprintf(", fetched status %d, %d bytes, title %q", c.HTTPRequest.StatusCode, c.HTTPRequest.BodyLength, c.HTTPRequest.Title)})
		}
		for _, c := range tk.TCPConnect {
			if c.Status.Failure != nil {
				out = append(out, ChainStep{Kind: "tcp", Text: fmt.Sprintf("connect %s: %s", netip.AddrPortFrom(c.IP, c.Port), *c.Status.Failure), Bad: true})
			}
		}
		for _, h := range tk.TLSHandshakes {
			if h.Failure != nil {
				out = append(out, ChainStep{Kind: "tls", Text: fmt.Sprintf("TLS %s SNI %s: %s at %s (%.2fs)", h.Address, h.ServerName, *h.Failure, h.Operation, h.T), Bad: true})
			}
		}
		for _, q := range tk.QUICHandshakes {
			t := fmt.Sprintf("QUIC %s SNI %s: ok", q.Address, q.ServerName)
			if q.Failure != nil {
				t = fmt.Sprintf("QUIC %s SNI %s: %s", q.Address, q.ServerName, *q.Failure)
			}
			out = append(out, ChainStep{Kind: "quic", Text: t, Bad: q.Failure != nil})
		}
		for _, rq := range tk.Requests {
			t := fmt.Sprintf("GET %s via %s: ", rq.Request.URL, rq.Address)
			if rq.Failure != nil {
				t += *rq.Failure
			} else {
				t += fmt.Sprintf("status %d, %d bytes, title %q", rq.Response.Code, len(rq.Response.Body), probe.Title(rq.Response.Body))
			}
			out = append(out, ChainStep{Kind: "http", Text: t, Bad: rq.Failure != nil || measured == probe.HTTPDiff})
		}
		if th := tk.Throughput; th != nil {
			t := fmt.Sprintf("download %d/%d bytes in %.2fs = %.0f kbit/s", th.Bytes, th.Wanted, th.Seconds, th.BitsPerS/1000)
			if len(th.Baselines) > 0 {
				t += fmt.Sprintf("; median of %d with SNI %.0f kbit/s, best of %d without %.0f kbit/s", 1+len(th.Repeats), th.MedianSNI/1000, len(th.Baselines), th.BestBaseline/1000)
			}
			if th.Failure != nil {
				t += " — " + *th.Failure
			}
			out = append(out, ChainStep{Kind: "thr", Text: t, Bad: th.Throttled || th.Failure != nil})
		}
		if rs := tk.Residual; rs != nil {
			t := fmt.Sprintf("benign %s request to %s right after: ", rs.Protocol, rs.Address)
			if rs.Immediate != nil {
				t += *rs.Immediate
			} else {
				t += "answered"
			}
			out = append(out, ChainStep{Kind: "res", Text: t, Bad: rs.Blocked})
		}
	}
	for _, d := range ds {
		out = append(out, ChainStep{Kind: "border", Text: d.Time.Format("15:04:05.000") + " " + score.Describe(d), Bad: true})
	}
	return out
}

func answers(as []probe.DNSAnswer) string {
	if len(as) == 0 {
		return "no answer"
	}
	var s []string
	for _, a := range as {
		switch {
		case a.IPv4.IsValid():
			s = append(s, a.IPv4.String())
		case a.IPv6.IsValid():
			s = append(s, a.IPv6.String())
		default:
			s = append(s, a.AnswerType+" "+a.Hostname)
		}
	}
	return strings.Join(s, " ")
}

func addrs(as []netip.Addr) string {
	var s []string
	for _, a := range as {
		s = append(s, a.String())
	}
	return strings.Join(s, " ")
}

var page = template.Must(template.New("report").Funcs(template.FuncMap{
	"pct":    func(f float64) string { return fmt.Sprintf("%.3f", f) },
	"add":    func(a, b int) int { return a + b },
	"half":   func(a int) int { return a / 2 },
	"f1":     func(f float64) string { return fmt.Sprintf("%.1f", f) },
	"mul38":  func(i int) int { return 38 * i },
	"mul30":  func(i int) int { return 30 * i },
	"midx":   func(x, w float64) float64 { return x + w/2 },
	"barpct": func(w float64) float64 { return w / 6 }, // bar widths are in 600ths
	"vcolor": func(v probe.Verdict) string { return verdictColors[v] },
}).Parse(pageHTML))

// HeatColor is the colour of a heatmap square whose share of measurements
// reachable is share (from red at 0 through amber to green at 1; a pale
// grey for an empty square, share < 0).
func HeatColor(share float64) string { return heat(share) }
