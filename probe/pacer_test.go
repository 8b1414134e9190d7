package probe_test

import (
	"context"
	"errors"
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/splinter-lab/splinter/clock"
	"github.com/splinter-lab/splinter/probe"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// window feeds the pacer one window of scheduling delays (all d) on a
// manual clock and returns the bound after it.
func window(p *probe.Pacer, clk *clock.Manual, d time.Duration) int {
	for range 10 {
		p.ObserveDelay(d)
		clk.Advance(50 * time.Millisecond)
	}
	p.ObserveDelay(d) // revises: a window has passed
	return p.Limit()
}

// hold takes n places and returns what gives them back.
func hold(t *testing.T, p *probe.Pacer, n int) func() {
	t.Helper()
	var rels []func()
	for range n {
		rel, err := p.Acquire(context.Background(), false)
		if err != nil {
			t.Fatal(err)
		}
		rels = append(rels, rel)
	}
	return func() {
		for _, r := range rels {
			r()
		}
	}
}

// waiting queues n measurements behind the bound (demand the pacer sees)
// and returns what cancels them.
func waiting(p *probe.Pacer, n int) func() {
	ctx, cancel := context.WithCancel(context.Background())
	for range n {
		go func() {
			rel, err := p.Acquire(ctx, false)
			if err == nil {
				<-ctx.Done()
				rel()
			}
		}()
	}
	return cancel
}

// TestPacerBound: a window whose delays' 90th percentile is above the
// target cuts the bound by a quarter, no more often than every two
// windows; with the delay back under half the target and measurements
// waiting, it grows by an eighth a window, up to the maximum; without
// measurements waiting it stays.
func TestPacerBound(t *testing.T) {
	clk := clock.NewManual(t0)
	p := probe.NewPacer(probe.PacerConfig{MaxInFlight: 60, StartInFlight: 40, MinInFlight: 8, TargetDelay: 20 * time.Millisecond, Clock: clk})
	release := hold(t, p, 40)
	defer release()
	stop := waiting(p, 100)
	defer stop()
	waitQueue(t, p, 100)

	if got := window(p, clk, 60*time.Millisecond); got != 30 {
		t.Fatalf("after a busy window: bound %d, want 30", got)
	}
	if got := window(p, clk, 60*time.Millisecond); got != 30 {
		t.Fatalf("a second busy window right after a cut: bound %d, want 30 (a cut takes effect first)", got)
	}
	if got := window(p, clk, 60*time.Millisecond); got != 22 {
		t.Fatalf("after a third busy window: bound %d, want 22", got)
	}
	// 15 ms: neither busy nor idle enough to grow.
	if got := window(p, clk, 15*time.Millisecond); got != 22 {
		t.Fatalf("after a window at 15 ms: bound %d, want 22", got)
	}
	// Quiet windows: +max(2, bound/8) each, capped at 60.
	want := []int{24, 27, 30, 33, 37, 41, 46, 51, 57, 60, 60}
	for i, w := range want {
		if got := window(p, clk, time.Millisecond); got != w {
			t.Fatalf("quiet window %d: bound %d, want %d", i+1, got, w)
		}
	}
	stop()
	release()
	for p.InFlight() > 0 {
		time.Sleep(time.Millisecond)
	}
	if got := window(p, clk, time.Millisecond); got != 60 {
		t.Fatalf("bound %d, want 60", got)
	}
	// Idle: nothing in flight, nothing waiting: quiet windows do not grow
	// a bound that is not used.
	p2 := probe.NewPacer(probe.PacerConfig{MaxInFlight: 60, StartInFlight: 40, Clock: clk})
	for range 5 {
		if got := window(p2, clk, time.Millisecond); got != 40 {
			t.Fatalf("idle pacer: bound %d, want 40", got)
		}
	}
	// The bound never goes under MinInFlight.
	p3 := probe.NewPacer(probe.PacerConfig{MaxInFlight: 60, StartInFlight: 10, MinInFlight: 8, Clock: clk})
	for range 6 {
		window(p3, clk, time.Second)
	}
	if got := p3.Limit(); got != 8 {
		t.Fatalf("bound %d after many busy windows, want the minimum 8", got)
	}
	s := p.Stats()
	if s.LimitMin != 22 || s.LimitMax != 60 || s.LimitStart != 40 {
		t.Errorf("stats: bound start %d, min %d, max %d; want 40, 22, 60", s.LimitStart, s.LimitMin, s.LimitMax)
	}
}

// TestPacerRTT: a round trip grown past BusyRTT times its smallest cuts
// the bound as a busy delay does.
func TestPacerRTT(t *testing.T) {
	clk := clock.NewManual(t0)
	p := probe.NewPacer(probe.PacerConfig{MaxInFlight: 60, StartInFlight: 40, Clock: clk})
	release := hold(t, p, 40)
	defer release()
	p.ObserveRTT(20 * time.Millisecond)
	if got := window(p, clk, time.Millisecond); got != 45 {
		t.Fatalf("round trip at its smallest, every place taken: bound %d, want 45", got)
	}
	for range 4 {
		p.ObserveRTT(100 * time.Millisecond) // 5 times the smallest
	}
	if got := window(p, clk, time.Millisecond); got != 30 {
		t.Fatalf("round trip 5× its smallest: bound %d, want 30", got)
	}
}

// TestPacerFactor: the factor is 1 + the larger of the round trip's growth
// over its smallest in units of max(100 ms, smallest) and the delay's 90th
// percentile in units of 200 ms; it rises at once, falls with a half-life
// of 1 s, and is capped.
func TestPacerFactor(t *testing.T) {
	clk := clock.NewManual(t0)
	p := probe.NewPacer(probe.PacerConfig{MaxFactor: 4, Clock: clk})
	near := func(what string, got, want float64) {
		t.Helper()
		if math.Abs(got-want) > 0.01 {
			t.Errorf("%s: factor %.3f, want %.3f", what, got, want)
		}
	}
	window(p, clk, time.Millisecond)
	near("quiet", p.Factor(), 1.005)

	p.ObserveRTT(20 * time.Millisecond)
	for range 4 {
		p.ObserveRTT(170 * time.Millisecond)
	}
	window(p, clk, time.Millisecond)
	near("round trip 150 ms over its smallest", p.Factor(), 2.5)

	for range 4 {
		p.ObserveRTT(20 * time.Millisecond)
	}
	window(p, clk, 100*time.Millisecond)
	// raw 1.5, after half a second of decay from 2.5: 1.5 + 1/√2.
	near("delay 100 ms, half a second later", p.Factor(), 1.5+1/math.Sqrt2)
	window(p, clk, 100*time.Millisecond)
	near("delay 100 ms, a second later", p.Factor(), 2)

	window(p, clk, time.Second)
	near("capped", p.Factor(), 4)
	if s := p.Stats(); s.FactorMax != 4 || s.RTTBase != 20*time.Millisecond || s.RTTMax < 170*time.Millisecond {
		t.Errorf("stats: factor max %.2f, round trip smallest %v largest %v", s.FactorMax, s.RTTBase, s.RTTMax)
	}

	// A long path: its growth counts in units of its own round trip.
	p2 := probe.NewPacer(probe.PacerConfig{Clock: clk})
	p2.ObserveRTT(200 * time.Millisecond)
	for range 4 {
		p2.ObserveRTT(500 * time.Millisecond)
	}
	window(p2, clk, time.Millisecond)
	near("300 ms over a 200 ms path", p2.Factor(), 2.5)

	var nilPacer *probe.Pacer
	if nilPacer.Factor() != 1 {
		t.Error("a nil pacer's factor is not 1")
	}
}

// TestPacerAcquire: places go in order of asking, a measurement tried
// again ahead of the queue; a waiter whose context ends leaves the queue;
// a nil pacer never waits.
func TestPacerAcquire(t *testing.T) {
	p := probe.NewPacer(probe.PacerConfig{MaxInFlight: 1, StartInFlight: 1, MinInFlight: 1, Clock: clock.NewManual(t0)})
	rel, err := p.Acquire(context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	got := make(chan string, 4)
	var done sync.WaitGroup
	queue := func(name string, first bool) {
		done.Add(1)
		go func() {
			defer done.Done()
			r, err := p.Acquire(context.Background(), first)
			if err != nil {
				got <- "error " + name
				return
			}
			got <- name
			r()
		}()
	}
	queue("a", false)
	waitQueue(t, p, 1)
	queue("b", false)
	waitQueue(t, p, 2)
	queue("again", true)
	waitQueue(t, p, 3)
	ctx, cancel := context.WithCancel(context.Background())
	gone := make(chan error)
	go func() {
		_, err := p.Acquire(ctx, false)
		gone <- err
	}()
	waitQueue(t, p, 4)
	cancel()
	if err := <-gone; !errors.Is(err, context.Canceled) {
		t.Fatalf("a cancelled waiter got %v", err)
	}
	rel()
	rel() // a second call does nothing
	for range 3 {
		order = append(order, <-got)
	}
	if order[0] != "again" || order[1] != "a" || order[2] != "b" {
		t.Errorf("places given to %v, want [again a b]", order)
	}
	done.Wait() // the last one released its place after it said its name
	if n := p.InFlight(); n != 0 {
		t.Errorf("%d in flight after every release", n)
	}
	var nilPacer *probe.Pacer
	r, err := nilPacer.Acquire(context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	r()
}

// waitQueue waits until n measurements wait for a place.
func waitQueue(t *testing.T, p *probe.Pacer, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for p.Waiting() != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d waiting, want %d", p.Waiting(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestPacerStart: the sampler measures how late its timer fires, and the
// round trips it is given, until its context ends.
func TestPacerStart(t *testing.T) {
	p := probe.NewPacer(probe.PacerConfig{Interval: time.Millisecond, RTTInterval: time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	var pings atomic.Int64
	p.Start(ctx, func(ctx context.Context) (time.Duration, error) {
		if pings.Add(1)%2 == 0 {
			return 0, errors.New("lost")
		}
		return 30 * time.Millisecond, nil
	})
	deadline := time.Now().Add(10 * time.Second)
	for p.Stats().DelaySamples < 20 || pings.Load() < 4 {
		if time.Now().After(deadline) {
			t.Fatalf("after 10 s: %d delay samples, %d pings", p.Stats().DelaySamples, pings.Load())
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	s := p.Stats()
	if s.RTTBase != 30*time.Millisecond || s.RTTMax != 30*time.Millisecond {
		t.Errorf("round trips: smallest %v, largest %v; want 30 ms (a lost ping shorter than the last is no sample)", s.RTTBase, s.RTTMax)
	}
	if s.DelayMax < 0 || s.DelayMedian > s.DelayMax {
		t.Errorf("delay median %v, max %v", s.DelayMedian, s.DelayMax)
	}
}

// TestPacerStats: the delay's quantiles come from a histogram 10% wide.
func TestPacerStats(t *testing.T) {
	clk := clock.NewManual(t0)
	p := probe.NewPacer(probe.PacerConfig{Clock: clk})
	for i := 1; i <= 1000; i++ {
		p.ObserveDelay(time.Duration(i) * time.Millisecond)
	}
	s := p.Stats()
	within := func(what string, got, want time.Duration) {
		t.Helper()
		if r := float64(got) / float64(want); r < 0.9 || r > 1.1 {
			t.Errorf("%s %v, want %v within 10%%", what, got, want)
		}
	}
	within("median", s.DelayMedian, 500*time.Millisecond)
	within("p99", s.DelayP99, 990*time.Millisecond)
	if s.DelayMax != time.Second || s.DelaySamples != 1000 {
		t.Errorf("max %v, samples %d", s.DelayMax, s.DelaySamples)
	}
}
