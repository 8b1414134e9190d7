package backend

import (
	"net/netip"
	"testing"

	"github.com/pion/stun/v3"
)

// FuzzSTUNAnswer feeds the STUN server anything: it never panics, answers
// only binding requests, and every answer is a binding success for the
// request's transaction carrying the sender's address, with a valid
// fingerprint.
func FuzzSTUNAnswer(f *testing.F) {
	req := stun.MustBuild(stun.TransactionID, stun.BindingRequest)
	f.Add(req.Raw, []byte{198, 18, 0, 66}, uint16(40000))
	f.Add(stun.MustBuild(stun.TransactionID, stun.BindingRequest, stun.NewSoftware("x"), stun.Fingerprint).Raw,
		netip.MustParseAddr("2001:db8:86:1::2").AsSlice(), uint16(3478))
	f.Add(stun.MustBuild(stun.TransactionID, stun.BindingSuccess).Raw, []byte{127, 0, 0, 1}, uint16(1))
	f.Add(req.Raw[:19], []byte{127, 0, 0, 1}, uint16(1))
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"), []byte{127, 0, 0, 1}, uint16(1))
	f.Fuzz(func(t *testing.T, pkt, addr []byte, port uint16) {
		a, ok := netip.AddrFromSlice(addr)
		if !ok {
			return
		}
		from := netip.AddrPortFrom(a, port)
		resp, ok := stunAnswer(pkt, from)
		if !ok {
			return
		}
		in := &stun.Message{Raw: append([]byte(nil), pkt...)}
		if err := in.Decode(); err != nil || in.Type != stun.BindingRequest {
			t.Fatalf("answered a %v (%v)", in.Type, err)
		}
		out := &stun.Message{Raw: resp}
		if err := out.Decode(); err != nil {
			t.Fatalf("answer does not decode: %v", err)
		}
		if out.Type != stun.BindingSuccess || out.TransactionID != in.TransactionID {
			t.Fatalf("answer %v for transaction %x, want a binding success for %x", out.Type, out.TransactionID, in.TransactionID)
		}
		var xa stun.XORMappedAddress
		if err := xa.GetFrom(out); err != nil {
			t.Fatal(err)
		}
		got, _ := netip.AddrFromSlice(xa.IP)
		if got.Unmap() != a.Unmap() || xa.Port != int(port) {
			t.Fatalf("mapped %v, want %v", xa, from)
		}
		if err := stun.Fingerprint.Check(out); err != nil {
			t.Fatal(err)
		}
	})
}
