package probe_test

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/splinter-lab/splinter/probe"
)

// BenchmarkWebConnectivity measures web_connectivity measurements per second
// in-process: the lab world, no censorship,
// 256 measurements in flight from one vantage alternating between the two sites (the control answers from
// its cache after the first), every step included (DNS with its 150 ms
// injection window, TCP, TLS, HTTP, QUIC, the throughput test). It reports
// meas/s and the peak heap in use. "full" lets every measurement run its
// throughput test at once; "throughput-8" keeps the default of 8 at a time
// per vantage (they share its access link), which bounds one vantage to
// about 30/s; "no-throughput" skips the test.
func BenchmarkWebConnectivity(b *testing.B) {
	b.Run("full", func(b *testing.B) { benchWC(b, func(c *probe.Config) { c.ThroughputConcurrency = 64 }) })
	b.Run("throughput-8", func(b *testing.B) { benchWC(b, nil) })
	b.Run("no-throughput", func(b *testing.B) { benchWC(b, func(c *probe.Config) { c.ThroughputBytes = -1 }) })
}

func benchWC(b *testing.B, tune func(*probe.Config)) {
	var opts []func(*probe.Config)
	if tune != nil {
		opts = append(opts, tune)
	}
	l := startLab(b, "", opts...)
	urls := []string{"http://www.target-news.com/", "http://www.plain-control.com/"}
	ctx := context.Background()
	for _, u := range urls {
		l.p.WebConnectivity(ctx, u, "warm")
	}
	var peak atomic.Uint64
	stop := make(chan struct{})
	var sampler sync.WaitGroup
	sampler.Go(func() {
		var ms runtime.MemStats
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-t.C:
			case <-stop:
				return
			}
		}
	})
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	sem := make(chan struct{}, 256)
	var wg sync.WaitGroup
	var blocked atomic.Int64
	for i := 0; i < b.N; i++ {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			m := l.p.WebConnectivity(ctx, urls[i%2], "bench")
			if m.TestKeys.Verdict != probe.Accessible {
				blocked.Add(1)
			}
		})
	}
	wg.Wait()
	el := time.Since(start)
	b.StopTimer()
	close(stop)
	sampler.Wait()
	b.ReportMetric(float64(b.N)/el.Seconds(), "meas/s")
	b.ReportMetric(float64(peak.Load())/(1<<20), "peak-heap-MiB")
	if n := blocked.Load(); n > 0 {
		b.Logf("%d of %d measurements not accessible in an uncensored world", n, b.N)
	}
}
