package border

import (
	"encoding/binary"
	"net/netip"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/splinter-lab/splinter/dissect"
	"github.com/splinter-lab/splinter/packet"
	"github.com/splinter-lab/splinter/policy"
)

// ActionDNSInject is the kind of DNSInjectAction.
const ActionDNSInject ActionKind = "dns-inject"

// DNSInjectAction races forged DNS answers against the real one; the query
// itself is not dropped. Several injectors may fire for one query, each
// with its own list, fingerprint and answers (the GFW's three). It needs at
// least one injector.
type DNSInjectAction struct {
	Injectors []Injector `yaml:"injectors"`
}

// Injector is one DNS injector. The zero value is not usable: it needs a
// name and an answer.
type Injector struct {
	Name string `yaml:"name"`
	// List, if set, restricts this injector to query names in the list
	// (compared in Mode); otherwise the rule's match decides.
	List string            `yaml:"list"`
	Mode policy.DomainMode `yaml:"mode"`
	// Fingerprint of the answer's IP header; AA sets the DNS AA bit.
	Fingerprint policy.Fingerprint `yaml:"fingerprint"`
	AA          bool               `yaml:"aa"`
	Answer      Answer             `yaml:"answer"`
	// AForAnyQType answers an A record for every query type except AAAA
	// (the Wallbleed injector).
	AForAnyQType bool `yaml:"a-for-any-qtype"`
	// RRTTL is the answer record's TTL, drawn from [Min, Max] and
	// truncated to seconds: "60s" or "60s-300s". Zero means 60s.
	RRTTL policy.DurationRange `yaml:"rr-ttl"`
	// Count is how many forged responses are sent; 0 means 1.
	Count int `yaml:"count"`
	// Delay before the answer leaves; zero means at once.
	Delay policy.DurationRange `yaml:"delay"`
}

// Answer is what a forged DNS response says: exactly one of Pool, Addrs or
// NXDomain.
type Answer struct {
	// Pool is an ordered pool of addresses handed out round-robin, one per
	// response, IPv4 for A and IPv6 for AAAA.
	Pool []netip.Addr `yaml:"pool"`
	// Addrs are fixed addresses, all of the query's family in every answer.
	Addrs []netip.Addr `yaml:"addrs"`
	// NXDomain answers "no such name".
	NXDomain bool `yaml:"nxdomain"`
}

func init() {
	RegisterAction(string(ActionDNSInject), "Race forged DNS answers (pool round-robin, fixed addresses or NXDOMAIN) from one or more fingerprinted injectors.",
		func() ActionConfig { return &DNSInjectAction{} })
}

// Kind implements policy.Action.
func (*DNSInjectAction) Kind() string { return string(ActionDNSInject) }

// Validate implements policy.Action.
func (a *DNSInjectAction) Validate(c *policy.Checker) {
	if len(a.Injectors) == 0 {
		c.Errorf("injectors", "dns-inject needs at least one injector")
	}
	names := map[string]bool{}
	for i := range a.Injectors {
		in := &a.Injectors[i]
		ic := c.Sub("injectors[" + strconv.Itoa(i) + "]")
		if in.Name == "" {
			ic.Errorf("name", "an injector needs a name")
		} else if names[in.Name] {
			ic.Errorf("name", "injector name %q is used twice", in.Name)
		}
		names[in.Name] = true
		if in.List != "" || in.Mode != "" {
			ic.NameList("list", in.List, true, in.Mode)
		}
		in.Fingerprint.Validate(ic, "fingerprint")
		n := 0
		if len(in.Answer.Pool) > 0 {
			n++
		}
		if len(in.Answer.Addrs) > 0 {
			n++
		}
		if in.Answer.NXDomain {
			n++
		}
		if n != 1 {
			ic.Errorf("answer", "an answer needs exactly one of pool, addrs and nxdomain")
		}
		for j, ad := range in.Answer.Pool {
			if !ad.IsValid() {
				ic.Errorf("answer.pool["+strconv.Itoa(j)+"]", "invalid address")
			}
		}
		for j, ad := range in.Answer.Addrs {
			if !ad.IsValid() {
				ic.Errorf("answer.addrs["+strconv.Itoa(j)+"]", "invalid address")
			}
		}
		if in.Count < 0 {
			ic.Errorf("count", "count %d is negative", in.Count)
		}
		if in.RRTTL.Max > time.Duration(1<<31-1)*time.Second {
			ic.Errorf("rr-ttl", "rr-ttl %s is too long", in.RRTTL)
		}
	}
}

// Compile implements ActionConfig.
func (a *DNSInjectAction) Compile(c *Compiler) (Action, error) {
	d := &dnsInjectAct{cfg: a, next: make([]atomic.Uint64, len(a.Injectors))}
	for _, in := range a.Injectors {
		l, err := c.List(in.List)
		if err != nil {
			return nil, err
		}
		d.lists = append(d.lists, l)
	}
	return d, nil
}

type dnsInjectAct struct {
	cfg   *DNSInjectAction
	lists []*policy.Compiled
	next  []atomic.Uint64 // round-robin position of each injector's pool
}

func (*dnsInjectAct) Effect() Effect { return EffectForgedAnswer }

func (d *dnsInjectAct) Apply(a *Act) packet.Verdict {
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
		for range max(in.Count, 1) {
			var addr netip.Addr
			if !in.Answer.NXDomain {
				var ok bool
				if addr, ok = d.pick(i, in, want6); !ok {
					break
				}
			}
			ttl := uint32(a.Duration(in.RRTTL) / time.Second)
			if in.RRTTL.IsZero() {
				ttl = 60
			}
			ans := dnsAnswer(query, q, in, addr, ttl)
			if ans == nil {
				continue
			}
			pkt := packet.AppendUDP(nil, a.f.server, a.f.client, ans, a.Shape(in.Fingerprint))
			detail := "NXDOMAIN from " + in.Name
			if addr.IsValid() {
				detail = typeName(addr) + " " + addr.String() + " from " + in.Name
			}
			a.Record(detail)
			a.InjectAfter(a.Duration(in.Delay), pkt)
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
func (d *dnsInjectAct) pick(i int, in *Injector, v6 bool) (netip.Addr, bool) {
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

// dnsAnswer builds a forged answer to the query q (parsed from query) the
// way the GFW's injectors do (Wallbleed, NDSS 2025): the query up to the end
// of its question, flags 0x8180 (0x8400 without RD), one RR with a pointer to
// the question name. It returns nil when the injector does not answer this
// query type.
func dnsAnswer(query []byte, q *dissect.DNSMessage, in *Injector, addr netip.Addr, ttl uint32) []byte {
	if q.QuestionEnd > len(query) || q.QuestionEnd < 12 {
		return nil
	}
	b := make([]byte, 0, q.QuestionEnd+28)
	b = append(b, query[:q.QuestionEnd]...)
	flags := uint16(0x8180)
	if !q.RD() {
		flags = 0x8400
	}
	if in.AA {
		flags |= 0x0400
	} else {
		flags &^= 0x0400
	}
	binary.BigEndian.PutUint16(b[4:], 1) // QDCOUNT
	binary.BigEndian.PutUint16(b[8:], 0)
	binary.BigEndian.PutUint16(b[10:], 0)
	if in.Answer.NXDomain {
		binary.BigEndian.PutUint16(b[2:], flags|3)
		binary.BigEndian.PutUint16(b[6:], 0)
		return b
	}
	binary.BigEndian.PutUint16(b[2:], flags)
	binary.BigEndian.PutUint16(b[6:], 1) // ANCOUNT
	typ := uint16(1)
	if addr.Is6() {
		typ = 28
	}
	b = append(b, 0xc0, 0x0c, byte(typ>>8), byte(typ), 0, 1)
	b = binary.BigEndian.AppendUint32(b, ttl)
	raw := addr.AsSlice()
	b = binary.BigEndian.AppendUint16(b, uint16(len(raw)))
	return append(b, raw...)
}
