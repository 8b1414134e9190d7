package border

import (
	"errors"
	"net/netip"
	"sync"

	"github.com/splinter-lab/splinter/dissect"
	"github.com/splinter-lab/splinter/policy"
)

// What the built-in matchers share: the parsers' reusable results, and a few
// readings of a flow.

// scratch holds the parsers' reusable result structs.
type scratch struct {
	in    Inspection
	act   Act
	hello dissect.ClientHello
	req   dissect.RequestHead
	dns   dissect.DNSMessage
	quic  dissect.QUICInitial
	held  []Decision // an action's decisions, until its verdict is known
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

// sideAddrs picks the endpoints a side refers to, without allocating.
func sideAddrs(side policy.Side, in *Inspection) ([2]netip.AddrPort, int) {
	switch side {
	case policy.Src:
		return [2]netip.AddrPort{in.client}, 1
	case policy.Dst, "":
		return [2]netip.AddrPort{in.server}, 1
	}
	return [2]netip.AddrPort{in.server, in.client}, 2
}

// parseHello parses the ClientHello at the start of what the rule inspects.
func parseHello(in *Inspection, reassemble bool) (*dissect.ClientHello, Result) {
	h := &in.sc.hello
	err := dissect.ParseClientHello(in.data, dissect.HelloOptions{ReassembleRecords: reassemble}, h)
	switch {
	case err == nil:
		return h, Match
	case errors.Is(err, dissect.ErrIncomplete):
		if h.HasSNI {
			return h, Match // the name arrived whole: enough for a censor
		}
		return h, NeedMore
	}
	return h, NoMatch // not TLS, or a split the rule does not reassemble
}

// opensTLS reports whether data starts a TLS handshake record.
func opensTLS(data []byte) bool { return len(data) >= 2 && data[0] == 0x16 && data[1] == 0x03 }
