package backend

import (
	"net"
	"net/netip"

	"github.com/pion/stun/v3"
)

// serveSTUN answers STUN binding requests on pc until it is closed.
func serveSTUN(pc net.PacketConn) {
	buf := make([]byte, 1500)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				continue
			}
			return
		}
		ap, err := netip.ParseAddrPort(from.String())
		if err != nil {
			continue
		}
		if resp, ok := stunAnswer(buf[:n], ap); ok {
			_, _ = pc.WriteTo(resp, from)
		}
	}
}

// stunAnswer is the answer to a STUN message from the given address: a
// binding success response (RFC 5389) carrying the address as
// XOR-MAPPED-ADDRESS, with the request's transaction ID, a SOFTWARE
// attribute and a FINGERPRINT. Anything but a well-formed binding request
// gets no answer.
func stunAnswer(pkt []byte, from netip.AddrPort) ([]byte, bool) {
	if !stun.IsMessage(pkt) {
		return nil, false
	}
	req := &stun.Message{Raw: append([]byte(nil), pkt...)}
	if err := req.Decode(); err != nil || req.Type != stun.BindingRequest {
		return nil, false
	}
	a := from.Addr().Unmap()
	resp, err := stun.Build(
		stun.NewTransactionIDSetter(req.TransactionID),
		stun.BindingSuccess,
		&stun.XORMappedAddress{IP: net.IP(a.AsSlice()), Port: int(from.Port())},
		stun.NewSoftware("splinter"),
		stun.Fingerprint,
	)
	if err != nil {
		return nil, false
	}
	return resp.Raw, true
}
