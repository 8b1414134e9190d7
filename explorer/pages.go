package explorer

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/splinter-lab/splinter/probe"
	"github.com/splinter-lab/splinter/report"
	"github.com/splinter-lab/splinter/scenario"
	"github.com/splinter-lab/splinter/store"
)

//go:embed templates
var templateFS embed.FS

// pageRoute is one page: its handler returns the template to render and
// its data.
type pageRoute struct {
	Method, Path string
	handle       func(e *Explorer, ctx context.Context, r *http.Request) (string, any, error)
}

var pageRoutes = []pageRoute{
	{"GET", "/{$}", (*Explorer).pageRuns},
	{"GET", "/runs/{run}", (*Explorer).pageRun},
	{"GET", "/runs/{run}/measurements", (*Explorer).pageMeasurements},
	{"GET", "/measurements/{uid}", (*Explorer).pageMeasurement},
	{"GET", "/compare", (*Explorer).pageCompare},
	{"GET", "/timeline", (*Explorer).pageTimeline},
	{"GET", "/glossary", (*Explorer).pageGlossary},
	{"", "/", func(_ *Explorer, _ context.Context, r *http.Request) (string, any, error) {
		return "", nil, fmt.Errorf("page %s: %w", r.URL.Path, store.ErrNotFound)
	}},
}

var funcs = template.FuncMap{
	"vcolor": func(v probe.Verdict) string { return report.VerdictColor(v) },
	"date": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2006-01-02")
	},
	"when": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04:05Z")
	},
	"pct": func(f float64) string {
		if f < 0 {
			return "—"
		}
		return fmt.Sprintf("%.0f%%", 100*f)
	},
	"f1":      func(f float64) string { return fmt.Sprintf("%.1f", f) },
	"esc":     url.PathEscape,
	"uid":     func(run string, k store.Key) string { return store.UID(run, k) },
	"catname": categoryName,
	"deref":   deref,
}

// deref returns what a pointer points to (nil for a nil pointer).
func deref(v any) any {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer {
		return v
	}
	if rv.IsNil() {
		return nil
	}
	return rv.Elem().Interface()
}

// pages holds one template set per page, each with the layout.
var pages = func() map[string]*template.Template {
	base := template.Must(template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html"))
	out := map[string]*template.Template{}
	names, _ := templateFS.ReadDir("templates")
	for _, n := range names {
		if n.Name() == "layout.html" {
			continue
		}
		out[strings.TrimSuffix(n.Name(), ".html")] = template.Must(template.Must(base.Clone()).ParseFS(templateFS, "templates/"+n.Name()))
	}
	return out
}()

// layout is what every page has around its content.
type layout struct {
	Title string
	// Nav is the section of the navigation bar the page belongs to.
	Nav  string
	Page any
	// Status and Error are set on an error page.
	Status int
	Error  string
}

func (e *Explorer) page(h func(*Explorer, context.Context, *http.Request) (string, any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), e.o.Timeout)
		defer cancel()
		name, data, err := h(e, ctx, r)
		code := http.StatusOK
		l := layout{Page: data}
		if err != nil {
			code, l.Error = e.status(r, err)
			l.Status, l.Title, name = code, http.StatusText(code), "error"
		} else if t, ok := data.(interface{ title() (string, string) }); ok {
			l.Title, l.Nav = t.title()
		}
		var b bytes.Buffer
		if err := pages[name].ExecuteTemplate(&b, "layout.html", l); err != nil {
			e.o.Logf("explorer: render %s: %v", name, err)
			http.Error(w, "internal error (logged by the server)", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(code)
		w.Write(b.Bytes())
	}
}

func categoryName(code string) string {
	for _, c := range scenario.Categories {
		if c.Code == code {
			return c.Name
		}
	}
	if code == "" {
		return "uncategorised"
	}
	return code
}

// ---- the runs list

type runsView struct {
	Runs  []store.RunSummary
	Dated int
	// A and B are the runs the compare form proposes: the two newest.
	A, B string
}

func (runsView) title() (string, string) { return "Runs", "runs" }

func (e *Explorer) pageRuns(ctx context.Context, r *http.Request) (string, any, error) {
	p := newParams(r, "scenario", "dated", "limit")
	q := runQuery(p)
	if p.err != nil {
		return "", nil, p.err
	}
	runs, err := e.s.Runs(ctx, q)
	if err != nil {
		return "", nil, err
	}
	v := runsView{Runs: runs}
	for _, r := range runs {
		if !r.Simulated.IsZero() {
			v.Dated++
		}
	}
	if len(runs) >= 2 {
		v.A, v.B = runs[1].ID, runs[0].ID
	}
	return "runs", v, nil
}

// ---- one run

type runView struct {
	Run   *store.RunSummary
	Truth bool
	Heat  heatView
	// Methods are the jurisdictions' verdicts and the rules behind them.
	Methods  []jurMethods
	Legend   []report.Term
	Disagree int64
	Scored   bool
}

func (v runView) title() (string, string) { return "Run " + v.Run.ID, "runs" }

type heatView struct {
	CCs  []string
	Rows []heatRow
	All  heatRow
}

type heatRow struct {
	Code, Name string
	Cells      []heatCell
}

type heatCell struct {
	Share float64
	// Color is trusted CSS: report.HeatColor's hsl() would not pass
	// html/template's filter of style values.
	Color       template.CSS
	Dark        bool
	Title, Href string
	Total       int64
}

type jurMethods struct {
	CC               string
	Total, Reachable int64
	Bars             []verdictBar
	Rules            []store.RuleUse
	Idle             []store.RuleUse
}

type verdictBar struct {
	Verdict probe.Verdict
	N       int64
	Pct     float64
	Color   string
}

func reachable(c store.Cell) int64 {
	var n int64
	for v, k := range c.Counts {
		if report.Reachable(v) {
			n += k
		}
	}
	return n
}

func share(n, total int64) float64 {
	if total == 0 {
		return -1
	}
	return float64(n) / float64(total)
}

func heatCellOf(run string, c store.Cell, truth bool, title string) heatCell {
	s := share(reachable(c), c.Total)
	hc := heatCell{Share: s, Color: template.CSS(report.HeatColor(s)), Dark: s > 0.25 && s < 0.75, Total: c.Total}
	if c.Total > 0 {
		var parts []string
		for _, v := range verdicts {
			if n := c.Counts[v]; n > 0 {
				parts = append(parts, fmt.Sprintf("%s %d", v, n))
			}
		}
		hc.Title = fmt.Sprintf("%s: %d of %d reachable (%s)", title, reachable(c), c.Total, strings.Join(parts, ", "))
		q := url.Values{}
		if c.CC != "" {
			q.Set("cc", c.CC)
		}
		if c.Category != "" {
			q.Set("category", c.Category)
		}
		hc.Href = "/runs/" + url.PathEscape(run) + "/measurements?" + q.Encode()
	}
	return hc
}

// heatOf arranges cells with categories in rows and jurisdictions in
// columns (ten columns fit a phone; thirty-one do not).
func heatOf(run string, cells []store.Cell, truth bool) heatView {
	var h heatView
	ccs, cats := map[string]bool{}, map[string]bool{}
	by := map[[2]string]store.Cell{}
	for _, c := range cells {
		ccs[c.CC], cats[c.Category] = true, true
		by[[2]string{c.CC, c.Category}] = c
	}
	for cc := range ccs {
		h.CCs = append(h.CCs, cc)
	}
	sort.Strings(h.CCs)
	var codes []string
	for _, c := range scenario.Categories {
		if cats[c.Code] {
			codes = append(codes, c.Code)
		}
	}
	for c := range cats {
		if !slices.Contains(codes, c) {
			codes = append(codes, c)
		}
	}
	perCC := map[string]*store.Cell{}
	for _, cc := range h.CCs {
		perCC[cc] = &store.Cell{CC: cc, Counts: map[probe.Verdict]int64{}}
	}
	for _, code := range codes {
		row := heatRow{Code: code, Name: categoryName(code)}
		for _, cc := range h.CCs {
			c, ok := by[[2]string{cc, code}]
			if !ok {
				c = store.Cell{CC: cc, Category: code}
			}
			row.Cells = append(row.Cells, heatCellOf(run, c, truth, cc+" × "+row.Name))
			all := perCC[cc]
			all.Total += c.Total
			for v, n := range c.Counts {
				all.Counts[v] += n
			}
		}
		h.Rows = append(h.Rows, row)
	}
	h.All = heatRow{Code: "all", Name: "all categories"}
	for _, cc := range h.CCs {
		h.All.Cells = append(h.All.Cells, heatCellOf(run, *perCC[cc], truth, cc+" × all categories"))
	}
	return h
}

func legend() []report.Term {
	return report.NewGlossary().Verdicts
}

func barsOf(c store.Cell) []verdictBar {
	var out []verdictBar
	for _, v := range verdicts {
		if n := c.Counts[v]; n > 0 {
			out = append(out, verdictBar{Verdict: v, N: n, Pct: 100 * float64(n) / float64(c.Total), Color: report.VerdictColor(v)})
		}
	}
	return out
}

func (e *Explorer) pageRun(ctx context.Context, r *http.Request) (string, any, error) {
	id, err := pathRun(r)
	if err != nil {
		return "", nil, err
	}
	p := newParams(r, "truth")
	truth := p.boolean("truth")
	if p.err != nil {
		return "", nil, p.err
	}
	run, err := e.s.Run(ctx, id)
	if err != nil {
		return "", nil, err
	}
	cells, err := e.s.Heatmap(ctx, id, truth)
	if err != nil {
		return "", nil, err
	}
	rules, err := e.s.Rules(ctx, id)
	if err != nil {
		return "", nil, err
	}
	v := runView{Run: run, Truth: truth, Heat: heatOf(id, cells, truth), Legend: legend()}
	// Methods per jurisdiction, from the measured heatmap.
	measured := cells
	if truth {
		if measured, err = e.s.Heatmap(ctx, id, false); err != nil {
			return "", nil, err
		}
	}
	perCC := map[string]*store.Cell{}
	var ccs []string
	for _, c := range measured {
		all, ok := perCC[c.CC]
		if !ok {
			all = &store.Cell{CC: c.CC, Counts: map[probe.Verdict]int64{}}
			perCC[c.CC] = all
			ccs = append(ccs, c.CC)
		}
		all.Total += c.Total
		for vd, n := range c.Counts {
			all.Counts[vd] += n
		}
	}
	sort.Strings(ccs)
	for _, cc := range ccs {
		c := perCC[cc]
		jm := jurMethods{CC: cc, Total: c.Total, Reachable: reachable(*c), Bars: barsOf(*c)}
		for _, ru := range rules {
			if ru.Jurisdiction != cc {
				continue
			}
			if ru.Decisions > 0 {
				jm.Rules = append(jm.Rules, ru)
			} else {
				jm.Idle = append(jm.Idle, ru)
			}
		}
		sort.SliceStable(jm.Rules, func(i, j int) bool { return jm.Rules[i].Decisions > jm.Rules[j].Decisions })
		v.Methods = append(v.Methods, jm)
	}
	// A run is scored when its measurements have a truth: the first one
	// says (counting the true heatmap would read every score).
	first, err := e.s.Measurements(ctx, store.Query{Run: id, Limit: 1})
	if err != nil {
		return "", nil, err
	}
	if len(first.Items) > 0 && first.Items[0].Truth != "" {
		v.Scored = true
		page, err := e.s.Measurements(ctx, store.Query{Run: id, Disagree: true, Limit: 1})
		if err != nil {
			return "", nil, err
		}
		v.Disagree = page.Total
	}
	return "run", v, nil
}

// ---- a run's measurements

type measurementsView struct {
	Run     *store.RunSummary
	Page    *store.Page
	Filters map[string]string
	// Options of the filters' selects.
	CCs, Categories []string
	Verdicts        []probe.Verdict
	Next, First     string
	From, To        int64
}

func (v measurementsView) title() (string, string) { return "Measurements of " + v.Run.ID, "runs" }

func (e *Explorer) pageMeasurements(ctx context.Context, r *http.Request) (string, any, error) {
	id, err := pathRun(r)
	if err != nil {
		return "", nil, err
	}
	page, err := e.measurements(ctx, r, id)
	if err != nil {
		return "", nil, err
	}
	run, err := e.s.Run(ctx, id)
	if err != nil {
		return "", nil, err
	}
	cells, err := e.s.Heatmap(ctx, id, false)
	if err != nil {
		return "", nil, err
	}
	v := measurementsView{Run: run, Page: page, Filters: map[string]string{}, Verdicts: verdicts}
	ccs, cats := map[string]bool{}, map[string]bool{}
	for _, c := range cells {
		ccs[c.CC], cats[c.Category] = true, true
	}
	for cc := range ccs {
		v.CCs = append(v.CCs, cc)
	}
	for c := range cats {
		v.Categories = append(v.Categories, c)
	}
	sort.Strings(v.CCs)
	sort.Strings(v.Categories)
	q := r.URL.Query()
	for _, f := range measurementFilters {
		v.Filters[f] = q.Get(f)
	}
	base := url.Values{}
	for _, f := range []string{"cc", "vantage", "category", "domain", "verdict", "truth", "disagree", "limit"} {
		if s := q.Get(f); s != "" {
			base.Set(f, s)
		}
	}
	path := "/runs/" + url.PathEscape(id) + "/measurements"
	if q.Get("after") != "" || q.Get("offset") != "" {
		v.First = path + "?" + base.Encode()
	}
	if page.Next != nil {
		next := url.Values{}
		for k, vs := range base {
			next[k] = vs
		}
		next.Set("after", encodeCursor(page.Next))
		v.Next = path + "?" + next.Encode()
	}
	return "measurements", v, nil
}

// ---- one measurement

type measurementView struct {
	*MeasurementDoc
	RunInfo   *store.RunSummary
	Decisions []decisionView
	OONI      string
	UIDURL    string
}

func (v measurementView) title() (string, string) {
	return v.Domain + " from " + v.Vantage, "runs"
}

type decisionView struct {
	store.Decision
	Rule store.Rule
}

func (e *Explorer) pageMeasurement(ctx context.Context, r *http.Request) (string, any, error) {
	if p := newParams(r); p.err != nil {
		return "", nil, p.err
	}
	doc, err := e.measurement(ctx, r.PathValue("uid"))
	if err != nil {
		return "", nil, err
	}
	run, err := e.s.Run(ctx, doc.Run)
	if err != nil {
		return "", nil, err
	}
	v := measurementView{MeasurementDoc: doc, RunInfo: run}
	for _, d := range doc.Decisions {
		dv := decisionView{Decision: d}
		for _, ru := range doc.Rules {
			if ru.Policy == d.Policy && ru.Rule == d.Decision.Rule {
				dv.Rule = ru
			}
		}
		v.Decisions = append(v.Decisions, dv)
	}
	var pretty bytes.Buffer
	if json.Indent(&pretty, doc.OONI, "", "  ") == nil {
		v.OONI = pretty.String()
	}
	return "measurement", v, nil
}

// ---- two runs compared

type compareView struct {
	*ComparisonDoc
	Categories []compareRow
	Cells      []compareRow
	Runs       []store.RunSummary
}

func (v compareView) title() (string, string) {
	return "Compare " + v.A.ID + " and " + v.B.ID, "compare"
}

type compareRow struct {
	CC, Code, Name string
	A, B           heatCell
	ATotal, BTotal int64
	AReach, BReach int64
	Delta          string
	Changed        bool
}

func compareRowOf(a, b string, c store.CellChange) compareRow {
	row := compareRow{CC: c.CC, Code: c.Category, Name: categoryName(c.Category),
		A: heatCellOf(a, c.A, false, a), B: heatCellOf(b, c.B, false, b),
		ATotal: c.A.Total, BTotal: c.B.Total, AReach: reachable(c.A), BReach: reachable(c.B)}
	sa, sb := share(row.AReach, row.ATotal), share(row.BReach, row.BTotal)
	if sa >= 0 && sb >= 0 {
		d := 100 * (sb - sa)
		switch {
		case d > 0.5:
			row.Delta = fmt.Sprintf("+%.0f", d)
		case d < -0.5:
			row.Delta = fmt.Sprintf("%.0f", d)
		}
	}
	for _, v := range verdicts {
		if c.A.Counts[v] != c.B.Counts[v] {
			row.Changed = true
		}
	}
	row.Changed = row.Changed || c.A.Total != c.B.Total
	return row
}

func (e *Explorer) pageCompare(ctx context.Context, r *http.Request) (string, any, error) {
	q := r.URL.Query()
	if q.Get("a") == "" && q.Get("b") == "" {
		// The form alone.
		runs, err := e.s.Runs(ctx, store.RunQuery{})
		if err != nil {
			return "", nil, err
		}
		return "compareform", compareForm{Runs: runs}, nil
	}
	doc, err := e.compare(ctx, r)
	if err != nil {
		return "", nil, err
	}
	v := compareView{ComparisonDoc: doc}
	for _, c := range doc.Categories {
		v.Categories = append(v.Categories, compareRowOf(doc.A.ID, doc.B.ID, c))
	}
	for _, c := range doc.Cells {
		if row := compareRowOf(doc.A.ID, doc.B.ID, c); row.Changed {
			v.Cells = append(v.Cells, row)
		}
	}
	return "compare", v, nil
}

type compareForm struct {
	Runs []store.RunSummary
}

func (compareForm) title() (string, string) { return "Compare two runs", "compare" }

// ---- the timeline

type timelineView struct {
	Scenario, CC string
	Points       []store.Point
	Dates        []timelineDate
	Series       []series
	Ticks        []tick
	W, H         int
	Scenarios    []string
}

func (timelineView) title() (string, string) { return "Timeline", "timeline" }

type timelineDate struct {
	Run    string
	Date   time.Time
	Shares []string // per series, "" where the run did not measure it
}

type series struct {
	CC     string
	Color  string
	Points string // SVG polyline points
	Dots   []dot
}

type tick struct {
	X     float64
	Label string
}

type dot struct {
	X, Y  float64
	Title string
}

// seriesColors tell jurisdictions apart in the timeline.
var seriesColors = []string{"#c2255c", "#1c7ed6", "#2b8a3e", "#e8590c", "#7048e8", "#0b7285", "#5c940d", "#a61e4d", "#364fc7", "#862e9c"}

func (e *Explorer) pageTimeline(ctx context.Context, r *http.Request) (string, any, error) {
	p := newParams(r, "scenario", "cc")
	q := store.TimelineQuery{Scenario: p.str("scenario"), CC: p.str("cc")}
	if p.err != nil {
		return "", nil, p.err
	}
	pts, err := e.s.Timeline(ctx, q)
	if err != nil {
		return "", nil, err
	}
	v := timelineView{Scenario: q.Scenario, CC: q.CC, Points: pts, W: 800, H: 320}
	runs, err := e.s.Runs(ctx, store.RunQuery{Dated: true, Limit: 1000})
	if err != nil {
		return "", nil, err
	}
	seen := map[string]bool{}
	for _, r := range runs {
		if !seen[r.Scenario] {
			seen[r.Scenario] = true
			v.Scenarios = append(v.Scenarios, r.Scenario)
		}
	}
	sort.Strings(v.Scenarios)
	if len(pts) == 0 {
		return "timeline", v, nil
	}
	// Columns: runs in date order; rows: jurisdictions.
	var ccs []string
	col := map[string]int{}
	for _, pt := range pts {
		if !slices.Contains(ccs, pt.CC) {
			ccs = append(ccs, pt.CC)
		}
		if _, ok := col[pt.Run]; !ok {
			col[pt.Run] = len(v.Dates)
			v.Dates = append(v.Dates, timelineDate{Run: pt.Run, Date: pt.Simulated})
		}
	}
	sort.Strings(ccs)
	for i := range v.Dates {
		v.Dates[i].Shares = make([]string, len(ccs))
	}
	first, last := v.Dates[0].Date, v.Dates[len(v.Dates)-1].Date
	span := last.Sub(first)
	const left, right, top, bottom = 50, 40, 20, 40
	x := func(t time.Time, i int) float64 {
		if span <= 0 {
			if len(v.Dates) == 1 {
				return float64(left+v.W-right) / 2
			}
			return left + float64(i)*float64(v.W-left-right)/float64(len(v.Dates)-1)
		}
		return left + float64(t.Sub(first))/float64(span)*float64(v.W-left-right)
	}
	y := func(s float64) float64 { return top + (1-s)*float64(v.H-top-bottom) }
	// A date under each run, or under the first, the last and a few
	// between when there are many.
	step := max(1, (len(v.Dates)+5)/6)
	for i, d := range v.Dates {
		if i%step == 0 || i == len(v.Dates)-1 {
			v.Ticks = append(v.Ticks, tick{X: x(d.Date, i), Label: d.Date.Format("2006-01-02")})
		}
	}
	for si, cc := range ccs {
		s := series{CC: cc, Color: seriesColors[si%len(seriesColors)]}
		var coords []string
		for _, pt := range pts {
			if pt.CC != cc {
				continue
			}
			c := col[pt.Run]
			var reach int64
			for vd, n := range pt.Counts {
				if report.Reachable(vd) {
					reach += n
				}
			}
			sh := share(reach, pt.Total)
			v.Dates[c].Shares[si] = fmt.Sprintf("%.0f%%", 100*sh)
			d := dot{X: x(pt.Simulated, c), Y: y(sh), Title: fmt.Sprintf("%s %s (%s): %d of %d reachable", cc, pt.Simulated.Format("2006-01-02"), pt.Run, reach, pt.Total)}
			s.Dots = append(s.Dots, d)
			coords = append(coords, fmt.Sprintf("%.1f,%.1f", d.X, d.Y))
		}
		s.Points = strings.Join(coords, " ")
		v.Series = append(v.Series, s)
	}
	return "timeline", v, nil
}

// ---- the glossary

type glossaryView struct {
	report.Glossary
}

func newGlossaryView() glossaryView { return glossaryView{report.NewGlossary()} }

func (glossaryView) title() (string, string) { return "Glossary", "glossary" }

func (e *Explorer) pageGlossary(ctx context.Context, r *http.Request) (string, any, error) {
	if p := newParams(r); p.err != nil {
		return "", nil, p.err
	}
	return "glossary", e.glos, nil
}
