package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/splinter-lab/splinter/lab"
	"github.com/splinter-lab/splinter/probe"
	"github.com/splinter-lab/splinter/scenario"
	"github.com/splinter-lab/splinter/store"
)

func init() {
	register("run", "measure the scenario's sites from every jurisdiction, score against the borders' decisions, write a report", runRun)
}

func runRun(e *env, args []string) error {
	fs := flags(e, "run", "[--scenario NAME|FILE] [--at DATE] [--out DIR] [--from CC|HOST,...] [--list FILE] [--repeat N] [--log DIR] [--db DSN|off] [--run ID] [--shard I/N]")
	at := dateFlag(fs)
	scen := fs.String("scenario", scenario.Default, "scenario: embedded name or file")
	out := fs.String("out", "splinter-out", "directory for "+strings.Join(lab.Outputs, ", "))
	from := fs.String("from", "", "comma-separated jurisdiction codes or host names to measure from (default: a client in every access network)")
	list := fs.String("list", "", "a Citizen Lab test-list CSV to measure instead of the scenario's sites")
	repeat := fs.Int("repeat", 1, "measure each input N times, copy k (from 2) under the path /r/k/ of its URL, which the sites serve as the original: a campaign N times the list")
	conc := fs.Int("concurrency", 384, "measurements in flight at once")
	perVantage := fs.Int("per-vantage", 32, "measurements in flight at once from one vantage")
	residual := fs.Duration("residual-wait", 0, "repeat residual checks after this long (a censor's window is 60-180s; 0 skips)")
	logDir := fs.String("log", "", "the transparency log the borders' policies are appended to and proved from (default: DIR/log of --out)")
	db := dbFlag(fs, "the store the run is written to as it proceeds: a SQLite file, postgres://... or clickhouse://...; off writes none (default: $SPLINTER_DB, else ~/.local/share/splinter/splinter.db, what splinter serve reads)")
	runID := fs.String("run", "", "the run's ID in the store (default: the time and a random suffix); the shards of one run share one")
	shardFlag := fs.String("shard", "", "measure shard I of N (from 0) of the (vantage, input) pairs into a shared --db under --run ID; /N takes I from $"+lab.JobIndexEnv+" (a Kubernetes Indexed Job)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *runID != "" {
		if err := store.ValidRunID(*runID); err != nil {
			return inputError{err}
		}
	}
	var shard lab.Shard
	if *shardFlag != "" {
		var err error
		if shard, err = lab.ParseShard(*shardFlag); err != nil {
			return err
		}
		if *runID == "" {
			return badInput("--shard needs --run ID: the shards of one run must share its ID")
		}
		if *db == "off" {
			return badInput("--shard needs a store (--db) that the shards share")
		}
	}
	if fs.NArg() > 0 {
		return badInput("unexpected argument %q", fs.Arg(0))
	}
	if *conc <= 0 || *perVantage <= 0 {
		return badInput("--concurrency and --per-vantage must be positive")
	}
	if *repeat < 1 {
		return badInput("--repeat must be at least 1")
	}
	if *residual < 0 {
		return badInput("--residual-wait %v is negative", *residual)
	}
	spec, err := lab.Load(*scen)
	if err != nil {
		return err
	}
	vantages, err := lab.Vantages(spec.Plan, splitList(*from))
	if err != nil {
		return err
	}
	inputs, err := lab.Inputs(spec.Plan, *list)
	if err != nil {
		return err
	}
	// Names of a list that the world does not know become sites of it:
	// say so, and where they are hosted (Run then finds them known).
	var added []*scenario.PlannedSite
	if *list != "" {
		if spec, added, err = spec.WithNames(inputs); err != nil {
			return err
		}
		if len(added) > 0 {
			fmt.Fprintf(e.stderr, "splinter run: %s\n", materialisedNote(spec.Plan, added))
		}
	}
	planned := len(vantages) * len(inputs) * *repeat
	what := fmt.Sprintf("%d vantages × %d inputs = %d measurements", len(vantages), len(inputs), planned)
	if *repeat > 1 {
		what = fmt.Sprintf("%d vantages × %d inputs × %d copies = %d measurements", len(vantages), len(inputs), *repeat, planned)
	}
	if shard.Count > 1 {
		what += fmt.Sprintf(", shard %s of them", shard)
	}
	fmt.Fprintf(e.stderr, "splinter run: %s, %s\n", spec.Scenario.Name, what)
	dsn := storeDSN(*db)
	var st *store.Store
	if dsn != "" {
		if st, err = openStore(e.ctx, dsn, true); err != nil {
			return err
		}
		defer st.Close()
	}
	prog := newProgress(e.stderr)
	res, err := lab.Run(e.ctx, spec, lab.RunOptions{From: splitList(*from), List: *list, Repeat: *repeat, Out: *out,
		Concurrency: *conc, PerVantage: *perVantage, ResidualWait: *residual, Log: *logDir, Progress: prog.update,
		Store: st, RunID: *runID, Shard: shard, Lab: lab.Options{At: at.t}})
	prog.finish()
	if err != nil && !errors.Is(err, lab.ErrInterrupted) {
		return err
	}
	interrupted := err
	res.Report.WriteSummary(e.stdout)
	if n := len(added) + len(res.Materialised); n > 0 {
		fmt.Fprintf(e.stdout, "\n%d of the list's names were not sites of %s and were made sites of this world for the run (invented pages): what is measured is what the censors' policies say of those names, not the real sites.\n", n, spec.Scenario.Name)
	}
	fmt.Fprintf(e.stdout, "\n%d measurements in %.1fs (%.0f/s); wrote %s/{%s}\n",
		res.Measured, res.Elapsed.Seconds(), float64(res.Measured)/res.Elapsed.Seconds(), *out, strings.Join(lab.Outputs, ","))
	if res.Log != "" {
		fmt.Fprintf(e.stdout, "transparency log: %s (check it: splinter log verify %s)\n", res.Log, res.Log)
	}
	if res.RunID != "" {
		fmt.Fprintf(e.stdout, "store: run %s in %s\n", res.RunID, redactDSN(dsn))
	}
	if interrupted != nil {
		return fmt.Errorf("%w; the outputs say so and hold what was measured", interrupted)
	}
	return nil
}

// materialisedNote says how many names of a list became sites of the
// world, and where they are hosted.
func materialisedNote(p *scenario.Plan, added []*scenario.PlannedSite) string {
	var order []string
	count := map[string]int{}
	for _, s := range added {
		where := s.Network
		if n := p.Network(s.Network); n != nil {
			where = n.Jurisdiction + " (" + n.Name + ")"
		}
		if count[where] == 0 {
			order = append(order, where)
		}
		count[where]++
	}
	var parts []string
	for _, w := range order {
		parts = append(parts, fmt.Sprintf("%d in %s", count[w], w))
	}
	return fmt.Sprintf("%d names of the list are not sites of %s: made them sites of this world, with invented pages, hosted in their ccTLD's jurisdiction or else abroad: %s", len(added), p.Scenario.Name, strings.Join(parts, ", "))
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
