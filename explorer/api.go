package explorer

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"

	"github.com/splinter-lab/splinter/border"
	"github.com/splinter-lab/splinter/probe"
	"github.com/splinter-lab/splinter/report"
	"github.com/splinter-lab/splinter/store"
)

// apiRoutes are the JSON API, as openapi.yaml describes it (a test checks
// the one against the other).
var apiRoutes = []route{
	{"GET", "/api/v1/runs", (*Explorer).apiRuns},
	{"GET", "/api/v1/runs/{run}", (*Explorer).apiRun},
	{"GET", "/api/v1/runs/{run}/rules", (*Explorer).apiRules},
	{"GET", "/api/v1/runs/{run}/heatmap", (*Explorer).apiHeatmap},
	{"GET", "/api/v1/runs/{run}/measurements", (*Explorer).apiMeasurements},
	{"GET", "/api/v1/measurements/{uid}", (*Explorer).apiMeasurement},
	{"GET", "/api/v1/compare", (*Explorer).apiCompare},
	{"GET", "/api/v1/timeline", (*Explorer).apiTimeline},
	{"GET", "/api/v1/glossary", (*Explorer).apiGlossary},
}

// RunList is GET /api/v1/runs.
type RunList struct {
	Runs []store.RunSummary `json:"runs"`
}

func runQuery(p *params) store.RunQuery {
	return store.RunQuery{Scenario: p.str("scenario"), Dated: p.boolean("dated"), Limit: p.intIn("limit", 1, 1000)}
}

func (e *Explorer) apiRuns(ctx context.Context, r *http.Request) (any, error) {
	p := newParams(r, "scenario", "dated", "limit")
	q := runQuery(p)
	if p.err != nil {
		return nil, p.err
	}
	runs, err := e.s.Runs(ctx, q)
	if err != nil {
		return nil, err
	}
	return RunList{Runs: orEmpty(runs)}, nil
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// RunDoc is GET /api/v1/runs/{run}: the run with its parts and links.
type RunDoc struct {
	store.RunSummary
	Links Links `json:"links"`
}

// Links are the URLs of what a document leads to.
type Links map[string]string

func runLinks(id string) Links {
	e := url.PathEscape(id)
	return Links{
		"self":         "/api/v1/runs/" + e,
		"page":         "/runs/" + e,
		"rules":        "/api/v1/runs/" + e + "/rules",
		"heatmap":      "/api/v1/runs/" + e + "/heatmap",
		"measurements": "/api/v1/runs/" + e + "/measurements",
	}
}

func (e *Explorer) apiRun(ctx context.Context, r *http.Request) (any, error) {
	id, err := pathRun(r)
	if err != nil {
		return nil, err
	}
	if p := newParams(r); p.err != nil {
		return nil, p.err
	}
	run, err := e.s.Run(ctx, id)
	if err != nil {
		return nil, err
	}
	run.Parts = orEmpty(run.Parts)
	run.Profiles = orEmpty(run.Profiles)
	return RunDoc{RunSummary: *run, Links: runLinks(id)}, nil
}

// RuleList is GET /api/v1/runs/{run}/rules.
type RuleList struct {
	Run   string          `json:"run"`
	Rules []store.RuleUse `json:"rules"`
}

func (e *Explorer) apiRules(ctx context.Context, r *http.Request) (any, error) {
	id, err := pathRun(r)
	if err != nil {
		return nil, err
	}
	if p := newParams(r); p.err != nil {
		return nil, p.err
	}
	if _, err := e.s.Run(ctx, id); err != nil {
		return nil, err
	}
	rules, err := e.s.Rules(ctx, id)
	if err != nil {
		return nil, err
	}
	return RuleList{Run: id, Rules: orEmpty(rules)}, nil
}

// Heatmap is GET /api/v1/runs/{run}/heatmap: verdicts counted per
// jurisdiction × category.
type Heatmap struct {
	Run string `json:"run"`
	// Truth says the counts are of the true verdicts, not the measured.
	Truth bool         `json:"truth"`
	Cells []store.Cell `json:"cells"`
}

func (e *Explorer) apiHeatmap(ctx context.Context, r *http.Request) (any, error) {
	id, err := pathRun(r)
	if err != nil {
		return nil, err
	}
	p := newParams(r, "truth")
	truth := p.boolean("truth")
	if p.err != nil {
		return nil, p.err
	}
	if _, err := e.s.Run(ctx, id); err != nil {
		return nil, err
	}
	cells, err := e.s.Heatmap(ctx, id, truth)
	if err != nil {
		return nil, err
	}
	return Heatmap{Run: id, Truth: truth, Cells: orEmpty(cells)}, nil
}

// measurementFilters are the filters of a run's measurements.
var measurementFilters = []string{"cc", "vantage", "category", "domain", "verdict", "truth", "disagree", "limit", "offset", "after"}

func measurementQuery(p *params, run string) store.Query {
	return store.Query{Run: run, CC: p.str("cc"), Vantage: p.str("vantage"), Category: p.str("category"), Domain: p.str("domain"),
		Verdict: p.verdict("verdict"), Truth: p.verdict("truth"), Disagree: p.boolean("disagree"),
		Limit: p.intIn("limit", 1, 1000), Offset: p.intIn("offset", 0, 1<<31-1), After: p.cursor("after")}
}

// MeasurementPage is GET /api/v1/runs/{run}/measurements: one page.
type MeasurementPage struct {
	Run   string        `json:"run"`
	Items []MeasuredRow `json:"items"`
	// Total counts every measurement the filters select.
	Total int64 `json:"total"`
	// Next is the after of the next page, absent on the last.
	Next string `json:"next,omitempty"`
}

// MeasuredRow is one measurement in a page, with its stable URL.
type MeasuredRow struct {
	store.Summary
	URL string `json:"url"`
}

func measurementURL(uid string) string { return "/api/v1/measurements/" + uid }

func (e *Explorer) apiMeasurements(ctx context.Context, r *http.Request) (any, error) {
	id, err := pathRun(r)
	if err != nil {
		return nil, err
	}
	page, err := e.measurements(ctx, r, id)
	if err != nil {
		return nil, err
	}
	out := MeasurementPage{Run: id, Items: []MeasuredRow{}, Total: page.Total, Next: encodeCursor(page.Next)}
	for _, it := range page.Items {
		it.Methods = orEmpty(it.Methods)
		out.Items = append(out.Items, MeasuredRow{Summary: it, URL: measurementURL(it.UID)})
	}
	return out, nil
}

// measurements reads the page of a run's measurements a request asks for.
func (e *Explorer) measurements(ctx context.Context, r *http.Request, run string) (*store.Page, error) {
	p := newParams(r, measurementFilters...)
	q := measurementQuery(p, run)
	if p.err != nil {
		return nil, p.err
	}
	if q.After != nil && q.Offset != 0 {
		return nil, badParam("after", "give after or offset, not both")
	}
	if _, err := e.s.Run(ctx, run); err != nil {
		return nil, err
	}
	return e.s.Measurements(ctx, q)
}

// MeasurementDoc is GET /api/v1/measurements/{uid}: a measurement with its
// evidence chain and the decisions behind it.
type MeasurementDoc struct {
	*store.Detail
	// Chain is the evidence chain: what the measurement saw, step by step,
	// then the decisions behind it.
	Chain []report.ChainStep `json:"chain"`
	// Rules cite the rules that took the decisions.
	Rules []store.Rule `json:"rules"`
	Links Links        `json:"links"`
}

func (e *Explorer) measurement(ctx context.Context, uid string) (*MeasurementDoc, error) {
	if len(uid) != 20 || !isHex(uid) {
		return nil, badRequest{"measurement id " + quote(uid) + ": want 20 hexadecimal digits"}
	}
	d, err := e.s.MeasurementByUID(ctx, uid)
	if err != nil {
		return nil, err
	}
	d.Methods = orEmpty(d.Methods)
	if len(d.OONI) == 0 {
		d.OONI = nil // encoded as null
	}
	d.Observations = orEmpty(d.Observations)
	d.Decisions = orEmpty(d.Decisions)
	doc := &MeasurementDoc{Detail: d, Rules: []store.Rule{}, Links: Links{
		"self": measurementURL(uid), "page": "/measurements/" + uid,
		"run": "/api/v1/runs/" + url.PathEscape(d.Run),
	}}
	var m probe.Measurement
	var mp *probe.Measurement
	if len(d.OONI) > 0 && json.Unmarshal(d.OONI, &m) == nil {
		mp = &m
	}
	ds := make([]border.Decision, len(d.Decisions))
	for i, dd := range d.Decisions {
		ds[i] = dd.Decision
	}
	doc.Chain = orEmpty(report.Chain(mp, d.Verdict, ds))
	if len(d.Decisions) > 0 {
		rules, err := e.s.Rules(ctx, d.Run)
		if err != nil {
			return nil, err
		}
		used := map[[2]string]bool{}
		for _, dd := range d.Decisions {
			used[[2]string{dd.Policy, dd.Rule}] = true
		}
		for _, ru := range rules {
			if used[[2]string{ru.Policy, ru.Rule.Rule}] {
				doc.Rules = append(doc.Rules, ru.Rule)
			}
		}
	}
	return doc, nil
}

func isHex(s string) bool {
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

func quote(s string) string {
	if len(s) > 80 {
		s = s[:80] + "…"
	}
	b, _ := json.Marshal(s)
	return string(b)
}

func (e *Explorer) apiMeasurement(ctx context.Context, r *http.Request) (any, error) {
	if p := newParams(r); p.err != nil {
		return nil, p.err
	}
	return e.measurement(ctx, r.PathValue("uid"))
}

// ComparisonDoc is GET /api/v1/compare: what changed from run a to run b.
type ComparisonDoc struct {
	A store.RunSummary `json:"a"`
	B store.RunSummary `json:"b"`
	// Changed counts the measurements (same vantage, same input) whose
	// verdict differs or that one run lacks; Same those alike.
	Changed int64 `json:"changed"`
	Same    int64 `json:"same"`
	// Changes lists the first limit of them, each with the URLs of its
	// measurement in either run.
	Changes    []ChangeRow        `json:"changes"`
	Cells      []store.CellChange `json:"cells"`
	Categories []store.CellChange `json:"categories"`
}

// ChangeRow is one measurement whose verdict changed.
type ChangeRow struct {
	store.Change
	URLA string `json:"url_a,omitempty"`
	URLB string `json:"url_b,omitempty"`
}

func (e *Explorer) compare(ctx context.Context, r *http.Request) (*ComparisonDoc, error) {
	p := newParams(r, "a", "b", "limit")
	a, b := p.run("a"), p.run("b")
	limit := p.intIn("limit", 0, 100000)
	if p.err != nil {
		return nil, p.err
	}
	if p.q.Get("limit") == "" {
		limit = 1000
	}
	ra, err := e.s.Run(ctx, a)
	if err != nil {
		return nil, err
	}
	rb, err := e.s.Run(ctx, b)
	if err != nil {
		return nil, err
	}
	c, err := e.s.Compare(ctx, a, b, limit)
	if err != nil {
		return nil, err
	}
	ra.Parts, rb.Parts = orEmpty(ra.Parts), orEmpty(rb.Parts)
	ra.Profiles, rb.Profiles = orEmpty(ra.Profiles), orEmpty(rb.Profiles)
	doc := &ComparisonDoc{A: *ra, B: *rb, Changed: c.Changed, Same: c.Same, Changes: []ChangeRow{},
		Cells: orEmpty(c.Cells), Categories: orEmpty(c.Categories)}
	for _, ch := range c.Changes {
		row := ChangeRow{Change: ch}
		if ch.A != "" {
			row.URLA = measurementURL(store.UID(a, ch.Key))
		}
		if ch.B != "" {
			row.URLB = measurementURL(store.UID(b, ch.Key))
		}
		doc.Changes = append(doc.Changes, row)
	}
	return doc, nil
}

func (e *Explorer) apiCompare(ctx context.Context, r *http.Request) (any, error) {
	return e.compare(ctx, r)
}

// Timeline is GET /api/v1/timeline: verdicts counted per jurisdiction for
// every run with a simulated date, in date order.
type Timeline struct {
	Points []store.Point `json:"points"`
}

func (e *Explorer) apiTimeline(ctx context.Context, r *http.Request) (any, error) {
	p := newParams(r, "scenario", "cc")
	q := store.TimelineQuery{Scenario: p.str("scenario"), CC: p.str("cc")}
	if p.err != nil {
		return nil, p.err
	}
	pts, err := e.s.Timeline(ctx, q)
	if err != nil {
		return nil, err
	}
	return Timeline{Points: orEmpty(pts)}, nil
}

func (e *Explorer) apiGlossary(ctx context.Context, r *http.Request) (any, error) {
	if p := newParams(r); p.err != nil {
		return nil, p.err
	}
	return report.NewGlossary(), nil
}
