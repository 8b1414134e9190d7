package cli

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/splinter-lab/splinter/border"
	"github.com/splinter-lab/splinter/policy"
	"github.com/splinter-lab/splinter/probe"
	"github.com/splinter-lab/splinter/report"
	"github.com/splinter-lab/splinter/scenario"
	"github.com/splinter-lab/splinter/score"
)

func init() {
	register("run", "measure the scenario's sites from every jurisdiction, score against the borders' decisions, write a report", runRun)
}

func runRun(e *env, args []string) error {
	fs := flags(e, "run", "[--scenario NAME|FILE] [--out DIR] [--from CC|HOST,...] [--list FILE]")
	scen := fs.String("scenario", scenario.Default, "scenario: embedded name or file")
	out := fs.String("out", "splinter-out", "directory for measurements.jsonl, decisions.jsonl, score.json and report.html")
	from := fs.String("from", "", "comma-separated jurisdiction codes or host names to measure from (default: a client in every access network)")
	list := fs.String("list", "", "a Citizen Lab test-list CSV to measure instead of the scenario's sites")
	conc := fs.Int("concurrency", 384, "measurements in flight at once")
	perVantage := fs.Int("per-vantage", 32, "measurements in flight at once from one vantage")
	residual := fs.Duration("residual-wait", 0, "repeat residual checks after this long (a censor's window is 60-180s; 0 skips)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return badInput("unexpected argument %q", fs.Arg(0))
	}
	if *conc <= 0 || *perVantage <= 0 {
		return badInput("--concurrency and --per-vantage must be positive")
	}
	sc, err := openScenario(*scen)
	if err != nil {
		return err
	}
	plan, err := sc.Plan()
	if err != nil {
		return inputError{err}
	}
	vantages, err := pickVantages(plan, splitList(*from))
	if err != nil {
		return err
	}
	inputs, err := runInputs(plan, *list)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return badInput("output directory: %v", err)
	}
	start := time.Now()

	decf, err := os.Create(filepath.Join(*out, "decisions.jsonl"))
	if err != nil {
		return fmt.Errorf("decisions.jsonl: %w", err)
	}
	defer decf.Close()
	decw := bufio.NewWriterSize(decf, 1<<16)
	log := border.NewLog(decw, 0)
	lab, err := startLab(e.ctx, sc, log)
	if err != nil {
		return err
	}
	defer lab.close()
	if lab.control == nil {
		return badInput("scenario %s has no control host (a jurisdiction with control: true)", sc.Name)
	}
	var probers []*probe.Prober
	for _, v := range vantages {
		p, err := lab.prober(v, func(c *probe.Config) { c.ResidualWait = *residual })
		if err != nil {
			return err
		}
		probers = append(probers, p)
	}
	fmt.Fprintf(e.stderr, "splinter run: %s, %d vantages × %d inputs = %d measurements\n", sc.Name, len(probers), len(inputs), len(probers)*len(inputs))
	prog := newProgress(e.stderr)
	ms := probe.Campaign(e.ctx, probers, inputs, probe.CampaignOptions{Concurrency: *conc, PerVantage: *perVantage, Progress: prog.update})
	prog.finish()
	if e.ctx.Err() != nil {
		return fmt.Errorf("interrupted: %w", e.ctx.Err())
	}
	elapsed := time.Since(start)
	decisions := log.Decisions()
	lab.close()
	if err := decw.Flush(); err != nil {
		return fmt.Errorf("decisions.jsonl: %w", err)
	}
	if err := log.Err(); err != nil {
		return fmt.Errorf("decisions.jsonl: %w", err)
	}

	if err := writeJSONL(filepath.Join(*out, "measurements.jsonl"), ms); err != nil {
		return err
	}
	res := score.Score(ms, decisions)
	if err := writeJSON(filepath.Join(*out, "score.json"), res); err != nil {
		return err
	}
	rep := report.Build(sc, plan, ms, decisions, res)
	rep.Elapsed = elapsed
	if err := writeFile(filepath.Join(*out, "report.html"), rep.WriteHTML); err != nil {
		return err
	}
	rep.WriteSummary(e.stdout)
	fmt.Fprintf(e.stdout, "\n%d measurements in %.1fs (%.0f/s); wrote %s/{measurements.jsonl,decisions.jsonl,score.json,report.html}\n",
		len(ms), elapsed.Seconds(), float64(len(ms))/elapsed.Seconds(), *out)
	return nil
}

// pickVantages chooses the measuring hosts: by default the first client of
// every access network (so ISP-level filtering shows), else those of the
// listed jurisdictions, or the listed hosts themselves.
func pickVantages(plan *scenario.Plan, from []string) ([]string, error) {
	want := map[string]bool{}
	for _, f := range from {
		want[f] = true
	}
	var out []string
	seenNet := map[string]bool{}
	matched := map[string]bool{}
	for _, h := range plan.Hosts {
		if h.Role != scenario.RoleClient {
			continue
		}
		if len(want) > 0 {
			switch {
			case want[h.Name]:
				matched[h.Name] = true
				out = append(out, h.Name)
				continue
			case want[h.Jurisdiction] || want[strings.ToLower(h.Jurisdiction)]:
				matched[h.Jurisdiction], matched[strings.ToLower(h.Jurisdiction)] = true, true
			default:
				continue
			}
		}
		if !seenNet[h.Network] {
			seenNet[h.Network] = true
			out = append(out, h.Name)
		}
	}
	for _, f := range from {
		if !matched[f] {
			return nil, badInput("--from %q: no client host or jurisdiction of that name", f)
		}
	}
	if len(out) == 0 {
		return nil, badInput("no client host to measure from")
	}
	return out, nil
}

// runInputs is the test list: the scenario's sites, or a Citizen Lab CSV.
func runInputs(plan *scenario.Plan, list string) ([]probe.Input, error) {
	if list == "" {
		var in []probe.Input
		for _, s := range plan.Sites {
			in = append(in, probe.Input{URL: "http://" + s.Domain + "/", Category: s.Category})
		}
		return in, nil
	}
	f, err := os.Open(list)
	if err != nil {
		return nil, badInput("--list: %v", err)
	}
	defer f.Close()
	return readCitizenLab(f, list)
}

// readCitizenLab reads a Citizen Lab test list (policy.ReadTestList) into
// measurement inputs; every URL must be http or https.
func readCitizenLab(r io.Reader, name string) ([]probe.Input, error) {
	_, entries, err := policy.ReadTestList(r, name)
	if err != nil {
		return nil, inputError{err}
	}
	var in []probe.Input
	for _, ent := range entries {
		u, err := url.Parse(ent.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
			return nil, badInput("%s: not an http or https URL: %q", ent.Pos, ent.URL)
		}
		in = append(in, probe.Input{URL: u.String(), Category: ent.Category})
	}
	if len(in) == 0 {
		return nil, badInput("%s: no URLs", name)
	}
	return in, nil
}

func writeJSONL(path string, ms []*probe.Measurement) error {
	return writeFile(path, func(w io.Writer) error {
		enc := json.NewEncoder(w)
		for _, m := range ms {
			if err := enc.Encode(m); err != nil {
				return err
			}
		}
		return nil
	})
}

func writeJSON(path string, v any) error {
	return writeFile(path, func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	})
}

func writeFile(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(f, 1<<16)
	if err := write(bw); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	return f.Close()
}

// progress draws a bar on a terminal, else a plain line every 10%.
type progress struct {
	w     io.Writer
	tty   bool
	start time.Time
	last  int
	by    map[string]int
}

func newProgress(w io.Writer) *progress {
	p := &progress{w: w, start: time.Now(), by: map[string]int{}}
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			p.tty = true
		}
	}
	return p
}

func (p *progress) update(done, total int, m *probe.Measurement) {
	p.by[string(m.TestKeys.Verdict)]++
	if p.tty {
		const width = 40
		n := done * width / total
		fmt.Fprintf(p.w, "\r[%s%s] %4d/%d %5.1fs  blocked %d", strings.Repeat("█", n), strings.Repeat("·", width-n), done, total, time.Since(p.start).Seconds(), done-p.by["accessible"])
		return
	}
	if pct := done * 10 / total; pct > p.last || done == total {
		p.last = pct
		fmt.Fprintf(p.w, "measured %d/%d (%d%%) in %.1fs, %d blocked\n", done, total, done*100/total, time.Since(p.start).Seconds(), done-p.by["accessible"])
	}
}

func (p *progress) finish() {
	if p.tty {
		fmt.Fprintln(p.w)
	}
}
