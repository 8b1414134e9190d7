package border

import (
	"errors"

	"github.com/splinter-lab/splinter/dissect"
	"github.com/splinter-lab/splinter/policy"
)

// opensRequest reports whether data, a client packet's payload, opens a
// request of the protocol rule r's matchers parse, which is what a rule
// with Inspect.Packets first-request counts: an HTTP request line (even
// incomplete) for http, a TLS handshake record for the TLS matchers. Other
// matchers take any data.
func opensRequest(r *rule, data []byte, sc *scratch) bool {
	for _, m := range r.src.Match {
		switch m.(type) {
		case *policy.HTTPMatch:
			if errors.Is(dissect.ParseRequestHead(data, &sc.req), dissect.ErrNotHTTP) {
				return false
			}
		case *policy.TLSSNIMatch, *policy.ESNIMatch, *policy.ECHMatch:
			if len(data) < 2 || data[0] != 0x16 || data[1] != 0x03 {
				return false
			}
		}
	}
	return len(data) > 0
}
