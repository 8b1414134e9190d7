package lab

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/splinter-lab/splinter/border"
	"github.com/splinter-lab/splinter/policy"
	"github.com/splinter-lab/splinter/probe"
	"github.com/splinter-lab/splinter/report"
	"github.com/splinter-lab/splinter/score"
	"github.com/splinter-lab/splinter/store"
)

// storeRun describes the lab's run for the store: the scenario, the date
// if the run set one, and the profiles in force with their rules (each
// rule's source and year, for the explorer to cite).
func (l *Lab) storeRun(id string, sh Shard, simulated bool) store.Run {
	s := l.spec
	run := store.Run{ID: id, Scenario: s.Scenario.Name, Description: s.Scenario.Description,
		SoftwareName: probe.SoftwareName, SoftwareVersion: probe.SoftwareVersion, Shards: max(sh.Count, 1)}
	if simulated {
		run.Simulated = l.date
	}
	var ps []*policy.Policy
	for _, b := range s.dated(l.date).Borders {
		version := b.Policy.Meta.Effective.String()
		if a := l.admitted[b.Name]; a != nil {
			version = "log:" + strconv.FormatInt(a.Index(), 10)
		}
		p := store.ProfileOf(b.Policy, version)
		p.Jurisdiction = b.Jurisdiction
		run.Profiles = append(run.Profiles, p)
		if !slices.Contains(ps, b.Policy) {
			ps = append(ps, b.Policy)
		}
	}
	run.Rules = store.RulesOf(ps...)
	return run
}

// ScoreOptions tune ScoreStored. The zero value writes nothing but the
// scores.
type ScoreOptions struct {
	// Out, if set, is the directory score.json and report.html are written
	// to.
	Out string
	// NoWrite leaves the store's scores as they are.
	NoWrite bool
}

// ScoreResult is a run scored from the store.
type ScoreResult struct {
	Run    *store.RunSummary
	Score  *score.Result
	Report *report.Report
	// Decisions counts the decisions read.
	Decisions int
	Files     []string
}

// ScoreStored is `splinter score --db`: it scores run id again from what
// its processes stored, whether one process or the N shards of a sharded
// run measured it. Each shard ran a world of its own (the same addresses,
// its own flows), so the join is made per process and, to bound memory,
// per vantage: the decisions a process recorded for a vantage's addresses
// and its resolver are joined to the measurements it made from there, as
// score.Score joins them. The scores are written back (a scoring part of
// the run, unless opts.NoWrite) and the result is arranged in a report of
// s, the run's scenario.
func ScoreStored(ctx context.Context, st *store.Store, s *Spec, id string, opts ScoreOptions) (*ScoreResult, error) {
	run, err := st.Run(ctx, id)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, badInput(fmt.Errorf("no run %q in the store", id))
		}
		return nil, err
	}
	origins, err := st.Origins(ctx, id)
	if err != nil {
		return nil, err
	}
	var w *store.Writer
	if !opts.NoWrite {
		if w, err = st.Begin(ctx, store.Run{ID: id}, store.Part{Scoring: true, Health: store.CurrentHealth()}); err != nil {
			return nil, err
		}
		defer w.Close(context.WithoutCancel(ctx), store.Failed, store.CurrentHealth()) // a no-op once closed
	}
	res := &ScoreResult{Run: run}
	tally := score.NewTally(score.Limits{})
	builder := report.NewBuilder(s.Scenario, s.Plan)
	opt := score.Options{Exists: s.Exists}
	for _, o := range origins {
		var idx *score.Index
		for m, err := range st.OriginMeasurements(ctx, id, o) {
			if err != nil {
				return nil, err
			}
			if err := ctx.Err(); err != nil {
				return nil, fmt.Errorf("%w: %w", ErrInterrupted, err)
			}
			if idx == nil {
				ds, err := st.ClientDecisions(ctx, id, o.Writer, vantageAddrs(m))
				if err != nil {
					return nil, err
				}
				bd := make([]border.Decision, len(ds))
				for i := range ds {
					bd[i] = ds[i].Decision
				}
				res.Decisions += len(bd)
				idx = score.NewIndex(bd)
			}
			it := idx.Item(m, opt)
			tally.Add(it)
			builder.Add(it)
			if w != nil {
				if it.Measured != it.Truth {
					err = w.Disagreement(score.Disagreement{Item: it, Explanation: score.Explain(it)})
				} else {
					err = w.Score(it)
				}
				if err != nil {
					return nil, err
				}
			}
		}
	}
	res.Score = tally.Result()
	res.Report = builder.Report(res.Decisions, res.Score)
	res.Report.At = run.Simulated
	res.Report.Interrupted = run.Status != store.Complete
	if w != nil {
		if err := w.Close(context.WithoutCancel(ctx), store.Complete, store.CurrentHealth()); err != nil {
			return nil, err
		}
	}
	if opts.Out != "" {
		if err := os.MkdirAll(opts.Out, 0o755); err != nil {
			return nil, badInput(fmt.Errorf("output directory: %w", err))
		}
		sc := storedScore{Run: id, Status: run.Status, Shards: run.Shards, Result: res.Score}
		if !run.Simulated.IsZero() {
			sc.At = run.Simulated.UTC().Format(time.RFC3339)
		}
		if err := writeFile(opts.Out, "score.json", func(w io.Writer) error {
			enc := json.NewEncoder(w)
			enc.SetIndent("", "  ")
			return enc.Encode(sc)
		}); err != nil {
			return nil, err
		}
		if err := writeFile(opts.Out, "report.html", res.Report.WriteHTML); err != nil {
			return nil, err
		}
		res.Files = []string{"score.json", "report.html"}
	}
	return res, nil
}

// storedScore is score.json of a run scored from the store.
type storedScore struct {
	Run    string       `json:"run"`
	At     string       `json:"at,omitempty"`
	Status store.Status `json:"status"`
	Shards int          `json:"shards"`
	*score.Result
}

// vantageAddrs are the addresses whose decisions a measurement from m's
// vantage joins: the vantage's own and its resolver's.
func vantageAddrs(m *probe.Measurement) []netip.Addr {
	if m.TestKeys == nil {
		return nil
	}
	v := m.TestKeys.Vantage
	out := append([]netip.Addr(nil), v.Addrs...)
	if v.Resolver.IsValid() {
		out = append(out, v.Resolver)
	}
	return out
}

// writeFile writes dir/name under a temporary name and renames it into
// place when complete.
func writeFile(dir, name string, write func(io.Writer) error) error {
	f, err := os.CreateTemp(dir, "."+name+".*")
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	defer os.Remove(f.Name())
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", name, err)
	}
	bw := bufio.NewWriterSize(f, 1<<16)
	err = write(bw)
	if err == nil {
		err = bw.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), filepath.Join(dir, name))
	}
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}
