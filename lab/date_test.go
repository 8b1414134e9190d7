package lab_test

import (
	"context"
	"io"
	"math"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/splinter-lab/splinter/clock"
	"github.com/splinter-lab/splinter/dissect"
	"github.com/splinter-lab/splinter/lab"
	"github.com/splinter-lab/splinter/profiles"
	"github.com/splinter-lab/splinter/scenario"
)

// shadowsocksLike returns a first data packet as a Shadowsocks (AEAD)
// client sends it: random bytes, with none of the exemptions of "How China
// Detects and Blocks Fully Encrypted Traffic" (USENIX Security 2023) by
// chance.
func shadowsocksLike(t *testing.T, rng *rand.Rand) []byte {
	t.Helper()
	for range 1000 {
		b := make([]byte, 8+rng.IntN(400))
		for i := range b {
			b[i] = byte(rng.UintN(256))
		}
		if exempt, _ := dissect.FullyEncryptedExempt(b); !exempt {
			return b
		}
	}
	t.Fatal("no random payload without an exemption")
	return nil
}

// flowsBlocked opens n connections from client to server, each to its own
// port (a block covers the 3-tuple), sends a Shadowsocks-like first packet
// on each and returns how many the border's fully-encrypted rule decided
// on, and how many of those still reached the server (none should).
func flowsBlocked(t *testing.T, l *lab.Lab, client, server string, base, n int) (blocked, leaked int) {
	t.Helper()
	h, srv := l.World().Host(client), l.World().Host(server)
	rng := rand.New(rand.NewPCG(uint64(base), 263))
	var mu sync.Mutex
	got := map[uint16]bool{}
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	ports := map[uint16]bool{}
	for i := range n {
		port := uint16(base + i)
		ln, err := srv.Listen("tcp", ":"+strconv.Itoa(int(port)))
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		go func() {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			if k, _ := c.Read(make([]byte, 1)); k > 0 {
				mu.Lock()
				got[port] = true
				mu.Unlock()
			}
		}()
		payload := shadowsocksLike(t, rng)
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c, err := h.DialAddr(ctx, "tcp", netip.AddrPortFrom(srv.Addr(4), port))
			if err != nil {
				t.Errorf("dial %d: %v", port, err)
				return
			}
			defer c.Close()
			c.Write(payload)
			c.SetReadDeadline(time.Now().Add(600 * time.Millisecond))
			io.Copy(io.Discard, c)
			mu.Lock()
			ports[port] = true
			mu.Unlock()
		}()
	}
	wg.Wait()
	time.Sleep(300 * time.Millisecond)
	flows := map[uint64]uint16{}
	for _, d := range l.Log().Decisions() {
		if d.Rule == "cn-fully-encrypted" && ports[d.Server.Port()] {
			flows[d.FlowID] = d.Server.Port()
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for _, port := range flows {
		if got[port] {
			leaked++
		}
	}
	return len(flows), leaked
}

// binomialOK reports whether k of n is within 4 standard deviations of p.
func binomialOK(k, n int, p float64) bool {
	sd := math.Sqrt(float64(n) * p * (1 - p))
	return math.Abs(float64(k)-float64(n)*p) <= 4*sd
}

// TestAtFullyEncrypted: a world started at 2022-06-01 (Options.At, what
// `splinter run --at 2022-06-01` does) runs the GFW's version of that date,
// whose fully-encrypted-traffic filter blocks Shadowsocks-like first
// packets from China to a cloud range at the published rate (0.263, USENIX
// Security 2023); at 2024-06-01 the filter is retired and blocks none.
func TestAtFullyEncrypted(t *testing.T) {
	if testing.Short() {
		t.Skip("two worlds, 240 connections")
	}
	spec, err := lab.Load(scenario.Default)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		at      time.Time
		version string
		rate    float64
	}{
		{time.Date(2022, 6, 1, 0, 0, 0, 0, time.UTC), "CN-2021", 0.263},
		{time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC), "CN-2024", 0},
	} {
		t.Run(c.at.Format(time.DateOnly), func(t *testing.T) {
			l, err := spec.Start(context.Background(), lab.Options{At: c.at, Seed: 7})
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			if now := l.Clock().Now(); now.Before(c.at) || now.After(c.at.Add(time.Hour)) {
				t.Errorf("the lab's clock reads %v, want %v", now, c.at)
			}
			for _, f := range l.Versions() {
				if f.Border == "CN" && (f.Policy != c.version || !f.Follows || f.History != "CN") {
					t.Errorf("CN applies %+v, want version %s of history CN", f, c.version)
				}
			}
			const n = 120
			blocked, leaked := flowsBlocked(t, l, "cn-client-1", "us-vps-1", 21000, n)
			t.Logf("%s: %d of %d Shadowsocks-like flows blocked", c.at.Format(time.DateOnly), blocked, n)
			if c.rate == 0 && blocked != 0 || c.rate > 0 && !binomialOK(blocked, n, c.rate) {
				t.Errorf("%d of %d blocked, want about %.3f", blocked, n, c.rate)
			}
			if leaked != 0 {
				t.Errorf("%d blocked flows still delivered their first packet", leaked)
			}
		})
	}
}

// TestVersionsFollowTheClock: a border that names a history applies the
// version of the lab's date and changes engine when the clock crosses the
// next version's date (a manual clock's Advance, SetDate); the clock moves
// forward only; a pinned policy stays.
func TestVersionsFollowTheClock(t *testing.T) {
	spec, err := lab.Load("two-lands")
	if err != nil {
		t.Fatal(err)
	}
	clk := clock.NewManual(time.Date(2021, 10, 31, 12, 0, 0, 0, time.UTC))
	if _, err := spec.Start(context.Background(), lab.Options{Clock: clk, At: clk.Now()}); !lab.IsInput(err) {
		t.Errorf("Start with both a clock and a date: %v, want an input error", err)
	}
	l, err := spec.Start(context.Background(), lab.Options{Clock: clk, NoServices: true})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	cn := func() string { return l.Versions()[0].Policy }
	if cn() != "CN-2020" || l.Engine("CN").Policy().Name != "CN-2020" {
		t.Fatalf("CN applies %s on 2021-10-31, want CN-2020", cn())
	}
	before := l.Engine("CN")
	clk.Advance(24 * time.Hour)
	if cn() != "CN-2021" || l.Engine("CN") == before || l.Engine("CN").Policy().Name != "CN-2021" {
		t.Errorf("after the clock crossed 2021-11-01 CN applies %s (engine %s)", cn(), l.Engine("CN").Policy().Name)
	}
	if err := l.SetDate(time.Date(2023, 2, 1, 0, 0, 0, 0, time.UTC)); err != nil || cn() != "CN-2023" {
		t.Errorf("SetDate(2023-02-01): %v, CN applies %s", err, cn())
	}
	if err := l.SetDate(time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)); !lab.IsInput(err) {
		t.Errorf("SetDate back in time: %v, want an input error", err)
	}
	if got := spec.ChangeDates(time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2022, 1, 1, 0, 0, 0, 0, time.UTC)); len(got) != 1 || !got[0].Equal(time.Date(2021, 11, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("ChangeDates(2021) = %v, want [2021-11-01]", got)
	}

	pinned, err := lab.Load("two-lands")
	if err != nil {
		t.Fatal(err)
	}
	p, err := profiles.Load("CN-2019")
	if err != nil {
		t.Fatal(err)
	}
	pinned.SetPolicy("CN", p)
	clk2 := clock.NewManual(time.Date(2021, 10, 31, 12, 0, 0, 0, time.UTC))
	l2, err := pinned.Start(context.Background(), lab.Options{Clock: clk2, NoServices: true})
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	clk2.Advance(24 * time.Hour)
	if f := l2.Versions()[0]; f.Policy != "CN-2019" || f.Follows {
		t.Errorf("a pinned policy changed: %+v", f)
	}
}
