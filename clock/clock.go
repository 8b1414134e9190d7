// Package clock is the one notion of time shared by every part of a
// splinter world: the fabric's link models and delayed packets (world), the
// censors' timers and residual windows (border), the probes' timeouts and
// waits (probe) and the resolvers' caches (nameserver). A test that gives
// them all the same Manual clock controls delays, residual windows,
// throttling queues and probe timeouts alike; a run at a past date gives
// them an Offset clock that starts at that date and can jump forward.
//
// It owns time sources and timers only; it does not know what waits on
// them.
package clock

import (
	"context"
	"time"
)

// Clock is a source of time and timers. Implementations are safe for
// concurrent use.
type Clock interface {
	// Now returns the clock's current time.
	Now() time.Time
	// NewTimer returns a timer that sends the time on its channel once d
	// has passed on this clock.
	NewTimer(d time.Duration) Timer
	// AfterFunc calls f in its own goroutine once d has passed on this
	// clock. The returned timer's C is nil.
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a stoppable timer of a Clock.
type Timer interface {
	// C delivers the time when the timer fires; nil for AfterFunc timers.
	C() <-chan time.Time
	// Stop prevents the timer from firing; it reports whether it did.
	Stop() bool
}

// System is the machine's clock.
var System Clock = system{}

type system struct{}

func (system) Now() time.Time { return time.Now() }
func (system) NewTimer(d time.Duration) Timer {
	return sysTimer{t: time.NewTimer(d), c: true}
}
func (system) AfterFunc(d time.Duration, f func()) Timer {
	return sysTimer{t: time.AfterFunc(d, f)}
}

type sysTimer struct {
	t *time.Timer
	c bool
}

func (t sysTimer) C() <-chan time.Time {
	if !t.c {
		return nil
	}
	return t.t.C
}
func (t sysTimer) Stop() bool { return t.t.Stop() }

// Or returns c, or System if c is nil: the reading of every optional clock
// in splinter's configs.
func Or(c Clock) Clock {
	if c == nil {
		return System
	}
	return c
}

// Sleep waits for d on c, or until ctx ends (returning its error).
func Sleep(ctx context.Context, c Clock, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := c.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C():
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// WithTimeout is context.WithTimeout on c: the returned context is
// cancelled (with context.DeadlineExceeded as its cause and error) once d
// has passed on c. On the system clock it is context.WithTimeout itself.
func WithTimeout(ctx context.Context, c Clock, d time.Duration) (context.Context, context.CancelFunc) {
	if _, ok := c.(system); ok || c == nil {
		return context.WithTimeout(ctx, d)
	}
	ctx, cancel := context.WithCancelCause(ctx)
	t := c.AfterFunc(d, func() { cancel(context.DeadlineExceeded) })
	return deadlineCtx{ctx}, func() {
		t.Stop()
		cancel(context.Canceled)
	}
}

// deadlineCtx reports a timeout's cause as its error, as
// context.WithTimeout does, so that callers checking
// errors.Is(ctx.Err(), context.DeadlineExceeded) see it.
type deadlineCtx struct{ context.Context }

func (c deadlineCtx) Err() error {
	if c.Context.Err() == nil {
		return nil
	}
	return context.Cause(c.Context)
}
