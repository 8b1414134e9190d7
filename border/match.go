package border

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"sync"

	"github.com/splinter-lab/splinter/dissect"
	"github.com/splinter-lab/splinter/packet"
	"github.com/splinter-lab/splinter/policy"
)

// result is a matcher's verdict on what it has seen so far.
type result int8

const (
	noMatch  result = iota // not this flow: final for stateful rules
	needMore               // cannot tell yet: more bytes or packets
	match
)

// mctx is what a matcher examines: one client packet of a flow, and the
// bytes the rule inspects (the packet's payload, or the reassembled stream).
type mctx struct {
	e      *Engine
	r      *rule
	f      *flow // nil for packets matched without a flow (ICMP, fragments)
	st     *ruleState
	p      *packet.IP
	data   []byte
	client netip.AddrPort
	server netip.AddrPort
	ev     []Evidence
	sc     *scratch
}

func (m *mctx) evidence(kind, value string) { m.ev = append(m.ev, Evidence{kind, value}) }

// scratch holds the parsers' reusable result structs.
type scratch struct {
	ip    packet.IP
	hello dissect.ClientHello
	req   dissect.RequestHead
	dns   dissect.DNSMessage
	quic  dissect.QUICInitial
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

// matcher is a compiled policy matcher.
type matcher interface {
	match(m *mctx) result
	// header reports whether it looks at headers only (so it applies to
	// packets without payload, a SYN included).
	header() bool
	// protos restricts the rule to transports (bit i = protoIndex i); 0 is
	// any.
	protos() uint8
	// needsFlowState reports whether it counts packets of a flow.
	needsFlowState() bool
}

const (
	onlyTCP = 1 << 0
	onlyUDP = 1 << 1
)

// payloadMatcher is embedded by matchers that read payload.
type payloadMatcher struct{}

func (payloadMatcher) header() bool         { return false }
func (payloadMatcher) needsFlowState() bool { return false }

type headerMatcher struct{}

func (headerMatcher) header() bool         { return true }
func (headerMatcher) protos() uint8        { return 0 }
func (headerMatcher) needsFlowState() bool { return false }

func (e *Engine) list(name string) (*policy.Compiled, error) {
	if name == "" {
		return nil, nil
	}
	c := e.lists[name]
	if c == nil {
		return nil, fmt.Errorf("no list %q", name)
	}
	return c, nil
}

func (e *Engine) compileMatcher(r *rule, pm policy.Matcher) (matcher, error) {
	switch m := pm.(type) {
	case *policy.IPMatch:
		set, err := e.addrSet(policy.AddrSet{List: m.List, Prefixes: m.Prefixes})
		return &ipMatcher{set: set, side: m.Side}, err
	case *policy.PortMatch:
		l, err := e.list(m.List)
		return &portMatcher{ports: m.Ports, list: l, side: m.Side}, err
	case *policy.ProtocolMatch:
		pm := &protoMatcher{}
		for _, p := range m.Protocols {
			switch p {
			case policy.TCP:
				pm.mask |= onlyTCP
			case policy.UDP:
				pm.mask |= onlyUDP
			case policy.ICMP:
				pm.mask |= 1 << 2
			}
		}
		return pm, nil
	case *policy.AnyMatch:
		return anyMatcher{}, nil
	case *policy.DNSMatch:
		l, err := e.list(m.List)
		dm := &dnsMatcher{cfg: m, list: l}
		for _, t := range m.QTypes {
			q, _ := policy.QType(t)
			dm.qtypes = append(dm.qtypes, q)
		}
		return dm, err
	case *policy.TLSSNIMatch:
		l, err := e.list(m.List)
		return &sniMatcher{cfg: m, list: l, reassemble: r.insp.ReassembleTLS}, err
	case *policy.ESNIMatch:
		return &esniMatcher{ext: m.Extension, reassemble: r.insp.ReassembleTLS}, nil
	case *policy.ECHMatch:
		l, err := e.list(m.OuterList)
		return &echMatcher{cfg: m, outer: l, reassemble: r.insp.ReassembleTLS}, err
	case *policy.HTTPMatch:
		hm := &httpMatcher{cfg: m, fields: m.FieldsOrDefault()}
		var err error
		if hm.list, err = e.list(m.List); err != nil {
			return nil, err
		}
		for _, c := range m.Conditional {
			l, err := e.list(c.List)
			if err != nil {
				return nil, err
			}
			hm.cond = append(hm.cond, condList{when: []byte(c.When), list: l})
		}
		return hm, nil
	case *policy.QUICSNIMatch:
		l, err := e.list(m.List)
		return &quicMatcher{cfg: m, list: l}, err
	case *policy.FullyEncryptedMatch:
		return &fetMatcher{cfg: *m}, nil
	case *policy.ProtocolAllowlistMatch:
		am := &allowMatcher{n: m.Packets}
		for _, a := range m.Allow {
			switch a {
			case policy.AppDNS:
				am.dns = true
			case policy.AppHTTP:
				am.http = true
			case policy.AppTLS:
				am.tls = true
			}
		}
		return am, nil
	}
	return nil, fmt.Errorf("matcher kind %q is not implemented by the engine", pm.Kind())
}

// sideAddrs picks the endpoints a side refers to, without allocating.
func sideAddrs(side policy.Side, m *mctx) ([2]netip.AddrPort, int) {
	switch side {
	case policy.Src:
		return [2]netip.AddrPort{m.client}, 1
	case policy.Dst, "":
		return [2]netip.AddrPort{m.server}, 1
	}
	return [2]netip.AddrPort{m.server, m.client}, 2
}

type ipMatcher struct {
	headerMatcher
	set  addrSet
	side policy.Side
}

func (im *ipMatcher) match(m *mctx) result {
	aps, n := sideAddrs(im.side, m)
	for _, ap := range aps[:n] {
		if pfx, ok := im.set.match(ap.Addr()); ok {
			m.evidence("prefix", pfx.String())
			return match
		}
	}
	return noMatch
}

type portMatcher struct {
	headerMatcher
	ports []policy.PortRange
	list  *policy.Compiled
	side  policy.Side
}

func (pm *portMatcher) match(m *mctx) result {
	aps, n := sideAddrs(pm.side, m)
	for _, ap := range aps[:n] {
		port := ap.Port()
		for _, r := range pm.ports {
			if r.Contains(port) {
				m.evidence("port", strconv.Itoa(int(port)))
				return match
			}
		}
		if pm.list != nil {
			if _, ok := pm.list.MatchPort(port); ok {
				m.evidence("port", strconv.Itoa(int(port)))
				return match
			}
		}
	}
	return noMatch
}

type protoMatcher struct {
	headerMatcher
	mask uint8
}

func (pm *protoMatcher) protos() uint8 { return pm.mask }
func (pm *protoMatcher) match(m *mctx) result {
	if pm.mask&(1<<protoIndex(m.p.Proto)) != 0 {
		return match
	}
	return noMatch
}

type anyMatcher struct{ headerMatcher }

func (anyMatcher) match(*mctx) result { return match }

// dnsMatcher reads a DNS query as the GFW's injectors do (Wallbleed, NDSS
// 2025): the first question, counts as the policy's quirks say.
type dnsMatcher struct {
	payloadMatcher
	cfg    *policy.DNSMatch
	list   *policy.Compiled
	qtypes []uint16
}

func (dm *dnsMatcher) protos() uint8 { return onlyTCP | onlyUDP }

func (dm *dnsMatcher) match(m *mctx) result {
	q := &m.sc.dns
	var err error
	if m.p.Proto == packet.TCP {
		// DNS over TCP: the query starts the stream; later segments of a
		// flow are not queries the way datagrams each are.
		if m.st.pkts > 1 && !m.r.insp.ReassembleTCP {
			return noMatch
		}
		err = dissect.ParseDNSTCP(m.data, q)
	} else {
		err = dissect.ParseDNS(m.data, q)
	}
	if errors.Is(err, dissect.ErrIncomplete) {
		return needMore
	}
	if err != nil || q.QR() || len(m.data) < 12 {
		return noMatch
	}
	c := dm.cfg
	if c.RequireQDCount1 && q.QDCount != 1 {
		return noMatch
	}
	if c.RequireZeroCounts && (q.ANCount != 0 || q.NSCount != 0 || q.ARCount != 0) {
		return noMatch
	}
	if c.RequireQClassIN && q.QClass != 1 {
		return noMatch
	}
	if len(dm.qtypes) > 0 {
		ok := false
		for _, t := range dm.qtypes {
			ok = ok || t == q.QType
		}
		if !ok {
			return noMatch
		}
	}
	name := q.Name()
	if c.MaxNameLen > 0 && len(name) > c.MaxNameLen {
		return noMatch
	}
	if item, ok := dm.list.MatchDomain(name, c.Mode); ok {
		m.evidence("qname", string(name))
		m.evidence("list-item", item)
		return match
	}
	return noMatch
}

// parseHello parses the ClientHello at the start of data.
func parseHello(m *mctx, reassemble bool) (*dissect.ClientHello, result) {
	h := &m.sc.hello
	err := dissect.ParseClientHello(m.data, dissect.HelloOptions{ReassembleRecords: reassemble}, h)
	switch {
	case err == nil:
		return h, match
	case errors.Is(err, dissect.ErrIncomplete):
		if h.HasSNI {
			return h, match // the name arrived whole: enough for a censor
		}
		return h, needMore
	}
	return h, noMatch // not TLS, or a split the rule does not reassemble
}

type sniMatcher struct {
	payloadMatcher
	cfg        *policy.TLSSNIMatch
	list       *policy.Compiled
	reassemble bool
}

func (sm *sniMatcher) protos() uint8 { return onlyTCP }

func (sm *sniMatcher) match(m *mctx) result {
	h, res := parseHello(m, sm.reassemble)
	if res != match {
		return res
	}
	sni := h.ServerName()
	if sni == nil {
		if sm.cfg.MatchMissing && h.Complete {
			m.evidence("sni", "")
			return match
		}
		if h.Complete {
			return noMatch
		}
		return needMore
	}
	if item, ok := sm.list.MatchDomain(sni, sm.cfg.Mode); ok {
		m.evidence("sni", string(bytes.ToLower(sni)))
		m.evidence("list-item", item)
		return match
	}
	return noMatch
}

type esniMatcher struct {
	payloadMatcher
	ext        uint16
	reassemble bool
}

func (em *esniMatcher) protos() uint8 { return onlyTCP }

func (em *esniMatcher) match(m *mctx) result {
	h, res := parseHello(m, em.reassemble)
	if res == match && !h.Complete {
		return needMore
	}
	if res != match {
		return res
	}
	if h.ESNI {
		m.evidence("esni", "0xffce")
		return match
	}
	return noMatch
}

type echMatcher struct {
	payloadMatcher
	cfg        *policy.ECHMatch
	outer      *policy.Compiled
	reassemble bool
}

func (em *echMatcher) protos() uint8 { return onlyTCP }

func (em *echMatcher) match(m *mctx) result {
	h, res := parseHello(m, em.reassemble)
	if res == match && !h.Complete {
		return needMore
	}
	if res != match {
		return res
	}
	if !h.ECH {
		return noMatch
	}
	if em.outer == nil {
		m.evidence("ech", "present")
		return match
	}
	sni := h.ServerName()
	if item, ok := em.outer.MatchDomain(sni, em.cfg.Mode); ok && sni != nil {
		m.evidence("ech-outer-sni", string(bytes.ToLower(sni)))
		m.evidence("list-item", item)
		return match
	}
	return noMatch
}

type condList struct {
	when []byte
	list *policy.Compiled
}

type httpMatcher struct {
	payloadMatcher
	cfg    *policy.HTTPMatch
	fields []policy.HTTPField
	list   *policy.Compiled
	cond   []condList
}

func (hm *httpMatcher) protos() uint8 { return onlyTCP }

func (hm *httpMatcher) match(m *mctx) result {
	r := &m.sc.req
	err := dissect.ParseRequestHead(m.data, r)
	if errors.Is(err, dissect.ErrIncomplete) {
		return needMore
	}
	if err != nil {
		if hm.cfg.StrictRequestLine || !errors.Is(err, dissect.ErrNotHTTP) {
			return noMatch
		}
	}
	head := m.data
	if r.Complete && r.HeadLength <= len(head) {
		head = head[:r.HeadLength]
	}
	check := func(l *policy.Compiled) bool {
		for _, f := range hm.fields {
			switch f {
			case policy.HTTPHost:
				host := r.Host()
				if i := bytes.LastIndexByte(host, ':'); i >= 0 && bytes.IndexByte(host, ']') < i {
					host = host[:i]
				}
				if item, ok := l.MatchDomain(host, hm.cfg.Mode); ok && len(host) > 0 {
					m.evidence("host", string(bytes.ToLower(host)))
					m.evidence("list-item", item)
					return true
				}
			case policy.HTTPPath:
				if item, ok := l.MatchText(r.Target()); ok {
					m.evidence("keyword", item)
					return true
				}
			case policy.HTTPRequest:
				if item, ok := l.MatchText(head); ok {
					m.evidence("keyword", item)
					return true
				}
			}
		}
		return false
	}
	if hm.list != nil && check(hm.list) {
		return match
	}
	for _, c := range hm.cond {
		if bytes.Contains(bytes.ToLower(head), c.when) && check(c.list) {
			m.evidence("condition", string(c.when))
			return match
		}
	}
	return noMatch
}

type quicMatcher struct {
	payloadMatcher
	cfg  *policy.QUICSNIMatch
	list *policy.Compiled
}

func (qm *quicMatcher) protos() uint8 { return onlyUDP }

func (qm *quicMatcher) match(m *mctx) result {
	q := &m.sc.quic
	err := dissect.ParseQUICInitial(m.data, dissect.QUICOptions{MaxFrames: qm.cfg.MaxFrames}, q)
	if err != nil && !(errors.Is(err, dissect.ErrIncomplete) && q.Hello.HasSNI) {
		return noMatch
	}
	ok := false
	for _, v := range qm.cfg.Versions {
		ok = ok || v == q.Version
	}
	if !ok {
		return noMatch
	}
	sni := q.Hello.ServerName()
	if item, hit := qm.list.MatchDomain(sni, qm.cfg.Mode); hit && sni != nil {
		m.evidence("quic-sni", string(bytes.ToLower(sni)))
		m.evidence("list-item", item)
		return match
	}
	return noMatch
}

// fetMatcher is the fully-encrypted-traffic test (USENIX Security 2023):
// the first client data packet is blocked unless an exemption holds.
type fetMatcher struct {
	payloadMatcher
	cfg policy.FullyEncryptedMatch
}

func (fm *fetMatcher) protos() uint8 { return onlyTCP }

func (fm *fetMatcher) match(m *mctx) result {
	b := m.p.Payload // the first data packet, never reassembled
	if len(b) == 0 {
		return needMore
	}
	if fm.cfg.MinLen > 0 && len(b) < fm.cfg.MinLen || fm.cfg.MaxLen > 0 && len(b) > fm.cfg.MaxLen {
		return noMatch
	}
	c := &fm.cfg
	x := dissect.Exemptions{PopcountLow: c.PopcountLow, PopcountHigh: c.PopcountHigh, PrintablePrefix: c.PrintablePrefix,
		PrintableRatio: c.PrintableRatio, PrintableRun: c.PrintableRun, Protocols: c.ExemptProtocols}
	if exempt, _ := dissect.FullyEncryptedExemptWith(b, x); exempt {
		return noMatch
	}
	m.evidence("fully-encrypted", fmt.Sprintf("%d bytes, no exemption", len(b)))
	return match
}

// allowMatcher is Iran's protocol filter (FOCI 2020): it matches when none of
// the first n client data packets looks like an allowed protocol.
type allowMatcher struct {
	payloadMatcher
	n              int
	dns, http, tls bool
}

func (am *allowMatcher) protos() uint8        { return onlyTCP }
func (am *allowMatcher) needsFlowState() bool { return true }

func (am *allowMatcher) looksAllowed(b []byte) bool {
	if am.dns && len(b) >= 12 && b[2]&0x80 == 0 && uint16(b[4])<<8|uint16(b[5]) < 15 && b[6] == 0 && b[7] == 0 {
		return true
	}
	if am.http && len(b) >= 8 {
		for _, p := range []string{"GET ", "POST ", "HEAD ", "CONNECT ", "OPTIONS ", "DELETE ", "PUT "} {
			if bytes.HasPrefix(b, []byte(p)) {
				return true
			}
		}
	}
	if am.tls && len(b) >= 41 && b[0] == 0x16 && b[1] == 3 && b[2] >= 1 && b[2] <= 3 && b[5] == 1 {
		rl := int(b[3])<<8 | int(b[4])
		hl := int(b[6])<<16 | int(b[7])<<8 | int(b[8])
		if rl == hl+4 {
			return true
		}
	}
	return false
}

func (am *allowMatcher) match(m *mctx) result {
	if am.looksAllowed(m.p.Payload) {
		return noMatch
	}
	if m.st.pkts < am.n {
		return needMore
	}
	m.evidence("protocol", fmt.Sprintf("none of the first %d packets is an allowed protocol", am.n))
	return match
}
