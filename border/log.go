package border

import (
	"encoding/json"
	"io"
	"net/netip"
	"sync"
	"time"
)

// Decision is one action a border took: the ground truth.
type Decision struct {
	Time time.Time `json:"time"`
	// Border names the border: a jurisdiction code ("CN") or
	// "CODE/network" for a network's own border ("CN/cn-henan-unicom").
	Border       string `json:"border"`
	Jurisdiction string `json:"jurisdiction"`
	Policy       string `json:"policy"`
	Rule         string `json:"rule"`
	// Action is the action kind ("rst", "dns-inject", "drop", "blockpage",
	// "throttle", "residual", "null-route", "delay"); enforcement of an
	// earlier residual block or null route is "residual" or "null-route"
	// with Enforced set.
	Action   string `json:"action"`
	Enforced bool   `json:"enforced,omitempty"`
	// Proto is "tcp", "udp" or "icmp".
	Proto  string         `json:"proto"`
	Client netip.AddrPort `json:"client"`
	Server netip.AddrPort `json:"server"`
	// Direction is the flow's direction across the border: "outbound" when
	// the client is inside.
	Direction string `json:"direction"`
	// Evidence is what the matcher saw ("sni", "host", "keyword", "qname",
	// "quic-sni", "prefix", ...), with its value.
	Evidence []Evidence `json:"evidence,omitempty"`
	// Detail says what was done, for people ("3 rst+ack to both", "A
	// 198.18.99.1 from injector-1").
	Detail string `json:"detail,omitempty"`
}

// Evidence is one thing a matcher saw.
type Evidence struct {
	Kind  string `json:"kind"`
	Value string `json:"value"`
}

// Log collects decisions from any number of engines. It keeps them in
// memory (for scoring), writes them as JSON lines to an optional writer, and
// hands them to subscribers. The zero value is not usable; use NewLog.
type Log struct {
	mu    sync.Mutex
	all   []Decision
	max   int
	lost  int
	enc   *json.Encoder
	err   error
	subs  map[int]chan Decision
	next  int
	count int
}

// NewLog returns a log that keeps at most keep decisions in memory (0 means
// one million) and writes each as a JSON line to w if w is not nil.
func NewLog(w io.Writer, keep int) *Log {
	if keep <= 0 {
		keep = 1 << 20
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
