package probe

import (
	"context"
	"testing"
	"time"
)

// TestScheduleLimit: with a limit (a pacer's bound), the schedule starts
// no more pairs than the limit and its eighth allow, and those it starts
// are the slow prober's (the most work left), not a share of each; a pair
// done lets the next start.
func TestScheduleLimit(t *testing.T) {
	limit := 8
	ctx := context.Background()
	s := newSchedule(ctx, make([]*Prober, 3), 100, CampaignOptions{
		PerVantage: 32,
		Cost:       func(i int) float64 { return []float64{1, 10, 1}[i] },
		Limit:      func() int { return limit },
	})
	defer s.stop()
	var started []Pair
	for range limit + limit/8 {
		p, ok := s.next()
		if !ok {
			t.Fatal("no pair")
		}
		started = append(started, p)
	}
	for _, p := range started {
		if p.Prober != 1 {
			t.Errorf("started %+v, want the slow prober 1's pairs first", p)
		}
	}
	got := make(chan Pair)
	go func() {
		p, _ := s.next()
		got <- p
	}()
	select {
	case p := <-got:
		t.Fatalf("started %+v beyond the limit", p)
	case <-time.After(100 * time.Millisecond):
	}
	s.done(started[0], time.Second)
	select {
	case <-got:
	case <-time.After(5 * time.Second):
		t.Fatal("a pair done did not let the next start")
	}
}
