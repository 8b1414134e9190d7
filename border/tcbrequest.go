package border

// RequestOpener is implemented by matchers that know where a request of
// their protocol starts. A rule that inspects first-request packets
// (Inspect.Packets first-request: a stateless box that looks at the first
// client packet opening a request, each packet on its own) counts only the
// packets that open one; one that inspects while-request packets stops at
// the first that opens none. Other matchers take any data.
type RequestOpener interface {
	OpensRequest(data []byte) bool
}

// opensRequest reports whether data, a client packet's payload, opens a
// request for every matcher of r that knows what one looks like.
func (r *rule) opensRequest(data []byte) bool {
	for _, m := range r.matchers {
		if o, ok := m.(RequestOpener); ok && !o.OpensRequest(data) {
			return false
		}
	}
	return len(data) > 0
}
