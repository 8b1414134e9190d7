package border_test

import (
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/miekg/dns"

	"github.com/splinter-lab/splinter/border"
	"github.com/splinter-lab/splinter/packet"
	"github.com/splinter-lab/splinter/policy"
)

// TestDroppedQueryNamed: a rule that looks at addresses only records, when
// it discards a DNS query, the query's name (scoring joins the decision to
// the lookups of that name by it); a decision on a packet that is no DNS
// query names none. A freeze logs its decision when the flow freezes, not
// when the small query passes.
func TestDroppedQueryNamed(t *testing.T) {
	const pol = `
lists:
  blocked: {kind: prefixes, items: [198.18.96.0/24]}
  frozen: {kind: prefixes, items: [198.18.97.0/24]}
rules:
  - id: source-drop
    source: test
    year: 2026
    scope: {destinations: {list: blocked}}
    match: [any]
    actions: [drop]
  - id: freeze
    source: test
    year: 2026
    scope: {destinations: {list: frozen}}
    inspect: {packets: first}
    match: [any]
    actions: [{freeze: {after: 16KiB, direction: server-to-client}}]
`
	p, err := policy.Load("test.yaml", []byte(header+pol), nil, ".")
	if err != nil {
		t.Fatal(err)
	}
	log := border.NewLog(nil, 0)
	e, err := border.New(p, border.Config{Log: log, Rand: rand.New(rand.NewPCG(1, 1))})
	if err != nil {
		t.Fatal(err)
	}
	q := new(dns.Msg)
	q.SetQuestion("www.example.ir.", dns.TypeA)
	query, err := q.Pack()
	if err != nil {
		t.Fatal(err)
	}
	src := netip.MustParseAddrPort("198.18.16.66:40000")
	send := func(dst string, payload []byte) {
		e.ProcessBytes(packet.AppendUDP(nil, src, netip.MustParseAddrPort(dst), payload, packet.Shape{}), packet.Outbound, func([]byte) {})
	}
	send("198.18.96.131:53", query)
	send("198.18.97.2:53", query)
	if n := log.Len(); n != 1 {
		t.Fatalf("%d decisions after the frozen flow's query, want 1 (the drop)", n)
	}
	frozen := netip.MustParseAddrPort("198.18.97.2:53")
	dropped := 0
	for range 20 {
		v := e.ProcessBytes(packet.AppendUDP(nil, frozen, src, make([]byte, 1400), packet.Shape{}), packet.Inbound, func([]byte) {})
		if v.Drop {
			dropped++
		}
	}
	if dropped == 0 {
		t.Fatal("20 KB toward the client and nothing frozen")
	}
	send("198.18.96.131:443", query)

	ds := log.Decisions()
	if len(ds) != 3 || ds[1].Rule != "freeze" {
		t.Fatalf("%d decisions, want 3 (drop, freeze once, drop): %+v", len(ds), ds)
	}
	qname := func(d border.Decision) string {
		for _, ev := range d.Evidence {
			if ev.Kind == border.EvidenceQName {
				return ev.Value
			}
		}
		return ""
	}
	for i, want := range []string{"www.example.ir", "", ""} {
		if got := qname(ds[i]); got != want {
			t.Errorf("decision %d (%s to %v): qname %q, want %q", i, ds[i].Rule, ds[i].Server, got, want)
		}
	}
}
