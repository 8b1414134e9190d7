package border

import (
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/splinter-lab/splinter/dissect"
	"github.com/splinter-lab/splinter/packet"
	"github.com/splinter-lab/splinter/policy"
)

// actx is what an action acts on: the packet that made its rule fire.
type actx struct {
	e          *Engine
	r          *rule
	f          *flow
	p          *packet.IP
	fromClient bool
	now        time.Time
	inject     func([]byte)
	ev         []Evidence
	dns        *dissect.DNSMessage // set when the rule matched a DNS query
}

type action interface {
	apply(a *actx) packet.Verdict
}

func (e *Engine) compileAction(r *rule, pa policy.Action) (action, error) {
	switch a := pa.(type) {
	case *policy.DropAction:
		return &dropAct{cfg: a}, nil
	case *policy.DNSInjectAction:
		d := &dnsInjectAct{cfg: a, next: make([]atomic.Uint64, len(a.Injectors))}
		for _, in := range a.Injectors {
			l, err := e.list(in.List)
			if err != nil {
				return nil, err
			}
			d.lists = append(d.lists, l)
		}
		return d, nil
	case *policy.RSTAction:
		return &rstAct{cfg: a}, nil
	case *policy.BlockpageAction:
		return &blockpageAct{cfg: a, resp: blockpage(a)}, nil
	case *policy.ThrottleAction:
		return &throttleAct{cfg: a}, nil
	case *policy.ResidualAction:
		return &residualAct{cfg: a}, nil
	case *policy.NullRouteAction:
		return &nullRouteAct{cfg: a}, nil
	case *policy.DelayAction:
		return &delayAct{cfg: a}, nil
	case *policy.InterceptAction:
		r.proxy = true
		return interceptAct{cfg: a}, nil
	case *policy.TerminateAction:
		r.proxy = true
		return terminateAct{}, nil
	}
	return nil, fmt.Errorf("action kind %q is not implemented by the engine", pa.Kind())
}

// record logs a decision of rule r on flow f.
func (e *Engine) record(r *rule, act string, enforced bool, f *flow, ev []Evidence, detail string) {
	if e.cfg.Log == nil {
		return
	}
	d := Decision{
		Time: e.clock.Now(), Border: e.cfg.Border, Jurisdiction: e.cfg.Jurisdiction, Policy: e.pol.Name,
		Rule: r.id, Action: act, Enforced: enforced, Proto: protoName(f.proto),
		Client: f.client, Server: f.server, Direction: f.dir.String(), Detail: detail,
	}
	if len(ev) > 0 {
		d.Evidence = append([]Evidence(nil), ev...)
	}
	e.cfg.Log.Record(d)
}

func protoName(p uint8) string {
	switch p {
	case packet.TCP:
		return "tcp"
	case packet.UDP:
		return "udp"
	}
	return "icmp"
}

type dropAct struct{ cfg *policy.DropAction }

func (d *dropAct) apply(a *actx) packet.Verdict {
	detail := "drop packet"
	if d.cfg.Flow {
		switch d.cfg.Direction {
		case policy.ClientToServer:
			a.f.dropC2S = true
		case policy.ServerToClient:
			a.f.dropS2C = true
		default:
			a.f.dropC2S, a.f.dropS2C = true, true
		}
		detail = "drop flow " + string(d.cfg.Direction)
	}
	a.e.record(a.r, "drop", false, a.f, a.ev, strings.TrimSpace(detail))
	return packet.Verdict{Drop: true}
}

type dnsInjectAct struct {
	cfg   *policy.DNSInjectAction
	lists []*policy.Compiled
	next  []atomic.Uint64 // round-robin position of each injector's pool
}

func (d *dnsInjectAct) apply(a *actx) packet.Verdict {
	q := a.dns
	if q == nil || a.f.proto != packet.UDP || !a.fromClient {
		return packet.Verdict{}
	}
	query := a.p.Payload
	for i := range d.cfg.Injectors {
		in := &d.cfg.Injectors[i]
		if l := d.lists[i]; l != nil {
			if _, ok := l.MatchDomain(q.Name(), in.Mode); !ok {
				continue
			}
		}
		want6 := q.QType == 28
		if !want6 && q.QType != 1 && !in.AForAnyQType && !in.Answer.NXDomain {
			continue
		}
		count := max(in.Count, 1)
		for c := 0; c < count; c++ {
			var addr netip.Addr
			if !in.Answer.NXDomain {
				var ok bool
				if addr, ok = d.pick(i, in, want6); !ok {
					break
				}
			}
			ttl := uint32(a.e.duration(in.RRTTL) / time.Second)
			if in.RRTTL.IsZero() {
				ttl = 60
			}
			ans := dnsAnswer(query, q, in, addr, ttl)
			if ans == nil {
				continue
			}
			pkt := packet.AppendUDP(nil, a.f.server, a.f.client, ans, a.e.shape(in.Fingerprint, a.p.TTL))
			detail := "NXDOMAIN from " + in.Name
			if addr.IsValid() {
				detail = typeName(addr) + " " + addr.String() + " from " + in.Name
			}
			a.e.record(a.r, "dns-inject", false, a.f, a.ev, detail)
			if dl := a.e.duration(in.Delay); dl > 0 {
				a.e.clock.AfterFunc(dl, func() { a.inject(pkt) })
			} else {
				a.inject(pkt)
			}
		}
	}
	return packet.Verdict{} // on-path: the query goes on
}

func typeName(a netip.Addr) string {
	if a.Is6() {
		return "AAAA"
	}
	return "A"
}

// pick takes the injector's next address of the family: round-robin through
// an ordered pool, or the first fixed address.
func (d *dnsInjectAct) pick(i int, in *policy.Injector, v6 bool) (netip.Addr, bool) {
	src := in.Answer.Addrs
	if len(in.Answer.Pool) > 0 {
		src = in.Answer.Pool
	}
	var fam []netip.Addr
	for _, a := range src {
		if a.Is6() == v6 {
			fam = append(fam, a)
		}
	}
	if len(fam) == 0 {
		return netip.Addr{}, false
	}
	if len(in.Answer.Pool) == 0 {
		return fam[0], true
	}
	n := d.next[i].Add(1) - 1
	return fam[n%uint64(len(fam))], true
}

type rstAct struct{ cfg *policy.RSTAction }

func (r *rstAct) apply(a *actx) packet.Verdict {
	if a.f.proto != packet.TCP {
		return packet.Verdict{}
	}
	if r.cfg.When == policy.AfterNextClientRecord {
		a.f.pending = append(a.f.pending, pendingRST{r: a.r, cfg: r.cfg, ev: append([]Evidence(nil), a.ev...)})
		return packet.Verdict{}
	}
	a.e.fireRST(a.r, r.cfg, a.f, a.p, a.ev, a.inject)
	return packet.Verdict{}
}

// pendingRST is a reset armed to fire on the client's next data.
type pendingRST struct {
	r   *rule
	cfg *policy.RSTAction
	ev  []Evidence
}

// fireRST injects a rst action's resets now or after its delay.
func (e *Engine) fireRST(r *rule, cfg *policy.RSTAction, f *flow, p *packet.IP, ev []Evidence, inject func([]byte)) {
	var pkts [][]byte
	collect := func(b []byte) { pkts = append(pkts, append([]byte(nil), b...)) }
	e.sendRSTs(f, p, cfg.To, cfg, collect)
	to := cfg.To
	if to == "" {
		to = policy.ToBoth
	}
	flags := "rst"
	if cfg.Flags == policy.FlagRST|policy.FlagACK {
		flags = "rst+ack"
	}
	detail := fmt.Sprintf("%d %s to %s", cfg.N(), flags, to)
	dl := e.duration(cfg.Delay)
	if dl > 0 {
		detail += fmt.Sprintf(" after %v", dl)
	}
	e.record(r, "rst", false, f, ev, detail)
	send := func() {
		for _, b := range pkts {
			inject(b)
		}
	}
	if dl > 0 {
		e.clock.AfterFunc(dl, send)
		return
	}
	send()
}

type blockpageAct struct {
	cfg  *policy.BlockpageAction
	resp []byte
}

// blockpage renders the HTTP response a blockpage action sends.
func blockpage(a *policy.BlockpageAction) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "HTTP/1.1 %d %s\r\n", a.Status, http.StatusText(a.Status))
	hasCT := false
	for k, v := range a.Headers {
		fmt.Fprintf(&b, "%s: %s\r\n", k, v)
		hasCT = hasCT || strings.EqualFold(k, "content-type")
	}
	if !hasCT {
		b.WriteString("Content-Type: text/html; charset=utf-8\r\n")
	}
	b.WriteString("Content-Length: " + strconv.Itoa(len(a.Body)) + "\r\nConnection: close\r\n\r\n")
	b.WriteString(a.Body)
	return []byte(b.String())
}

func (bp *blockpageAct) apply(a *actx) packet.Verdict {
	if a.f.proto != packet.TCP || !a.fromClient {
		return packet.Verdict{}
	}
	cli, srv := seqs(a.f, a.p, true)
	flags := uint8(bp.cfg.Flags)
	if flags == 0 {
		flags = packet.FIN | packet.PSH | packet.ACK
	}
	var pkts [][]byte
	seq := srv
	const mss = 1400
	for off := 0; off < len(bp.resp); off += mss {
		end := min(off+mss, len(bp.resp))
		fl := uint8(packet.PSH | packet.ACK)
		if end == len(bp.resp) {
			fl = flags
		}
		pkts = append(pkts, packet.AppendTCP(nil, packet.TCPSegment{Src: a.f.server, Dst: a.f.client, Seq: seq, Ack: cli, Flags: fl, Window: 65535, Payload: bp.resp[off:end], Shape: a.e.shape(bp.cfg.Fingerprint, a.p.TTL)}))
		seq += uint32(end - off)
	}
	if flags&packet.FIN != 0 {
		seq++
	}
	if bp.cfg.ThenRST {
		pkts = append(pkts, packet.AppendTCP(nil, packet.TCPSegment{Src: a.f.server, Dst: a.f.client, Seq: seq, Ack: cli, Flags: packet.RST | packet.ACK, Shape: a.e.shape(bp.cfg.Fingerprint, a.p.TTL)}))
	}
	detail := fmt.Sprintf("HTTP %d block page, %d bytes, %s", bp.cfg.Status, len(bp.resp), policy.TCPFlags(flags))
	if bp.cfg.ThenRST {
		detail += ", then rst"
	}
	a.e.record(a.r, "blockpage", false, a.f, a.ev, detail)
	send := func() {
		for _, b := range pkts {
			a.inject(b)
		}
	}
	if bp.cfg.Hold > 0 {
		a.e.clock.AfterFunc(bp.cfg.Hold, send)
	} else {
		send()
	}
	if bp.cfg.DropRequest || bp.cfg.Hold > 0 {
		// The request never reaches the server.
		a.f.dropC2S = true
		return packet.Verdict{Drop: true}
	}
	return packet.Verdict{}
}

type throttleAct struct{ cfg *policy.ThrottleAction }

func (t *throttleAct) apply(a *actx) packet.Verdict {
	rate := float64(t.cfg.Rate) / 8
	burst := float64(t.cfg.Burst)
	if burst <= 0 {
		burst = max(3000, rate/10)
	}
	// Up to 250 ms of traffic waits; beyond that it is dropped.
	queue := max(3000, rate/4)
	mk := func() *bucket {
		return &bucket{rate: rate, burst: burst, queue: queue, tokens: burst, last: a.now, idle: t.cfg.IdleTimeout}
	}
	switch t.cfg.Direction {
	case policy.ClientToServer:
		a.f.throttle[0] = mk()
	case policy.ServerToClient:
		a.f.throttle[1] = mk()
	default:
		a.f.throttle[0], a.f.throttle[1] = mk(), mk()
	}
	a.e.record(a.r, "throttle", false, a.f, a.ev, "throttle to "+t.cfg.Rate.String())
	return packet.Verdict{}
}

type residualAct struct{ cfg *policy.ResidualAction }

func dirs(d policy.FlowDir) (c2s, s2c bool) {
	switch d {
	case policy.ClientToServer:
		return true, false
	case policy.ServerToClient:
		return false, true
	}
	return true, true
}

func (ra *residualAct) apply(a *actx) packet.Verdict {
	c := ra.cfg
	k := blockKeyOf(key3, a.f)
	if c.Tuple == 4 {
		k = blockKeyOf(key4, a.f)
	}
	start := a.now.Add(a.e.duration(c.StartDelay))
	b := &block{rule: a.r, action: "residual", start: start, until: start.Add(c.Duration), dur: c.Duration, restart: c.Restart,
		enforce: c.Enforce, hit: policy.Prob(c.HitProbability), origin: a.f, ev: append([]Evidence(nil), a.ev...)}
	if b.enforce == "" {
		b.enforce = policy.EnforceRST
		if a.f.proto != packet.TCP {
			b.enforce = policy.EnforceDrop
		}
	}
	b.c2s, b.s2c = dirs(c.Direction)
	b.rst = &policy.RSTAction{}
	for _, act := range a.r.actions {
		if r, ok := act.(*rstAct); ok {
			shape := *r.cfg
			shape.When, shape.Delay, shape.To = "", policy.DurationRange{}, policy.ToBoth
			b.rst = &shape
			break
		}
	}
	a.e.blocks.add(k, b)
	a.e.record(a.r, "residual", false, a.f, a.ev, fmt.Sprintf("%d-tuple for %v, %s", c.Tuple, c.Duration, b.enforce))
	return packet.Verdict{}
}

type nullRouteAct struct{ cfg *policy.NullRouteAction }

func (n *nullRouteAct) apply(a *actx) packet.Verdict {
	c := n.cfg
	k := blockKeyOf(keyDstIP, a.f)
	switch c.Key {
	case policy.Key4Tuple:
		k = blockKeyOf(key4, a.f)
	case policy.Key3Tuple:
		k = blockKeyOf(key3, a.f)
	}
	b := &block{rule: a.r, action: "null-route", start: a.now, until: a.now.Add(c.Duration), dur: c.Duration, restart: c.Restart,
		enforce: policy.EnforceDrop, c2s: true, s2c: true, hit: 1, origin: a.f, ev: append([]Evidence(nil), a.ev...)}
	a.e.blocks.add(k, b)
	key := string(c.Key)
	if key == "" {
		key = string(policy.KeyDstIP)
	}
	a.e.record(a.r, "null-route", false, a.f, a.ev, fmt.Sprintf("null route by %s for %v", key, c.Duration))
	return packet.Verdict{}
}

type delayAct struct{ cfg *policy.DelayAction }

func (d *delayAct) apply(a *actx) packet.Verdict {
	dl := a.e.duration(d.cfg.Delay)
	a.f.delay = dl
	a.e.record(a.r, "delay", false, a.f, a.ev, fmt.Sprintf("delay flow by %v", dl))
	return packet.Verdict{Delay: dl}
}
