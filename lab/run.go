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

	"github.com/splinter-lab/splinter/border"
	"github.com/splinter-lab/splinter/policy"
	"github.com/splinter-lab/splinter/probe"
	"github.com/splinter-lab/splinter/report"
	"github.com/splinter-lab/splinter/scenario"
	"github.com/splinter-lab/splinter/score"
	"github.com/splinter-lab/splinter/store"
	"github.com/splinter-lab/splinter/website"
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
	// Repeat, if above 1, measures each input Repeat times, each copy
	// under a URL of its own (RepeatInputs): a campaign Repeat times the
	// size of the test list, on the same world. 0 and 1 measure once.
	Repeat int
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
	// Store, if set, receives the run as it proceeds: its measurements,
	// the borders' decisions and the scoring, under RunID, and the run's
	// status when it ends (complete, or interrupted).
	Store *store.Store
	// RunID names the run in Store; "" makes one (store.NewRunID). The
	// shards of a run share one, given by their caller.
	RunID string
	// Shard, if set (Count > 0), measures only the shard's share of the
	// (vantage, input) pairs (Shard.Includes): N processes with shards 0
	// to N-1 of N, writing to one Store under one RunID, measure the run
	// together.
	Shard Shard
	// Keep keeps every measurement (RunResult.Measurements) and every
	// scored item (Score.Items) in memory, for callers that compare runs;
	// without it a run keeps counts and the few items its report shows,
	// and its memory does not grow with its size.
	Keep bool
	// Lab tunes the lab the run starts. Its Decisions, if set, receives
	// every decision as a JSON line too (from the run's pipeline, as
	// decisions.jsonl does); its Keep is the run's own.
	Lab Options
}

// RunResult is what a run found.
type RunResult struct {
	Scenario string
	// At is the world's date when the run started, and Versions what each
	// border applied then.
	At       time.Time
	Versions []InForce
	Vantages []string
	Inputs   int
	// Planned is how many measurements the run (its shard) was to make,
	// Measured how many it made: fewer when it was interrupted.
	Planned  int
	Measured int
	// Interrupted says the run's context ended before it measured
	// everything; what it measured was scored and written all the same.
	Interrupted bool
	// Measurements are the measurements made (RunOptions.Keep only).
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
	// RunID names the run in the store, if it had one.
	RunID string
	// Health is how steady the run was: the machine's scheduling delay,
	// the retries, the verdicts that rest on a timeout, and a warning
	// when the machine was too busy for the figures to be trusted.
	Health *probe.Health
}

// Outputs are the files Run writes into RunOptions.Out.
var Outputs = []string{"measurements.jsonl", "decisions.jsonl", "score.json", "report.html"}

// ErrInterrupted is returned (wrapped, with the context's error) by a run
// whose context ended before it measured everything. Its RunResult is
// returned with it: what was measured was scored and written.
var ErrInterrupted = errors.New("interrupted")

// Run is `splinter run`: it starts a lab on s, measures every input from
// every vantage, scores the measurements against the borders' decisions and
// writes the outputs.
//
// Everything streams: each measurement and each decision is written (to
// the JSON lines files, record by record, and to the store) as it is made,
// and scored as soon as its window has closed (score.Stream); the run keeps
// counts, the few items its report shows and the decisions pending joins
// need, so that its memory does not grow with its size. The files are
// written under temporary names and renamed into place when complete. When
// ctx ends, the run stops measuring, scores and writes what it measured,
// says so in score.json, report.html and the store, and returns its result
// with an error wrapping ErrInterrupted.
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
	if opts.Repeat < 0 {
		return nil, badInput(fmt.Errorf("repeat %d is negative", opts.Repeat))
	}
	if inputs, err = RepeatInputs(inputs, opts.Repeat); err != nil {
		return nil, err
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
	if err := opts.Shard.valid(); err != nil {
		return nil, err
	}
	var out *outputs
	if opts.Out != "" {
		if out, err = newOutputs(opts.Out); err != nil {
			return nil, err
		}
		defer out.abort()
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
	p := newPipeline(out)
	if opts.Lab.Decisions != nil {
		p.tee = json.NewEncoder(opts.Lab.Decisions)
	}
	hook := p.decision
	if h := opts.Lab.OnDecision; h != nil {
		hook = func(d border.Decision) { h(d); p.decision(d) }
	}
	opts.Lab.Decisions, opts.Lab.Keep, opts.Lab.OnDecision = nil, -1, hook
	l, err := s.Start(ctx, opts.Lab)
	if err != nil {
		return nil, err
	}
	closeLab := func() { l.Close() }
	defer func() { closeLab() }()
	if l.control == nil {
		return nil, badInput(errors.New(NoControl(s.Scenario.Name)))
	}
	at, versions := l.Date(), l.Versions()
	var probers []*probe.Prober
	var costs []float64
	for _, v := range vantages {
		p, err := l.Prober(v, func(c *probe.Config) { c.ResidualWait = opts.ResidualWait })
		if err != nil {
			return nil, err
		}
		probers = append(probers, p)
		costs = append(costs, linkCost(l, v))
	}
	res := &RunResult{Scenario: s.Scenario.Name, At: at, Versions: versions, Vantages: vantages, Inputs: len(inputs), Materialised: materialised}
	include := opts.Shard.include(vantages, inputs)
	for i := range vantages {
		for j := range inputs {
			if include == nil || include(probe.Pair{Prober: i, Input: j}) {
				res.Planned++
			}
		}
	}
	if opts.Store != nil {
		res.RunID = opts.RunID
		if res.RunID == "" {
			res.RunID = store.NewRunID(time.Now(), nil)
		}
		simulated := !opts.Lab.At.IsZero() || !s.Scenario.At.IsZero() || opts.Lab.Clock != nil
		w, err := opts.Store.Begin(ctx, l.storeRun(res.RunID, opts.Shard, simulated), store.Part{Shard: opts.Shard.Index, Health: store.CurrentHealth()})
		if err != nil {
			return nil, err
		}
		p.store = w
		defer w.Close(context.WithoutCancel(ctx), store.Failed, store.CurrentHealth()) // a no-op once closed
	}
	builder := report.NewBuilder(s.Scenario, s.Plan)
	var auditor *score.Auditor
	if l.admitted != nil {
		auditor = score.NewAuditor(l.Declared())
		p.auditor = auditor
	}
	lim := score.Limits{}
	if opts.Keep {
		lim = score.Limits{Items: -1, Disagreements: -1}
	}
	p.stream = score.NewStream(score.StreamOptions{Options: score.Options{Exists: s.Exists}, Limits: lim, Item: func(it score.Item) {
		builder.Add(it)
		if auditor != nil {
			auditor.Item(it)
		}
		p.storeItem(it)
	}})
	p.keep = opts.Keep
	cctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	p.fail = cancel
	p.start(l.Clock())
	probe.Campaign(cctx, probers, inputs, probe.CampaignOptions{
		Concurrency: opts.Concurrency, PerVantage: opts.PerVantage, Progress: opts.Progress, Include: include,
		Cost:  func(i int) float64 { return costs[i] },
		Begin: func(pr probe.Pair) { p.begin(pr.Prober*len(inputs)+pr.Input, l.Clock().Now()) },
		Each:  func(pr probe.Pair, m *probe.Measurement) { p.measurement(pr.Prober*len(inputs)+pr.Input, m) },
	})
	res.Interrupted = ctx.Err() != nil
	res.Elapsed = time.Since(start)
	if res.Interrupted {
		// Stopped: the outputs come first, and the world's teardown
		// (seconds on a large world, a stack per host) goes on in the
		// background, so that an interrupted run returns at once. Decisions
		// taken from now on, after every measurement ended, are not
		// recorded.
		closeLab = func() { go l.Close() }
	} else {
		l.Close() // no decision after this
	}
	if err := p.finish(); err != nil {
		return nil, err
	}
	res.Decisions, res.Measured, res.Measurements = p.decisions, p.measured, p.ms
	res.Score = p.stream.Result()
	res.Health = p.health.Health(res.Elapsed, opts.Lab.Pacer)
	if p.err != nil {
		return nil, p.err
	}
	res.Report = builder.Report(res.Decisions, res.Score)
	res.Report.Elapsed = res.Elapsed
	res.Report.Health = res.Health
	res.Report.At, res.Report.Policies = res.At, reportPolicies(res.Versions)
	res.Report.Interrupted, res.Report.Planned = res.Interrupted, res.Planned
	for _, b := range s.Borders {
		res.Report.Cite(b.At(at))
	}
	if auditor != nil {
		res.Audit = auditor.Result()
		res.Report.Audit, res.Log = res.Audit, logDir
	}
	status := store.Complete
	if res.Interrupted {
		status = store.Interrupted
	}
	if out != nil {
		if err := out.finishRun(res, status); err != nil {
			return nil, err
		}
		res.Files = Outputs
	}
	if p.store != nil {
		if err := p.store.Close(context.WithoutCancel(ctx), status, store.CurrentHealth()); err != nil {
			return nil, err
		}
	}
	if res.Interrupted {
		return res, fmt.Errorf("%w after %d of %d measurements: %w", ErrInterrupted, res.Measured, res.Planned, context.Cause(ctx))
	}
	return res, nil
}

// linkCost guesses how long a measurement from host takes relative to one
// over a fast link: its throughput tests download about 2 Mbit over the
// host's access link.
func linkCost(l *Lab, host string) float64 {
	h, err := l.w.LookupHost(host)
	if err != nil {
		return 1
	}
	if bw := h.Plan().Link.Bandwidth; bw > 0 {
		return 1 + 4e6/float64(bw)
	}
	return 1
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

// RepeatInputs returns inputs n times over, the whole list after the
// whole list: the first copy as it is, copy k (from 2) with each URL's
// path under website.CopyPath's prefix ("http://site/" becomes
// "http://site/r/2/"), which the world's sites serve as the original path.
// Each copy is thus an input, a measurement and a control measurement of
// its own, of the same host: the censors' rules, which look at hosts,
// names, addresses and keywords, treat it as the original. n of 0 or 1
// returns inputs.
func RepeatInputs(inputs []probe.Input, n int) ([]probe.Input, error) {
	if n <= 1 {
		return inputs, nil
	}
	out := make([]probe.Input, 0, len(inputs)*n)
	out = append(out, inputs...)
	for k := 2; k <= n; k++ {
		for _, in := range inputs {
			u, err := url.Parse(in.URL)
			if err != nil {
				return nil, badInput(fmt.Errorf("repeat: %q: %w", in.URL, err))
			}
			u.Path = website.CopyPath(u.Path, k)
			if u.RawPath != "" {
				u.RawPath = website.CopyPath(u.RawPath, k)
			}
			in.URL = u.String()
			out = append(out, in)
		}
	}
	return out, nil
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
// file or a mix of two runs. The JSON lines files are written through,
// record by record, as the run makes them: a run that dies leaves them,
// complete to their last record, under their temporary names.
type outputs struct {
	dir          string
	measurements *lineFile
	decisions    *lineFile
	temps        map[string]string // output name → temporary file
}

func newOutputs(dir string) (*outputs, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, badInput(fmt.Errorf("output directory: %w", err))
	}
	o := &outputs{dir: dir, temps: map[string]string{}}
	for _, name := range []string{"measurements.jsonl", "decisions.jsonl"} {
		f, err := o.create(name)
		if err != nil {
			o.abort()
			return nil, err
		}
		lf := &lineFile{name: name, f: f}
		if name == "measurements.jsonl" {
			o.measurements = lf
		} else {
			o.decisions = lf
		}
	}
	return o, nil
}

func (o *outputs) create(name string) (*os.File, error) {
	f, err := os.CreateTemp(o.dir, "."+name+".*")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	o.temps[name] = f.Name()
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return f, nil
}

// abort removes what was not finished.
func (o *outputs) abort() {
	for _, lf := range []*lineFile{o.measurements, o.decisions} {
		if lf != nil {
			lf.close()
		}
	}
	for _, t := range o.temps {
		os.Remove(t)
	}
}

// lineFile is a JSON lines file written record by record: each record is
// one write of one whole line, so the file never ends mid-record while the
// process lives.
type lineFile struct {
	name string
	f    *os.File
	buf  []byte
	err  error
}

// write appends v as one line.
func (lf *lineFile) write(v any) {
	if lf.err != nil {
		return
	}
	b, err := json.Marshal(v)
	if err != nil {
		lf.err = fmt.Errorf("%s: %w", lf.name, err)
		return
	}
	lf.buf = append(append(lf.buf[:0], b...), '\n')
	if _, err := lf.f.Write(lf.buf); err != nil {
		lf.err = fmt.Errorf("%s: %w", lf.name, err)
	}
}

// Write writes b, which must be whole lines (a json.Encoder's Encode).
func (lf *lineFile) Write(b []byte) (int, error) {
	if lf.err != nil {
		return 0, lf.err
	}
	n, err := lf.f.Write(b)
	if err != nil {
		lf.err = fmt.Errorf("%s: %w", lf.name, err)
	}
	return n, err
}

func (lf *lineFile) close() error {
	if lf.f == nil {
		return lf.err
	}
	err := lf.f.Close()
	lf.f = nil
	if lf.err == nil && err != nil {
		lf.err = fmt.Errorf("%s: %w", lf.name, err)
	}
	return lf.err
}

// extraFile is a further output a command writes beside the usual ones.
type extraFile struct {
	name  string
	write func(io.Writer) error
}

// finishRun closes the JSON lines files, writes score.json and report.html
// (and extra) under temporary names, and renames every output into place.
func (o *outputs) finishRun(res *RunResult, status store.Status, extra ...extraFile) error {
	for _, lf := range []*lineFile{o.measurements, o.decisions} {
		if err := lf.close(); err != nil {
			return err
		}
	}
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
		return nil
	}
	if err := write("score.json", func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(datedScore{At: res.At.UTC().Format(time.RFC3339), Policies: res.Versions, Status: status,
			Planned: res.Planned, Run: res.RunID, Result: res.Score, Health: res.Health})
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
		if err := os.Rename(o.temps[name], filepath.Join(o.dir, name)); err != nil {
			return err
		}
		delete(o.temps, name)
	}
	return nil
}

// finish writes ms (a run that kept them) and finishes the run as
// complete.
func (o *outputs) finish(ms []*probe.Measurement, res *RunResult, extra ...extraFile) error {
	for _, m := range ms {
		o.measurements.write(m)
	}
	return o.finishRun(res, store.Complete, extra...)
}

// datedScore is score.json: the scoring, with the world's date, the
// policies in force and the run's health beside its keys.
type datedScore struct {
	At       string    `json:"at"`
	Policies []InForce `json:"policies"`
	// Status is complete, or interrupted (the run stopped before it
	// measured Planned; Total says how many it did).
	Status  store.Status `json:"status"`
	Planned int          `json:"planned,omitempty"`
	// Run is the run's ID in the store, if it had one.
	Run string `json:"run,omitempty"`
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
