package explorer

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/splinter-lab/splinter/probe"
	"github.com/splinter-lab/splinter/report"
	"github.com/splinter-lab/splinter/store"
)

// spec loads and validates openapi.yaml.
func spec(t testing.TB) (*openapi3.T, routers.Router) {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(OpenAPI())
	if err != nil {
		t.Fatalf("openapi.yaml: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("openapi.yaml is not valid OpenAPI 3: %v", err)
	}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	return doc, router
}

// TestOpenAPIDescribesEveryRoute: openapi.yaml is valid, and its paths are
// exactly the API's routes.
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	doc, _ := spec(t)
	var inSpec, served []string
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			inSpec = append(inSpec, method+" "+path)
		}
	}
	for _, rt := range apiRoutes {
		served = append(served, rt.Method+" "+rt.Path)
	}
	slices.Sort(inSpec)
	slices.Sort(served)
	if !slices.Equal(inSpec, served) {
		t.Errorf("openapi.yaml describes\n  %s\nthe API serves\n  %s", strings.Join(inSpec, "\n  "), strings.Join(served, "\n  "))
	}
}

// api is a client that checks every exchange against openapi.yaml: the
// request (unless it is meant to be refused) and the response, whose
// status must be one the operation documents.
type api struct {
	t      *testing.T
	srv    *httptest.Server
	router routers.Router
	// seen counts the exchanges per operation.
	seen map[string]int
}

func newAPI(t *testing.T) (*api, *store.Store) {
	srv, s := server(t)
	_, router := spec(t)
	return &api{t: t, srv: srv, router: router, seen: map[string]int{}}, s
}

// get fetches path and decodes its JSON into out (if not nil), checking
// the status.
func (a *api) get(path string, status int, out any) []byte {
	a.t.Helper()
	req, err := http.NewRequest("GET", a.srv.URL+path, nil)
	if err != nil {
		a.t.Fatal(err)
	}
	resp, err := a.srv.Client().Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		a.t.Fatal(err)
	}
	if resp.StatusCode != status {
		a.t.Fatalf("GET %s: status %d, want %d: %.300s", path, resp.StatusCode, status, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		a.t.Errorf("GET %s: Content-Type %q", path, ct)
	}
	route, params, err := a.router.FindRoute(req)
	if err != nil {
		a.t.Fatalf("GET %s: no operation of openapi.yaml matches: %v", path, err)
	}
	a.seen[route.Method+" "+route.Path]++
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route}
	if status < 400 {
		if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
			a.t.Errorf("GET %s: request does not fit openapi.yaml: %v", path, err)
		}
	}
	if err := openapi3filter.ValidateResponse(context.Background(), &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header, Body: io.NopCloser(bytes.NewReader(body)),
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}); err != nil {
		a.t.Errorf("GET %s: response does not fit openapi.yaml: %v\n%.600s", path, err, body)
	}
	if out != nil {
		if err := json.Unmarshal(body, out); err != nil {
			a.t.Fatalf("GET %s: %v", path, err)
		}
	}
	return body
}

func TestAPI(t *testing.T) {
	a, _ := newAPI(t)

	// Runs: the two, newest first, complete, with their dates.
	var runs RunList
	a.get("/api/v1/runs", 200, &runs)
	if len(runs.Runs) != 2 || runs.Runs[0].ID != runOn || runs.Runs[1].ID != runOff {
		t.Fatalf("runs: %+v", runs)
	}
	for _, r := range runs.Runs {
		if r.Status != store.Complete || r.Measurements != 93 || r.Simulated.IsZero() {
			t.Errorf("run %s: %s, %d measurements, simulated %v", r.ID, r.Status, r.Measurements, r.Simulated)
		}
	}
	a.get("/api/v1/runs?dated=true&scenario=splinternet&limit=1", 200, &runs)
	if len(runs.Runs) != 1 {
		t.Errorf("limit=1: %d runs", len(runs.Runs))
	}
	a.get("/api/v1/runs?scenario=atlantis", 200, &runs)
	if len(runs.Runs) != 0 {
		t.Errorf("scenario=atlantis: %d runs", len(runs.Runs))
	}
	a.get("/api/v1/runs?limit=0", 400, nil)
	a.get("/api/v1/runs?sort=id", 400, nil)

	// One run.
	var run RunDoc
	a.get("/api/v1/runs/"+runOn, 200, &run)
	if run.Labels["cn-border"] != "on" || len(run.Parts) != 1 || run.Links["measurements"] != "/api/v1/runs/"+runOn+"/measurements" {
		t.Errorf("run: %+v", run)
	}
	if !slices.ContainsFunc(run.Profiles, func(p store.Profile) bool { return p.Name == "CN-2024" && p.Year == 2024 }) {
		t.Errorf("run %s: profiles %+v lack CN-2024", runOn, run.Profiles)
	}
	a.get("/api/v1/runs/nope", 404, nil)
	a.get("/api/v1/runs/bad%20id", 400, nil)

	// Rules: the GFW's rules acted in the run with the border on, each
	// cited; none of them in the other.
	var rules RuleList
	a.get("/api/v1/runs/"+runOn+"/rules", 200, &rules)
	acted := 0
	for _, r := range rules.Rules {
		if r.Policy == "CN-2024" && r.Decisions > 0 {
			acted++
			if r.Source == "" || r.Year == 0 || r.Description == "" {
				t.Errorf("rule %s acted uncited: %+v", r.Rule.Rule, r)
			}
		}
	}
	if acted == 0 {
		t.Errorf("no CN rule took a decision with the border on: %+v", rules.Rules)
	}
	a.get("/api/v1/runs/"+runOff+"/rules", 200, &rules)
	if slices.ContainsFunc(rules.Rules, func(r store.RuleUse) bool { return r.Policy == "CN-2024" }) {
		t.Errorf("CN's policy is listed in the run without its border")
	}

	// Heatmaps: China's DNS is poisoned with the border on, not off.
	dnsIn := func(run string, truth bool) (dns, total int64) {
		var h Heatmap
		a.get("/api/v1/runs/"+run+"/heatmap"+map[bool]string{true: "?truth=true"}[truth], 200, &h)
		for _, c := range h.Cells {
			if c.CC == "CN" {
				dns += c.Counts[probe.DNS]
			}
			total += c.Total
		}
		return dns, total
	}
	dnsOn, total := dnsIn(runOn, false)
	if total != 93 || dnsOn == 0 {
		t.Errorf("heatmap of %s: %d measurements, %d dns in CN", runOn, total, dnsOn)
	}
	if dnsOff, _ := dnsIn(runOff, true); dnsOff != 0 {
		t.Errorf("true heatmap of %s: %d dns in CN without its border", runOff, dnsOff)
	}
	if truthOn, _ := dnsIn(runOn, true); truthOn == 0 {
		t.Errorf("true heatmap of %s: no dns in CN", runOn)
	}
	a.get("/api/v1/runs/"+runOn+"/heatmap?truth=maybe", 400, nil)

	// Measurements: a filter selects what it says, and keyset paging walks
	// every one of them once, in key order.
	var page MeasurementPage
	a.get("/api/v1/runs/"+runOn+"/measurements?cc=CN&verdict=dns", 200, &page)
	if page.Total != dnsOn || int64(len(page.Items)) != dnsOn {
		t.Errorf("cc=CN&verdict=dns: total %d, %d items, want %d", page.Total, len(page.Items), dnsOn)
	}
	for _, it := range page.Items {
		if it.CC != "CN" || it.Verdict != probe.DNS || it.URL != "/api/v1/measurements/"+it.UID || it.UID != store.UID(runOn, it.Key) {
			t.Errorf("cc=CN&verdict=dns gave %+v", it)
		}
	}
	var walked []store.Key
	next := "/api/v1/runs/" + runOn + "/measurements?limit=10"
	for pages := 0; next != ""; pages++ {
		if pages > 20 {
			t.Fatal("paging does not end")
		}
		var p MeasurementPage
		a.get(next, 200, &p)
		for _, it := range p.Items {
			walked = append(walked, it.Key)
		}
		next = ""
		if p.Next != "" {
			next = "/api/v1/runs/" + runOn + "/measurements?limit=10&after=" + url.QueryEscape(p.Next)
		}
	}
	if len(walked) != 93 || !slices.IsSortedFunc(walked, func(x, y store.Key) int {
		return strings.Compare(x.Vantage+"\x00"+x.Input, y.Vantage+"\x00"+y.Input)
	}) || len(slices.Compact(slices.Clone(walked))) != 93 {
		t.Errorf("paging walked %d measurements, not each of 93 once in order", len(walked))
	}
	var byOffset MeasurementPage
	a.get("/api/v1/runs/"+runOn+"/measurements?limit=5&offset=10", 200, &byOffset)
	if len(byOffset.Items) != 5 || byOffset.Items[0].Key != walked[10] {
		t.Errorf("offset=10: %+v", byOffset.Items)
	}
	var dis MeasurementPage
	a.get("/api/v1/runs/"+runOn+"/measurements?disagree=true&truth=dns", 200, &dis)
	for _, it := range dis.Items {
		if it.Agree == nil || *it.Agree || it.Truth != probe.DNS {
			t.Errorf("disagree=true&truth=dns gave %+v", it)
		}
	}
	for _, bad := range []string{"?verdict=blocked", "?limit=5000", "?after=%%%", "?after=YQ&offset=3", "?colour=red"} {
		a.get("/api/v1/runs/"+runOn+"/measurements"+bad, 400, nil)
	}
	a.get("/api/v1/runs/nope/measurements", 404, nil)

	// One measurement: DNS poisoned by the GFW, with the decisions behind
	// it, each cited, and its evidence chain.
	var m MeasurementDoc
	a.get(page.Items[0].URL, 200, &m)
	if m.Run != runOn || m.Verdict != probe.DNS || m.Truth != probe.DNS || len(m.Observations) == 0 || len(m.OONI) == 0 {
		t.Errorf("measurement %s: %+v", page.Items[0].UID, m.Summary)
	}
	if len(m.Decisions) == 0 || len(m.Rules) == 0 {
		t.Fatalf("measurement %s: %d decisions, %d rules", m.UID, len(m.Decisions), len(m.Rules))
	}
	for _, d := range m.Decisions {
		if d.Border != "CN" || d.Source == "" || d.Year == 0 {
			t.Errorf("decision %+v: want the CN border's, with source and year", d)
		}
	}
	if !slices.ContainsFunc(m.Chain, func(s report.ChainStep) bool { return s.Kind == "border" }) ||
		!slices.ContainsFunc(m.Chain, func(s report.ChainStep) bool { return s.Kind == "dns" && s.Bad }) {
		t.Errorf("evidence chain lacks the border's decisions or the forged answer: %+v", m.Chain)
	}
	a.get("/api/v1/measurements/0123456789abcdef0123", 404, nil)
	a.get("/api/v1/measurements/not-a-uid", 400, nil)

	// The comparison: what the border changed, and only in China.
	var c ComparisonDoc
	a.get("/api/v1/compare?a="+runOff+"&b="+runOn, 200, &c)
	if c.A.ID != runOff || c.B.ID != runOn || c.Changed == 0 || c.Changed+c.Same != 93 || int64(len(c.Changes)) != c.Changed {
		t.Fatalf("compare: %d changed, %d same, %d listed", c.Changed, c.Same, len(c.Changes))
	}
	blocked := 0 // in China, reachable without the border and not with it
	for _, ch := range c.Changes {
		if ch.CC == "CN" && ch.A.Reachable() && !ch.B.Reachable() {
			blocked++
		} else {
			t.Logf("changed: %s from %s went %s → %s", ch.Domain, ch.Vantage, ch.A, ch.B)
		}
		if ch.URLA != "/api/v1/measurements/"+store.UID(runOff, ch.Key) || ch.URLB != "/api/v1/measurements/"+store.UID(runOn, ch.Key) {
			t.Errorf("change %+v: links", ch)
		}
	}
	if blocked == 0 || blocked < int(c.Changed)*8/10 {
		t.Errorf("%d of %d changes are Chinese sites the border blocked", blocked, c.Changed)
	}
	var ma, mb MeasurementDoc
	a.get(c.Changes[0].URLA, 200, &ma)
	a.get(c.Changes[0].URLB, 200, &mb)
	if ma.Verdict != c.Changes[0].A || mb.Verdict != c.Changes[0].B || ma.Key != mb.Key {
		t.Errorf("the changed measurement's links lead to %s/%s and %s/%s", ma.Key, ma.Verdict, mb.Key, mb.Verdict)
	}
	var sumA, sumB int64
	for _, cat := range c.Categories {
		sumA += cat.A.Total
		sumB += cat.B.Total
	}
	if sumA != 93 || sumB != 93 {
		t.Errorf("per-category totals %d and %d, want 93", sumA, sumB)
	}
	a.get("/api/v1/compare?a="+runOff+"&b="+runOn+"&limit=2", 200, &c)
	if len(c.Changes) != 2 {
		t.Errorf("limit=2: %d changes", len(c.Changes))
	}
	a.get("/api/v1/compare?a="+runOff, 400, nil)
	a.get("/api/v1/compare?a="+runOff+"&b=nope", 404, nil)

	// The timeline: both runs, in date order, per jurisdiction.
	var tl Timeline
	a.get("/api/v1/timeline", 200, &tl)
	if len(tl.Points) != 4 || tl.Points[0].Run != runOff || tl.Points[3].Run != runOn {
		t.Errorf("timeline: %+v", tl.Points)
	}
	a.get("/api/v1/timeline?cc=CN&scenario=splinternet", 200, &tl)
	if len(tl.Points) != 2 || tl.Points[0].CC != "CN" {
		t.Errorf("timeline of CN: %+v", tl.Points)
	}

	// The glossary names every verdict.
	var g struct {
		Verdicts []struct{ Name string } `json:"verdicts"`
	}
	a.get("/api/v1/glossary", 200, &g)
	for _, v := range verdicts {
		if !slices.ContainsFunc(g.Verdicts, func(x struct{ Name string }) bool { return x.Name == string(v) }) {
			t.Errorf("glossary lacks %s", v)
		}
	}

	// Every operation was exercised.
	for _, rt := range apiRoutes {
		if a.seen[rt.Method+" "+rt.Path] == 0 {
			t.Errorf("%s %s: not exercised", rt.Method, rt.Path)
		}
	}
	// A path the API does not have is a JSON 404.
	resp, err := http.Get(a.srv.URL + "/api/v1/nothing")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 || resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("GET /api/v1/nothing: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}
