package world_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/splinter-lab/splinter/internal/interleave"
	"github.com/splinter-lab/splinter/internal/netstack"
	"github.com/splinter-lab/splinter/packet"
	"github.com/splinter-lab/splinter/scenario"
	"github.com/splinter-lab/splinter/world"
)

// passThrough is a gateway that looks at every packet and passes it.
type passThrough struct{}

func (passThrough) Process(p *packet.IP, _ packet.Direction, _ func([]byte)) packet.Verdict {
	if p.Proto == 0 {
		return packet.Verdict{Drop: true}
	}
	return packet.Verdict{}
}

// endpoints gives a dialer and a listener for one of the compared setups.
type endpoints struct {
	dial   func(ctx context.Context) (net.Conn, error)
	listen func() (net.Listener, error)
	stop   func()
}

func setups(b *testing.B) map[string]func() endpoints {
	return map[string]func() endpoints{
		"kernel-loopback": func() endpoints {
			var ln net.Listener
			return endpoints{
				listen: func() (net.Listener, error) {
					var err error
					ln, err = net.Listen("tcp", "127.0.0.1:0")
					return ln, err
				},
				dial: func(ctx context.Context) (net.Conn, error) {
					var d net.Dialer
					return d.DialContext(ctx, "tcp", ln.Addr().String())
				},
				stop: func() {},
			}
		},
		"raw-gvisor-pair": func() endpoints {
			a, s, stop, err := netstack.NewRawPair(ma("198.18.0.1"), ma("198.18.0.2"), 1500)
			if err != nil {
				b.Fatal(err)
			}
			dst := netip.MustParseAddrPort("198.18.0.2:80")
			return endpoints{
				listen: func() (net.Listener, error) { return s.ListenTCP(netip.AddrPortFrom(netip.IPv4Unspecified(), 80)) },
				dial:   func(ctx context.Context) (net.Conn, error) { return a.DialTCP(ctx, dst) },
				stop:   stop,
			}
		},
		"world-two-borders": func() endpoints {
			p := twoLands(scenario.Link{}, scenario.Link{})
			p.Jurisdictions[0].Border.Policy = "pass"
			p.Jurisdictions[1].Border.Policy = "pass"
			w, err := world.Build(p, world.Options{NoServices: true, Gateway: func(world.BorderSpec) (world.Gateway, error) { return passThrough{}, nil }})
			if err != nil {
				b.Fatal(err)
			}
			c, s := w.Host("AA-one"), w.Host("BB-one")
			dst := netip.AddrPortFrom(s.Addr(4), 80)
			return endpoints{
				listen: func() (net.Listener, error) { return s.Listen("tcp", ":80") },
				dial:   func(ctx context.Context) (net.Conn, error) { return c.DialAddr(ctx, "tcp", dst) },
				stop:   func() { w.Close() },
			}
		},
	}
}

var setupOrder = []string{"kernel-loopback", "raw-gvisor-pair", "world-two-borders"}

// BenchmarkBulkTCP measures one-way bulk TCP throughput, MTU 1500.
func BenchmarkBulkTCP(b *testing.B) {
	for _, name := range setupOrder {
		b.Run(name, func(b *testing.B) {
			e := setups(b)[name]()
			defer e.stop()
			ln, err := e.listen()
			if err != nil {
				b.Fatal(err)
			}
			defer ln.Close()
			go func() {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				io.Copy(io.Discard, c)
				c.Close()
			}()
			c, err := e.dial(context.Background())
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			buf := make([]byte, 64<<10)
			b.SetBytes(int64(len(buf)))
			b.ResetTimer()
			start := time.Now()
			for i := 0; i < b.N; i++ {
				if _, err := c.Write(buf); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)*float64(len(buf))*8/time.Since(start).Seconds()/1e9, "Gbit/s")
		})
	}
}

// BenchmarkHTTPConnections measures new HTTP/1.1 connections per second
// (dial, GET, close).
func BenchmarkHTTPConnections(b *testing.B) {
	for _, name := range setupOrder {
		b.Run(name, func(b *testing.B) {
			e := setups(b)[name]()
			defer e.stop()
			ln, err := e.listen()
			if err != nil {
				b.Fatal(err)
			}
			srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })}
			go srv.Serve(ln)
			defer srv.Close()
			tr := &http.Transport{DisableKeepAlives: true, DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) { return e.dial(ctx) }}
			client := &http.Client{Transport: tr}
			b.ResetTimer()
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					resp, err := client.Get("http://site/")
					if err != nil {
						b.Error(err)
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			})
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "conns/s")
		})
	}
}

// bigPlan is a world of n client hosts spread over 10 jurisdictions.
func bigPlan(n int) *scenario.Plan {
	sc := &scenario.Scenario{Name: "big"}
	p := &scenario.Plan{Scenario: sc, Backbone: scenario.RouterAddrs{V4: ma("192.0.2.1"), V6: ma("2001:2::1")}}
	per := n / 10
	for j := 0; j < 10; j++ {
		v4 := netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 18 + byte(j/8), byte(j%8) * 32, 0}), 19)
		v6 := netip.PrefixFrom(netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, byte(j)}), 48)
		code := fmt.Sprintf("J%d", j)
		p.Jurisdictions = append(p.Jurisdictions, &scenario.PlannedJurisdiction{Code: code, Prefixes: []netip.Prefix{v4, v6},
			Router: scenario.RouterAddrs{V4: v4.Addr().Next(), V6: v6.Addr().Next()}})
		net := &scenario.PlannedNetwork{Name: code + "-isp", Jurisdiction: code, Prefixes: []netip.Prefix{v4, v6},
			Router: scenario.RouterAddrs{V4: v4.Addr().Next().Next(), V6: v6.Addr().Next().Next()}}
		p.Networks = append(p.Networks, net)
		a4, a6 := net.Router.V4, net.Router.V6
		for i := 0; i < per; i++ {
			a4, a6 = a4.Next(), a6.Next()
			p.Hosts = append(p.Hosts, &scenario.PlannedHost{Name: fmt.Sprintf("%s-h%d", code, i), Jurisdiction: code, Network: net.Name,
				Role: scenario.RoleClient, Addrs: []netip.Addr{a4, a6}})
		}
	}
	return p
}

// BenchmarkBuild10k builds (and tears down) a 10,000-host world.
func BenchmarkBuild10k(b *testing.B) {
	p := bigPlan(10000)
	for i := 0; i < b.N; i++ {
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		start := time.Now()
		w, err := world.Build(p, world.Options{NoServices: true})
		if err != nil {
			b.Fatal(err)
		}
		el := time.Since(start)
		runtime.GC()
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		b.ReportMetric(el.Seconds(), "s/world")
		b.ReportMetric(float64(after.HeapInuse-before.HeapInuse)/(1<<20), "heap-MiB")
		b.ReportMetric(float64(after.HeapInuse-before.HeapInuse)/10000/1024, "KiB/host")
		b.ReportMetric(float64(after.Sys)/(1<<20), "sys-MiB")
		b.StopTimer()
		w.Close()
		b.StartTimer()
	}
}

// BenchmarkHostsUp brings up the stacks of 1,000 hosts and reports the
// memory each costs once it has a stack (an idle host without one costs what
// BenchmarkBuild10k reports).
func BenchmarkHostsUp1k(b *testing.B) {
	p := bigPlan(1000)
	for i := 0; i < b.N; i++ {
		w, err := world.Build(p, world.Options{NoServices: true})
		if err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		start := time.Now()
		for _, h := range w.Hosts() {
			if err := h.Up(); err != nil {
				b.Fatal(err)
			}
		}
		el := time.Since(start)
		runtime.GC()
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		b.ReportMetric(el.Seconds()*1e6/1000, "µs/host-up")
		b.ReportMetric(float64(after.HeapInuse-before.HeapInuse)/1000/1024, "KiB/host-up")
		b.StopTimer()
		w.Close()
		b.StartTimer()
	}
}

// BenchmarkBulkInterleaved moves 16 MiB per op through a raw pair of gVisor
// stacks and through the fabric across two borders (gateways on both), in
// alternation, and reports the median per-pair ratio (x-raw-pair).
func BenchmarkBulkInterleaved(b *testing.B) {
	var rates [2]func() float64
	for i, name := range []string{"raw-gvisor-pair", "world-two-borders"} {
		e := setups(b)[name]()
		defer e.stop()
		ln, err := e.listen()
		if err != nil {
			b.Fatal(err)
		}
		defer ln.Close()
		sink := interleave.NewSink(ln)
		c, err := e.dial(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		rates[i] = func() float64 { return sink.Bulk(c, 16<<20) }
	}
	interleave.Pairs(b, [2]string{"raw-pair", "two-borders"}, "Gbit/s", rates)
}

// BenchmarkHTTPConnectionsInterleaved: new HTTP/1.1 connections (dial, GET,
// close; 2 at a time, 200 per round) through a raw pair of gVisor stacks
// and across two borders, in alternation; x-raw-pair is the median
// per-pair ratio.
func BenchmarkHTTPConnectionsInterleaved(b *testing.B) {
	var rates [2]func() float64
	for i, name := range []string{"raw-gvisor-pair", "world-two-borders"} {
		e := setups(b)[name]()
		defer e.stop()
		ln, err := e.listen()
		if err != nil {
			b.Fatal(err)
		}
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })}
		go srv.Serve(ln)
		defer srv.Close()
		tr := &http.Transport{DisableKeepAlives: true, DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) { return e.dial(ctx) }}
		client := &http.Client{Transport: tr}
		rates[i] = func() float64 {
			const n, par = 200, 2
			start := time.Now()
			var wg sync.WaitGroup
			for range par {
				wg.Go(func() {
					for range n / par {
						resp, err := client.Get("http://site/")
						if err != nil {
							b.Error(err)
							return
						}
						io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
					}
				})
			}
			wg.Wait()
			return n / time.Since(start).Seconds()
		}
	}
	interleave.Pairs(b, [2]string{"raw-pair", "two-borders"}, "conns/s", rates)
}
