package probe

import (
	"context"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/splinter-lab/splinter/clock"
)

// PacerConfig tunes a Pacer. The zero value is usable: the defaults below.
type PacerConfig struct {
	// MaxInFlight is the most measurements in flight at once; 0 means 256.
	MaxInFlight int
	// MinInFlight is the fewest the bound is lowered to; 0 means 8.
	MinInFlight int
	// StartInFlight is the bound at first; 0 means 64 (at most
	// MaxInFlight).
	StartInFlight int
	// TargetDelay is the scheduling delay the pacer holds measurements
	// to: when a window's 90th percentile is above it, the bound is cut
	// by a quarter; under half of it, with measurements waiting, the
	// bound grows by an eighth. 0 means 20 ms.
	TargetDelay time.Duration
	// BusyRTT is how many times its smallest (or 10 ms) the round trip
	// may grow before the bound is cut as for the delay; 0 means 4.
	BusyRTT float64
	// Interval is the period of the scheduling-delay sampler: a timer of
	// this length, and how late it fired; 0 means 10 ms.
	Interval time.Duration
	// Window is how often the bound and the timeout factor are revised,
	// from the samples since the last revision; 0 means 500 ms.
	Window time.Duration
	// RTTInterval is the pause between two round trips timed by the RTT
	// function given to Start; 0 means 250 ms.
	RTTInterval time.Duration
	// MaxFactor caps the timeout factor; 0 means 8.
	MaxFactor float64
	// Clock is the sampler's time (its timers and how late they fire) and
	// the windows'; nil is the system clock. Tests give a manual clock and
	// feed samples with ObserveDelay and ObserveRTT.
	Clock clock.Clock
}

// Reference values of the timeout factor: a window's 90th-percentile
// scheduling delay adds one to it per delayRef; the round trip's growth
// over its smallest adds one per rttRef or per the smallest, whichever is
// longer (the world's paths run about 20 to 250 ms: the growth is the
// queueing every path meets, so a short path's ratio would overstate it);
// rttFloor keeps a short path's jitter from reading as load.
const (
	delayRef   = 200 * time.Millisecond
	rttRef     = 100 * time.Millisecond
	rttFloor   = 10 * time.Millisecond
	factorHalf = time.Second // the factor's decay towards its raw value
)

// A Pacer keeps measurements steady on a busy machine. It samples how late
// a timer fires (the Go scheduler's delay: it grows when the machine's
// cores are contended, or when the process has more runnable work than it
// gets to run) and, given a way to time one, the world's round trip to a
// fixed host, and from those it gives:
//
//   - Factor, by which a prober that has the pacer (Config.Pacer)
//     stretches its timeouts: 1 + the larger of the round trip's growth
//     over its smallest, in units of 100 ms (or of the smallest, if
//     longer), and the delay's 90th percentile in units of 200 ms, capped
//     at PacerConfig.MaxFactor; it follows a rise at once and a fall with
//     a half-life of 1 s;
//   - a bound on the measurements in flight (each attempt of
//     WebConnectivity holds one place), revised every window: cut by a
//     quarter while the delay or the round trip shows the machine is not
//     keeping up (no more often than every two windows, so a cut takes
//     effect before the next), raised by an eighth while it keeps up and
//     measurements wait (a measurement's load comes seconds after it
//     starts, so a faster rise overshoots);
//   - the figures of Health: the delay's median, 99th percentile and
//     maximum, the round trips, the factor and the bound over its life.
//
// The bound is what keeps verdicts from depending on load: in-process
// work is a queue, and a measurement's steps take as long as the work
// queued before them; the factor covers what is left (another process's
// load, which no bound removes). Its methods are safe for concurrent use;
// the zero value is not usable (NewPacer).
type Pacer struct {
	cfg PacerConfig
	clk clock.Clock

	mu       sync.Mutex
	limit    int
	inFlight int
	peak     int // the most in flight or waiting this window
	waiters  []*pacerWaiter
	lastCut  time.Time
	winStart time.Time
	lastRev  time.Time
	window   []time.Duration // delays since the last revision
	rtts     []time.Duration // the last round trips
	rttBase  time.Duration   // the smallest round trip
	factor   float64

	delays    histogram
	rttHist   histogram
	factorMax float64
	factors   []float64 // the factor at each revision
	limitMin  int
	limitMax  int
}

type pacerWaiter struct {
	ch      chan struct{}
	granted bool
}

// NewPacer returns a pacer; Start starts its sampling.
func NewPacer(cfg PacerConfig) *Pacer {
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = 256
	}
	if cfg.MinInFlight <= 0 {
		cfg.MinInFlight = 8
	}
	cfg.MinInFlight = min(cfg.MinInFlight, cfg.MaxInFlight)
	if cfg.StartInFlight <= 0 {
		cfg.StartInFlight = 64
	}
	cfg.StartInFlight = min(max(cfg.StartInFlight, cfg.MinInFlight), cfg.MaxInFlight)
	if cfg.TargetDelay <= 0 {
		cfg.TargetDelay = 20 * time.Millisecond
	}
	if cfg.BusyRTT <= 1 {
		cfg.BusyRTT = 4
	}
	if cfg.Interval <= 0 {
		cfg.Interval = 10 * time.Millisecond
	}
	if cfg.Window <= 0 {
		cfg.Window = 500 * time.Millisecond
	}
	if cfg.RTTInterval <= 0 {
		cfg.RTTInterval = 250 * time.Millisecond
	}
	if cfg.MaxFactor < 1 {
		cfg.MaxFactor = 8
	}
	clk := clock.Or(cfg.Clock)
	now := clk.Now()
	return &Pacer{cfg: cfg, clk: clk, limit: cfg.StartInFlight, winStart: now, lastRev: now,
		factor: 1, factorMax: 1, limitMin: cfg.StartInFlight, limitMax: cfg.StartInFlight}
}

// Config returns the pacer's configuration with defaults filled in.
func (p *Pacer) Config() PacerConfig { return p.cfg }

// Start samples until ctx ends: the scheduling delay every
// PacerConfig.Interval and, if rtt is not nil, a round trip every
// PacerConfig.RTTInterval, timed by rtt (a ping across the world). A round
// trip that fails counts for the time it took when that is longer than
// the last one seen. It returns at once.
func (p *Pacer) Start(ctx context.Context, rtt func(context.Context) (time.Duration, error)) {
	p.mu.Lock()
	p.winStart, p.lastRev = p.clk.Now(), p.clk.Now() // no window spans the time before
	p.mu.Unlock()
	go func() {
		for ctx.Err() == nil {
			t0 := p.clk.Now()
			if clock.Sleep(ctx, p.clk, p.cfg.Interval) != nil {
				return
			}
			p.ObserveDelay(max(p.clk.Now().Sub(t0)-p.cfg.Interval, 0))
		}
	}()
	if rtt == nil {
		return
	}
	go func() {
		for ctx.Err() == nil {
			t0 := p.clk.Now()
			d, err := rtt(ctx)
			if ctx.Err() != nil {
				return
			}
			if err != nil {
				d = p.clk.Now().Sub(t0)
				p.mu.Lock()
				last := time.Duration(0)
				if len(p.rtts) > 0 {
					last = p.rtts[len(p.rtts)-1]
				}
				p.mu.Unlock()
				if d <= last {
					d = 0
				}
			}
			if d > 0 {
				p.ObserveRTT(d)
			}
			if clock.Sleep(ctx, p.clk, p.cfg.RTTInterval) != nil {
				return
			}
		}
	}()
}

// ObserveDelay records one sample of the scheduling delay: how much later
// than asked a timer fired. The sampler of Start calls it; tests call it
// with delays of their choosing.
func (p *Pacer) ObserveDelay(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.window = append(p.window, d)
	p.delays.add(d)
	p.reviseLocked()
}

// ObserveRTT records one round trip across the world.
func (p *Pacer) ObserveRTT(d time.Duration) {
	if d <= 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.rttBase == 0 || d < p.rttBase {
		p.rttBase = d
	}
	p.rtts = append(p.rtts, d)
	if len(p.rtts) > 4 {
		p.rtts = p.rtts[len(p.rtts)-4:]
	}
	p.rttHist.add(d)
	p.reviseLocked()
}

// Factor is what timeouts are multiplied by now: 1 on a machine that
// keeps up, at most PacerConfig.MaxFactor. A nil pacer's factor is 1.
func (p *Pacer) Factor() float64 {
	if p == nil {
		return 1
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.reviseLocked()
	return p.factor
}

// Limit is the bound on measurements in flight now.
func (p *Pacer) Limit() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.reviseLocked()
	return p.limit
}

// InFlight is how many measurements hold a place now.
func (p *Pacer) InFlight() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.inFlight
}

// Waiting is how many measurements wait for a place now.
func (p *Pacer) Waiting() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.waiters)
}

// Acquire waits for a place among the measurements in flight and returns
// the function that gives it back (call it once). Places are given in
// order of asking, except that first (a measurement tried again) goes
// ahead of the queue. A nil pacer gives places at once. When ctx ends
// first, Acquire returns ctx's error and a release that does nothing.
func (p *Pacer) Acquire(ctx context.Context, first bool) (release func(), err error) {
	if p == nil {
		return func() {}, nil
	}
	p.mu.Lock()
	p.reviseLocked()
	if p.inFlight < p.limit && len(p.waiters) == 0 {
		p.inFlight++
		p.peak = max(p.peak, p.inFlight)
		p.mu.Unlock()
		return p.releaser(), nil
	}
	w := &pacerWaiter{ch: make(chan struct{})}
	if first {
		p.waiters = slices.Insert(p.waiters, 0, w)
	} else {
		p.waiters = append(p.waiters, w)
	}
	p.peak = max(p.peak, p.inFlight+len(p.waiters))
	p.mu.Unlock()
	select {
	case <-w.ch:
		return p.releaser(), nil
	case <-ctx.Done():
		p.mu.Lock()
		defer p.mu.Unlock()
		if w.granted {
			p.inFlight--
			p.grantLocked()
		} else {
			p.waiters = slices.DeleteFunc(p.waiters, func(o *pacerWaiter) bool { return o == w })
		}
		return func() {}, ctx.Err()
	}
}

func (p *Pacer) releaser() func() {
	var once sync.Once
	return func() {
		once.Do(func() {
			p.mu.Lock()
			p.inFlight--
			p.grantLocked()
			p.mu.Unlock()
		})
	}
}

// grantLocked gives free places to the waiters, in order.
func (p *Pacer) grantLocked() {
	for p.inFlight < p.limit && len(p.waiters) > 0 {
		w := p.waiters[0]
		p.waiters = p.waiters[1:]
		w.granted = true
		p.inFlight++
		close(w.ch)
	}
}

// reviseLocked revises the bound and the factor once a window has passed
// since the last revision.
func (p *Pacer) reviseLocked() {
	now := p.clk.Now()
	if now.Sub(p.winStart) < p.cfg.Window {
		return
	}
	// A window without a sample: the sampler itself did not get to run.
	delay := now.Sub(p.winStart) - p.cfg.Interval
	if len(p.window) > 0 {
		delay = quantile(p.window, 0.9)
	}
	p.window = p.window[:0]
	rtt := p.rttLocked()
	busy := delay > p.cfg.TargetDelay || rtt > 0 && float64(rtt) > p.cfg.BusyRTT*float64(max(p.rttBase, rttFloor))
	demand := p.peak >= p.limit || len(p.waiters) > 0
	switch {
	case busy && now.Sub(p.lastCut) >= 2*p.cfg.Window:
		base := p.limit
		if p.inFlight < base {
			base = p.inFlight
		}
		p.limit = max(p.cfg.MinInFlight, base*3/4)
		p.lastCut = now
	case !busy && delay < p.cfg.TargetDelay/2 && demand:
		p.limit = min(p.cfg.MaxInFlight, p.limit+max(2, p.limit/8))
	}
	p.limitMin, p.limitMax = min(p.limitMin, p.limit), max(p.limitMax, p.limit)
	p.peak = p.inFlight + len(p.waiters)
	p.grantLocked()

	raw := 1 + float64(delay)/float64(delayRef)
	if rtt > 0 {
		raw = max(raw, 1+float64(rtt-p.rttBase)/float64(max(p.rttBase, rttRef)))
	}
	raw = min(max(raw, 1), p.cfg.MaxFactor)
	if raw >= p.factor {
		p.factor = raw
	} else {
		dt := now.Sub(p.lastRev)
		p.factor = raw + (p.factor-raw)*math.Exp2(-float64(dt)/float64(factorHalf))
	}
	p.factorMax = max(p.factorMax, p.factor)
	p.factors = append(p.factors, p.factor)
	p.winStart, p.lastRev = now, now
}

// rttLocked is the median of the last round trips; 0 without them.
func (p *Pacer) rttLocked() time.Duration {
	if len(p.rtts) == 0 {
		return 0
	}
	return quantile(p.rtts, 0.5)
}

// PacerStats are a pacer's figures over its life.
type PacerStats struct {
	// DelaySamples is how many scheduling-delay samples were taken.
	DelaySamples int
	// DelayMedian, DelayP99 and DelayMax are the scheduling delay's
	// median, 99th percentile (to within 10%) and maximum.
	DelayMedian, DelayP99, DelayMax time.Duration
	// RTTBase, RTTMedian and RTTMax are the round trips' smallest,
	// median and largest (zero without round trips).
	RTTBase, RTTMedian, RTTMax time.Duration
	// FactorMedian and FactorMax are the timeout factor's median over the
	// windows and its largest.
	FactorMedian, FactorMax float64
	// LimitStart, LimitMin, LimitMax and Limit are the bound on
	// measurements in flight: at first, its smallest, its largest, and now.
	LimitStart, LimitMin, LimitMax, Limit int
}

// Stats returns the pacer's figures so far.
func (p *Pacer) Stats() PacerStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := PacerStats{
		DelaySamples: p.delays.n,
		DelayMedian:  p.delays.quantile(0.5), DelayP99: p.delays.quantile(0.99), DelayMax: p.delays.max,
		RTTBase: p.rttBase, RTTMedian: p.rttHist.quantile(0.5), RTTMax: p.rttHist.max,
		FactorMedian: 1, FactorMax: p.factorMax,
		LimitStart: p.cfg.StartInFlight, LimitMin: p.limitMin, LimitMax: p.limitMax, Limit: p.limit,
	}
	if len(p.factors) > 0 {
		s.FactorMedian = quantileF(p.factors, 0.5)
	}
	return s
}

// quantile is the q-quantile of ds (nearest rank); ds is not changed.
func quantile(ds []time.Duration, q float64) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[int(q*float64(len(s)-1)+0.5)]
}

func quantileF(fs []float64, q float64) float64 {
	s := slices.Clone(fs)
	slices.Sort(s)
	return s[int(q*float64(len(s)-1)+0.5)]
}

// histogram counts durations in buckets 10% wide, from 1 µs to about
// three minutes, so a pacer's figures take fixed memory however long it
// runs.
type histogram struct {
	n   int
	max time.Duration
	b   [histBuckets]int
}

const (
	histBuckets = 200
	histBase    = time.Microsecond
	histGrowth  = 1.1
)

func (h *histogram) add(d time.Duration) {
	h.n++
	h.max = max(h.max, d)
	i := 0
	if d >= histBase {
		i = 1 + int(math.Log(float64(d)/float64(histBase))/math.Log(histGrowth))
	}
	h.b[min(i, histBuckets-1)]++
}

// quantile is the q-quantile, as the middle of its bucket (never more
// than the largest sample); 0 for an empty histogram.
func (h *histogram) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := int(q*float64(h.n-1)+0.5) + 1
	seen := 0
	for i, c := range h.b {
		seen += c
		if seen < rank {
			continue
		}
		if i == 0 {
			return 0
		}
		lo := float64(histBase) * math.Pow(histGrowth, float64(i-1))
		return min(time.Duration(lo*(1+histGrowth)/2), h.max)
	}
	return h.max
}
