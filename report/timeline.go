package report

import (
	"cmp"
	"fmt"
	"html/template"
	"io"
	"math"
	"slices"
	"strings"
	"time"
)

// Policy is what one border applied at the report's date.
type Policy struct {
	Border       string `json:"border"`
	Jurisdiction string `json:"jurisdiction"`
	// Name is the policy or history version in force ("" for none).
	Name string `json:"policy,omitempty"`
	// History is the censor's history the version belongs to, if any.
	History string `json:"history,omitempty"`
	// Since is the version's date (YYYY-MM-DD), if known.
	Since string `json:"since,omitempty"`
	// Follows says the border follows its history's versions by date.
	Follows bool `json:"follows_date,omitempty"`
}

// writeDate prints the world's date and the policies in force.
func (r *Report) writeDate(w io.Writer) {
	if r.At.IsZero() && len(r.Policies) == 0 {
		return
	}
	if !r.At.IsZero() {
		fmt.Fprintf(w, "\nWorld date: %s\n", date(r.At))
	}
	if len(r.Policies) > 0 {
		fmt.Fprintf(w, "Policies in force:\n")
		for _, p := range r.Policies {
			fmt.Fprintf(w, "  %-22s %s\n", p.Border, p.describe())
		}
	}
}

func (p Policy) describe() string {
	switch {
	case p.Name == "":
		return "none yet (history " + p.History + " starts later)"
	case p.History != "" && p.Follows:
		return fmt.Sprintf("%s since %s (history %s)", p.Name, p.Since, p.History)
	case p.History != "":
		return fmt.Sprintf("%s since %s (pinned)", p.Name, p.Since)
	}
	return p.Name
}

// date formats t as a day, or as an instant when it is not midnight UTC.
func date(t time.Time) string {
	t = t.UTC()
	if t.Hour() == 0 && t.Minute() == 0 && t.Second() == 0 {
		return t.Format(time.DateOnly)
	}
	return t.Format(time.RFC3339)
}

// Timeline is reachability over time: the reachability index (the share of
// measurements that reached their site) of each jurisdiction, overall and
// per category, at each date, and between dates the policy changes that
// took effect and the border rules whose decisions moved the index.
type Timeline struct {
	Scenario   string      `json:"scenario"`
	Dates      []time.Time `json:"dates"`
	Categories []string    `json:"categories"`
	Series     []Series    `json:"series"`
	Steps      []Step      `json:"steps"`
}

// Series is one jurisdiction's index over the timeline's dates.
type Series struct {
	Jurisdiction string `json:"jurisdiction"`
	Name         string `json:"name"`
	// Index is the share reachable at each date; -1 where nothing was
	// measured from the jurisdiction.
	Index []float64 `json:"index"`
	// Measured counts the measurements behind each date's index.
	Measured []int `json:"measured"`
	// ByCategory is the index per category code at each date (-1: none).
	ByCategory map[string][]float64 `json:"by_category"`
	// Policies are the policies in force at each date, as "BORDER=NAME".
	Policies [][]string `json:"policies"`
}

// Change is a policy change that took effect at a date: a history version
// coming into force (with the cited changes it made), or a rule's active
// window opening or closing.
type Change struct {
	Date         time.Time `json:"date"`
	Jurisdiction string    `json:"jurisdiction"`
	Border       string    `json:"border"`
	// Version is the version that came into force ("" for a window).
	Version string `json:"version,omitempty"`
	// Rule is the rule concerned, if one.
	Rule string `json:"rule,omitempty"`
	// What says what changed; Source and Year cite it.
	What   string `json:"what"`
	Source string `json:"source,omitempty"`
	Year   int    `json:"year,omitempty"`
}

// Step is what happened between two consecutive dates of a timeline.
type Step struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	// Changes took effect after From, up to To.
	Changes []Change `json:"changes,omitempty"`
	// Moves are the jurisdictions whose index changed, or whose policies
	// changed.
	Moves []Move `json:"moves,omitempty"`
}

// Move is one jurisdiction's index change over a step, with what moved it.
type Move struct {
	Jurisdiction string  `json:"jurisdiction"`
	Before       float64 `json:"before"`
	After        float64 `json:"after"`
	// Changes are the step's changes at this jurisdiction's borders.
	Changes []Change `json:"changes,omitempty"`
	// Rules are the border rules whose decisions on this jurisdiction's
	// measurements changed in number, the largest change first.
	Rules []RuleCount `json:"rules,omitempty"`
}

// RuleCount is how often a rule decided on a jurisdiction's measurements
// at two dates ("CN cn-sni-mb-ra (rst)").
type RuleCount struct {
	Rule   string `json:"rule"`
	Before int    `json:"before"`
	After  int    `json:"after"`
}

// Point is one date of a timeline: its report, and the changes that took
// effect since the date before (for the first: those in force at it).
type Point struct {
	Date    time.Time
	Report  *Report
	Changes []Change
}

// BuildTimeline arranges the reports of a timeline's dates, in date order.
func BuildTimeline(points []Point) *Timeline {
	tl := &Timeline{}
	if len(points) == 0 {
		return tl
	}
	tl.Scenario = points[0].Report.Scenario
	cats := map[string]bool{}
	for _, p := range points {
		tl.Dates = append(tl.Dates, p.Date)
		for _, c := range p.Report.Categories {
			if !cats[c.Code] {
				cats[c.Code] = true
				tl.Categories = append(tl.Categories, c.Code)
			}
		}
	}
	idx := map[string]int{}
	for _, j := range points[0].Report.Jurisdictions {
		idx[j.Code] = len(tl.Series)
		tl.Series = append(tl.Series, Series{Jurisdiction: j.Code, Name: j.Name, ByCategory: map[string][]float64{}})
	}
	for di, p := range points {
		r := p.Report
		for i := range tl.Series {
			s := &tl.Series[i]
			s.Index = append(s.Index, -1)
			s.Measured = append(s.Measured, 0)
			s.Policies = append(s.Policies, nil)
			for _, c := range tl.Categories {
				s.ByCategory[c] = append(s.ByCategory[c], -1)
			}
		}
		for ji, j := range r.Jurisdictions {
			si, ok := idx[j.Code]
			if !ok {
				continue
			}
			s := &tl.Series[si]
			if j.Total > 0 {
				s.Index[di] = float64(j.Reachable) / float64(j.Total)
				s.Measured[di] = j.Total
			}
			for ci, c := range r.Categories {
				if cell := r.Cells[ji][ci]; cell.Total > 0 {
					s.ByCategory[c.Code][di] = cell.Share()
				}
			}
		}
		for _, pol := range r.Policies {
			if si, ok := idx[pol.Jurisdiction]; ok {
				name := pol.Name
				if name == "" {
					name = "none"
				}
				tl.Series[si].Policies[di] = append(tl.Series[si].Policies[di], pol.Border+"="+name)
			}
		}
		if di == 0 {
			continue
		}
		prev := points[di-1].Report
		st := Step{From: points[di-1].Date, To: p.Date, Changes: p.Changes}
		for _, s := range tl.Series {
			mv := Move{Jurisdiction: s.Jurisdiction, Before: s.Index[di-1], After: s.Index[di]}
			for _, c := range p.Changes {
				if c.Jurisdiction == s.Jurisdiction {
					mv.Changes = append(mv.Changes, c)
				}
			}
			mv.Rules = ruleMoves(jurisdiction(prev, s.Jurisdiction), jurisdiction(r, s.Jurisdiction))
			measured := mv.Before >= 0 || mv.After >= 0
			if measured && (mv.Before != mv.After || len(mv.Changes) > 0) {
				st.Moves = append(st.Moves, mv)
			}
		}
		tl.Steps = append(tl.Steps, st)
	}
	return tl
}

func jurisdiction(r *Report, code string) *Jurisdiction {
	for i := range r.Jurisdictions {
		if r.Jurisdictions[i].Code == code {
			return &r.Jurisdictions[i]
		}
	}
	return nil
}

// ruleMoves lists the rules whose decision counts differ between two
// dates, the largest difference first (at most 8).
func ruleMoves(a, b *Jurisdiction) []RuleCount {
	counts := map[string]*RuleCount{}
	if a != nil {
		for ra, n := range a.Rules {
			rule := ra.String()
			c := counts[rule]
			if c == nil {
				c = &RuleCount{Rule: rule}
				counts[rule] = c
			}
			c.Before += n
		}
	}
	if b != nil {
		for ra, n := range b.Rules {
			rule := ra.String()
			if counts[rule] == nil {
				counts[rule] = &RuleCount{Rule: rule}
			}
			counts[rule].After += n
		}
	}
	var out []RuleCount
	for _, c := range counts {
		if c.Before != c.After {
			out = append(out, *c)
		}
	}
	slices.SortFunc(out, func(x, y RuleCount) int {
		return cmp.Or(cmp.Compare(abs(y.After-y.Before), abs(x.After-x.Before)), strings.Compare(x.Rule, y.Rule))
	})
	if len(out) > 8 {
		out = out[:8]
	}
	return out
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// WriteSummary prints the timeline for a terminal: the index of every
// jurisdiction at every date, then each step's changes and what moved.
func (tl *Timeline) WriteSummary(w io.Writer) {
	fmt.Fprintf(w, "\nReachability index over time (%s): share of measurements that reached their site\n\n", tl.Scenario)
	fmt.Fprintf(w, "%-11s", "")
	for _, s := range tl.Series {
		fmt.Fprintf(w, "%6s", s.Jurisdiction)
	}
	fmt.Fprintln(w)
	for di, d := range tl.Dates {
		fmt.Fprintf(w, "%-11s", date(d))
		for _, s := range tl.Series {
			if v := s.Index[di]; v < 0 {
				fmt.Fprintf(w, "%6s", "·")
			} else {
				fmt.Fprintf(w, "%5.0f%%", 100*v)
			}
		}
		fmt.Fprintln(w)
	}
	for _, st := range tl.Steps {
		if len(st.Moves) == 0 {
			continue
		}
		fmt.Fprintf(w, "\n%s → %s\n", date(st.From), date(st.To))
		for _, mv := range st.Moves {
			fmt.Fprintf(w, "  %-4s %s\n", mv.Jurisdiction, pctMove(mv.Before, mv.After))
			for _, c := range mv.Changes {
				fmt.Fprintf(w, "       %s %s: %s\n", date(c.Date), c.Border, c.describe())
			}
			for _, rc := range mv.Rules {
				fmt.Fprintf(w, "       decisions %-44s %4d → %d\n", rc.Rule, rc.Before, rc.After)
			}
		}
	}
}

func pctMove(a, b float64) string {
	f := func(v float64) string {
		if v < 0 {
			return "·"
		}
		return fmt.Sprintf("%.0f%%", 100*v)
	}
	return f(a) + " → " + f(b)
}

func (c Change) describe() string {
	s := c.What
	if c.Version != "" {
		s = c.Version + ": " + s
	}
	if c.Source != "" {
		s += fmt.Sprintf(" [%s, %d]", c.Source, c.Year)
	}
	return s
}

// The chart: a step line per jurisdiction, its changes as markers whose
// tooltip (an SVG title) says what changed and cites it.

var seriesColors = []string{"#c92a2a", "#1c7ed6", "#2b8a3e", "#e8590c", "#7048e8", "#0c8599", "#d6336c", "#5c940d", "#862e9c", "#495057", "#f08c00", "#364fc7"}

type chartView struct {
	Width, Height         int
	Left, Right, Top, Bot float64
	XTicks, YTicks        []tick
	Series                []chartSeries
	Steps                 []stepView
	NDates                int
	First, Last           string
}

type tick struct {
	Pos   float64
	Label string
}

type chartSeries struct {
	Code, Name, Color string
	Path              string
	Points            []chartPoint
	Markers           []marker
	LegendY           float64
}

type chartPoint struct {
	X, Y float64
	Tip  string
}

type marker struct {
	X, Y float64
	Tip  string
}

type stepView struct {
	From, To string
	Moves    []moveView
}

type moveView struct {
	Code, Move, Color string
	Changes           []string
	Rules             []string
}

func (tl *Timeline) chart() *chartView {
	const w, h = 980, 380
	v := &chartView{Width: w, Height: h, Left: 56, Right: w - 190, Top: 18, Bot: h - 42, NDates: len(tl.Dates)}
	if len(tl.Dates) == 0 {
		return v
	}
	v.First, v.Last = date(tl.Dates[0]), date(tl.Dates[len(tl.Dates)-1])
	t0, t1 := tl.Dates[0], tl.Dates[len(tl.Dates)-1]
	span := t1.Sub(t0).Seconds()
	x := func(t time.Time) float64 {
		if span <= 0 {
			return (v.Left + v.Right) / 2
		}
		f := t.Sub(t0).Seconds() / span
		return round(v.Left + math.Max(0, math.Min(1, f))*(v.Right-v.Left))
	}
	y := func(f float64) float64 { return round(v.Top + (1-f)*(v.Bot-v.Top)) }
	for p := 0; p <= 100; p += 25 {
		v.YTicks = append(v.YTicks, tick{y(float64(p) / 100), fmt.Sprintf("%d%%", p)})
	}
	// A tick per year when the span is long, else per date.
	if t1.Year()-t0.Year() >= 2 {
		for yr := t0.Year() + 1; yr <= t1.Year(); yr++ {
			v.XTicks = append(v.XTicks, tick{x(time.Date(yr, 1, 1, 0, 0, 0, 0, time.UTC)), fmt.Sprint(yr)})
		}
	} else {
		for _, d := range tl.Dates {
			v.XTicks = append(v.XTicks, tick{x(d), date(d)})
		}
	}
	drawn := 0
	for si, s := range tl.Series {
		if !slices.ContainsFunc(s.Index, func(f float64) bool { return f >= 0 }) {
			continue // nothing measured from this jurisdiction
		}
		cs := chartSeries{Code: s.Jurisdiction, Name: s.Name, Color: seriesColors[si%len(seriesColors)], LegendY: v.Top + 8 + float64(drawn)*20}
		drawn++
		var path strings.Builder
		open := false
		for di, d := range tl.Dates {
			val := s.Index[di]
			if val < 0 {
				open = false
				continue
			}
			px, py := x(d), y(val)
			switch {
			case !open:
				fmt.Fprintf(&path, "M%.1f %.1f", px, py)
			default:
				fmt.Fprintf(&path, " H%.1f V%.1f", px, py)
			}
			open = true
			tip := fmt.Sprintf("%s %s: %.1f%% reachable (%d measurements)", s.Jurisdiction, date(d), 100*val, s.Measured[di])
			if len(s.Policies[di]) > 0 {
				tip += "\n" + strings.Join(s.Policies[di], ", ")
			}
			cs.Points = append(cs.Points, chartPoint{px, py, tip})
			if di == len(tl.Dates)-1 {
				fmt.Fprintf(&path, " H%.1f", v.Right)
			}
		}
		cs.Path = path.String()
		// One marker per date at which this jurisdiction's policies changed.
		byDate := map[time.Time][]Change{}
		var dates []time.Time
		for _, st := range tl.Steps {
			for _, c := range st.Changes {
				if c.Jurisdiction != s.Jurisdiction {
					continue
				}
				if byDate[c.Date] == nil {
					dates = append(dates, c.Date)
				}
				byDate[c.Date] = append(byDate[c.Date], c)
			}
		}
		for _, d := range dates {
			// The marker sits on the step the change led to.
			val := -1.0
			for di, dd := range tl.Dates {
				if !dd.Before(d) {
					val = s.Index[di]
					break
				}
			}
			if val < 0 {
				continue
			}
			var lines []string
			for _, c := range byDate[d] {
				lines = append(lines, c.Border+" "+c.describe())
			}
			cs.Markers = append(cs.Markers, marker{x(d), y(val), date(d) + " " + s.Jurisdiction + "\n" + strings.Join(lines, "\n")})
		}
		v.Series = append(v.Series, cs)
	}
	colors := map[string]string{}
	for _, cs := range v.Series {
		colors[cs.Code] = cs.Color
	}
	for _, st := range tl.Steps {
		if len(st.Moves) == 0 {
			continue
		}
		sv := stepView{From: date(st.From), To: date(st.To)}
		for _, mv := range st.Moves {
			m := moveView{Code: mv.Jurisdiction, Move: pctMove(mv.Before, mv.After), Color: colors[mv.Jurisdiction]}
			for _, c := range mv.Changes {
				m.Changes = append(m.Changes, date(c.Date)+" "+c.Border+": "+c.describe())
			}
			for _, rc := range mv.Rules {
				m.Rules = append(m.Rules, fmt.Sprintf("%s: %d → %d decisions", rc.Rule, rc.Before, rc.After))
			}
			sv.Moves = append(sv.Moves, m)
		}
		v.Steps = append(v.Steps, sv)
	}
	return v
}

func round(f float64) float64 { return math.Round(f*10) / 10 }

const dateHTML = `{{define "date"}}{{if or (not .At.IsZero) .Policies}}<p class="when">{{if not .At.IsZero}}World date <b>{{day .At}}</b>. {{end}}{{if .Policies}}In force: {{range $i, $p := .Policies}}{{if $i}}; {{end}}{{$p.Border}} <b>{{if $p.Name}}{{$p.Name}}{{else}}none{{end}}</b>{{if $p.Since}} (since {{$p.Since}}){{end}}{{end}}.{{end}}</p>{{end}}{{end}}`

const timelineHTML = `{{define "timeline"}}{{with .Timeline}}{{$c := chart .}}<section id="timeline">
<h2>Reachability over time</h2>
<p class="sub">The share of measurements from each jurisdiction that reached their site, at each of {{$c.NDates}} dates from {{$c.First}} to {{$c.Last}}; a step where a policy changed. Hover a point for the versions in force, a ring for the change and its citation. The rest of this report is the last date's.</p>
<svg class="timeline" width="{{$c.Width}}" height="{{$c.Height}}" viewBox="0 0 {{$c.Width}} {{$c.Height}}" style="max-width:100%;height:auto" role="img" aria-label="reachability over time">
{{range $c.YTicks}}<line x1="{{$c.Left}}" x2="{{$c.Right}}" y1="{{.Pos}}" y2="{{.Pos}}" stroke="#e3e6ec"/><text x="{{sub $c.Left 8}}" y="{{add4 .Pos}}" font-size="11" text-anchor="end" fill="#687083">{{.Label}}</text>
{{end}}{{range $c.XTicks}}<line x1="{{.Pos}}" x2="{{.Pos}}" y1="{{$c.Top}}" y2="{{$c.Bot}}" stroke="#f1f3f5"/><text x="{{.Pos}}" y="{{add16 $c.Bot}}" font-size="11" text-anchor="middle" fill="#687083">{{.Label}}</text>
{{end}}{{range $c.Series}}{{$s := .}}<g class="jurisdiction" data-jurisdiction="{{.Code}}"><path class="series" data-jurisdiction="{{.Code}}" d="{{.Path}}" fill="none" stroke="{{.Color}}" stroke-width="2.2"/>
{{range .Points}}<circle class="point" cx="{{.X}}" cy="{{.Y}}" r="3" fill="{{$s.Color}}"><title>{{.Tip}}</title></circle>{{end}}
{{range .Markers}}<circle class="change" cx="{{.X}}" cy="{{.Y}}" r="6.5" fill="#fff" fill-opacity="0.01" stroke="{{$s.Color}}" stroke-width="2"><title>{{.Tip}}</title></circle>{{end}}
<g class="legend-item"><line x1="{{add10 $c.Right}}" x2="{{add28 $c.Right}}" y1="{{.LegendY}}" y2="{{.LegendY}}" stroke="{{.Color}}" stroke-width="3"/><text x="{{add34 $c.Right}}" y="{{add4 .LegendY}}" font-size="12" fill="#1f2430"><tspan font-weight="600">{{.Code}}</tspan> <tspan fill="#687083">{{.Name}}</tspan></text></g></g>
{{end}}</svg>
{{if $c.Steps}}<h3 style="font-size:14px;margin:14px 0 4px">What moved it</h3>
<table class="steps">{{range $c.Steps}}<tr><th colspan="3" style="text-align:left;padding-top:12px">{{.From}} → {{.To}}</th></tr>
{{range .Moves}}<tr><td style="white-space:nowrap"><span class="pill" style="background:{{.Color}}">{{.Code}}</span></td><td style="white-space:nowrap">{{.Move}}</td><td style="text-align:left;font-size:12px">{{range .Changes}}<div>{{.}}</div>{{end}}{{range .Rules}}<div style="color:#687083">{{.}}</div>{{end}}</td></tr>
{{end}}{{end}}</table>{{end}}
</section>{{end}}{{end}}`

var _ = template.Must(page.New("date").Funcs(template.FuncMap{
	"day": date,
}).Parse(dateHTML))

var _ = template.Must(page.New("timeline").Funcs(template.FuncMap{
	"chart": func(tl *Timeline) *chartView { return tl.chart() },
	"sub":   func(a, b float64) float64 { return a - b },
	"add4":  func(a float64) float64 { return a + 4 },
	"add10": func(a float64) float64 { return a + 10 },
	"add16": func(a float64) float64 { return a + 16 },
	"add28": func(a float64) float64 { return a + 28 },
	"add34": func(a float64) float64 { return a + 34 },
}).Parse(timelineHTML))
