package clock

import (
	"sync"
	"time"
)

// Offset is the system clock moved to another date: it starts at a chosen
// time and runs at real speed from there, and it can jump forward (Jump), as
// `splinter run --at 2022-06-01` needs (every rule's validity follows the
// world's date) and as `splinter evade` needs to skip a censor's residual
// window honestly between trials without waiting for it. A jump fires every
// timer that came due. The zero value is not usable; use NewOffset.
type Offset struct {
	mu     sync.Mutex
	offset time.Duration // added to the system clock
	timers map[*offsetTimer]struct{}
}

// NewOffset returns a clock that reads start now.
func NewOffset(start time.Time) *Offset {
	return &Offset{offset: time.Until(start), timers: map[*offsetTimer]struct{}{}}
}

// Now returns the system time moved by the offset.
func (c *Offset) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

type offsetTimer struct {
	c   *Offset
	at  time.Time // on c
	f   func()
	ch  chan time.Time
	sys *time.Timer
}

func (t *offsetTimer) C() <-chan time.Time { return t.ch }

func (t *offsetTimer) Stop() bool {
	t.c.mu.Lock()
	_, live := t.c.timers[t]
	delete(t.c.timers, t)
	t.c.mu.Unlock()
	return t.sys.Stop() && live
}

func (t *offsetTimer) fire() {
	t.c.mu.Lock()
	_, live := t.c.timers[t]
	delete(t.c.timers, t)
	t.c.mu.Unlock()
	if !live {
		return
	}
	if t.f != nil {
		t.f()
		return
	}
	select {
	case t.ch <- t.at:
	default:
	}
}

// NewTimer returns a timer firing after d on this clock.
func (c *Offset) NewTimer(d time.Duration) Timer {
	return c.add(&offsetTimer{c: c, ch: make(chan time.Time, 1)}, d)
}

// AfterFunc calls f in its own goroutine after d on this clock.
func (c *Offset) AfterFunc(d time.Duration, f func()) Timer {
	return c.add(&offsetTimer{c: c, f: f}, d)
}

func (c *Offset) add(t *offsetTimer, d time.Duration) Timer {
	c.mu.Lock()
	t.at = time.Now().Add(c.offset + d)
	c.timers[t] = struct{}{}
	t.sys = time.AfterFunc(d, t.fire)
	c.mu.Unlock()
	return t
}

// Jump moves the clock forward by d at once and fires every timer that came
// due.
func (c *Offset) Jump(d time.Duration) {
	if d <= 0 {
		return
	}
	c.mu.Lock()
	c.offset += d
	now := time.Now().Add(c.offset)
	for t := range c.timers {
		if left := t.at.Sub(now); left > 0 {
			t.sys.Reset(left)
		} else {
			t.sys.Reset(0)
		}
	}
	c.mu.Unlock()
}
