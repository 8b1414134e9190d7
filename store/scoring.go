package store

import (
	"context"
	"fmt"
	"iter"
	"net/netip"

	"github.com/splinter-lab/splinter/probe"
)

// The reads that score a run again from the store (`splinter score --db`):
// a run's measurements and decisions are joined process by process and
// vantage by vantage, since each shard ran a world of its own (the same
// addresses, other flows) and its decisions belong to its measurements
// only.

// Origin is one process's measurements from one vantage.
type Origin struct {
	Writer  string `json:"writer"`
	Vantage string `json:"vantage"`
	// Measurements is how many it wrote.
	Measurements int64 `json:"measurements"`
}

// Origins lists the (writer, vantage) pairs of a run's measurements, in
// order.
func (s *Store) Origins(ctx context.Context, run string) ([]Origin, error) {
	rows, err := s.query(ctx, "SELECT writer, vantage, count(*) FROM "+s.d.from("measurements")+
		" WHERE run_id = ? GROUP BY writer, vantage ORDER BY writer, vantage", run)
	if err != nil {
		return nil, fmt.Errorf("store: origins of %s: %w", run, err)
	}
	defer rows.Close()
	var out []Origin
	for rows.Next() {
		var src Origin
		if err := rows.Scan(&src.Writer, &src.Vantage, &src.Measurements); err != nil {
			return nil, fmt.Errorf("store: origins of %s: %w", run, err)
		}
		out = append(out, src)
	}
	return out, rows.Err()
}

// OriginMeasurements yields the measurements src wrote, in input order,
// as the probe wrote them.
func (s *Store) OriginMeasurements(ctx context.Context, run string, src Origin) iter.Seq2[*probe.Measurement, error] {
	return s.oonis(ctx, run, "SELECT ooni FROM "+s.d.from("measurement_json")+
		" WHERE run_id = ? AND vantage = ? AND writer = ? ORDER BY input", run, src.Vantage, src.Writer)
}

// ClientDecisions returns the decisions one writer of a run recorded
// whose client is one of addrs, in time order.
func (s *Store) ClientDecisions(ctx context.Context, run, writer string, addrs []netip.Addr) ([]Decision, error) {
	if len(addrs) == 0 {
		return nil, nil
	}
	args := []any{run, writer}
	for _, a := range addrs {
		args = append(args, addrString(a.Unmap()))
	}
	rows, err := s.query(ctx, "SELECT "+decisionCols+" FROM "+s.d.from("decisions")+" WHERE run_id = ? AND writer = ? AND client_ip IN ("+
		marks(len(addrs))+") ORDER BY time_ns, seq", args...)
	if err != nil {
		return nil, fmt.Errorf("store: decisions of %s: %w", run, err)
	}
	defer rows.Close()
	var out []Decision
	for rows.Next() {
		d, err := scanDecision(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: decisions of %s: %w", run, err)
	}
	return out, nil
}
