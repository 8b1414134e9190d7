package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/splinter-lab/splinter/border"
	"github.com/splinter-lab/splinter/probe"
	"github.com/splinter-lab/splinter/score"
)

// values are one row, by column name; a missing column is NULL.
type values map[string]any

// WriterOptions tune Begin. The zero value is usable.
type WriterOptions struct {
	// BatchSize is how many rows (measurements, observations, decisions,
	// scores) are buffered before they are written in one transaction;
	// 0 means 4096. Memory is bounded by about three batches.
	BatchSize int
	// FlushEvery writes what is buffered at least this often, so that a
	// reader sees a run as it proceeds; 0 means one second.
	FlushEvery time.Duration
	// Writer names this process among the run's writers; "" means a
	// random name. A process that takes over a shard uses a new name.
	Writer string
}

// Writer writes one part of a run as it proceeds: measurements, border
// decisions and scored items are buffered and written in batches by one
// goroutine, so a caller waits only when two batches are already queued.
// Its methods are safe for concurrent use. Close ends the part with a
// status.
type Writer struct {
	s      *Store
	ctx    context.Context // writes go on when the run's context ends, so an interrupted run is recorded
	run    string
	writer string
	part   Part
	shards int
	start  time.Time
	rules  map[ruleKey]Rule
	limit  int

	mu      sync.Mutex
	cur     *batch
	seq     int64
	closed  bool
	full    chan *batch
	sending sync.WaitGroup // batches on their way to full
	done    chan struct{}
	errMu   sync.Mutex
	err     error
	written counts
}

type counts struct{ measurements, decisions int64 }

type batch struct {
	ms     map[Key]int // index in measurements, so a key sent twice is written once
	meas   []values
	json   []values
	obs    [][]values
	ds     []values
	scores map[Key]int
	sc     []values
	links  [][]values
	rows   int
}

func newBatch() *batch { return &batch{ms: map[Key]int{}, scores: map[Key]int{}} }

// Begin starts writing part of run: it records the run (unless another
// shard already did) and its rules, and the part, as running.
func (s *Store) Begin(ctx context.Context, run Run, part Part, opts ...WriterOptions) (*Writer, error) {
	if err := ValidRunID(run.ID); err != nil {
		return nil, err
	}
	var o WriterOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 4096
	}
	if o.FlushEvery <= 0 {
		o.FlushEvery = time.Second
	}
	if o.Writer == "" {
		var b [6]byte
		rand.Read(b[:])
		o.Writer = hex.EncodeToString(b[:])
	}
	if run.Shards <= 0 {
		run.Shards = 1
	}
	old, err := s.Run(ctx, run.ID)
	switch {
	case errors.Is(err, ErrNotFound):
		old = nil
	case err != nil:
		return nil, err
	}
	if part.Scoring {
		if old == nil {
			return nil, fmt.Errorf("store: run %s: %w", run.ID, ErrNotFound)
		}
		part.Shard, run.Shards = -1, old.Shards
	} else if old != nil && old.Shards != run.Shards {
		return nil, fmt.Errorf("store: run %s has %d shards, this part says %d", run.ID, old.Shards, run.Shards)
	}
	if !part.Scoring && (part.Shard < 0 || part.Shard >= run.Shards) {
		return nil, fmt.Errorf("store: shard %d of %d", part.Shard, run.Shards)
	}
	if run.Created.IsZero() {
		run.Created = s.now()
	}
	w := &Writer{
		s: s, ctx: context.WithoutCancel(ctx), run: run.ID, writer: o.Writer, part: part, shards: run.Shards,
		start: s.now(), rules: map[ruleKey]Rule{}, limit: o.BatchSize,
		cur: newBatch(), full: make(chan *batch, 1), done: make(chan struct{}),
	}
	for _, r := range run.Rules {
		w.rules[ruleKey{r.Policy, r.Rule}] = r
	}
	profiles, _ := json.Marshal(orEmpty(run.Profiles))
	labels, _ := json.Marshal(run.Labels)
	if run.Labels == nil {
		labels = []byte("{}")
	}
	rv := values{
		"run_id": run.ID, "scenario": run.Scenario, "description": run.Description,
		"created_ns": run.Created.UnixNano(), "software_name": run.SoftwareName, "software_version": run.SoftwareVersion,
		"shards": int64(run.Shards), "profiles": string(profiles), "labels": string(labels),
		"simulated_ns": (*int64)(nil),
	}
	if !run.Simulated.IsZero() {
		rv["simulated_ns"] = ptr(run.Simulated.UnixNano())
	}
	var ops []op
	if old == nil {
		// Two shards that begin at once both write the run: alike, and
		// the first stays.
		ops = append(ops, op{t: tables["runs"], mode: insertKeep, rows: []values{rv}})
	}
	if len(run.Rules) > 0 {
		var rs []values
		for _, r := range run.Rules {
			y := (*int64)(nil)
			if r.Year != 0 {
				y = ptr(int64(r.Year))
			}
			rs = append(rs, values{"run_id": run.ID, "policy": r.Policy, "rule": r.Rule, "jurisdiction": r.Jurisdiction,
				"description": r.Description, "source": r.Source, "year": y})
		}
		ops = append(ops, op{t: tables["rules"], mode: insertKeep, rows: rs})
	}
	ops = append(ops, w.partOp(Running, nil))
	if err := s.write(ctx, ops, nil); err != nil {
		return nil, fmt.Errorf("store: begin run %s: %w", run.ID, err)
	}
	go w.loop(o.FlushEvery)
	return w, nil
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// Run is the ID of the run being written.
func (w *Writer) Run() string { return w.run }

// Measurement buffers m (its test keys must be set: the vantage and input
// are its key).
func (w *Writer) Measurement(m *probe.Measurement) error {
	k, v, j, err := measurementValues(w.run, w.writer, m)
	if err != nil {
		return err
	}
	obs := Observations(m)
	ov := make([]values, len(obs))
	for i := range obs {
		ov[i] = observationValues(w.run, w.writer, k, m, &obs[i])
	}
	return w.add(func(b *batch) {
		if i, ok := b.ms[k]; ok {
			b.meas[i], b.json[i], b.obs[i] = v, j, ov
			return
		}
		b.ms[k] = len(b.meas)
		b.meas = append(b.meas, v)
		b.json = append(b.json, j)
		b.obs = append(b.obs, ov)
		b.rows += 2 + len(ov)
	})
}

// Decision buffers a border decision.
func (w *Writer) Decision(d border.Decision) error {
	w.mu.Lock()
	w.seq++
	seq := w.seq
	w.mu.Unlock()
	v, err := decisionValues(w.run, w.writer, seq, d, w.rules)
	if err != nil {
		return err
	}
	return w.add(func(b *batch) {
		b.ds = append(b.ds, v)
		b.rows++
	})
}

// Score buffers a scored measurement (score.Result's Items), with the
// decisions joined to it.
func (w *Writer) Score(it score.Item) error {
	return w.addScore(it, "")
}

// Disagreement buffers a scored measurement whose verdicts differ, with
// score's explanation.
func (w *Writer) Disagreement(d score.Disagreement) error {
	return w.addScore(d.Item, d.Explanation)
}

func (w *Writer) addScore(it score.Item, explanation string) error {
	k, v, links := scoreValues(w.run, it, explanation)
	return w.add(func(b *batch) {
		if i, ok := b.scores[k]; ok {
			b.sc[i], b.links[i] = v, links
			return
		}
		b.scores[k] = len(b.sc)
		b.sc = append(b.sc, v)
		b.links = append(b.links, links)
		b.rows += 1 + len(links)
	})
}

// Result buffers every item of a scoring, disagreements with their
// explanations.
func (w *Writer) Result(r *score.Result) error {
	expl := map[Key]string{}
	for _, d := range r.Disagree {
		expl[Key{d.Vantage, d.Input}] = d.Explanation
	}
	for _, it := range r.Items {
		if e, ok := expl[Key{it.Vantage, it.Input}]; ok {
			if err := w.Disagreement(score.Disagreement{Item: it, Explanation: e}); err != nil {
				return err
			}
			continue
		}
		if err := w.Score(it); err != nil {
			return err
		}
	}
	return nil
}

func (w *Writer) add(f func(*batch)) error {
	if err := w.Err(); err != nil {
		return err
	}
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return errors.New("store: writer closed")
	}
	f(w.cur)
	var full *batch
	if w.cur.rows >= w.limit {
		full, w.cur = w.cur, newBatch()
		w.sending.Add(1) // Close waits for this send before it closes w.full
	}
	w.mu.Unlock()
	if full != nil {
		w.full <- full // waits while the flusher has a batch queued already
		w.sending.Done()
	}
	return nil
}

// Err is the first error writing, if any: a writer that failed keeps
// failing.
func (w *Writer) Err() error {
	w.errMu.Lock()
	defer w.errMu.Unlock()
	return w.err
}

func (w *Writer) setErr(err error) {
	w.errMu.Lock()
	if w.err == nil {
		w.err = err
	}
	w.errMu.Unlock()
}

func (w *Writer) loop(every time.Duration) {
	defer close(w.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case b, ok := <-w.full:
			if !ok {
				return
			}
			w.flush(b)
		case <-t.C:
			w.mu.Lock()
			var b *batch
			if w.cur.rows > 0 {
				b, w.cur = w.cur, newBatch()
			}
			w.mu.Unlock()
			if b != nil {
				w.flush(b)
			}
		}
	}
}

// flush writes one batch and the part's counts in one transaction
// (SQLite, PostgreSQL) or one insert per table (ClickHouse).
func (w *Writer) flush(b *batch) {
	if w.Err() != nil {
		return
	}
	var ops []op
	var dels []del
	if len(b.meas) > 0 {
		var obs []values
		for i, v := range b.meas {
			obs = append(obs, b.obs[i]...)
			dels = append(dels, del{"obs_web", []any{w.run, v["vantage"], v["input"]}})
		}
		ops = append(ops, op{t: tables["measurements"], mode: insertReplace, rows: b.meas})
		ops = append(ops, op{t: tables["measurement_json"], mode: insertReplace, rows: b.json})
		ops = append(ops, op{t: tables["obs_web"], mode: insertPlain, rows: obs})
	}
	if len(b.ds) > 0 {
		ops = append(ops, op{t: tables["decisions"], mode: insertKeep, rows: b.ds})
	}
	if len(b.sc) > 0 {
		var links []values
		for i, v := range b.sc {
			links = append(links, b.links[i]...)
			dels = append(dels, del{"score_decisions", []any{w.run, v["vantage"], v["input"]}})
		}
		ops = append(ops, op{t: tables["scores"], mode: insertReplace, rows: b.sc})
		ops = append(ops, op{t: tables["score_decisions"], mode: insertPlain, rows: links})
	}
	w.written.measurements += int64(len(b.meas))
	w.written.decisions += int64(len(b.ds))
	ops = append(ops, w.partOp(Running, nil))
	if err := w.s.write(w.ctx, ops, dels); err != nil {
		w.setErr(fmt.Errorf("store: run %s: %w", w.run, err))
	}
}

func (w *Writer) partOp(st Status, end *Health) op {
	health, _ := json.Marshal(w.part.Health)
	endHealth := []byte("null")
	if end != nil {
		endHealth, _ = json.Marshal(end)
	}
	v := values{
		"run_id": w.run, "writer": w.writer, "shard": int64(w.part.Shard), "shards": int64(w.shards),
		"status": string(st), "started_ns": w.start.UnixNano(), "updated_ns": w.s.now().UnixNano(),
		"finished_ns":  (*int64)(nil),
		"measurements": w.written.measurements, "decisions": w.written.decisions,
		"health": string(health), "end_health": string(endHealth),
	}
	if st != Running {
		v["finished_ns"] = ptr(w.s.now().UnixNano())
	}
	return op{t: tables["run_parts"], mode: insertReplace, rows: []values{v}}
}

// Close writes what is buffered and ends the part with status (Complete,
// Interrupted or Failed) and the machine's health at the end. It returns
// the first error writing, if any.
func (w *Writer) Close(ctx context.Context, status Status, end Health) error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return w.Err()
	}
	w.closed = true
	last := w.cur
	w.cur = newBatch()
	w.mu.Unlock()
	if last.rows > 0 {
		w.full <- last
	}
	w.sending.Wait()
	close(w.full)
	<-w.done
	if err := w.Err(); err != nil {
		status = Failed
	}
	perr := w.s.write(context.WithoutCancel(ctx), []op{w.partOp(status, &end)}, nil)
	if perr == nil {
		perr = w.s.optimize(context.WithoutCancel(ctx))
	}
	if err := w.Err(); err != nil {
		return err
	}
	if perr != nil {
		return fmt.Errorf("store: run %s: %w", w.run, perr)
	}
	return nil
}

// op inserts rows into one table.
type op struct {
	t    *table
	mode insertMode
	rows []values
}

// del deletes the rows of one measurement's key from a table (SQL dialects:
// ClickHouse replaces them by key instead).
type del struct {
	table string
	args  []any // run_id, vantage, input
}

func (s *Store) write(ctx context.Context, ops []op, dels []del) error {
	if s.d.replacing {
		// clickhouse-go sends one batch per transaction: one table each.
		for _, o := range ops {
			if len(o.rows) == 0 {
				continue
			}
			tx, err := s.db.BeginTx(ctx, nil)
			if err != nil {
				return err
			}
			if err := s.insert(ctx, tx, o); err != nil {
				tx.Rollback()
				return err
			}
			if err := tx.Commit(); err != nil {
				return fmt.Errorf("%s: %w", o.t.name, err)
			}
		}
		return nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	// Deletes go by table, many keys per statement.
	byTable := map[string][]del{}
	var order []string
	for _, d := range dels {
		if _, ok := byTable[d.table]; !ok {
			order = append(order, d.table)
		}
		byTable[d.table] = append(byTable[d.table], d)
	}
	for _, tbl := range order {
		ds := byTable[tbl]
		for start := 0; start < len(ds); start += 200 {
			chunk := ds[start:min(start+200, len(ds))]
			args := []any{chunk[0].args[0]}
			tuples := make([]string, len(chunk))
			for i, d := range chunk {
				tuples[i] = "(?, ?)"
				args = append(args, d.args[1], d.args[2])
			}
			q := s.d.rebind("DELETE FROM " + tbl + " WHERE run_id = ? AND (vantage, input) IN (VALUES " + strings.Join(tuples, ", ") + ")")
			if _, err := tx.ExecContext(ctx, q, args...); err != nil {
				return fmt.Errorf("delete from %s: %w", tbl, err)
			}
		}
	}
	for _, o := range ops {
		if len(o.rows) == 0 {
			continue
		}
		if err := s.insert(ctx, tx, o); err != nil {
			return err
		}
	}
	return tx.Commit()
}

func (s *Store) insert(ctx context.Context, tx *sql.Tx, o op) error {
	cols := make([]string, len(o.t.cols))
	for i, c := range o.t.cols {
		cols[i] = c.name
	}
	// SQL dialects take many rows per statement (a round trip each, and
	// under SQLite's 32766 parameters); ClickHouse's driver batches the
	// rows of a one-row statement itself.
	per := 1
	if !s.d.replacing {
		per = max(1, min(len(o.rows), 200, 8000/len(cols)))
	}
	stmts := map[int]*sql.Stmt{}
	defer func() {
		for _, st := range stmts {
			st.Close()
		}
	}()
	args := make([]any, 0, per*len(cols))
	for start := 0; start < len(o.rows); start += per {
		chunk := o.rows[start:min(start+per, len(o.rows))]
		st, ok := stmts[len(chunk)]
		if !ok {
			q := s.d.insertRows(o.t, cols, o.mode, len(chunk))
			if s.d.replacing {
				q = s.d.insert(o.t, cols, o.mode)
			}
			p, err := tx.PrepareContext(ctx, q)
			if err != nil {
				return fmt.Errorf("%s: %w", o.t.name, err)
			}
			st, stmts[len(chunk)] = p, p
		}
		args = args[:0]
		for _, r := range chunk {
			for _, c := range cols {
				args = append(args, s.d.arg(r[c]))
			}
		}
		if _, err := st.ExecContext(ctx, args...); err != nil {
			return fmt.Errorf("%s: %w", o.t.name, err)
		}
	}
	return nil
}

// optimize refreshes the query planner's statistics after a part is
// written, so that filters use the indexes from the first read on.
func (s *Store) optimize(ctx context.Context) error {
	var q string
	switch s.d.name {
	case "sqlite":
		q = "PRAGMA optimize=0x10002" // every table, analysed where it changed
	case "postgres":
		q = "ANALYZE measurements, obs_web, scores, decisions"
	default:
		return nil
	}
	if _, err := s.db.ExecContext(ctx, q); err != nil {
		return fmt.Errorf("optimize: %w", err)
	}
	return nil
}
