package strategy_test

import (
	"math/rand/v2"
	"testing"

	"github.com/splinter-lab/splinter/strategy"
)

func TestSize(t *testing.T) {
	for _, tc := range []struct {
		dna  string
		size int
	}{
		{`\/`, 0},
		{`[TCP:flags:S]-|`, 0},
		{`[TCP:flags:S]-send-|`, 0},
		{`[TCP:flags:PA]-duplicate(tamper{TCP:dataofs:replace:10}(tamper{TCP:chksum:corrupt},),)-|`, 3},
		{`[TCP:flags:PA]-fragment{tcp:8:False}-|[TCP:flags:A]-tamper{TCP:seq:corrupt}-|`, 2},
		{`[TCP:flags:PA]-drop-| \/ [TCP:flags:R]-tamper{IP:ttl:replace:1}(drop,)-|`, 3},
	} {
		if got := strategy.MustParse(tc.dna).Size(); got != tc.size {
			t.Errorf("%s: size %d, want %d", tc.dna, got, tc.size)
		}
	}
}

// Random, Mutate and Crossover only make strategies that print as DNA
// Parse reads back, that respect the directions' actions, and that the
// engine runs.
func TestEvolveHelpers(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	g := strategy.Gen{OutTrees: 2, InTrees: 1, OutActions: 3, Packets: [][]byte{syn(), ack(), get(), get6(), udp4()}}
	pop := make([]*strategy.Strategy, 20)
	for i := range pop {
		pop[i] = g.Random(r)
	}
	kinds := map[strategy.Kind]bool{}
	sizes := 0
	for gen := 0; gen < 50; gen++ {
		for i, s := range pop {
			roundTrip(t, s.String())
			if strategy.MustParse(s.String()).Size() != s.Size() {
				t.Fatalf("size of %s", s)
			}
			sizes += s.Size()
			e := strategy.New(s, strategy.Options{Rand: r})
			run(e, false, syn(), ack(), get(), get6(), udp4())
			run(e, true, syn(), ack(), get(), get6(), udp4())
			var walk func(a *strategy.Action)
			walk = func(a *strategy.Action) {
				if a == nil {
					return
				}
				kinds[a.Kind] = true
				walk(a.Left)
				walk(a.Right)
			}
			for _, tr := range s.Outbound {
				walk(tr.Root)
			}
			pop[i] = g.Mutate(r, s)
		}
		for i := 0; i+1 < len(pop); i += 2 {
			pop[i], pop[i+1] = strategy.Crossover(r, pop[i], pop[i+1], 0.5)
		}
	}
	for _, k := range []strategy.Kind{strategy.Tamper, strategy.Duplicate, strategy.Fragment, strategy.Drop} {
		if !kinds[k] {
			t.Errorf("never drew %s", k)
		}
	}
	if sizes == 0 {
		t.Error("all strategies empty")
	}
	// Mutate does not change its argument.
	s := strategy.MustParse(`[TCP:flags:PA]-duplicate(tamper{TCP:dataofs:replace:10}(tamper{TCP:chksum:corrupt},),)-|`)
	before := s.String()
	for i := 0; i < 100; i++ {
		g.Mutate(r, s)
		strategy.Crossover(r, s, s, 1)
	}
	if s.String() != before {
		t.Fatalf("changed: %s", s)
	}
}

// With seen packets, random triggers often fire on them.
func TestRandomTriggersFromPackets(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	g := strategy.Gen{OutActions: 1, Packets: [][]byte{get()}}
	fired := 0
	for i := 0; i < 200; i++ {
		e := strategy.New(g.Random(r), strategy.Options{Rand: r})
		run(e, false, get())
		if out, _ := e.Fired(); out[0] > 0 {
			fired++
		}
	}
	if fired < 40 {
		t.Fatalf("only %d of 200 random triggers fired on the packet they came from", fired)
	}
}

// A disabled action is never drawn, by Random nor by Mutate; the others
// still are.
func TestDisabledActions(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	g := strategy.Gen{OutTrees: 2, InTrees: 1, OutActions: 3, Disabled: []strategy.Kind{strategy.Fragment}}
	kinds := map[strategy.Kind]int{}
	var walk func(a *strategy.Action)
	walk = func(a *strategy.Action) {
		if a == nil {
			return
		}
		kinds[a.Kind]++
		walk(a.Left)
		walk(a.Right)
	}
	for i := 0; i < 200; i++ {
		s := g.Random(r)
		for j := 0; j < 5; j++ {
			s = g.Mutate(r, s)
		}
		for _, tr := range append(s.Outbound, s.Inbound...) {
			walk(tr.Root)
		}
	}
	if kinds[strategy.Fragment] != 0 {
		t.Errorf("drew fragment %d times though disabled", kinds[strategy.Fragment])
	}
	for _, k := range []strategy.Kind{strategy.Tamper, strategy.Duplicate, strategy.Drop} {
		if kinds[k] == 0 {
			t.Errorf("never drew %s", k)
		}
	}
	// All disabled: tamper is drawn.
	g.Disabled = []strategy.Kind{strategy.Tamper, strategy.Duplicate, strategy.Fragment, strategy.Drop}
	if s := g.Random(r); s.Outbound[0].Root == nil || s.Outbound[0].Root.Kind != strategy.Tamper {
		t.Errorf("all disabled: %s", s)
	}
}
