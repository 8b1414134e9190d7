package border_test

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/netip"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/splinter-lab/splinter/border"
	"github.com/splinter-lab/splinter/internal/interleave"
	"github.com/splinter-lab/splinter/packet"
	"github.com/splinter-lab/splinter/policy"
	"github.com/splinter-lab/splinter/scenario"
	"github.com/splinter-lab/splinter/world"
)

// bigPolicy has 1M domains, 10k keywords and 100k prefixes, none of which
// the benchmark's traffic matches.
func bigPolicy(b *testing.B) *policy.Policy {
	b.Helper()
	names := make([]string, 1_000_000)
	for i := range names {
		names[i] = fmt.Sprintf("n%07d.filler%d.example", i, i%97)
	}
	words := make([]string, 10_000)
	for i := range words {
		words[i] = fmt.Sprintf("kw%05dz", i)
	}
	prefixes := make([]string, 100_000)
	for i := range prefixes {
		prefixes[i] = netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), 32).String()
	}
	p := &policy.Policy{
		Name: "big",
		Meta: policy.Meta{Jurisdiction: "XX", Year: 2024},
		Lists: map[string]*policy.List{
			"names":    {Name: "names", Kind: policy.Domains, Items: names},
			"words":    {Name: "words", Kind: policy.Keywords, Items: words},
			"prefixes": {Name: "prefixes", Kind: policy.Prefixes, Items: prefixes},
		},
		Rules: []policy.Rule{
			{ID: "dns", Source: "bench", Year: 2024, Match: []policy.Matcher{&border.DNSMatch{List: "names"}},
				Actions: []policy.Action{&border.DNSInjectAction{Injectors: []border.Injector{{Name: "a", Answer: border.Answer{Addrs: []netip.Addr{netip.MustParseAddr("198.18.99.1")}}}}}}},
			{ID: "sni", Source: "bench", Year: 2024, Inspect: policy.Inspect{ReassembleTCP: true},
				Match: []policy.Matcher{&border.TLSSNIMatch{List: "names"}}, Actions: []policy.Action{&border.RSTAction{To: policy.ToBoth}}},
			{ID: "http", Source: "bench", Year: 2024, Inspect: policy.Inspect{ReassembleTCP: true},
				Match:   []policy.Matcher{&border.HTTPMatch{List: "words", Fields: []border.HTTPField{border.HTTPPath}}},
				Actions: []policy.Action{&border.RSTAction{To: policy.ToBoth}}},
			{ID: "ip", Source: "bench", Year: 2024, Match: []policy.Matcher{&border.IPMatch{List: "prefixes", Side: policy.Dst}},
				Actions: []policy.Action{&border.DropAction{Flow: true}}},
		},
	}
	if err := p.Validate(); err != nil {
		b.Fatal(err)
	}
	return p
}

func benchWorld(b *testing.B, pol *policy.Policy) *world.World {
	data, err := os.ReadFile("testdata/lab.yaml")
	if err != nil {
		b.Fatal(err)
	}
	sc, err := scenario.Load("testdata/lab.yaml", data)
	if err != nil {
		b.Fatal(err)
	}
	if pol == nil {
		sc.Jurisdictions[0].Border.Policy = ""
	}
	w, _ := engineWorld(b, sc, pol, nil, nil)
	return w
}

// loadedPair builds the two worlds the loaded-policy benchmarks compare:
// no policy on the border (no engine at all), and the big policy loaded.
func loadedPair(b *testing.B) [2]*world.World {
	big := bigPolicy(b)
	var ws [2]*world.World
	for i, pol := range []*policy.Policy{nil, big} {
		ws[i] = benchWorld(b, pol)
		b.Cleanup(func() { ws[i].Close() })
	}
	return ws
}

var loadedNames = [2]string{"no-policy", "loaded"}

// BenchmarkAllowedHTTP: new connections with a GET across the border, in
// rounds of 200 (2 at a time), alternating between no policy and the big
// policy loaded (1M domains, 10k keywords, 100k prefixes); x-no-policy is
// the median per-pair ratio of exchange rates.
func BenchmarkAllowedHTTP(b *testing.B) {
	ws := loadedPair(b)
	var rates [2]func() float64
	for i, w := range ws {
		h := w.Host("client")
		tr := &http.Transport{DisableKeepAlives: true, DialContext: h.DialContext}
		c := &http.Client{Transport: tr}
		url := "http://" + w.Host("web-www-allowed-com").Addr(4).String() + "/"
		rates[i] = func() float64 {
			const n, par = 200, 2
			start := time.Now()
			var wg sync.WaitGroup
			for range par {
				wg.Go(func() {
					for range n / par {
						resp, err := c.Get(url)
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
	interleave.Pairs(b, loadedNames, "exchanges/s", rates)
}

// BenchmarkBulkAcrossBorder: 16 MiB of one-way bulk TCP across the border
// per op, alternating between no policy and the big policy loaded;
// x-no-policy is the median per-pair ratio of throughputs.
func BenchmarkBulkAcrossBorder(b *testing.B) {
	ws := loadedPair(b)
	var rates [2]func() float64
	for i, w := range ws {
		client, vps := w.Host("client"), w.Host("vps")
		ln, err := vps.Listen("tcp", ":9000")
		if err != nil {
			b.Fatal(err)
		}
		sink := interleave.NewSink(ln)
		c, err := client.DialAddr(context.Background(), "tcp", netip.AddrPortFrom(vps.Addr(4), 9000))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { c.Close(); ln.Close() })
		rates[i] = func() float64 { return sink.Bulk(c, 16<<20) }
	}
	interleave.Pairs(b, loadedNames, "Gbit/s", rates)
}

// BenchmarkProcessAllowed is the engine's cost for one packet of an
// established, allowed flow (after its rules are done with it).
func BenchmarkProcessAllowed(b *testing.B) {
	e, err := border.New(bigPolicy(b), border.Config{Rand: rand.New(rand.NewPCG(1, 1))})
	if err != nil {
		b.Fatal(err)
	}
	src, dst := netip.MustParseAddrPort("198.18.0.66:40000"), netip.MustParseAddrPort("198.18.16.66:443")
	nop := func([]byte) {}
	e.ProcessBytes(packet.AppendTCP(nil, packet.TCPSegment{Src: src, Dst: dst, Seq: 1, Flags: packet.SYN}), packet.Outbound, nop)
	e.ProcessBytes(packet.AppendTCP(nil, packet.TCPSegment{Src: dst, Dst: src, Seq: 9, Ack: 2, Flags: packet.SYN | packet.ACK}), packet.Inbound, nop)
	e.ProcessBytes(packet.AppendTCP(nil, packet.TCPSegment{Src: src, Dst: dst, Seq: 2, Ack: 10, Flags: packet.ACK | packet.PSH, Payload: hello("www.allowed.com")}), packet.Outbound, nop)
	pkt := packet.AppendTCP(nil, packet.TCPSegment{Src: dst, Dst: src, Seq: 10, Ack: 100, Flags: packet.ACK, Payload: make([]byte, 1400)})
	b.ReportAllocs()
	b.SetBytes(int64(len(pkt)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		e.ProcessBytes(pkt, packet.Inbound, nop)
	}
}
