package clock

import (
	"slices"
	"sync"
	"time"
)

// Manual is a Clock that moves only when told to (Advance, Set): tests use
// it to step over a 90-second residual window, a 15-second hold or a probe
// timeout without waiting for it. Its zero value starts at the zero time;
// NewManual sets a realistic start.
type Manual struct {
	mu     sync.Mutex
	now    time.Time
	seq    uint64
	timers []*manualTimer
}

// NewManual returns a manual clock set to start.
func NewManual(start time.Time) *Manual { return &Manual{now: start} }

type manualTimer struct {
	c       *Manual
	at      time.Time
	seq     uint64
	f       func()
	ch      chan time.Time
	stopped bool
}

func (t *manualTimer) C() <-chan time.Time { return t.ch }

func (t *manualTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	if t.stopped {
		return false
	}
	t.stopped = true
	t.c.timers = slices.DeleteFunc(t.c.timers, func(o *manualTimer) bool { return o == t })
	return true
}

// Now returns the clock's time.
func (c *Manual) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// NewTimer returns a timer that fires when the clock has been advanced by
// d. A zero or negative d fires at once.
func (c *Manual) NewTimer(d time.Duration) Timer {
	t := &manualTimer{c: c, ch: make(chan time.Time, 1)}
	c.schedule(t, d)
	return t
}

// AfterFunc schedules f, in its own goroutine, for when the clock has been
// advanced by d. A zero or negative d runs f at once.
func (c *Manual) AfterFunc(d time.Duration, f func()) Timer {
	t := &manualTimer{c: c, f: f}
	c.schedule(t, d)
	return t
}

func (c *Manual) schedule(t *manualTimer, d time.Duration) {
	c.mu.Lock()
	t.at = c.now.Add(d)
	if d <= 0 {
		t.stopped = true
		now := c.now
		c.mu.Unlock()
		t.fire(now, false)
		return
	}
	c.seq++
	t.seq = c.seq
	c.timers = append(c.timers, t)
	c.mu.Unlock()
}

func (t *manualTimer) fire(now time.Time, sync bool) {
	if t.f != nil {
		if sync {
			t.f()
		} else {
			go t.f()
		}
		return
	}
	select {
	case t.ch <- now:
	default:
	}
}

// Advance moves the clock forward by d and fires, in time order, every
// timer that came due. AfterFunc functions that came due run synchronously,
// in time order, before Advance returns, so a test sees their effects at
// once (an immediate AfterFunc, d ≤ 0, runs in its own goroutine).
func (c *Manual) Advance(d time.Duration) {
	c.mu.Lock()
	c.set(c.now.Add(d))
}

// Set moves the clock to t (never backwards) and fires what came due.
func (c *Manual) Set(t time.Time) {
	c.mu.Lock()
	if t.Before(c.now) {
		t = c.now
	}
	c.set(t)
}

// set moves the clock (c.mu held; released here) and fires due timers.
func (c *Manual) set(now time.Time) {
	c.now = now
	var due []*manualTimer
	c.timers = slices.DeleteFunc(c.timers, func(t *manualTimer) bool {
		if t.at.After(now) {
			return false
		}
		t.stopped = true
		due = append(due, t)
		return true
	})
	c.mu.Unlock()
	slices.SortFunc(due, func(a, b *manualTimer) int {
		if c := a.at.Compare(b.at); c != 0 {
			return c
		}
		return int(a.seq - b.seq)
	})
	for _, t := range due {
		t.fire(t.at, true)
	}
}

// Pending is the number of timers waiting to fire: tests use it to wait
// until something has armed its timer before advancing.
func (c *Manual) Pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}
