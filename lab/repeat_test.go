package lab_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/splinter-lab/splinter/lab"
	"github.com/splinter-lab/splinter/probe"
	"github.com/splinter-lab/splinter/scenario"
)

func TestRepeatInputs(t *testing.T) {
	in := []probe.Input{
		{URL: "http://www.a.com/", Category: "NEWS"},
		{URL: "https://b.org/x/y?q=1", Category: "HUMR"},
		{URL: "http://c.net", Category: "GRP"},
		{URL: "http://d.net/a%2Fb", Category: "GRP"},
	}
	got, err := lab.RepeatInputs(in, 3)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"http://www.a.com/", "https://b.org/x/y?q=1", "http://c.net", "http://d.net/a%2Fb",
		"http://www.a.com/r/2/", "https://b.org/r/2/x/y?q=1", "http://c.net/r/2/", "http://d.net/r/2/a%2Fb",
		"http://www.a.com/r/3/", "https://b.org/r/3/x/y?q=1", "http://c.net/r/3/", "http://d.net/r/3/a%2Fb",
	}
	var urls []string
	for i, g := range got {
		urls = append(urls, g.URL)
		if g.Category != in[i%len(in)].Category {
			t.Errorf("%s: category %q, want %q", g.URL, g.Category, in[i%len(in)].Category)
		}
	}
	if !slices.Equal(urls, want) {
		t.Errorf("got\n%q\nwant\n%q", urls, want)
	}
	for _, n := range []int{0, 1} {
		if got, _ := lab.RepeatInputs(in, n); len(got) != len(in) {
			t.Errorf("repeat %d: %d inputs, want %d", n, len(got), len(in))
		}
	}
}

// TestRunRepeat measures part of the default world three times over
// (RunOptions.Repeat): every copy is a measurement of its own, of a URL of
// its own that the site serves (the control fetched the same page as for
// the original), the censors treat the copies as the original (as many
// blocked by the decision log in each copy), and the scoring agrees with
// the log for every copy as for the original. The world's date is one
// whose policies the default run scores well (from 2025-06-18 Iran's shutdowns
// and allowlists bring disagreements of their own).
func TestRunRepeat(t *testing.T) {
	if testing.Short() {
		t.Skip("measures part of the default scenario")
	}
	t.Parallel()
	spec, err := lab.Load(scenario.Default)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	inputs := streamInputs(t, spec, 1)
	const copies = 3
	res, err := lab.Run(ctx, spec, lab.RunOptions{From: []string{"CN", "IR", "US"}, Inputs: inputs, Repeat: copies, Keep: true,
		Lab: lab.Options{Seed: 1, At: time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)}})
	if err != nil {
		t.Fatal(err)
	}
	if want := copies * len(inputs) * len(res.Vantages); res.Planned != want || res.Measured != want || res.Inputs != copies*len(inputs) {
		t.Fatalf("planned %d, measured %d, %d inputs; want %d measurements of %d inputs", res.Planned, res.Measured, res.Inputs, want, copies*len(inputs))
	}
	// The original's control page, by domain.
	page := map[string]int64{}
	for _, m := range res.Measurements {
		if c := m.TestKeys.Control; c != nil && !strings.Contains(m.Input, "/r/") {
			page[hostOf(m.Input)] = c.HTTPRequest.BodyLength
		}
	}
	seen := map[string]bool{}
	for _, m := range res.Measurements {
		key := m.TestKeys.Vantage.Host + " " + m.Input
		if seen[key] {
			t.Errorf("%s measured twice", key)
		}
		seen[key] = true
		c := m.TestKeys.Control
		if c == nil {
			continue // the control failed: the verdict says so
		}
		if c.HTTPRequest.StatusCode != 200 || c.HTTPRequest.BodyLength != page[hostOf(m.Input)] {
			t.Errorf("%s: the control got status %d, %d bytes; the original's page has %d", m.Input, c.HTTPRequest.StatusCode, c.HTTPRequest.BodyLength, page[hostOf(m.Input)])
		}
	}
	blocked, agree, total := map[int]int{}, map[int]int{}, map[int]int{} // by copy
	for _, it := range res.Score.Items {
		k := copyOf(it.Input)
		total[k]++
		if it.Truth.Blocked() {
			blocked[k]++
		}
		if it.Truth == it.Measured {
			agree[k]++
		}
	}
	for k := 2; k <= copies; k++ {
		if d := blocked[k] - blocked[1]; d*10 > blocked[1] || -d*10 > blocked[1] {
			t.Errorf("copy %d: %d blocked by the log, the original %d", k, blocked[k], blocked[1])
		}
		if agree[k]*total[1] < agree[1]*total[k]-total[1]*total[k]/50 {
			t.Errorf("copy %d: %d of %d agree, the original %d of %d", k, agree[k], total[k], agree[1], total[1])
		}
	}
	if blocked[1] == 0 {
		t.Error("nothing blocked: the comparison shows nothing")
	}
	s := res.Score
	t.Logf("%d measurements in %.1fs; by copy: blocked by the log %v, agree %v of %v; agreement %d/%d = %.2f%%",
		res.Measured, res.Elapsed.Seconds(), blocked, agree, total, s.Agree, s.Total, 100*s.Accuracy)
	if s.Accuracy < 0.99 {
		for _, d := range s.Disagree {
			t.Logf("disagreement: %s from %s: %s → %s: %s", d.Input, d.Vantage, d.Truth, d.Measured, d.Explanation)
		}
		t.Errorf("agreement %.2f%% < 99%%", 100*s.Accuracy)
	}
}

func hostOf(u string) string {
	_, rest, _ := strings.Cut(u, "://")
	h, _, _ := strings.Cut(rest, "/")
	return h
}

// copyOf is the copy an input URL is of (1 for the original).
func copyOf(u string) int {
	_, rest, _ := strings.Cut(u, "://")
	_, path, _ := strings.Cut(rest, "/")
	if p, ok := strings.CutPrefix(path, "r/"); ok {
		n, _, _ := strings.Cut(p, "/")
		k := 0
		for _, c := range n {
			k = k*10 + int(c-'0')
		}
		return k
	}
	return 1
}
