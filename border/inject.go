package border

import (
	"net/netip"

	"github.com/splinter-lab/splinter/packet"
	"github.com/splinter-lab/splinter/policy"
)

// shape turns a policy fingerprint into the IP-level shape of an injected
// packet; probeTTL is the TTL of the packet that triggered it.
func (e *Engine) shape(fp policy.Fingerprint, probeTTL uint8) packet.Shape {
	sh := packet.Shape{TTL: fp.TTL, DF: fp.DF}
	if fp.CopyProbeTTL {
		sh.TTL = probeTTL
	}
	switch fp.IPID.Mode {
	case policy.IPIDFixed:
		sh.ID = fp.IPID.Lo
	case policy.IPIDRandom:
		sh.ID = uint16(e.uint32n(1 << 16))
	case policy.IPIDRange:
		sh.ID = fp.IPID.Lo + uint16(e.uint32n(uint32(fp.IPID.Hi-fp.IPID.Lo)+1))
	default:
		sh.ID = uint16(e.uint32n(1 << 16))
	}
	return sh
}

// seqs returns the next sequence number each side will send, as known from
// the flow's tracking and the packet at hand.
func seqs(f *flow, p *packet.IP, fromClient bool) (cli, srv uint32) {
	cli, srv = f.cliNext, f.srvNext
	if fromClient {
		cli = p.Seq + uint32(len(p.Payload))
		if p.Flags&packet.SYN != 0 {
			cli++
		}
		if p.Flags&packet.ACK != 0 {
			srv = p.Ack
		}
	} else {
		srv = p.Seq + uint32(len(p.Payload))
		if p.Flags&packet.SYN != 0 {
			srv++ // a SYN+ACK's own sequence number
		}
		if p.Flags&packet.ACK != 0 {
			cli = p.Ack
		}
	}
	return cli, srv
}

// sendRSTs injects the resets a rst action describes.
func (e *Engine) sendRSTs(f *flow, p *packet.IP, to policy.Peer, a *RSTAction, inject func([]byte)) {
	fromClient := netip.AddrPortFrom(p.Src, p.SrcPort) == f.client
	cli, srv := seqs(f, p, fromClient)
	flags := uint8(packet.RST)
	if a.Flags == policy.FlagRST|policy.FlagACK {
		flags |= packet.ACK
	}
	n := a.N()
	var win uint16
	if a.Window != nil {
		win = *a.Window
	}
	var buf [1600]byte
	for i := 0; i < n; i++ {
		var off uint32
		if i < len(a.SeqOffsets) {
			off = a.SeqOffsets[i]
		}
		sh := e.shape(a.Fingerprint, p.TTL)
		if a.TTLStep != 0 {
			sh.TTL = sh.TTL + uint8(i)*a.TTLStep
			if a.Fingerprint.TTL == 0 && !a.Fingerprint.CopyProbeTTL {
				sh.TTL = 64 + uint8(i)*a.TTLStep // the stack's default, then rising
			}
		}
		if a.Window != nil {
			win = *a.Window + uint16(i)*a.WindowStep
		}
		toClient, toServer := srv+off, cli+off
		if a.Seq != nil {
			toClient, toServer = *a.Seq, *a.Seq
		}
		if to == policy.Client || to == policy.ToBoth || to == "" {
			inject(packet.AppendTCP(buf[:0], packet.TCPSegment{Src: f.server, Dst: f.client, Seq: toClient, Ack: cli, Flags: flags, Window: win, Payload: a.Payload, Shape: sh}))
		}
		if to == policy.Server || to == policy.ToBoth {
			inject(packet.AppendTCP(buf[:0], packet.TCPSegment{Src: f.client, Dst: f.server, Seq: toServer, Ack: srv, Flags: flags, Window: win, Payload: a.Payload, Shape: sh}))
		}
	}
}
