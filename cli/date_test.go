package cli_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRunAt: run --at sets the world's date: the summary, score.json and
// report.html say which date and which versions were in force; a date that
// is not one is bad input.
func TestRunAt(t *testing.T) {
	out := t.TempDir()
	code, stdout, stderr := run("run", "--scenario", "two-lands", "--at", "2022-06-01", "--out", out)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	for _, want := range []string{"World date: 2022-06-01\n", "CN                     CN-2021 since 2021-11-01 (history CN)"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("summary lacks %q:\n%s", want, stdout)
		}
	}
	var sc struct {
		At       string `json:"at"`
		Policies []struct {
			Border, Policy, History, Since string
		} `json:"policies"`
	}
	data, err := os.ReadFile(filepath.Join(out, "score.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &sc); err != nil || sc.At != "2022-06-01T00:00:00Z" || len(sc.Policies) != 1 || sc.Policies[0].Policy != "CN-2021" || sc.Policies[0].Since != "2021-11-01" {
		t.Errorf("score.json: %v %+v", err, sc)
	}
	page, _ := os.ReadFile(filepath.Join(out, "report.html"))
	if !strings.Contains(string(page), "World date <b>2022-06-01</b>") || !strings.Contains(string(page), "CN <b>CN-2021</b> (since 2021-11-01)") {
		t.Error("report.html does not say the date and the version in force")
	}
	for _, bad := range [][]string{
		{"run", "--scenario", "two-lands", "--at", "June 2022"},
		{"measure", "--at", "2022-13-01", "--from", "cn-client-1", "http://www.people-daily.cn/"},
		{"measure", "--at", "2022-06-01", "--real", "http://example.com/"},
		{"evolve", "--at", "2019-13-01", "--from", "cn-client-1", "http://www.plain-control-page.com/"},
	} {
		if code, _, stderr := run(bad...); code != 2 || !strings.Contains(stderr, "--at") && !strings.Contains(stderr, "not a date") {
			t.Errorf("%v: exit %d, %s", bad, code, stderr)
		}
	}
}

// TestTimelineCommand: timeline measures at the dates asked, writes the
// timeline beside the usual outputs and refuses flags that name no dates.
func TestTimelineCommand(t *testing.T) {
	out := t.TempDir()
	code, stdout, stderr := run("timeline", "--scenario", "two-lands", "--changes", "--from", "2021-06-01", "--to", "2022-01-01", "--out", out)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	for _, want := range []string{"[1/2] world date 2021-06-01; policies in force: CN=CN-2020", "[2/2] world date 2021-11-01; policies in force: CN=CN-2021"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if !strings.Contains(stdout, "2021-11-01 CN: CN-2021: adds rule cn-fully-encrypted") || !strings.Contains(stdout, "2 dates in") {
		t.Errorf("summary:\n%s", stdout)
	}
	for _, f := range []string{"timeline.json", "timeline.csv", "report.html", "score.json", "measurements.jsonl", "decisions.jsonl"} {
		if st, err := os.Stat(filepath.Join(out, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"timeline", "--scenario", "two-lands"}, "no dates"},
		{[]string{"timeline", "--scenario", "two-lands", "--from", "2020-01-01", "--to", "2021-01-01"}, "--every STEP or --changes"},
		{[]string{"timeline", "--scenario", "two-lands", "--from", "2020-01-01", "--to", "2021-01-01", "--every", "6 months"}, "want a number and a unit"},
		{[]string{"timeline", "--scenario", "two-lands", "--from", "2021-01-01", "--to", "2020-01-01", "--every", "1y"}, "is before --from"},
		{[]string{"timeline", "--scenario", "two-lands", "--dates", "2020-02-30"}, "not a date"},
	} {
		if code, _, stderr := run(tc.args...); code != 2 || !strings.Contains(stderr, tc.msg) {
			t.Errorf("%v: exit %d, stderr %q, want 2 and %q", tc.args, code, stderr, tc.msg)
		}
	}
}
