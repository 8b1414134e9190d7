package probe

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Input is one URL of a test list, with its Citizen Lab category.
type Input struct {
	URL      string
	Category string
}

// Pair is one measurement of a campaign: an input (its index) measured
// from a prober (its index).
type Pair struct {
	Prober, Input int
}

// CampaignOptions tune Campaign. The zero value is usable.
type CampaignOptions struct {
	// Concurrency bounds the measurements in flight; 0 means 256.
	Concurrency int
	// PerVantage bounds the measurements in flight from one prober (they
	// share its access link); 0 means 32.
	PerVantage int
	// Progress, if not nil, is called after each measurement (from many
	// goroutines, never at once).
	Progress func(done, total int, m *Measurement)
	// Include, if not nil, selects the pairs measured (a shard's share of
	// a campaign); nil measures every pair.
	Include func(Pair) bool
	// Begin, if not nil, is called just before a pair is measured (from
	// many goroutines at once).
	Begin func(Pair)
	// Each, if not nil, receives every measurement as it ends, with its
	// pair (from many goroutines, never at once, and before Progress);
	// Campaign then keeps none and returns nil. A measurement cut short
	// because ctx ended is given to neither.
	Each func(Pair, *Measurement)
	// Cost, if not nil, is a first guess of how long a measurement from
	// prober i takes relative to the others (a slow access link's
	// throughput tests make its measurements longer); the measurements'
	// own durations refine it. Nil guesses alike for every prober.
	Cost func(prober int) float64
}

// Campaign measures every input from every prober with web_connectivity
// (or the pairs opts.Include selects) and returns the measurements prober
// by prober, in input order (none when opts.Each takes them).
//
// The measurements are scheduled from one queue, so that no prober's tail
// sets the campaign's end: whenever a measurement may start, it is the next
// input of the prober with the most work left (its inputs not yet done,
// times how long its measurements take: a guess at first, then their mean
// duration), among those under the per-prober bound. A prober whose access
// link is slow thus starts first and keeps its link busy while the others
// work. Each prober works through its inputs in order, so the control,
// which measures each URL once for all probers, is asked in order too.
func Campaign(ctx context.Context, probers []*Prober, inputs []Input, opts CampaignOptions) []*Measurement {
	if opts.Concurrency <= 0 {
		opts.Concurrency = 256
	}
	if opts.PerVantage <= 0 {
		opts.PerVantage = 32
	}
	s := newSchedule(ctx, probers, len(inputs), opts)
	defer s.stop()
	var out []*Measurement
	if opts.Each == nil {
		out = make([]*Measurement, len(probers)*len(inputs))
	}
	ids := make([]string, len(probers))
	for i, p := range probers {
		ids[i] = ReportID(p.now(), p.cfg.Vantage, fmt.Sprintf("%04d", i))
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	done := 0
	for range min(opts.Concurrency, s.total) {
		wg.Go(func() {
			for {
				pr, ok := s.next()
				if !ok {
					return
				}
				if opts.Begin != nil {
					opts.Begin(pr)
				}
				p, in := probers[pr.Prober], inputs[pr.Input]
				t0 := p.now()
				m := p.WebConnectivity(ctx, in.URL, ids[pr.Prober])
				s.done(pr, p.now().Sub(t0))
				if ctx.Err() != nil {
					return
				}
				if in.Category != "" {
					m.Annotations["category_code"] = in.Category
				}
				mu.Lock()
				done++
				if opts.Each != nil {
					opts.Each(pr, m)
				} else {
					out[pr.Prober*len(inputs)+pr.Input] = m
				}
				if opts.Progress != nil {
					opts.Progress(done, s.total, m)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if opts.Each != nil {
		return nil
	}
	res := out[:0]
	for _, m := range out {
		if m != nil {
			res = append(res, m)
		}
	}
	return res
}

// schedule is Campaign's one queue.
type schedule struct {
	ctx   context.Context
	per   int
	total int
	mu    sync.Mutex
	cond  *sync.Cond
	left  int // pairs not yet started
	vs    []vantageQueue
	sum   time.Duration // of every measurement done
	n     int
	stop  func() bool
}

type vantageQueue struct {
	inputs   []int // in order
	next     int
	inflight int
	prior    float64
	sum      time.Duration
	n        int
}

func newSchedule(ctx context.Context, probers []*Prober, inputs int, opts CampaignOptions) *schedule {
	s := &schedule{ctx: ctx, per: opts.PerVantage, vs: make([]vantageQueue, len(probers))}
	s.cond = sync.NewCond(&s.mu)
	for i := range probers {
		q := &s.vs[i]
		q.prior = 1
		if opts.Cost != nil {
			if c := opts.Cost(i); c > 0 {
				q.prior = c
			}
		}
		for j := range inputs {
			if opts.Include == nil || opts.Include(Pair{i, j}) {
				q.inputs = append(q.inputs, j)
			}
		}
		s.total += len(q.inputs)
	}
	s.left = s.total
	s.stop = context.AfterFunc(ctx, func() {
		s.mu.Lock()
		s.cond.Broadcast()
		s.mu.Unlock()
	})
	return s
}

// pseudo is how many measurements' worth of weight a prober's first guess
// keeps against its measured durations.
const pseudo = 4

// work is how long prober i's remaining work would take one worker.
func (s *schedule) work(i int) float64 {
	q := &s.vs[i]
	mean := 1.0
	if s.n > 0 {
		mean = s.sum.Seconds() / float64(s.n)
	}
	cost := (q.sum.Seconds() + pseudo*q.prior*mean) / float64(q.n+pseudo)
	return float64(len(q.inputs)-q.next+q.inflight) * cost
}

// next takes the next pair to measure, waiting while every prober with
// inputs left is at its bound; false when none is left or ctx ended.
func (s *schedule) next() (Pair, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		if s.ctx.Err() != nil || s.left == 0 {
			return Pair{}, false
		}
		best, most := -1, -1.0
		for i := range s.vs {
			q := &s.vs[i]
			if q.next == len(q.inputs) || q.inflight >= s.per {
				continue
			}
			if w := s.work(i); w > most {
				best, most = i, w
			}
		}
		if best >= 0 {
			q := &s.vs[best]
			p := Pair{best, q.inputs[q.next]}
			q.next++
			q.inflight++
			s.left--
			return p, true
		}
		s.cond.Wait()
	}
}

// done records that p's measurement ended after d.
func (s *schedule) done(p Pair, d time.Duration) {
	s.mu.Lock()
	q := &s.vs[p.Prober]
	q.inflight--
	q.sum += d
	q.n++
	s.sum += d
	s.n++
	s.cond.Broadcast()
	s.mu.Unlock()
}
