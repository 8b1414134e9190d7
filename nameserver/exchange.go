package nameserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// Dialer makes connections. The emulated world gives each host one backed by
// its own network stack; *net.Dialer is one too.
type Dialer interface {
	DialContext(ctx context.Context, network, address string) (net.Conn, error)
}

var _ Dialer = (*net.Dialer)(nil)

// defaultExchangeTimeout bounds an exchange whose context has no deadline.
const defaultExchangeTimeout = 5 * time.Second

// Exchange sends msg to server over network ("udp" or "tcp") through d and
// returns the answer.
//
// Over UDP, Exchange returns the FIRST datagram that parses, carries the
// query's ID, is a response, and echoes the question (name compared without
// case); datagrams that do not match are ignored and reading goes on until
// the context's deadline. Real stub and recursive resolvers behave the same
// way, which is why an on-path censor that injects a forged answer ahead of
// the real one wins the race: the later, genuine answer is never read.
//
// Over TCP the single answer must match too; a mismatch is an error.
func Exchange(ctx context.Context, d Dialer, network string, server netip.AddrPort, msg *dns.Msg) (*dns.Msg, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultExchangeTimeout)
		defer cancel()
	}
	conn, err := d.DialContext(ctx, network, server.String())
	if err != nil {
		return nil, fmt.Errorf("nameserver: dial %s %s: %w", network, server, err)
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	udp := !strings.HasPrefix(network, "tcp")
	if err := writeMsg(conn, msg, udp); err != nil {
		return nil, fmt.Errorf("nameserver: query %s %s: %w", network, server, ctxErr(ctx, err))
	}
	buf := make([]byte, dns.MaxMsgSize)
	for {
		resp, err := readMsg(conn, buf, udp)
		if err != nil {
			var perr net.Error
			if udp && ctx.Err() == nil && !errors.As(err, &perr) && !errors.Is(err, net.ErrClosed) && !errors.Is(err, io.EOF) {
				continue // junk datagram: keep waiting for a real answer
			}
			return nil, fmt.Errorf("nameserver: read %s %s: %w", network, server, ctxErr(ctx, err))
		}
		if matches(msg, resp) {
			return resp, nil
		}
		if !udp {
			return nil, fmt.Errorf("nameserver: %s %s answered another query (id %d)", network, server, resp.Id)
		}
	}
}

// writeMsg sends msg as one datagram, or with the two-byte length prefix of
// DNS over TCP. The framing follows the network asked for, not the type of
// conn (a dialed connection may be wrapped).
func writeMsg(conn net.Conn, msg *dns.Msg, udp bool) error {
	b, err := msg.Pack()
	if err != nil {
		return err
	}
	if !udp {
		b = append([]byte{byte(len(b) >> 8), byte(len(b))}, b...)
	}
	_, err = conn.Write(b)
	return err
}

// readMsg reads one message into buf and parses it.
func readMsg(conn net.Conn, buf []byte, udp bool) (*dns.Msg, error) {
	var n int
	var err error
	if udp {
		n, err = conn.Read(buf)
	} else {
		if _, err = io.ReadFull(conn, buf[:2]); err == nil {
			n = int(buf[0])<<8 | int(buf[1])
			_, err = io.ReadFull(conn, buf[:n])
		}
	}
	if err != nil {
		return nil, err
	}
	m := new(dns.Msg)
	if err := m.Unpack(buf[:n]); err != nil {
		return nil, fmt.Errorf("malformed message: %w", err)
	}
	return m, nil
}

// matches tells whether resp answers query.
func matches(query, resp *dns.Msg) bool {
	if !resp.Response || resp.Id != query.Id {
		return false
	}
	if len(query.Question) == 0 {
		return len(resp.Question) == 0
	}
	// A FORMERR may come without a question.
	if len(resp.Question) == 0 {
		return resp.Rcode == dns.RcodeFormatError
	}
	q, r := query.Question[0], resp.Question[0]
	return q.Qtype == r.Qtype && q.Qclass == r.Qclass && strings.EqualFold(q.Name, r.Name)
}

func ctxErr(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	return err
}

// Lookup asks server (a recursive resolver) for name's records of qtype over
// UDP, retrying over TCP when the answer is truncated, and returns the
// addresses found in the answer by following its CNAME chain from name (for
// qtype A or AAAA), with the message itself. A response code other than
// NOERROR is a *RcodeError, returned with the message.
func Lookup(ctx context.Context, d Dialer, server netip.AddrPort, name string, qtype uint16) ([]netip.Addr, *dns.Msg, error) {
	q := new(dns.Msg)
	q.SetQuestion(dns.Fqdn(name), qtype)
	q.SetEdns0(maxUDPSize, false)
	resp, err := Exchange(ctx, d, "udp", server, q)
	if err == nil && resp.Truncated {
		resp, err = Exchange(ctx, d, "tcp", server, q)
	}
	if err != nil {
		return nil, nil, err
	}
	if resp.Rcode != dns.RcodeSuccess {
		return nil, resp, &RcodeError{Name: q.Question[0].Name, Rcode: resp.Rcode}
	}
	return answerAddrs(q.Question[0].Name, qtype, resp.Answer), resp, nil
}

// answerAddrs follows the CNAME chain from name through rrs and collects the
// addresses of type qtype at its end.
func answerAddrs(name string, qtype uint16, rrs []dns.RR) []netip.Addr {
	var out []netip.Addr
	for range maxChase + 1 {
		next := ""
		for _, rr := range rrs {
			h := rr.Header()
			if !strings.EqualFold(h.Name, name) {
				continue
			}
			if h.Rrtype == qtype {
				if a, ok := rrAddr(rr); ok {
					out = append(out, a)
				}
			}
			if c, ok := rr.(*dns.CNAME); ok {
				next = c.Target
			}
		}
		if len(out) > 0 || next == "" {
			return out
		}
		name = next
	}
	return out
}

// RcodeError is a DNS answer whose response code is not NOERROR.
type RcodeError struct {
	Name  string
	Rcode int
}

func (e *RcodeError) Error() string {
	return fmt.Sprintf("nameserver: %s: %s", e.Name, dns.RcodeToString[e.Rcode])
}
