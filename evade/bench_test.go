package evade_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/splinter-lab/splinter/evade"
	"github.com/splinter-lab/splinter/lab"
	"github.com/splinter-lab/splinter/scenario"
	"github.com/splinter-lab/splinter/strategy"
)

// BenchmarkTrials measures trials per second from cn-client-1 through the
// CN border of the default scenario (the profile as shipped), 32 at once:
// the keyword URL with no strategy (reset by the GFW, each trial setting
// off a residual block), with a Geneva strategy that evades it, and the
// allowed URL. The baseline, in the same run, is plain HTTP/1.1 GETs of
// the allowed URL from the same host, a new connection each, 32 at once,
// outside the lab (no port translation, no strategy engine, no join),
// run first, before any residual block.
//
//	go test -run '^$' -bench Trials -benchtime 300x -count 3 ./evade
func BenchmarkTrials(b *testing.B) {
	spec, err := lab.Load(scenario.Default)
	if err != nil {
		b.Fatal(err)
	}
	s, err := evade.Start(context.Background(), spec, evade.Options{From: "cn-client-1", Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	b.Run("baseline-plain-GET", func(b *testing.B) {
		// Straight to the site's address, as trials go (no DNS).
		h := s.Lab().World().Host("cn-client-1")
		addr := netip.AddrPortFrom(s.Lab().World().Host(siteHost(b, s)).Addr(4), 80)
		c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true,
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) { return h.DialAddr(ctx, "tcp", addr) }}}
		var next atomic.Int64
		var wg sync.WaitGroup
		b.ResetTimer()
		for range evade.DefaultConcurrency {
			wg.Go(func() {
				for next.Add(1) <= int64(b.N) {
					resp, err := c.Get(site)
					if err != nil {
						b.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			})
		}
		wg.Wait()
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "trials/s")
	})
	desync := strategy.MustParse(`[TCP:flags:PA]-duplicate(tamper{TCP:dataofs:replace:10}(tamper{TCP:chksum:corrupt},),)-|`)
	for _, bc := range []struct {
		name string
		a    evade.Attempt
	}{
		{"keyword", evade.Attempt{URL: keyword}},
		{"keyword-desync", evade.Attempt{URL: keyword, Client: desync}},
		{"allowed", evade.Attempt{URL: site}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			// Warm up: the site's extra listeners start on first use.
			if _, _, err := s.Run(context.Background(), evade.Attempt{URL: bc.a.URL, Trials: 1}); err != nil {
				b.Fatal(err)
			}
			a := bc.a
			a.Trials = b.N
			b.ResetTimer()
			tally, _, err := s.Run(context.Background(), a)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "trials/s")
			b.ReportMetric(100*tally.Rate(), "%success")
		})
	}

}

// siteHost is the web host of the benchmarks' site.
func siteHost(b *testing.B, s *evade.Session) string {
	for _, ps := range s.Lab().Spec().Plan.Sites {
		if ps.Domain == "www.plain-control-page.com" {
			return ps.Host
		}
	}
	b.Fatal("no site www.plain-control-page.com")
	return ""
}
