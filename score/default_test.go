package score_test

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/splinter-lab/splinter/border"
	"github.com/splinter-lab/splinter/probe"
	"github.com/splinter-lab/splinter/scenario"
	"github.com/splinter-lab/splinter/score"
	"github.com/splinter-lab/splinter/world"
)

// TestDefaultScenario measures every site of the default scenario from a
// client in every access network, scores the verdicts against the borders'
// decisions and asserts the bar: at least 99% agreement overall and
// precision and recall of at least 0.98 for every class, with every
// disagreement explained in the output. It takes about a minute.
func TestDefaultScenario(t *testing.T) {
	if testing.Short() {
		t.Skip("measures the whole default scenario (about a minute)")
	}
	sc, err := scenario.Open(scenario.Default)
	if err != nil {
		t.Fatal(err)
	}
	w, err := world.Start(sc, world.Options{Log: border.NewLog(nil, 0)})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	geo := probe.PlanGeo(w.Plan())
	var ctl *world.Host
	var public []*world.Host
	for _, h := range w.Hosts() {
		switch h.Role() {
		case scenario.RoleControl:
			ctl = h
		case scenario.RolePublicResolver:
			public = append(public, h)
		}
	}
	addr, err := probe.ServeControl(ctx, ctl, probe.Config{RootCAs: w.CA().Pool(), Geo: geo})
	if err != nil {
		t.Fatal(err)
	}
	control := probe.NewControlClient(ctl, addr)
	var probers []*probe.Prober
	seen := map[string]bool{}
	for _, h := range w.Hosts() {
		if h.Role() != scenario.RoleClient || seen[h.Network()] {
			continue
		}
		seen[h.Network()] = true
		cfg := probe.Config{RootCAs: w.CA().Pool(), Geo: geo, Control: control, Vantage: probe.Vantage{Host: h.Name(), CC: h.Jurisdiction()}}
		for _, p := range public {
			if p.Jurisdiction() != h.Jurisdiction() {
				cfg.ForeignResolver = netip.AddrPortFrom(p.Addrs()[0], 53)
				break
			}
		}
		if bw := h.Plan().Link.Bandwidth; bw > 0 {
			cfg.ThroughputConcurrency = int(min(max(bw/2e6, 3), 8))
		}
		probers = append(probers, probe.New(h, cfg))
	}
	var inputs []probe.Input
	for _, s := range w.Plan().Sites {
		inputs = append(inputs, probe.Input{URL: "http://" + s.Domain + "/", Category: s.Category})
	}
	start := time.Now()
	ms := probe.Campaign(ctx, probers, inputs, probe.CampaignOptions{Concurrency: 384, PerVantage: 32})
	t.Logf("%d measurements from %d vantages in %.1fs", len(ms), len(probers), time.Since(start).Seconds())
	res := score.Score(ms, w.Log().Decisions())
	t.Logf("agreement %d/%d = %.2f%%", res.Agree, res.Total, 100*res.Accuracy)
	for _, c := range res.PerClass {
		t.Logf("  %-13s true %4d  tp %4d  fp %3d  fn %3d  precision %.3f  recall %.3f", c.Class, c.Support, c.TP, c.FP, c.FN, c.Precision, c.Recall)
	}
	for _, d := range res.Disagree {
		t.Logf("disagreement: %s from %s: %s", d.Domain, d.Vantage, d.Explanation)
	}
	if res.Accuracy < 0.99 {
		t.Errorf("agreement %.4f < 0.99", res.Accuracy)
	}
	for _, c := range res.PerClass {
		if c.Precision < 0.98 || c.Recall < 0.98 {
			t.Errorf("class %s: precision %.3f recall %.3f, want both >= 0.98", c.Class, c.Precision, c.Recall)
		}
	}
	for _, want := range []string{"CN", "IR", "RU", "TM", "KZ", "IN"} {
		blocked := 0
		for _, it := range res.Items {
			if it.CC == want && it.Measured.Blocked() {
				blocked++
			}
		}
		if blocked == 0 {
			t.Errorf("%s blocks nothing", want)
		}
	}
	for _, it := range res.Items {
		if (it.CC == "US" || it.CC == "DE") && it.Measured.Blocked() {
			t.Errorf("%s from %s: %s (%s)", it.Domain, it.Vantage, it.Measured, it.Reason)
		}
	}
}
