package border

import (
	"sort"
	"sync"
	"time"
)

// Clock is the engine's time source. The zero Config uses the system clock.
type Clock interface {
	Now() time.Time
	// AfterFunc calls f in its own goroutine after d.
	AfterFunc(d time.Duration, f func())
}

type systemClock struct{}

func (systemClock) Now() time.Time                      { return time.Now() }
func (systemClock) AfterFunc(d time.Duration, f func()) { time.AfterFunc(d, f) }

// ManualClock is a Clock that moves only when told to: tests use it to step
// over a residual window without waiting for it. Its zero value starts at
// the zero time; use NewManualClock for a realistic start.
type ManualClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []manualTimer
}

type manualTimer struct {
	at time.Time
	f  func()
}

// NewManualClock returns a manual clock set to start.
func NewManualClock(start time.Time) *ManualClock { return &ManualClock{now: start} }

// Now returns the clock's time.
func (c *ManualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// AfterFunc schedules f for when the clock has been advanced past d from now.
// A zero or negative d runs f at once.
func (c *ManualClock) AfterFunc(d time.Duration, f func()) {
	if d <= 0 {
		go f()
		return
	}
	c.mu.Lock()
	c.timers = append(c.timers, manualTimer{at: c.now.Add(d), f: f})
	c.mu.Unlock()
}

// Advance moves the clock forward by d and runs, in time order and
// synchronously, every function that came due.
func (c *ManualClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	now := c.now
	var due, rest []manualTimer
	for _, t := range c.timers {
		if !t.at.After(now) {
			due = append(due, t)
		} else {
			rest = append(rest, t)
		}
	}
	c.timers = rest
	c.mu.Unlock()
	sort.SliceStable(due, func(i, j int) bool { return due[i].at.Before(due[j].at) })
	for _, t := range due {
		t.f()
	}
}
