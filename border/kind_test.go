package border_test

import (
	"context"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/splinter-lab/splinter/border"
	"github.com/splinter-lab/splinter/packet"
	"github.com/splinter-lab/splinter/policy"
	"github.com/splinter-lab/splinter/probe"
	"github.com/splinter-lab/splinter/score"
)

// tarpitAction is a kind defined outside package border: it holds every
// client packet of the flow that made its rule fire (a tarpit), and counts
// what it held. It exists to show that a kind is one place: this file
// registers it, a policy names it, the engine runs it, scoring reads the
// effect it declares.
type tarpitAction struct {
	Note string `yaml:"note"`
}

var tarpitHeld atomic.Int64

func (*tarpitAction) Kind() string { return "tarpit" }

func (a *tarpitAction) Validate(c *policy.Checker) {
	if a.Note == "" {
		c.Errorf("note", "tarpit needs a note")
	}
}

func (a *tarpitAction) Compile(*border.Compiler) (border.Action, error) {
	return tarpit{note: a.Note}, nil
}

type tarpit struct{ note string }

func (tarpit) Effect() border.Effect { return border.EffectDrop }

func (t tarpit) Apply(a *border.Act) packet.Verdict {
	a.DropFlow(policy.ClientToServer)
	tarpitHeld.Add(1)
	a.Record("tarpit: " + t.note)
	return packet.Verdict{Drop: true}
}

func init() {
	border.RegisterAction("tarpit", "Hold the client's packets of the flow (a test kind).",
		func() border.ActionConfig { return &tarpitAction{} })
}

// TestOutOfTreeActionKind: a kind registered from this test package works
// end to end without any change to package border: the policy language
// knows it (and its validation), the engine applies it to a real client's
// request, the decision carries its kind, effect and the rule's layer, and
// score classifies it from those.
func TestOutOfTreeActionKind(t *testing.T) {
	if _, err := policy.Load("bad.yaml", []byte(header+`lists:
  names: {kind: domains, items: [blocked.com]}
rules:
  - id: tarpit
    source: test
    year: 2024
    match: [{http: {list: names}}]
    actions: [{tarpit: {}}]
`), nil, "."); err == nil || !strings.Contains(err.Error(), "bad.yaml:10:24: rules[0].actions[0].tarpit.note: tarpit needs a note") {
		t.Fatalf("validation of the out-of-tree kind: %v", err)
	}
	l := newLab(t, `lists:
  names: {kind: domains, items: [blocked.com]}
rules:
  - id: tarpit
    source: test
    year: 2024
    match: [{http: {list: names}}]
    actions: [{tarpit: {note: slow down}}]
`, true)
	before := tarpitHeld.Load()
	if _, _, err := httpGet(l.client, "http://www.blocked.com/"); err == nil {
		t.Fatal("the request went through the tarpit")
	}
	if tarpitHeld.Load() == before {
		t.Fatal("the tarpit action never ran")
	}
	if code, _, err := httpGet(l.client, "http://www.allowed.com/"); err != nil || code != 200 {
		t.Fatalf("an allowed site: %d, %v", code, err)
	}
	var d border.Decision
	for _, x := range l.decisions() {
		if x.Action == "tarpit" {
			d = x
		}
	}
	if d.Rule != "tarpit" || d.Effect != border.EffectDrop || d.Layer != border.LayerHTTP || d.FlowID == 0 || d.Detail != "tarpit: slow down" {
		t.Fatalf("decision %+v", d)
	}
	if got := score.Class(d); got != probe.HTTPFailure {
		t.Errorf("score.Class = %s, want %s", got, probe.HTTPFailure)
	}
}

// TestDelayActionOnManualClock: a delay action holds the flow's packets on
// the engine's clock, and the world releases them on the same clock: with a
// manual clock, a handshake through a 5 s delay completes only when the
// test advances the clock, and not one packet crosses before.
func TestDelayActionOnManualClock(t *testing.T) {
	l := newLab(t, `rules:
  - id: slow
    source: test
    year: 2024
    match: [{port: {ports: [8080]}}]
    actions: [{delay: {delay: 5s}}]
`, false)
	srv := l.w.Host("vps")
	ln, err := srv.Listen("tcp", ":8080")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan struct{})
	go func() {
		if c, err := ln.Accept(); err == nil {
			close(accepted)
			c.Close()
		}
	}()
	dialed := make(chan error, 1)
	go func() {
		c, err := l.client.DialAddr(context.Background(), "tcp", netip.AddrPortFrom(srv.Addr(4), 8080))
		if err == nil {
			c.Close()
		}
		dialed <- err
	}()
	// The SYN is held: nothing crosses in real time.
	deadline := time.Now().Add(2 * time.Second)
	for l.clock.Pending() == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if l.clock.Pending() == 0 {
		t.Fatal("the delay action armed no timer")
	}
	select {
	case <-accepted:
		t.Fatal("the server accepted before the clock moved")
	case err := <-dialed:
		t.Fatalf("the dial ended before the clock moved: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
	// Each 5 s step releases the packets held so far, in both directions:
	// the SYN, the SYN-ACK, the client's ACK.
	steps := 0
	for gotDial, gotAccept := false, false; !gotDial || !gotAccept; {
		select {
		case err := <-dialed:
			if err != nil {
				t.Fatalf("dial: %v", err)
			}
			gotDial = true
		case <-accepted:
			gotAccept = true
			accepted = nil
		case <-time.After(20 * time.Millisecond):
			if time.Now().After(deadline.Add(5 * time.Second)) {
				t.Fatalf("the handshake never completed (dialed %v, accepted %v)", gotDial, gotAccept)
			}
			if l.clock.Pending() > 0 {
				l.clock.Advance(5 * time.Second)
				steps++
			}
		}
	}
	if steps < 2 {
		t.Errorf("handshake completed after %d clock steps; the SYN and the SYN-ACK are each held 5 s", steps)
	}
	ds := l.decisions()
	if len(ds) == 0 || ds[0].Action != border.ActionDelay || ds[0].Effect != border.EffectDelay {
		t.Fatalf("decisions %+v", ds)
	}
}
