package evade

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"sync"

	"github.com/splinter-lab/splinter/border"
)

// pair is a connection's two endpoints in canonical order, so that a
// decision is found whichever endpoint the border took for the client.
type pair struct{ a, b netip.AddrPort }

func pairOf(x, y netip.AddrPort) pair {
	if x.Compare(y) > 0 {
		x, y = y, x
	}
	return pair{x, y}
}

// ledger is the session's copy of the decision log, indexed by connection.
// It is the lab's decision writer: the log writes every decision to it as
// a JSON line synchronously, as the decision is taken, so nothing is lost
// and a trial's decisions are all here by the time its client has seen
// their effect. It forwards the lines to an optional writer.
type ledger struct {
	mu      sync.Mutex
	partial []byte
	byPair  map[pair][]border.Decision
	n       int
	bad     int
	tee     io.Writer
	teeErr  error
}

func newLedger(tee io.Writer) *ledger {
	return &ledger{byPair: map[pair][]border.Decision{}, tee: tee}
}

func (l *ledger) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.tee != nil && l.teeErr == nil {
		_, l.teeErr = l.tee.Write(p)
	}
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		var d border.Decision
		if err := json.Unmarshal(l.partial[:i], &d); err != nil {
			l.bad++
		} else {
			k := pairOf(d.Client, d.Server)
			l.byPair[k] = append(l.byPair[k], d)
			l.n++
		}
		l.partial = l.partial[i+1:]
	}
	if len(l.partial) == 0 {
		l.partial = l.partial[:0:0]
	}
	return len(p), nil
}

// of returns the decisions about the connection between x and y.
func (l *ledger) of(x, y netip.AddrPort) []border.Decision {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]border.Decision(nil), l.byPair[pairOf(x, y)]...)
}

// err is the first error forwarding decisions, or says that some could not
// be read back (their trials would miss them).
func (l *ledger) err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.teeErr != nil {
		return fmt.Errorf("evade: writing decisions: %w", l.teeErr)
	}
	if l.bad > 0 {
		return fmt.Errorf("evade: %d decisions could not be read back from the log", l.bad)
	}
	return nil
}
