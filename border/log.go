package border

import (
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"sync"
	"time"
)

// Decision is one action a border took: the ground truth. Scoring reads its
// typed fields (Action, Effect, Layer, Evidence kinds, Blockpage, FlowID);
// Detail is for people only and no code parses it.
type Decision struct {
	Time time.Time `json:"time"`
	// Border names the border: a jurisdiction code ("CN") or
	// "CODE/network" for a network's own border ("CN/cn-henan-unicom").
	Border       string `json:"border"`
	Jurisdiction string `json:"jurisdiction"`
	Policy       string `json:"policy"`
	Rule         string `json:"rule"`
	// PolicyIndex is the transparency-log index of the policy version
	// that took the decision (Config.PolicyIndex); absent when the policy
	// is not logged. Decisions of one engine share the value: do not
	// modify it.
	PolicyIndex *int64 `json:"policy_index,omitempty"`
	// FlowID is unique per flow in this process (0 for a packet without a
	// flow): every decision about one connection carries the same.
	FlowID uint64 `json:"flow_id"`
	// Action is the kind of the action taken; enforcement of an earlier
	// residual block or null route carries that action's kind with
	// Enforced set.
	Action   ActionKind `json:"action"`
	Enforced bool       `json:"enforced,omitempty"`
	// Effect is what the action did to the traffic.
	Effect Effect `json:"effect"`
	// Layer is what the rule looked at.
	Layer Layer `json:"layer"`
	// Proto is "tcp", "udp" or "icmp".
	Proto  string         `json:"proto"`
	Client netip.AddrPort `json:"client"`
	Server netip.AddrPort `json:"server"`
	// Direction is the flow's direction across the border: "outbound" when
	// the client is inside.
	Direction string `json:"direction"`
	// Evidence is what the matchers saw, with its value.
	Evidence []Evidence `json:"evidence,omitempty"`
	// Blockpage describes a block page the action sent.
	Blockpage *BlockpageFacts `json:"blockpage,omitempty"`
	// Detail says what was done, for people ("3 rst+ack to both", "A
	// 198.18.99.1 from injector-1").
	Detail string `json:"detail,omitempty"`
}

// BlockpageFacts are what a block page decision tells scoring.
type BlockpageFacts struct {
	// Status is the page's HTTP status code.
	Status int `json:"status"`
	// Bytes is the size of the HTTP response.
	Bytes int `json:"bytes"`
	// InRST is true when the page rode in a segment with RST set: a TCP
	// stack drops such data, so the client sees a reset, not the page.
	InRST bool `json:"in_rst,omitempty"`
}

// Evidence is one thing a matcher saw.
type Evidence struct {
	Kind  EvidenceKind `json:"kind"`
	Value string       `json:"value"`
}

// EvidenceKind names what a matcher saw.
type EvidenceKind string

// Evidence kinds of the built-in matchers.
const (
	EvidenceQName          EvidenceKind = "qname"           // a DNS question name
	EvidenceSNI            EvidenceKind = "sni"             // a TLS ClientHello's server_name
	EvidenceHost           EvidenceKind = "host"            // an HTTP Host header
	EvidenceKeyword        EvidenceKind = "keyword"         // a keyword found in an HTTP request
	EvidenceQUICSNI        EvidenceKind = "quic-sni"        // the SNI of a QUIC Initial
	EvidenceESNI           EvidenceKind = "esni"            // an ESNI extension
	EvidenceECH            EvidenceKind = "ech"             // an ECH extension
	EvidenceECHOuterSNI    EvidenceKind = "ech-outer-sni"   // the outer SNI of an ECH ClientHello
	EvidenceListItem       EvidenceKind = "list-item"       // the list item that matched
	EvidenceCondition      EvidenceKind = "condition"       // the trigger word of a conditional list
	EvidencePrefix         EvidenceKind = "prefix"          // the prefix an address fell in
	EvidencePort           EvidenceKind = "port"            // a port
	EvidenceFullyEncrypted EvidenceKind = "fully-encrypted" // a payload with no exemption
	EvidenceProtocol       EvidenceKind = "protocol"        // no allowed protocol seen
)

// NamesDomain reports whether evidence of this kind is a domain name the
// client asked for (a query, an SNI, a Host).
func (k EvidenceKind) NamesDomain() bool {
	switch k {
	case EvidenceQName, EvidenceSNI, EvidenceHost, EvidenceQUICSNI:
		return true
	}
	return false
}

// ActionKind names an action kind: the name it is registered under.
type ActionKind string

// Effect is what an action does to the traffic that made its rule fire: the
// fact about an action that scoring needs.
type Effect uint8

// Effects.
const (
	// EffectNone: the action changes nothing the client sees by itself.
	EffectNone Effect = iota
	// EffectDrop: packets are discarded; the client times out.
	EffectDrop
	// EffectReset: forged resets end the connection.
	EffectReset
	// EffectForgedAnswer: a forged DNS answer races the real one.
	EffectForgedAnswer
	// EffectPage: a block page the client can read replaces the content.
	EffectPage
	// EffectThrottle: the flow's rate is limited.
	EffectThrottle
	// EffectDelay: the flow's packets are held back.
	EffectDelay
	// EffectBlock: later traffic of the tuple or address is blocked
	// (residual blocking, null routes).
	EffectBlock
	// EffectHold: the border terminates the connection and holds it.
	EffectHold
	// EffectIntercept: the border terminates TLS with its own certificate.
	EffectIntercept
)

var effectNames = [...]string{"none", "drop", "reset", "forged-answer", "page", "throttle", "delay", "block", "hold", "intercept"}

func (e Effect) String() string {
	if int(e) < len(effectNames) {
		return effectNames[e]
	}
	return "effect(" + strconv.Itoa(int(e)) + ")"
}

// MarshalText writes the effect's name.
func (e Effect) MarshalText() ([]byte, error) { return []byte(e.String()), nil }

// UnmarshalText reads an effect's name.
func (e *Effect) UnmarshalText(b []byte) error {
	for i, n := range effectNames {
		if n == string(b) {
			*e = Effect(i)
			return nil
		}
	}
	return fmt.Errorf("border: unknown effect %q", b)
}

// Layer is what a matcher looks at.
type Layer uint8

// Layers.
const (
	LayerNone    Layer = iota
	LayerIP            // addresses, ports, transport
	LayerPayload       // the shape of a flow's first bytes (fully encrypted, protocol allowlists)
	LayerDNS           // a DNS query
	LayerTLS           // a TLS ClientHello
	LayerHTTP          // an HTTP request
	LayerQUIC          // a QUIC Initial
)

var layerNames = [...]string{"none", "ip", "payload", "dns", "tls", "http", "quic"}

func (l Layer) String() string {
	if int(l) < len(layerNames) {
		return layerNames[l]
	}
	return "layer(" + strconv.Itoa(int(l)) + ")"
}

// MarshalText writes the layer's name.
func (l Layer) MarshalText() ([]byte, error) { return []byte(l.String()), nil }

// UnmarshalText reads a layer's name.
func (l *Layer) UnmarshalText(b []byte) error {
	for i, n := range layerNames {
		if n == string(b) {
			*l = Layer(i)
			return nil
		}
	}
	return fmt.Errorf("border: unknown layer %q", b)
}

// Log collects decisions from any number of engines. It keeps them in
// memory (for scoring), writes them as JSON lines to an optional writer,
// hands them to hooks, and to subscribers. The zero value is not usable;
// use NewLog.
type Log struct {
	mu    sync.Mutex
	all   []Decision
	max   int
	lost  int
	enc   *json.Encoder
	err   error
	hooks []func(Decision)
	subs  map[int]chan Decision
	next  int
	count int
}

// NewLog returns a log that keeps at most keep decisions in memory (0 means
// one million, a negative keep none) and writes each as a JSON line to w if
// w is not nil.
func NewLog(w io.Writer, keep int) *Log {
	switch {
	case keep == 0:
		keep = 1 << 20
	case keep < 0:
		keep = 0
	}
	l := &Log{max: keep, subs: make(map[int]chan Decision)}
	if w != nil {
		l.enc = json.NewEncoder(w)
	}
	return l
}

// Record adds a decision.
func (l *Log) Record(d Decision) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.count++
	if len(l.all) < l.max {
		l.all = append(l.all, d)
	} else {
		l.lost++
	}
	if l.enc != nil && l.err == nil {
		l.err = l.enc.Encode(d)
	}
	for _, h := range l.hooks {
		h(d)
	}
	for _, ch := range l.subs {
		select {
		case ch <- d:
		default: // a slow subscriber loses decisions rather than stall the border
		}
	}
}

// Decisions returns a copy of the decisions kept so far.
func (l *Log) Decisions() []Decision {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Decision(nil), l.all...)
}

// Len is how many decisions were recorded (kept or not).
func (l *Log) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.count
}

// Err is the first error writing JSON lines, if any.
func (l *Log) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// Hook has every decision recorded from now on handed to f, in the order
// recorded, before Record returns: unlike a subscriber, a hook loses
// nothing (a slow hook slows the borders instead). f runs under the log's
// lock, so it must not call the log.
func (l *Log) Hook(f func(Decision)) {
	l.mu.Lock()
	l.hooks = append(l.hooks, f)
	l.mu.Unlock()
}

// Subscribe returns a channel that receives every decision recorded from now
// on (buffered; decisions are dropped for a subscriber that falls 1024
// behind), and a function that ends the subscription.
func (l *Log) Subscribe() (<-chan Decision, func()) {
	ch := make(chan Decision, 1024)
	l.mu.Lock()
	id := l.next
	l.next++
	l.subs[id] = ch
	l.mu.Unlock()
	return ch, func() {
		l.mu.Lock()
		if _, ok := l.subs[id]; ok {
			delete(l.subs, id)
			close(ch)
		}
		l.mu.Unlock()
	}
}
