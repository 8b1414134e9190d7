package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"net/netip"
	"sort"
	"strings"
	"time"

	"github.com/splinter-lab/splinter/probe"
)

// The reads the explorer and the exports need. None of them joins two
// tables in SQL: ClickHouse 18 (Debian's) joins unreliably, so rows of
// different tables are matched by key here, a page at a time.

// RunSummary is a run with the state of its parts.
type RunSummary struct {
	Run
	// Status is complete when every shard's latest part completed,
	// running while any part runs or a shard has not begun, else failed or
	// interrupted.
	Status       Status     `json:"status"`
	Parts        []PartInfo `json:"parts"`
	Measurements int64      `json:"measurements"`
	Decisions    int64      `json:"decisions"`
}

// PartInfo is one process's part of a run, as recorded.
type PartInfo struct {
	Writer       string    `json:"writer"`
	Shard        int       `json:"shard"`
	Shards       int       `json:"shards"`
	Status       Status    `json:"status"`
	Started      time.Time `json:"started"`
	Updated      time.Time `json:"updated"`
	Finished     time.Time `json:"finished,omitzero"`
	Measurements int64     `json:"measurements"`
	Decisions    int64     `json:"decisions"`
	Health       Health    `json:"health"`
	EndHealth    *Health   `json:"end_health,omitempty"`
}

// RunQuery selects runs. The zero value lists the newest 100.
type RunQuery struct {
	Scenario string
	// Dated keeps only runs with a simulated date.
	Dated bool
	Limit int
}

const runCols = "run_id, scenario, description, simulated_ns, created_ns, software_name, software_version, shards, profiles, labels"

// Runs lists runs, newest first.
func (s *Store) Runs(ctx context.Context, q RunQuery) ([]RunSummary, error) {
	if q.Limit <= 0 {
		q.Limit = 100
	}
	where, args := []string{"1 = 1"}, []any{}
	if q.Scenario != "" {
		where, args = append(where, "scenario = ?"), append(args, q.Scenario)
	}
	if q.Dated {
		where = append(where, "simulated_ns IS NOT NULL")
	}
	args = append(args, int64(q.Limit))
	rows, err := s.query(ctx, "SELECT "+runCols+" FROM "+s.d.from("runs")+" WHERE "+strings.Join(where, " AND ")+
		" ORDER BY created_ns DESC, run_id LIMIT ?", args...)
	if err != nil {
		return nil, fmt.Errorf("store: runs: %w", err)
	}
	var out []RunSummary
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, RunSummary{Run: r})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: runs: %w", err)
	}
	if err := s.addParts(ctx, out); err != nil {
		return nil, err
	}
	return out, nil
}

// Run returns one run.
func (s *Store) Run(ctx context.Context, id string) (*RunSummary, error) {
	rows, err := s.query(ctx, "SELECT "+runCols+" FROM "+s.d.from("runs")+" WHERE run_id = ?", id)
	if err != nil {
		return nil, fmt.Errorf("store: run %s: %w", id, err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("store: run %s: %w", id, err)
		}
		return nil, fmt.Errorf("store: run %s: %w", id, ErrNotFound)
	}
	r, err := scanRun(rows)
	if err != nil {
		return nil, err
	}
	rows.Close()
	out := []RunSummary{{Run: r}}
	if err := s.addParts(ctx, out); err != nil {
		return nil, err
	}
	return &out[0], nil
}

func scanRun(rows *sql.Rows) (Run, error) {
	var r Run
	var sim sql.NullInt64
	var created, shards int64
	var profiles, labels string
	if err := rows.Scan(&r.ID, &r.Scenario, &r.Description, &sim, &created, &r.SoftwareName, &r.SoftwareVersion, &shards, &profiles, &labels); err != nil {
		return r, fmt.Errorf("store: runs: %w", err)
	}
	if sim.Valid {
		r.Simulated = time.Unix(0, sim.Int64).UTC()
	}
	r.Created = time.Unix(0, created).UTC()
	r.Shards = int(shards)
	if err := json.Unmarshal([]byte(profiles), &r.Profiles); err != nil {
		return r, fmt.Errorf("store: run %s: profiles: %w", r.ID, err)
	}
	if err := json.Unmarshal([]byte(labels), &r.Labels); err != nil {
		return r, fmt.Errorf("store: run %s: labels: %w", r.ID, err)
	}
	return r, nil
}

func (s *Store) addParts(ctx context.Context, runs []RunSummary) error {
	if len(runs) == 0 {
		return nil
	}
	idx := map[string]int{}
	var args []any
	for i, r := range runs {
		idx[r.ID] = i
		args = append(args, r.ID)
	}
	rows, err := s.query(ctx, "SELECT run_id, writer, shard, shards, status, started_ns, updated_ns, finished_ns, measurements, decisions, health, end_health FROM "+
		s.d.from("run_parts")+" WHERE run_id IN ("+marks(len(args))+") ORDER BY run_id, shard, started_ns", args...)
	if err != nil {
		return fmt.Errorf("store: run parts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var run, health, endHealth string
		var p PartInfo
		var shard, shards, started, updated int64
		var finished sql.NullInt64
		if err := rows.Scan(&run, &p.Writer, &shard, &shards, &p.Status, &started, &updated, &finished, &p.Measurements, &p.Decisions, &health, &endHealth); err != nil {
			return fmt.Errorf("store: run parts: %w", err)
		}
		p.Shard, p.Shards = int(shard), int(shards)
		p.Started, p.Updated = time.Unix(0, started).UTC(), time.Unix(0, updated).UTC()
		if finished.Valid {
			p.Finished = time.Unix(0, finished.Int64).UTC()
		}
		json.Unmarshal([]byte(health), &p.Health)
		if endHealth != "null" && endHealth != "" {
			p.EndHealth = new(Health)
			json.Unmarshal([]byte(endHealth), p.EndHealth)
		}
		r := &runs[idx[run]]
		r.Parts = append(r.Parts, p)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("store: run parts: %w", err)
	}
	for i := range runs {
		runs[i].Status, runs[i].Measurements, runs[i].Decisions = summarize(runs[i].Shards, runs[i].Parts)
	}
	return nil
}

// summarize derives a run's status and counts from its parts: for each
// shard the part that began last counts (a retried shard replaces the
// attempt before it).
func summarize(shards int, parts []PartInfo) (Status, int64, int64) {
	latest := map[int]PartInfo{}
	for _, p := range parts {
		if p.Shard < 0 { // scoring
			continue
		}
		if q, ok := latest[p.Shard]; !ok || p.Started.After(q.Started) {
			latest[p.Shard] = p
		}
	}
	var ms, ds int64
	st := map[Status]int{}
	for _, p := range latest {
		ms += p.Measurements
		ds += p.Decisions
		st[p.Status]++
	}
	switch {
	case st[Running] > 0:
		return Running, ms, ds
	case st[Complete] == shards:
		return Complete, ms, ds
	case st[Failed] > 0:
		return Failed, ms, ds
	case st[Interrupted] > 0:
		return Interrupted, ms, ds
	}
	return Running, ms, ds
}

func marks(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// Query selects measurements of a run. Empty fields do not filter.
type Query struct {
	Run      string
	CC       string
	Vantage  string
	Category string
	Domain   string
	// Verdict is the measured verdict; Truth the one the borders'
	// decisions imply (scored runs only).
	Verdict probe.Verdict
	Truth   probe.Verdict
	// Disagree keeps only scored measurements whose verdicts differ.
	Disagree bool
	// Limit is the page size: 0 means 100, at most 1000.
	Limit int
	// After continues from the last key of the previous page (keyset
	// paging); Offset skips rows instead.
	After  *Key
	Offset int

	noTotal bool // Records pages without counting
}

// Summary is one measurement in a list.
type Summary struct {
	Key
	UID      string          `json:"uid"`
	Domain   string          `json:"domain"`
	Category string          `json:"category"`
	CC       string          `json:"probe_cc"`
	ASN      int64           `json:"probe_asn"`
	Network  string          `json:"probe_network_name"`
	Start    time.Time       `json:"start"`
	Runtime  float64         `json:"runtime"`
	Verdict  probe.Verdict   `json:"verdict"`
	Methods  []probe.Verdict `json:"methods"`
	Reason   string          `json:"reason"`
	// Truth is "" until the run is scored.
	Truth probe.Verdict `json:"truth,omitempty"`
	Agree *bool         `json:"agree,omitempty"`
}

// Page is one page of measurements.
type Page struct {
	Items []Summary `json:"items"`
	// Total counts every measurement the query selects.
	Total int64 `json:"total"`
	// Next is the After of the next page; nil on the last.
	Next *Key `json:"next,omitempty"`
}

const summaryCols = "vantage, input, uid, domain, category, probe_cc, probe_asn, probe_network_name, start_ns, runtime, verdict, methods, reason"

// where is the filter of q on tbl: measurements, or scores when q filters
// on the ground truth (scores repeats the key, probe_cc, category, domain
// and the measured verdict, so such a page is read from scores alone).
func (q *Query) where(tbl string) (string, []any) {
	verdict := "verdict"
	if tbl == "scores" {
		verdict = "measured"
	}
	w, args := []string{"run_id = ?"}, []any{q.Run}
	for _, f := range []struct{ col, v string }{
		{"probe_cc", q.CC}, {"vantage", q.Vantage}, {"category", q.Category}, {"domain", q.Domain}, {verdict, string(q.Verdict)},
		{"truth", string(q.Truth)},
	} {
		if f.v != "" {
			w, args = append(w, f.col+" = ?"), append(args, f.v)
		}
	}
	if q.Disagree {
		w, args = append(w, "agree = ?"), append(args, false)
	}
	return strings.Join(w, " AND "), args
}

// Measurements returns a page of a run's measurements in key order.
func (s *Store) Measurements(ctx context.Context, q Query) (*Page, error) {
	if q.Limit <= 0 {
		q.Limit = 100
	}
	q.Limit = min(q.Limit, 1000)
	tbl := "measurements"
	if q.Truth != "" || q.Disagree {
		tbl = "scores"
	}
	where, args := q.where(tbl)
	page := &Page{}
	if q.noTotal {
		page.Total = -1
	} else if err := s.db.QueryRowContext(ctx, s.d.rebind("SELECT count(*) FROM "+s.d.from(tbl)+" WHERE "+where), s.args(append([]any(nil), args...))...).Scan(&page.Total); err != nil {
		return nil, fmt.Errorf("store: measurements of %s: %w", q.Run, err)
	}
	if q.After != nil {
		c, a := s.d.keyCmp(">", *q.After)
		where += " AND " + c
		args = append(args, a...)
	}
	// The page's keys first, from an index where one covers the filters,
	// then its rows by key: sorting keys is cheaper than sorting rows.
	args = append(args, int64(q.Limit), int64(q.Offset))
	rows, err := s.query(ctx, "SELECT vantage, input FROM "+s.d.from(tbl)+" WHERE "+where+
		" ORDER BY vantage, input LIMIT ? OFFSET ?", args...)
	if err != nil {
		return nil, fmt.Errorf("store: measurements of %s: %w", q.Run, err)
	}
	var keys []Key
	for rows.Next() {
		var k Key
		if err := rows.Scan(&k.Vantage, &k.Input); err != nil {
			rows.Close()
			return nil, fmt.Errorf("store: measurements of %s: %w", q.Run, err)
		}
		keys = append(keys, k)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: measurements of %s: %w", q.Run, err)
	}
	if page.Items, err = s.summaries(ctx, q.Run, keys); err != nil {
		return nil, err
	}
	if len(page.Items) == q.Limit {
		last := page.Items[len(page.Items)-1].Key
		page.Next = &last
	}
	if err := s.addScores(ctx, q.Run, page.Items); err != nil {
		return nil, err
	}
	return page, nil
}

// summaries reads the rows of keys, in their order.
func (s *Store) summaries(ctx context.Context, run string, keys []Key) ([]Summary, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	vs, ins := map[string]bool{}, map[string]bool{}
	args := []any{run}
	for _, k := range keys {
		if !vs[k.Vantage] {
			vs[k.Vantage] = true
			args = append(args, k.Vantage)
		}
	}
	for _, k := range keys {
		if !ins[k.Input] {
			ins[k.Input] = true
			args = append(args, k.Input)
		}
	}
	rows, err := s.query(ctx, "SELECT "+summaryCols+" FROM "+s.d.from("measurements")+
		" WHERE run_id = ? AND vantage IN ("+marks(len(vs))+") AND input IN ("+marks(len(ins))+")", args...)
	if err != nil {
		return nil, fmt.Errorf("store: measurements of %s: %w", run, err)
	}
	defer rows.Close()
	byKey := map[Key]Summary{}
	for rows.Next() {
		m, err := scanSummary(rows)
		if err != nil {
			return nil, err
		}
		byKey[m.Key] = m
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: measurements of %s: %w", run, err)
	}
	out := make([]Summary, 0, len(keys))
	for _, k := range keys {
		if m, ok := byKey[k]; ok {
			out = append(out, m)
		}
	}
	return out, nil
}

func scanSummary(rows *sql.Rows) (Summary, error) {
	var m Summary
	var start int64
	var verdict, methods string
	if err := rows.Scan(&m.Vantage, &m.Input, &m.UID, &m.Domain, &m.Category, &m.CC, &m.ASN, &m.Network, &start, &m.Runtime, &verdict, &methods, &m.Reason); err != nil {
		return m, fmt.Errorf("store: measurements: %w", err)
	}
	m.Start = time.Unix(0, start).UTC()
	m.Verdict = probe.Verdict(verdict)
	m.Methods = []probe.Verdict{}
	for v := range strings.SplitSeq(methods, ",") {
		if v != "" {
			m.Methods = append(m.Methods, probe.Verdict(v))
		}
	}
	return m, nil
}

// addScores fills the truth of the listed measurements.
func (s *Store) addScores(ctx context.Context, run string, ms []Summary) error {
	if len(ms) == 0 {
		return nil
	}
	idx := map[Key]int{}
	vs, ins := map[string]bool{}, map[string]bool{}
	for i, m := range ms {
		idx[m.Key] = i
		vs[m.Vantage], ins[m.Input] = true, true
	}
	args := []any{run}
	for v := range vs {
		args = append(args, v)
	}
	for in := range ins {
		args = append(args, in)
	}
	rows, err := s.query(ctx, "SELECT vantage, input, truth, agree FROM "+s.d.from("scores")+
		" WHERE run_id = ? AND vantage IN ("+marks(len(vs))+") AND input IN ("+marks(len(ins))+")", args...)
	if err != nil {
		return fmt.Errorf("store: scores of %s: %w", run, err)
	}
	defer rows.Close()
	for rows.Next() {
		var k Key
		var truth string
		var agree bool
		if err := rows.Scan(&k.Vantage, &k.Input, &truth, &agree); err != nil {
			return fmt.Errorf("store: scores of %s: %w", run, err)
		}
		if i, ok := idx[k]; ok {
			ms[i].Truth, ms[i].Agree = probe.Verdict(truth), ptr(agree)
		}
	}
	return rows.Err()
}

// Detail is one measurement with everything behind it.
type Detail struct {
	Summary
	Run    string `json:"run"`
	Writer string `json:"writer"`
	// OONI is the measurement in OONI's data format, as the probe wrote it.
	OONI         json.RawMessage `json:"ooni"`
	Observations []Observation   `json:"observations"`
	// Decisions are the border decisions scoring joined to it, in time
	// order (empty until the run is scored).
	Decisions   []Decision `json:"decisions"`
	Explanation string     `json:"explanation,omitempty"`
}

// MeasurementByUID returns the measurement with that UID.
func (s *Store) MeasurementByUID(ctx context.Context, uid string) (*Detail, error) {
	var run string
	var k Key
	err := s.db.QueryRowContext(ctx, s.d.rebind("SELECT run_id, vantage, input FROM "+s.d.from("measurements")+" WHERE uid = ? LIMIT 1"), uid).Scan(&run, &k.Vantage, &k.Input)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store: measurement %s: %w", uid, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("store: measurement %s: %w", uid, err)
	}
	return s.Measurement(ctx, run, k)
}

// Measurement returns one measurement of a run with its observations, its
// OONI JSON, its score and the decisions joined to it.
func (s *Store) Measurement(ctx context.Context, run string, k Key) (*Detail, error) {
	rows, err := s.query(ctx, "SELECT "+summaryCols+", writer FROM "+s.d.from("measurements")+" WHERE run_id = ? AND vantage = ? AND input = ?", run, k.Vantage, k.Input)
	if err != nil {
		return nil, fmt.Errorf("store: measurement: %w", err)
	}
	d := &Detail{Run: run}
	found := false
	for rows.Next() {
		var sm Summary
		var start int64
		var verdict, methods string
		if err := rows.Scan(&sm.Vantage, &sm.Input, &sm.UID, &sm.Domain, &sm.Category, &sm.CC, &sm.ASN, &sm.Network, &start, &sm.Runtime, &verdict, &methods, &sm.Reason, &d.Writer); err != nil {
			rows.Close()
			return nil, fmt.Errorf("store: measurement: %w", err)
		}
		sm.Start, sm.Verdict = time.Unix(0, start).UTC(), probe.Verdict(verdict)
		sm.Methods = []probe.Verdict{}
		for v := range strings.SplitSeq(methods, ",") {
			if v != "" {
				sm.Methods = append(sm.Methods, probe.Verdict(v))
			}
		}
		d.Summary, found = sm, true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: measurement: %w", err)
	}
	if !found {
		return nil, fmt.Errorf("store: measurement %s %s of run %s: %w", k.Vantage, k.Input, run, ErrNotFound)
	}
	var raw string
	if err := s.db.QueryRowContext(ctx, s.d.rebind("SELECT ooni FROM "+s.d.from("measurement_json")+" WHERE run_id = ? AND vantage = ? AND input = ?"), run, k.Vantage, k.Input).Scan(&raw); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store: measurement json: %w", err)
	}
	d.OONI = json.RawMessage(raw)
	for o, err := range s.observations(ctx, run, k, k, d.Writer) {
		if err != nil {
			return nil, err
		}
		d.Observations = append(d.Observations, o.Observation)
	}
	one := []Summary{d.Summary}
	if err := s.addScores(ctx, run, one); err != nil {
		return nil, err
	}
	d.Truth, d.Agree = one[0].Truth, one[0].Agree
	if d.Truth != "" {
		if err := s.db.QueryRowContext(ctx, s.d.rebind("SELECT explanation FROM "+s.d.from("scores")+" WHERE run_id = ? AND vantage = ? AND input = ?"), run, k.Vantage, k.Input).Scan(&d.Explanation); err != nil {
			return nil, fmt.Errorf("store: score: %w", err)
		}
	}
	d.Decisions, err = s.joinedDecisions(ctx, run, k)
	if err != nil {
		return nil, err
	}
	return d, nil
}

const decisionCols = "writer, seq, digest, source, year, log_index, raw"

func (s *Store) joinedDecisions(ctx context.Context, run string, k Key) ([]Decision, error) {
	rows, err := s.query(ctx, "SELECT digest FROM "+s.d.from("score_decisions")+" WHERE run_id = ? AND vantage = ? AND input = ?", run, k.Vantage, k.Input)
	if err != nil {
		return nil, fmt.Errorf("store: joined decisions: %w", err)
	}
	var args []any
	for rows.Next() {
		var dg string
		if err := rows.Scan(&dg); err != nil {
			rows.Close()
			return nil, fmt.Errorf("store: joined decisions: %w", err)
		}
		args = append(args, dg)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: joined decisions: %w", err)
	}
	out := []Decision{}
	if len(args) == 0 {
		return out, nil
	}
	rows, err = s.query(ctx, "SELECT "+decisionCols+" FROM "+s.d.from("decisions")+" WHERE run_id = ? AND digest IN ("+marks(len(args))+") ORDER BY time_ns, writer, seq",
		append([]any{run}, args...)...)
	if err != nil {
		return nil, fmt.Errorf("store: joined decisions: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		d, err := scanDecision(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

func scanDecision(rows *sql.Rows) (Decision, error) {
	var d Decision
	var year, logIndex sql.NullInt64
	var raw string
	if err := rows.Scan(&d.Writer, &d.Seq, &d.Digest, &d.Source, &year, &logIndex, &raw); err != nil {
		return d, fmt.Errorf("store: decisions: %w", err)
	}
	bd, err := decisionFromRaw(raw)
	if err != nil {
		return d, err
	}
	d.Decision = bd
	d.Year = int(year.Int64)
	if logIndex.Valid {
		d.LogIndex = ptr(logIndex.Int64)
	}
	return d, nil
}

// Decisions yields every decision of a run in time order (to score a
// sharded run again from the store).
func (s *Store) Decisions(ctx context.Context, run string) iter.Seq2[Decision, error] {
	return func(yield func(Decision, error) bool) {
		rows, err := s.query(ctx, "SELECT "+decisionCols+" FROM "+s.d.from("decisions")+" WHERE run_id = ? ORDER BY time_ns, writer, seq", run)
		if err != nil {
			yield(Decision{}, fmt.Errorf("store: decisions of %s: %w", run, err))
			return
		}
		defer rows.Close()
		for rows.Next() {
			d, err := scanDecision(rows)
			if !yield(d, err) || err != nil {
				return
			}
		}
		if err := rows.Err(); err != nil {
			yield(Decision{}, fmt.Errorf("store: decisions of %s: %w", run, err))
		}
	}
}

// OONI yields every measurement of a run, in key order, as the probe wrote
// it (to score a sharded run again, or to hand to OONI's tools).
func (s *Store) OONI(ctx context.Context, run string) iter.Seq2[*probe.Measurement, error] {
	return s.oonis(ctx, run, "SELECT ooni FROM "+s.d.from("measurement_json")+" WHERE run_id = ? ORDER BY vantage, input", run)
}

// keyedObservation is an observation with its measurement's key.
type keyedObservation struct {
	Key
	writer string
	Observation
}

const obsCols = "vantage, input, writer, idx, hostname, ip, port, transport, ip_asn, " +
	"dns_query_type, dns_engine, dns_resolver, dns_failure, dns_rcode, dns_answer_type, dns_answer, dns_answer_late, dns_t, " +
	"tcp_success, tcp_failure, tcp_blocked, tcp_t, " +
	"tls_server_name, tls_version, tls_cipher_suite, tls_alpn, tls_success, tls_failure, tls_failed_operation, tls_certificate_chain_length, tls_t, " +
	"http_request_url, http_request_method, http_failure, http_response_status_code, http_response_body_length, http_response_body_is_truncated, " +
	"http_response_body_sha1, http_response_header_location, http_response_header_server, http_t"

// observations yields the obs_web rows of keys in [from, to] in key order;
// writer, if set, keeps only that writer's rows.
func (s *Store) observations(ctx context.Context, run string, from, to Key, writer string) iter.Seq2[keyedObservation, error] {
	return func(yield func(keyedObservation, error) bool) {
		q := "SELECT " + obsCols + " FROM " + s.d.from("obs_web") + " WHERE run_id = ? AND "
		args := []any{run}
		if from == to {
			q += "vantage = ? AND input = ?"
			args = append(args, from.Vantage, from.Input)
		} else {
			c1, a1 := s.d.keyCmp(">=", from)
			c2, a2 := s.d.keyCmp("<=", to)
			q += c1 + " AND " + c2
			args = append(append(args, a1...), a2...)
		}
		if writer != "" {
			q += " AND writer = ?"
			args = append(args, writer)
		}
		rows, err := s.query(ctx, q+" ORDER BY vantage, input, idx", args...)
		if err != nil {
			yield(keyedObservation{}, fmt.Errorf("store: observations: %w", err))
			return
		}
		defer rows.Close()
		for rows.Next() {
			var o keyedObservation
			var idx int64
			var ip string
			var port *int64
			err := rows.Scan(&o.Vantage, &o.Input, &o.writer, &idx, &o.Hostname, &ip, &port, &o.Transport, &o.IPASN,
				&o.DNSQueryType, &o.DNSEngine, &o.DNSResolver, &o.DNSFailure, &o.DNSRcode, &o.DNSAnswerType, &o.DNSAnswer, &o.DNSAnswerLate, &o.DNST,
				&o.TCPSuccess, &o.TCPFailure, &o.TCPBlocked, &o.TCPT,
				&o.TLSServerName, &o.TLSVersion, &o.TLSCipherSuite, &o.TLSALPN, &o.TLSSuccess, &o.TLSFailure, &o.TLSFailedOperation, &o.TLSCertificateChainLen, &o.TLST,
				&o.HTTPRequestURL, &o.HTTPRequestMethod, &o.HTTPFailure, &o.HTTPStatusCode, &o.HTTPBodyLength, &o.HTTPBodyIsTruncated,
				&o.HTTPBodySHA1, &o.HTTPHeaderLocation, &o.HTTPHeaderServer, &o.HTTPT)
			if err != nil {
				yield(o, fmt.Errorf("store: observations: %w", err))
				return
			}
			o.Idx = int(idx)
			if port != nil {
				o.Port = ptr(int(*port))
			}
			o.IP, _ = netip.ParseAddr(ip)
			if !yield(o, nil) {
				return
			}
		}
		if err := rows.Err(); err != nil {
			yield(keyedObservation{}, fmt.Errorf("store: observations: %w", err))
		}
	}
}

// Record is one observation with its measurement's verdicts: a row of an
// export. A measurement without observations is one record with a zero
// Observation.
type Record struct {
	Run string
	Summary
	Observation
	HasObservation bool
}

// Records yields a run's observations with their measurements' verdicts,
// in key order, a page of measurements at a time (memory stays constant
// whatever the size of the run).
func (s *Store) Records(ctx context.Context, run string) iter.Seq2[Record, error] {
	return func(yield func(Record, error) bool) {
		q := Query{Run: run, Limit: 1000, noTotal: true}
		for {
			page, err := s.Measurements(ctx, q)
			if err != nil {
				yield(Record{}, err)
				return
			}
			if len(page.Items) == 0 {
				return
			}
			writers, err := s.writers(ctx, run, page.Items[0].Key, page.Items[len(page.Items)-1].Key)
			if err != nil {
				yield(Record{}, err)
				return
			}
			obs := map[Key][]Observation{}
			for o, err := range s.observations(ctx, run, page.Items[0].Key, page.Items[len(page.Items)-1].Key, "") {
				if err != nil {
					yield(Record{}, err)
					return
				}
				if writers[o.Key] == o.writer {
					obs[o.Key] = append(obs[o.Key], o.Observation)
				}
			}
			for _, m := range page.Items {
				os := obs[m.Key]
				if len(os) == 0 {
					if !yield(Record{Run: run, Summary: m}, nil) {
						return
					}
					continue
				}
				for _, o := range os {
					if !yield(Record{Run: run, Summary: m, Observation: o, HasObservation: true}, nil) {
						return
					}
				}
			}
			if page.Next == nil {
				return
			}
			q.After = page.Next
		}
	}
}

// writers maps the keys in [from, to] to the writer of their measurement.
func (s *Store) writers(ctx context.Context, run string, from, to Key) (map[Key]string, error) {
	c1, a1 := s.d.keyCmp(">=", from)
	c2, a2 := s.d.keyCmp("<=", to)
	rows, err := s.query(ctx, "SELECT vantage, input, writer FROM "+s.d.from("measurements")+
		" WHERE run_id = ? AND "+c1+" AND "+c2, append(append([]any{run}, a1...), a2...)...)
	if err != nil {
		return nil, fmt.Errorf("store: measurements: %w", err)
	}
	defer rows.Close()
	out := map[Key]string{}
	for rows.Next() {
		var k Key
		var w string
		if err := rows.Scan(&k.Vantage, &k.Input, &w); err != nil {
			return nil, fmt.Errorf("store: measurements: %w", err)
		}
		out[k] = w
	}
	return out, rows.Err()
}

// Cell is one jurisdiction × category square of a heatmap: how many
// measurements reached each verdict.
type Cell struct {
	CC       string                  `json:"probe_cc"`
	Category string                  `json:"category"`
	Total    int64                   `json:"total"`
	Counts   map[probe.Verdict]int64 `json:"counts"`
}

// Heatmap counts a run's verdicts per jurisdiction (probe_cc) and
// category, measured or, with truth, the ground truth's (scored runs).
func (s *Store) Heatmap(ctx context.Context, run string, truth bool) ([]Cell, error) {
	q := "SELECT probe_cc, category, verdict, count(*) FROM " + s.d.from("measurements") + " WHERE run_id = ? GROUP BY probe_cc, category, verdict"
	if truth {
		q = "SELECT probe_cc, category, truth, count(*) FROM " + s.d.from("scores") + " WHERE run_id = ? GROUP BY probe_cc, category, truth"
	}
	cells, err := s.cells(ctx, q, run)
	if err != nil {
		return nil, fmt.Errorf("store: heatmap of %s: %w", run, err)
	}
	out := make([]Cell, 0, len(cells))
	for _, c := range cells {
		out = append(out, *c)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].CC != out[j].CC {
			return out[i].CC < out[j].CC
		}
		return out[i].Category < out[j].Category
	})
	return out, nil
}

type cellKey struct{ cc, category string }

func (s *Store) cells(ctx context.Context, q string, args ...any) (map[cellKey]*Cell, error) {
	rows, err := s.query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cells := map[cellKey]*Cell{}
	for rows.Next() {
		var cc, cat, v string
		var n int64
		if err := rows.Scan(&cc, &cat, &v, &n); err != nil {
			return nil, err
		}
		k := cellKey{cc, cat}
		c, ok := cells[k]
		if !ok {
			c = &Cell{CC: cc, Category: cat, Counts: map[probe.Verdict]int64{}}
			cells[k] = c
		}
		c.Counts[probe.Verdict(v)] += n
		c.Total += n
	}
	return cells, rows.Err()
}

// TimelineQuery selects the runs of a timeline: those with a simulated
// date, of one scenario if set, counted for one jurisdiction if set.
type TimelineQuery struct {
	Scenario string
	CC       string
	Limit    int // runs; 0 means 1000
}

// Point is one run of a timeline, per jurisdiction.
type Point struct {
	Run       string                  `json:"run"`
	Simulated time.Time               `json:"simulated"`
	CC        string                  `json:"probe_cc"`
	Total     int64                   `json:"total"`
	Counts    map[probe.Verdict]int64 `json:"counts"`
}

// Timeline counts verdicts per jurisdiction for every dated run, in date
// order.
func (s *Store) Timeline(ctx context.Context, q TimelineQuery) ([]Point, error) {
	if q.Limit <= 0 {
		q.Limit = 1000
	}
	runs, err := s.Runs(ctx, RunQuery{Scenario: q.Scenario, Dated: true, Limit: q.Limit})
	if err != nil {
		return nil, err
	}
	if len(runs) == 0 {
		return []Point{}, nil
	}
	date := map[string]time.Time{}
	args := []any{}
	for _, r := range runs {
		date[r.ID] = r.Simulated
		args = append(args, r.ID)
	}
	sql := "SELECT run_id, probe_cc, verdict, count(*) FROM " + s.d.from("measurements") + " WHERE run_id IN (" + marks(len(args)) + ")"
	if q.CC != "" {
		sql += " AND probe_cc = ?"
		args = append(args, q.CC)
	}
	rows, err := s.query(ctx, sql+" GROUP BY run_id, probe_cc, verdict", args...)
	if err != nil {
		return nil, fmt.Errorf("store: timeline: %w", err)
	}
	defer rows.Close()
	type pk struct{ run, cc string }
	points := map[pk]*Point{}
	for rows.Next() {
		var run, cc, v string
		var n int64
		if err := rows.Scan(&run, &cc, &v, &n); err != nil {
			return nil, fmt.Errorf("store: timeline: %w", err)
		}
		p, ok := points[pk{run, cc}]
		if !ok {
			p = &Point{Run: run, Simulated: date[run], CC: cc, Counts: map[probe.Verdict]int64{}}
			points[pk{run, cc}] = p
		}
		p.Counts[probe.Verdict(v)] += n
		p.Total += n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: timeline: %w", err)
	}
	out := make([]Point, 0, len(points))
	for _, p := range points {
		out = append(out, *p)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Simulated.Equal(out[j].Simulated) {
			return out[i].Simulated.Before(out[j].Simulated)
		}
		if out[i].Run != out[j].Run {
			return out[i].Run < out[j].Run
		}
		return out[i].CC < out[j].CC
	})
	return out, nil
}

// Comparison is what changed from run A to run B.
type Comparison struct {
	A, B string
	// Changes are the measurements (by key) whose verdict differs, or that
	// one run lacks (its verdict ""), in key order: the first limit of
	// them when Compare was given one; Changed counts them all.
	Changes []Change `json:"changes"`
	Changed int64    `json:"changed"`
	// Same counts the keys with the same verdict in both.
	Same int64 `json:"same"`
	// Cells pairs the two runs' heatmap cells; Categories sums them over
	// jurisdictions (CC "").
	Cells      []CellChange `json:"cells"`
	Categories []CellChange `json:"categories"`
}

// Change is one measurement whose verdict changed.
type Change struct {
	Key
	Domain   string        `json:"domain"`
	Category string        `json:"category"`
	CC       string        `json:"probe_cc"`
	A        probe.Verdict `json:"a"`
	B        probe.Verdict `json:"b"`
}

func compareKey(a, b Key) int {
	if c := strings.Compare(a.Vantage, b.Vantage); c != 0 {
		return c
	}
	return strings.Compare(a.Input, b.Input)
}

// CellChange is one jurisdiction × category square in both runs.
type CellChange struct {
	CC       string `json:"probe_cc"`
	Category string `json:"category"`
	A        Cell   `json:"a"`
	B        Cell   `json:"b"`
}

// Compare compares two runs measurement by measurement (same vantage, same
// input) and cell by cell, listing at most limit changes (0: all). It
// streams both runs' keys once, in key order.
func (s *Store) Compare(ctx context.Context, a, b string, limit int) (*Comparison, error) {
	c := &Comparison{A: a, B: b, Changes: []Change{}}
	// Both runs' keys in key order (each from its primary key, no sort),
	// merged here: every dialect orders text bytewise, as Go does.
	next := func(run string) (func() (Key, probe.Verdict, bool), func() error, error) {
		rows, err := s.query(ctx, "SELECT vantage, input, verdict FROM "+s.d.from("measurements")+" WHERE run_id = ? ORDER BY vantage, input", run)
		if err != nil {
			return nil, nil, err
		}
		var ferr error
		return func() (Key, probe.Verdict, bool) {
				if ferr != nil || !rows.Next() {
					return Key{}, "", false
				}
				var k Key
				var v string
				if ferr = rows.Scan(&k.Vantage, &k.Input, &v); ferr != nil {
					return Key{}, "", false
				}
				return k, probe.Verdict(v), true
			}, func() error {
				defer rows.Close()
				if ferr != nil {
					return ferr
				}
				return rows.Err()
			}, nil
	}
	nextA, doneA, err := next(a)
	if err != nil {
		return nil, fmt.Errorf("store: compare: %w", err)
	}
	nextB, doneB, err := next(b)
	if err != nil {
		doneA()
		return nil, fmt.Errorf("store: compare: %w", err)
	}
	var changed []Change
	note := func(k Key, va, vb probe.Verdict) {
		switch {
		case va == vb:
			c.Same++
		case limit <= 0 || len(changed) < limit:
			changed = append(changed, Change{Key: k, A: va, B: vb})
			c.Changed++
		default:
			c.Changed++
		}
	}
	ka, va, okA := nextA()
	kb, vb, okB := nextB()
	for okA || okB {
		switch {
		case okA && okB && ka == kb:
			note(ka, va, vb)
			ka, va, okA = nextA()
			kb, vb, okB = nextB()
		case okA && (!okB || compareKey(ka, kb) < 0):
			note(ka, va, "")
			ka, va, okA = nextA()
		default:
			note(kb, "", vb)
			kb, vb, okB = nextB()
		}
	}
	errA, errB := doneA(), doneB()
	if err := errors.Join(errA, errB); err != nil {
		return nil, fmt.Errorf("store: compare: %w", err)
	}
	// What the changed sites are, from whichever run has them.
	for _, run := range []string{a, b} {
		var keys []Key
		for _, ch := range changed {
			if ch.Domain == "" && (run == a && ch.A != "" || run == b && ch.B != "") {
				keys = append(keys, ch.Key)
			}
		}
		for start := 0; start < len(keys); start += 500 {
			sums, err := s.summaries(ctx, run, keys[start:min(start+500, len(keys))])
			if err != nil {
				return nil, err
			}
			by := map[Key]Summary{}
			for _, m := range sums {
				by[m.Key] = m
			}
			for i := range changed {
				if m, ok := by[changed[i].Key]; ok && changed[i].Domain == "" {
					changed[i].Domain, changed[i].Category, changed[i].CC = m.Domain, m.Category, m.CC
				}
			}
		}
	}
	c.Changes = append(c.Changes, changed...)
	ha, err := s.Heatmap(ctx, a, false)
	if err != nil {
		return nil, err
	}
	hb, err := s.Heatmap(ctx, b, false)
	if err != nil {
		return nil, err
	}
	pairs := map[cellKey]*CellChange{}
	var keys []cellKey
	for i, h := range [][]Cell{ha, hb} {
		for _, cell := range h {
			k := cellKey{cell.CC, cell.Category}
			p, ok := pairs[k]
			if !ok {
				p = &CellChange{CC: cell.CC, Category: cell.Category,
					A: Cell{CC: cell.CC, Category: cell.Category, Counts: map[probe.Verdict]int64{}},
					B: Cell{CC: cell.CC, Category: cell.Category, Counts: map[probe.Verdict]int64{}}}
				pairs[k] = p
				keys = append(keys, k)
			}
			if i == 0 {
				p.A = cell
			} else {
				p.B = cell
			}
		}
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].cc != keys[j].cc {
			return keys[i].cc < keys[j].cc
		}
		return keys[i].category < keys[j].category
	})
	cats := map[string]*CellChange{}
	var catOrder []string
	for _, k := range keys {
		p := pairs[k]
		c.Cells = append(c.Cells, *p)
		cc, ok := cats[k.category]
		if !ok {
			cc = &CellChange{Category: k.category,
				A: Cell{Category: k.category, Counts: map[probe.Verdict]int64{}},
				B: Cell{Category: k.category, Counts: map[probe.Verdict]int64{}}}
			cats[k.category] = cc
			catOrder = append(catOrder, k.category)
		}
		for _, side := range []struct{ from, to *Cell }{{&p.A, &cc.A}, {&p.B, &cc.B}} {
			side.to.Total += side.from.Total
			for v, n := range side.from.Counts {
				side.to.Counts[v] += n
			}
		}
	}
	sort.Strings(catOrder)
	for _, cat := range catOrder {
		c.Categories = append(c.Categories, *cats[cat])
	}
	return c, nil
}

// RuleUse is a rule of a run's policies with what it did in the run.
type RuleUse struct {
	Rule
	// Actions counts the rule's decisions per action.
	Actions   map[string]int64 `json:"actions"`
	Decisions int64            `json:"decisions"`
}

// Rules lists the rules of a run (those it was begun with, and any other
// that took a decision), with their decisions counted, by jurisdiction,
// policy and rule.
func (s *Store) Rules(ctx context.Context, run string) ([]RuleUse, error) {
	uses := map[ruleKey]*RuleUse{}
	rows, err := s.query(ctx, "SELECT policy, rule, jurisdiction, description, source, year FROM "+s.d.from("rules")+" WHERE run_id = ?", run)
	if err != nil {
		return nil, fmt.Errorf("store: rules of %s: %w", run, err)
	}
	for rows.Next() {
		var r Rule
		var year sql.NullInt64
		if err := rows.Scan(&r.Policy, &r.Rule, &r.Jurisdiction, &r.Description, &r.Source, &year); err != nil {
			rows.Close()
			return nil, fmt.Errorf("store: rules of %s: %w", run, err)
		}
		r.Year = int(year.Int64)
		uses[ruleKey{r.Policy, r.Rule}] = &RuleUse{Rule: r, Actions: map[string]int64{}}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: rules of %s: %w", run, err)
	}
	rows, err = s.query(ctx, "SELECT policy, rule, jurisdiction, action, count(*) FROM "+s.d.from("decisions")+" WHERE run_id = ? GROUP BY policy, rule, jurisdiction, action", run)
	if err != nil {
		return nil, fmt.Errorf("store: rules of %s: %w", run, err)
	}
	defer rows.Close()
	for rows.Next() {
		var pol, rule, jur, action string
		var n int64
		if err := rows.Scan(&pol, &rule, &jur, &action, &n); err != nil {
			return nil, fmt.Errorf("store: rules of %s: %w", run, err)
		}
		u, ok := uses[ruleKey{pol, rule}]
		if !ok {
			u = &RuleUse{Rule: Rule{Policy: pol, Rule: rule, Jurisdiction: jur}, Actions: map[string]int64{}}
			uses[ruleKey{pol, rule}] = u
		}
		u.Actions[action] += n
		u.Decisions += n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: rules of %s: %w", run, err)
	}
	out := make([]RuleUse, 0, len(uses))
	for _, u := range uses {
		out = append(out, *u)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Jurisdiction != b.Jurisdiction {
			return a.Jurisdiction < b.Jurisdiction
		}
		if a.Policy != b.Policy {
			return a.Policy < b.Policy
		}
		return a.Rule.Rule < b.Rule.Rule
	})
	return out, nil
}

// oonis yields the measurements (OONI's JSON) that query, with args,
// selects; an error ends the sequence.
func (s *Store) oonis(ctx context.Context, run, query string, args ...any) iter.Seq2[*probe.Measurement, error] {
	return func(yield func(*probe.Measurement, error) bool) {
		rows, err := s.query(ctx, query, args...)
		if err != nil {
			yield(nil, fmt.Errorf("store: measurements of %s: %w", run, err))
			return
		}
		defer rows.Close()
		for rows.Next() {
			var raw string
			var m probe.Measurement
			err := rows.Scan(&raw)
			if err == nil {
				err = json.Unmarshal([]byte(raw), &m)
			}
			if err != nil {
				yield(nil, fmt.Errorf("store: measurements of %s: %w", run, err))
				return
			}
			if !yield(&m, nil) {
				return
			}
		}
		if err := rows.Err(); err != nil {
			yield(nil, fmt.Errorf("store: measurements of %s: %w", run, err))
		}
	}
}
