package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/splinter-lab/splinter/border"
	"github.com/splinter-lab/splinter/probe"
	"github.com/splinter-lab/splinter/scenario"
	"github.com/splinter-lab/splinter/world"
)

func init() {
	register("measure", "measure URLs from one host with web_connectivity; print OONI JSON and a verdict", runMeasure)
}

func runMeasure(e *env, args []string) error {
	fs := flags(e, "measure", "[--scenario NAME|FILE] --from HOST URL...")
	scen := fs.String("scenario", scenario.Default, "scenario: embedded name or file")
	from := fs.String("from", "", "the host to measure from (see 'splinter scenarios --hosts')")
	quiet := fs.Bool("q", false, "print only the verdict lines, not the OONI JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *from == "" {
		return badInput("--from HOST is required")
	}
	if fs.NArg() == 0 {
		return badInput("no URL to measure")
	}
	var urls []string
	for _, u := range fs.Args() {
		if !strings.Contains(u, "://") {
			u = "http://" + u + "/"
		}
		if !validURL(u) {
			return badInput("not an http or https URL: %q", u)
		}
		urls = append(urls, u)
	}
	sc, err := openScenario(*scen)
	if err != nil {
		return err
	}
	plan, err := sc.Plan()
	if err != nil {
		return inputError{err}
	}
	if plan.Host(*from) == nil {
		return badInput("no host %q in scenario %s", *from, sc.Name)
	}
	lab, err := startLab(e.ctx, sc, border.NewLog(nil, 0))
	if err != nil {
		return err
	}
	defer lab.close()
	p, err := lab.prober(*from)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(e.stdout)
	for _, u := range urls {
		m := p.WebConnectivity(e.ctx, u, probe.ReportID(m0(p), p.Config().Vantage, "0000"))
		if !*quiet {
			if err := enc.Encode(m); err != nil {
				return err
			}
		}
		fmt.Fprintf(e.stderr, "%s from %s (%s): %s — %s\n", u, *from, m.ProbeCC, m.TestKeys.Verdict, m.TestKeys.VerdictReason)
	}
	return nil
}

// lab is a running world with its test helper, ready to make probers.
type lab struct {
	w       *world.World
	geo     *probe.Geo
	control *probe.ControlClient
	cancel  context.CancelFunc
}

func startLab(ctx context.Context, sc *scenario.Scenario, log *border.Log) (*lab, error) {
	w, err := world.Start(sc, world.Options{Log: log})
	if err != nil {
		return nil, fmt.Errorf("starting the world: %w", err)
	}
	l := &lab{w: w, geo: probe.PlanGeo(w.Plan())}
	ctx, l.cancel = context.WithCancel(ctx)
	var ctl *world.Host
	for _, h := range w.Hosts() {
		if h.Role() == scenario.RoleControl {
			ctl = h
			break
		}
	}
	if ctl != nil {
		addr, err := probe.ServeControl(ctx, ctl, probe.Config{RootCAs: w.CA().Pool(), Geo: l.geo, Vantage: probe.Vantage{Host: ctl.Name()}})
		if err != nil {
			l.close()
			return nil, err
		}
		l.control = probe.NewControlClient(ctl, addr)
	}
	return l, nil
}

func (l *lab) close() {
	l.cancel()
	l.w.Close()
}

// prober sets a host up as a vantage: the scenario CA, the plan's geography,
// the shared control, and a public resolver in another jurisdiction.
func (l *lab) prober(name string, tune ...func(*probe.Config)) (*probe.Prober, error) {
	h := l.w.Host(name)
	if h == nil {
		return nil, fmt.Errorf("no host %q", name)
	}
	cfg := probe.Config{
		RootCAs: l.w.CA().Pool(), Geo: l.geo,
		Vantage: probe.Vantage{Host: h.Name(), CC: h.Jurisdiction()},
	}
	if l.control != nil {
		cfg.Control = l.control
	}
	for _, o := range l.w.Hosts() {
		if o.Role() == scenario.RolePublicResolver && o.Jurisdiction() != h.Jurisdiction() {
			cfg.ForeignResolver = netip.AddrPortFrom(o.Addrs()[0], 53)
			break
		}
	}
	// Throughput tests share the access link: fewer at once on a slow one.
	if bw := h.Plan().Link.Bandwidth; bw > 0 {
		cfg.ThroughputConcurrency = int(min(max(bw/2e6, 3), 8))
	}
	for _, t := range tune {
		t(&cfg)
	}
	return probe.New(h, cfg), nil
}

func m0(p *probe.Prober) time.Time { return p.Config().Now() }

func validURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Hostname() != ""
}
