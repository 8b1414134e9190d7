package explorer

import (
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// readmeSection is the README's section on splinter serve.
func readmeSection(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, sec, ok := strings.Cut(string(b), "## Browsing results: `splinter serve`")
	if !ok {
		t.Fatal("README has no section on splinter serve")
	}
	sec, _, _ = strings.Cut(sec, "\n## ")
	return sec
}

// TestREADMEServe runs the README's API examples (the curl lines, $RUN
// being the newest run, as the README sets it) against a store of two real
// runs, each answer checked against openapi.yaml, and checks that the
// README's table describes every page and each page it names answers.
func TestREADMEServe(t *testing.T) {
	sec := readmeSection(t)
	a, _ := newAPI(t)
	curl := regexp.MustCompile(`^\$ curl -s ['"]http://127\.0\.0\.1:8080([^'"]+)['"]`)
	n := 0
	for _, line := range strings.Split(sec, "\n") {
		m := curl.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		n++
		a.get(strings.ReplaceAll(m[1], "$RUN", runOn), 200, nil)
	}
	if n < 5 {
		t.Errorf("the README runs %d API examples, want at least 5", n)
	}

	row := regexp.MustCompile("(?m)^\\| `(/[^`]*)` \\|")
	var described []string
	for _, m := range row.FindAllStringSubmatch(sec, -1) {
		path, _, _ := strings.Cut(m[1], "?")
		described = append(described, path)
		url := strings.NewReplacer("{run}", runOn, "{uid}", a.firstUID(t), "RUN", runOn).Replace(m[1])
		if strings.HasPrefix(m[1], "/compare") {
			url = "/compare?a=" + runOff + "&b=" + runOn
		}
		resp, err := http.Get(a.srv.URL + url)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("the README's page %s (%s): status %d", m[1], url, resp.StatusCode)
		}
	}
	var served []string
	for _, pg := range pageRoutes {
		if pg.Method == "" {
			continue // the catch-all that answers 404
		}
		served = append(served, strings.TrimSuffix(pg.Path, "{$}"))
	}
	slices.Sort(described)
	slices.Sort(served)
	if !slices.Equal(described, served) {
		t.Errorf("the README describes the pages %q; the explorer serves %q", described, served)
	}
}

func (a *api) firstUID(t *testing.T) string {
	var p MeasurementPage
	a.get("/api/v1/runs/"+runOn+"/measurements?limit=1", 200, &p)
	if len(p.Items) == 0 {
		t.Fatal("no measurement")
	}
	return p.Items[0].UID
}
