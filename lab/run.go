package lab

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/splinter-lab/splinter/policy"
	"github.com/splinter-lab/splinter/probe"
	"github.com/splinter-lab/splinter/report"
	"github.com/splinter-lab/splinter/scenario"
	"github.com/splinter-lab/splinter/score"
	"github.com/splinter-lab/splinter/world"
)

// RunOptions say what a run measures and where it writes. The zero value
// measures every site of the scenario from a client in every access
// network and writes nothing.
type RunOptions struct {
	// From lists jurisdiction codes or host names to measure from; empty
	// means the first client of every access network.
	From []string
	// List is a Citizen Lab test-list CSV to measure instead of the
	// scenario's sites. Its names that the world does not know are made
	// sites of it for the run (Spec.WithNames; RunResult.Materialised).
	List string
	// Inputs, if not empty, are measured instead of the scenario's sites
	// or List.
	Inputs []probe.Input
	// Out, if not empty, is the directory the outputs are written to:
	// measurements.jsonl, decisions.jsonl, score.json, report.html.
	Out string
	// Concurrency bounds the measurements in flight; 0 means 384.
	Concurrency int
	// PerVantage bounds them per vantage; 0 means 32.
	PerVantage int
	// ResidualWait repeats residual checks after this long; 0 skips them.
	ResidualWait time.Duration
	// Progress is called after each measurement.
	Progress func(done, total int, m *probe.Measurement)
	// Log is the directory of the transparency log the borders' policy
	// versions are appended to and proved from (OpenTransparency); ""
	// means Out/log when Out is set. Lab.Transparency, if set, is used
	// instead.
	Log string
	// Lab tunes the lab the run starts.
	Lab Options
}

// RunResult is what a run found.
type RunResult struct {
	Scenario string
	// At is the world's date when the run started, and Versions what each
	// border applied then.
	At           time.Time
	Versions     []InForce
	Vantages     []string
	Inputs       int
	Measurements []*probe.Measurement
	Decisions    int
	Score        *score.Result
	Report       *report.Report
	Elapsed      time.Duration
	// Materialised are the names of the test list that the world did not
	// know, made sites of it for the run (Spec.WithNames).
	Materialised []*scenario.PlannedSite
	// Files are the outputs written, by name.
	Files []string
	// Audit checks the measurements against the logged policies (nil
	// without a transparency log).
	Audit *score.AuditResult
	// Log is the transparency log's directory, if the run had one.
	Log string
	// Health is how steady the run was: the machine's scheduling delay,
	// the retries, the verdicts that rest on a timeout, and a warning
	// when the machine was too busy for the figures to be trusted.
	Health *probe.Health
}

// Outputs are the files Run writes into RunOptions.Out.
var Outputs = []string{"measurements.jsonl", "decisions.jsonl", "score.json", "report.html"}

// Run is `splinter run`: it starts a lab on s, measures every input from
// every vantage, scores the measurements against the borders' decisions and
// writes the outputs.
func Run(ctx context.Context, s *Spec, opts RunOptions) (*RunResult, error) {
	vantages, err := Vantages(s.Plan, opts.From)
	if err != nil {
		return nil, err
	}
	inputs := opts.Inputs
	if len(inputs) == 0 {
		if inputs, err = Inputs(s.Plan, opts.List); err != nil {
			return nil, err
		}
	}
	var materialised []*scenario.PlannedSite
	if opts.List != "" {
		if s, materialised, err = s.WithNames(inputs); err != nil {
			return nil, err
		}
	}
	if opts.ResidualWait < 0 {
		return nil, badInput(fmt.Errorf("residual wait %v is negative", opts.ResidualWait))
	}
	if opts.Concurrency == 0 {
		opts.Concurrency = 384
	}
	if opts.PerVantage == 0 {
		opts.PerVantage = 32
	}
	if opts.Concurrency < 0 || opts.PerVantage < 0 {
		return nil, badInput(fmt.Errorf("concurrency and per-vantage bounds must be positive"))
	}
	var out *outputs
	if opts.Out != "" {
		if out, err = newOutputs(opts.Out); err != nil {
			return nil, err
		}
		defer out.abort()
		opts.Lab.Decisions = out.decisions
	}
	logDir := opts.Log
	if logDir == "" && opts.Out != "" {
		logDir = filepath.Join(opts.Out, "log")
	}
	if opts.Lab.Transparency == nil && logDir != "" {
		if opts.Lab.Transparency, err = OpenTransparency(logDir, opts.Lab.Clock, nil); err != nil {
			return nil, err
		}
	} else if opts.Lab.Transparency != nil {
		logDir = opts.Lab.Transparency.Log.Dir()
	}
	if opts.Lab.Pacer == nil {
		opts.Lab.Pacer = probe.NewPacer(probe.PacerConfig{MaxInFlight: opts.Concurrency})
	}
	start := time.Now()
	l, err := s.Start(ctx, opts.Lab)
	if err != nil {
		return nil, err
	}
	defer l.Close()
	if l.control == nil {
		return nil, badInput(errors.New(NoControl(s.Scenario.Name)))
	}
	at, versions := l.Date(), l.Versions()
	var probers []*probe.Prober
	for _, v := range vantages {
		p, err := l.Prober(v, func(c *probe.Config) { c.ResidualWait = opts.ResidualWait })
		if err != nil {
			return nil, err
		}
		probers = append(probers, p)
	}
	ms := probe.Campaign(ctx, probers, inputs, probe.CampaignOptions{Concurrency: opts.Concurrency, PerVantage: opts.PerVantage, Progress: opts.Progress})
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("interrupted: %w", err)
	}
	res := &RunResult{Scenario: s.Scenario.Name, At: at, Versions: versions, Vantages: vantages, Inputs: len(inputs), Measurements: ms, Elapsed: time.Since(start), Materialised: materialised}
	res.Health = probe.NewHealth(ms, res.Elapsed, opts.Lab.Pacer)
	decisions := l.log.Decisions()
	res.Decisions = l.log.Len()
	l.Close()
	if err := l.log.Err(); err != nil {
		return nil, fmt.Errorf("decisions.jsonl: %w", err)
	}
	res.Score = score.ScoreWith(ms, decisions, score.Options{Exists: s.Exists})
	res.Report = report.Build(s.Scenario, s.Plan, res.Decisions, res.Score)
	res.Report.Elapsed = res.Elapsed
	res.Report.Health = res.Health
	res.Report.At, res.Report.Policies = res.At, reportPolicies(res.Versions)
	for _, b := range s.Borders {
		res.Report.Cite(b.At(at))
	}
	if l.admitted != nil {
		res.Audit = score.Audit(res.Score, decisions, l.Declared())
		res.Report.Audit, res.Log = res.Audit, logDir
	}
	if out != nil {
		if err := out.finish(ms, res); err != nil {
			return nil, err
		}
		res.Files = Outputs
	}
	return res, nil
}

// NoControl says why a scenario without a control host cannot be
// measured, and what to change.
func NoControl(scenario string) string {
	return fmt.Sprintf("scenario %s has no control host, so run refuses it and measure gives no verdict: no jurisdiction sets control: true, and no jurisdiction whose border applies no policy has a hosting network to hold one; set control: true on a jurisdiction with a hosting network", scenario)
}

// Exists reports whether a name exists in the world: a site's domain, a
// host's name under world.HostsZone, or an IP literal.
func (s *Spec) Exists(domain string) bool {
	domain = strings.TrimSuffix(strings.ToLower(domain), ".")
	if _, err := netip.ParseAddr(strings.Trim(domain, "[]")); err == nil {
		return true
	}
	s.namesOnce.Do(func() {
		s.names = make(map[string]bool, len(s.Plan.Sites))
		for _, site := range s.Plan.Sites {
			s.names[strings.ToLower(site.Domain)] = true
		}
	})
	if s.names[domain] {
		return true
	}
	if host, ok := strings.CutSuffix(domain, "."+strings.TrimSuffix(world.HostsZone, ".")); ok {
		return s.Plan.Host(host) != nil
	}
	return false
}

// Vantages chooses the measuring hosts: by default the first client of
// every access network (so ISP-level filtering shows), else those of the
// listed jurisdictions, or the listed hosts themselves.
func Vantages(plan *scenario.Plan, from []string) ([]string, error) {
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
			return nil, badInput(fmt.Errorf("--from %q: no client host or jurisdiction of that name", f))
		}
	}
	if len(out) == 0 {
		return nil, badInput(fmt.Errorf("no client host to measure from"))
	}
	return out, nil
}

// Inputs is the test list: the scenario's sites, or a Citizen Lab CSV.
func Inputs(plan *scenario.Plan, list string) ([]probe.Input, error) {
	if list == "" {
		var in []probe.Input
		for _, s := range plan.Sites {
			in = append(in, probe.Input{URL: "http://" + s.Domain + "/", Category: s.Category})
		}
		return in, nil
	}
	// A regular file within the size limit (a FIFO or a device is refused).
	_, entries, err := policy.ReadTestListFile(list)
	if err != nil {
		return nil, badInput(fmt.Errorf("test list: %w", err))
	}
	return testInputs(entries, list)
}

// ReadTestList reads a Citizen Lab test list (policy.ReadTestList) into
// measurement inputs; every URL must be http or https.
func ReadTestList(r io.Reader, name string) ([]probe.Input, error) {
	_, entries, err := policy.ReadTestList(r, name)
	if err != nil {
		return nil, badInput(err)
	}
	return testInputs(entries, name)
}

func testInputs(entries []policy.TestListEntry, name string) ([]probe.Input, error) {
	var in []probe.Input
	for _, ent := range entries {
		u, err := url.Parse(ent.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
			return nil, badInput(fmt.Errorf("%s: not an http or https URL: %q", ent.Pos, ent.URL))
		}
		in = append(in, probe.Input{URL: u.String(), Category: ent.Category})
	}
	if len(in) == 0 {
		return nil, badInput(fmt.Errorf("%s: no URLs", name))
	}
	return in, nil
}

// CheckURL checks that s is an http or https URL with a host.
func CheckURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return badInput(fmt.Errorf("not an http or https URL: %q", s))
	}
	return nil
}

// outputs writes a run's files: each under a temporary name, renamed into
// place only when complete, so that an interrupted run never leaves a cut
// file or a mix of two runs.
type outputs struct {
	dir       string
	decf      *os.File
	decisions *bufio.Writer
	temps     []string
}

func newOutputs(dir string) (*outputs, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, badInput(fmt.Errorf("output directory: %w", err))
	}
	o := &outputs{dir: dir}
	f, err := o.create("decisions.jsonl")
	if err != nil {
		return nil, err
	}
	o.decf = f
	o.decisions = bufio.NewWriterSize(f, 1<<16)
	return o, nil
}

func (o *outputs) create(name string) (*os.File, error) {
	f, err := os.CreateTemp(o.dir, "."+name+".*")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	o.temps = append(o.temps, f.Name())
	if err := f.Chmod(0o644); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return f, nil
}

// abort removes what was not finished.
func (o *outputs) abort() {
	if o.decf != nil {
		o.decf.Close()
	}
	for _, t := range o.temps {
		os.Remove(t)
	}
}

// extraFile is a further output a command writes beside the usual ones.
type extraFile struct {
	name  string
	write func(io.Writer) error
}

func (o *outputs) finish(ms []*probe.Measurement, res *RunResult, extra ...extraFile) error {
	if err := o.decisions.Flush(); err != nil {
		return fmt.Errorf("decisions.jsonl: %w", err)
	}
	if err := o.decf.Close(); err != nil {
		return fmt.Errorf("decisions.jsonl: %w", err)
	}
	o.decf = nil
	files := map[string]string{"decisions.jsonl": o.temps[0]}
	write := func(name string, w func(io.Writer) error) error {
		f, err := o.create(name)
		if err != nil {
			return err
		}
		bw := bufio.NewWriterSize(f, 1<<16)
		err = w(bw)
		if err == nil {
			err = bw.Flush()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		files[name] = f.Name()
		return nil
	}
	if err := write("measurements.jsonl", func(w io.Writer) error {
		enc := json.NewEncoder(w)
		for _, m := range ms {
			if err := enc.Encode(m); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return err
	}
	if err := write("score.json", func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(datedScore{At: res.At.UTC().Format(time.RFC3339), Policies: res.Versions, Result: res.Score, Health: res.Health})
	}); err != nil {
		return err
	}
	if err := write("report.html", res.Report.WriteHTML); err != nil {
		return err
	}
	names := slices.Clone(Outputs)
	for _, x := range extra {
		if err := write(x.name, x.write); err != nil {
			return err
		}
		names = append(names, x.name)
	}
	for _, name := range names {
		if err := os.Rename(files[name], filepath.Join(o.dir, name)); err != nil {
			return err
		}
	}
	o.temps = nil
	return nil
}

// datedScore is score.json: the scoring, with the world's date, the
// policies in force and the run's health beside its keys.
type datedScore struct {
	At       string    `json:"at"`
	Policies []InForce `json:"policies"`
	*score.Result
	Health *probe.Health `json:"health,omitempty"`
}

func reportPolicies(fs []InForce) []report.Policy {
	var out []report.Policy
	for _, f := range fs {
		out = append(out, report.Policy{Border: f.Border, Jurisdiction: f.Jurisdiction, Name: f.Policy, History: f.History, Since: f.Since, Follows: f.Follows})
	}
	return out
}
