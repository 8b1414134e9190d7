package clock_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/splinter-lab/splinter/clock"
)

var t0 = time.Date(2022, 6, 1, 0, 0, 0, 0, time.UTC)

func TestManualTimersFireInOrderOnAdvance(t *testing.T) {
	c := clock.NewManual(t0)
	var order []int
	c.AfterFunc(3*time.Second, func() { order = append(order, 3) })
	c.AfterFunc(1*time.Second, func() { order = append(order, 1) })
	stopped := c.AfterFunc(2*time.Second, func() { order = append(order, 2) })
	tm := c.NewTimer(90 * time.Second)
	if !stopped.Stop() {
		t.Fatal("Stop of a pending timer reported false")
	}
	c.Advance(5 * time.Second)
	if len(order) != 2 || order[0] != 1 || order[1] != 3 {
		t.Fatalf("fired %v, want [1 3]", order)
	}
	select {
	case <-tm.C():
		t.Fatal("90 s timer fired after 5 s")
	default:
	}
	c.Advance(85 * time.Second)
	select {
	case at := <-tm.C():
		if !at.Equal(t0.Add(90 * time.Second)) {
			t.Fatalf("timer sent %v", at)
		}
	default:
		t.Fatal("90 s timer did not fire after 90 s")
	}
	if got := c.Now(); !got.Equal(t0.Add(90 * time.Second)) {
		t.Fatalf("Now = %v", got)
	}
}

func TestManualWithTimeout(t *testing.T) {
	c := clock.NewManual(t0)
	ctx, cancel := clock.WithTimeout(context.Background(), c, 2*time.Second)
	defer cancel()
	c.Advance(time.Second)
	if ctx.Err() != nil {
		t.Fatal("cancelled before its deadline")
	}
	c.Advance(time.Second)
	<-ctx.Done()
	if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Fatalf("Err = %v, want deadline exceeded", ctx.Err())
	}
}

func TestSleepOnManualClock(t *testing.T) {
	c := clock.NewManual(t0)
	done := make(chan error)
	go func() { done <- clock.Sleep(context.Background(), c, time.Minute) }()
	for c.Pending() == 0 {
		time.Sleep(time.Millisecond)
	}
	select {
	case <-done:
		t.Fatal("Sleep returned before the clock moved")
	case <-time.After(20 * time.Millisecond):
	}
	c.Advance(time.Minute)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestOffsetStartsAtDateAndJumps(t *testing.T) {
	c := clock.NewOffset(t0)
	if d := c.Now().Sub(t0); d < 0 || d > time.Second {
		t.Fatalf("Now is %v after the start", d)
	}
	var fired atomic.Bool
	c.AfterFunc(time.Hour, func() { fired.Store(true) })
	tm := c.NewTimer(2 * time.Hour)
	c.Jump(90 * time.Minute)
	deadline := time.Now().Add(2 * time.Second)
	for !fired.Load() && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if !fired.Load() {
		t.Fatal("a 1 h timer did not fire after a 90 min jump")
	}
	if d := c.Now().Sub(t0); d < 90*time.Minute || d > 91*time.Minute {
		t.Fatalf("after the jump Now is start+%v", d)
	}
	select {
	case <-tm.C():
		t.Fatal("a 2 h timer fired after a 90 min jump")
	case <-time.After(20 * time.Millisecond):
	}
	if !tm.Stop() {
		t.Fatal("Stop of a pending offset timer reported false")
	}
}
