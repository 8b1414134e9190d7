package cli

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/splinter-lab/splinter/lab"
	"github.com/splinter-lab/splinter/store"
)

func init() {
	register("score", "score a stored run again from its measurements and decisions (the union of its shards), write its report", runScore)
}

func runScore(e *env, args []string) error {
	fs := flags(e, "score", "--run ID [--db DSN] [--scenario NAME|FILE] [--out DIR] [--no-write]")
	db := dbFlag(fs, "the store: a SQLite file, postgres://... or clickhouse://... (default: $SPLINTER_DB, else ~/.local/share/splinter/splinter.db)")
	runID := fs.String("run", "", "the run to score")
	scen := fs.String("scenario", "", "the run's scenario, for its jurisdictions, categories and names (default: the embedded scenario the run names)")
	out := fs.String("out", "", "directory for score.json and report.html (default: none)")
	noWrite := fs.Bool("no-write", false, "leave the scores in the store as they are")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return badInput("unexpected argument %q", fs.Arg(0))
	}
	dsn := storeDSN(*db)
	if dsn == "" {
		return badInput("score reads a store: --db off leaves none")
	}
	st, err := openStore(e.ctx, dsn, false)
	if err != nil {
		return err
	}
	defer st.Close()
	if *runID == "" {
		return badInput("--run ID is required: %s", runIDs(e.ctx, st))
	}
	run, err := st.Run(e.ctx, *runID)
	if errors.Is(err, store.ErrNotFound) {
		return badInput("no run %q in %s: %s", *runID, redactDSN(dsn), runIDs(e.ctx, st))
	} else if err != nil {
		return err
	}
	name := *scen
	if name == "" {
		name = run.Scenario
	}
	spec, err := lab.Load(name)
	if err != nil {
		if *scen == "" {
			return badInput("the run's scenario %q is not an embedded one: give its file with --scenario (%v)", run.Scenario, err)
		}
		return err
	}
	if spec.Scenario.Name != run.Scenario {
		return badInput("--scenario %s is scenario %q, the run measured %q", name, spec.Scenario.Name, run.Scenario)
	}
	if run.Status != store.Complete {
		fmt.Fprintf(e.stderr, "splinter score: run %s is %s (%s): scoring what it holds\n", run.ID, run.Status, partsNote(run))
	}
	res, err := lab.ScoreStored(e.ctx, st, spec, *runID, lab.ScoreOptions{Out: *out, NoWrite: *noWrite})
	if err != nil {
		return err
	}
	res.Report.WriteSummary(e.stdout)
	fmt.Fprintf(e.stdout, "\nrun %s: %d measurements from %d shard(s), %d decisions read", run.ID, res.Score.Total, run.Shards, res.Decisions)
	if !*noWrite {
		fmt.Fprintf(e.stdout, "; scores written to %s", redactDSN(dsn))
	}
	fmt.Fprintln(e.stdout)
	if len(res.Files) > 0 {
		var paths []string
		for _, f := range res.Files {
			paths = append(paths, filepath.Join(*out, f))
		}
		fmt.Fprintf(e.stdout, "wrote %s\n", strings.Join(paths, ", "))
	}
	return nil
}

// partsNote says how far a run's shards got.
func partsNote(run *store.RunSummary) string {
	done := map[int]bool{}
	for _, p := range run.Parts {
		if p.Shard >= 0 && p.Status == store.Complete {
			done[p.Shard] = true
		}
	}
	return fmt.Sprintf("%d of %d shards complete", len(done), run.Shards)
}
