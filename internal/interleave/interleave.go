// Package interleave measures two setups against each other on a noisy,
// shared machine: it runs them in alternation (A B, then B A, ...) and
// reports the median of the per-pair ratios, so that a slow spell of the
// machine hits both sides of a pair alike. It also offers the bulk-transfer
// probe the fabric and border benchmarks compare with. Benchmarks only.
package interleave

import (
	"net"
	"slices"
	"sync"
	"testing"
	"time"
)

// Pairs runs rate[0] and rate[1] in alternation b.N times (the order flips
// every pair) and reports each side's median rate under unit and the median
// of the per-pair ratios rate[1]/rate[0] as "x-<names[0]>".
func Pairs(b *testing.B, names [2]string, unit string, rate [2]func() float64) {
	b.Helper()
	var rs [2][]float64
	var ratios []float64
	for i := 0; i < b.N; i++ {
		var r [2]float64
		order := [2]int{0, 1}
		if i%2 == 1 {
			order = [2]int{1, 0}
		}
		for _, s := range order {
			r[s] = rate[s]()
		}
		rs[0], rs[1] = append(rs[0], r[0]), append(rs[1], r[1])
		if r[0] > 0 {
			ratios = append(ratios, r[1]/r[0])
		}
	}
	b.ReportMetric(median(rs[0]), names[0]+"-"+unit)
	b.ReportMetric(median(rs[1]), names[1]+"-"+unit)
	b.ReportMetric(median(ratios), "x-"+names[0])
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// Sink reads everything from the connections ln accepts and counts it.
type Sink struct {
	mu   sync.Mutex
	cond *sync.Cond
	n    int64
}

// NewSink accepts connections on ln until it is closed.
func NewSink(ln net.Listener) *Sink {
	s := &Sink{}
	s.cond = sync.NewCond(&s.mu)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 64<<10)
				for {
					n, err := c.Read(buf)
					s.mu.Lock()
					s.n += int64(n)
					s.cond.Broadcast()
					s.mu.Unlock()
					if err != nil {
						return
					}
				}
			}()
		}
	}()
	return s
}

// Bulk writes n bytes to c and returns the rate in Gbit/s from the first
// write until the sink has read them all (0 if that takes over a minute).
func (s *Sink) Bulk(c net.Conn, n int64) float64 {
	s.mu.Lock()
	target := s.n + n
	s.mu.Unlock()
	buf := make([]byte, 64<<10)
	start := time.Now()
	for sent := int64(0); sent < n; {
		m, err := c.Write(buf[:min(int64(len(buf)), n-sent)])
		if err != nil {
			return 0
		}
		sent += int64(m)
	}
	late := false
	t := time.AfterFunc(time.Minute, func() {
		s.mu.Lock()
		late = true
		s.cond.Broadcast()
		s.mu.Unlock()
	})
	defer t.Stop()
	s.mu.Lock()
	for s.n < target && !late {
		s.cond.Wait()
	}
	s.mu.Unlock()
	if late {
		return 0
	}
	return float64(n) * 8 / time.Since(start).Seconds() / 1e9
}
