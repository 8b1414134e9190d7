package policy

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"strings"
	"testing"
)

// Benchmarks for the compiled lists. The build benchmarks report the heap a
// set holds (MB-held) as well as the time to build it.

func genDomains(n int) []string {
	r := rand.New(rand.NewPCG(1, 2))
	tlds := []string{"com", "net", "org", "cn", "ru", "info", "co.uk"}
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%d.%s", randLabel(r, 4+r.IntN(10)), i, tlds[r.IntN(len(tlds))])
	}
	return out
}

func randLabel(r *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('a' + r.IntN(26))
	}
	return string(b)
}

func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

func BenchmarkDomainSetBuild1M(b *testing.B) {
	names := genDomains(1_000_000)
	b.ReportAllocs()
	var held float64
	for b.Loop() {
		before := heapInUse()
		s, err := NewDomainSet(names)
		if err != nil {
			b.Fatal(err)
		}
		held = float64(heapInUse()-before) / 1e6
		runtime.KeepAlive(s)
	}
	b.ReportMetric(held, "MB-held")
}

func BenchmarkDomainSetLookup1M(b *testing.B) {
	names := genDomains(1_000_000)
	s, _ := NewDomainSet(names)
	// Half hits (subdomains of listed names), half misses.
	queries := make([][]byte, 1024)
	for i := range queries {
		if i%2 == 0 {
			queries[i] = []byte("www.cdn." + strings.ToUpper(names[i*97]))
		} else {
			queries[i] = []byte(fmt.Sprintf("www.unlisted%d.example.com", i))
		}
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		s.MatchSuffix(queries[i&1023])
		i++
	}
}

func BenchmarkRegexSetMatch1k(b *testing.B) {
	names := genDomains(1000)
	exprs := make([]string, len(names))
	for i, n := range names {
		exprs[i] = `(^|\.)` + strings.ReplaceAll(n, ".", `\.`) + `$`
	}
	s, err := NewRegexSet(exprs)
	if err != nil {
		b.Fatal(err)
	}
	q := []byte("www.unlisted.example.com")
	b.ReportAllocs()
	for b.Loop() {
		s.Match(q)
	}
}

func BenchmarkKeywordSet10k(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 4))
	words := make([]string, 10_000)
	for i := range words {
		words[i] = randLabel(r, 6+r.IntN(8))
	}
	s, err := NewKeywordSet(words)
	if err != nil {
		b.Fatal(err)
	}
	// A 4 KiB request head with no keyword in it (the common case).
	text := []byte(strings.Repeat("GET /index.html HTTP/1.1\r\nHost: www.example.com\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64)\r\n", 45)[:4096])
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		s.Match(text)
	}
}

func BenchmarkPrefixSetLookup100k(b *testing.B) {
	r := rand.New(rand.NewPCG(5, 6))
	prefixes := make([]netip.Prefix, 100_000)
	for i := range prefixes {
		if i%4 == 0 {
			var a [16]byte
			for j := range 8 {
				a[j] = byte(r.IntN(256))
			}
			prefixes[i] = netip.PrefixFrom(netip.AddrFrom16(a), 32+r.IntN(33)).Masked()
		} else {
			a := netip.AddrFrom4([4]byte{byte(r.IntN(224)), byte(r.IntN(256)), byte(r.IntN(256)), 0})
			prefixes[i] = netip.PrefixFrom(a, 16+r.IntN(9)).Masked()
		}
	}
	before := heapInUse()
	s := NewPrefixSet(prefixes)
	b.ReportMetric(float64(heapInUse()-before)/1e6, "MB-held")
	addrs := make([]netip.Addr, 1024)
	for i := range addrs {
		addrs[i] = netip.AddrFrom4([4]byte{byte(r.IntN(224)), byte(r.IntN(256)), byte(r.IntN(256)), byte(r.IntN(256))})
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		s.Match(addrs[i&1023])
		i++
	}
}
