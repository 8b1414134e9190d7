package border

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/splinter-lab/splinter/dissect"
	"github.com/splinter-lab/splinter/internal/netstack"
	"github.com/splinter-lab/splinter/packet"
	"github.com/splinter-lab/splinter/pki"
)

// A rule with an intercept action makes the border a transparent TCP proxy
// for the flows in the rule's scope (Kazakhstan 2019): from their SYN on,
// every packet of such a flow goes to the engine's middlebox stack, which
// completes the client's handshake itself, reads its ClientHello, and either
// splices the connection to the real server (the rule's matchers do not
// hold) or terminates TLS with a certificate from the national CA and
// relays the plaintext to the server over TLS of its own.

// proxied is what the engine remembers of a diverted flow.
type proxied struct {
	r   *rule
	dir packet.Direction
	id  uint64
}

// proxyState is the engine's middlebox, built on first use.
type proxyState struct {
	once  sync.Once
	mb    *netstack.Middlebox
	err   error
	flows sync.Map // flowKey -> proxied
	mu    sync.Mutex
	cas   map[string]*pki.CA
	stop  context.CancelFunc
	ctx   context.Context
}

func (e *Engine) middlebox(inject func([]byte)) (*netstack.Middlebox, error) {
	ps := &e.proxy
	ps.once.Do(func() {
		ps.ctx, ps.stop = context.WithCancel(context.Background())
		ps.mb, ps.err = netstack.NewMiddlebox(func(b []byte) { inject(append([]byte(nil), b...)) }, e.serveProxy)
	})
	return ps.mb, ps.err
}

// divert hands a packet of a proxied flow to the middlebox.
func (e *Engine) divert(pkt []byte, inject func([]byte)) packet.Verdict {
	if mb, err := e.middlebox(inject); err == nil {
		mb.Deliver(pkt)
	}
	return packet.Verdict{Drop: true}
}

// Close stops the engine's middlebox, its proxied connections and its
// active prober.
func (e *Engine) Close() {
	e.probes.close()
	if e.proxy.stop != nil {
		e.proxy.stop()
	}
	if e.proxy.mb != nil {
		e.proxy.mb.Close()
	}
}

func (e *Engine) nationalCA(name string) (*pki.CA, error) {
	ps := &e.proxy
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ca := ps.cas[name]; ca != nil {
		return ca, nil
	}
	ca, err := pki.NewCA(name, nil, nil)
	if err != nil {
		return nil, err
	}
	if ps.cas == nil {
		ps.cas = make(map[string]*pki.CA)
	}
	ps.cas[name] = ca
	return ca, nil
}

// NationalCA returns the certificate authority an intercept action of the
// policy uses, by its name (for tests and for users told to install it).
func (e *Engine) NationalCA(name string) (*pki.CA, error) { return e.nationalCA(name) }

// prefixConn replays bytes already read before the connection's own.
type prefixConn struct {
	net.Conn
	r io.Reader
}

func (c *prefixConn) Read(b []byte) (int, error) { return c.r.Read(b) }

// serveProxy is the middlebox's accept handler: one client connection.
func (e *Engine) serveProxy(c net.Conn, client, server netip.AddrPort) {
	defer c.Close()
	ps := &e.proxy
	v, ok := ps.flows.Load(keyOf(&packet.IP{Src: client.Addr(), SrcPort: client.Port(), Dst: server.Addr(), DstPort: server.Port(), Proto: packet.TCP}))
	if !ok {
		return
	}
	px := v.(proxied)
	defer ps.flows.Delete(keyOf(&packet.IP{Src: client.Addr(), SrcPort: client.Port(), Dst: server.Addr(), DstPort: server.Port(), Proto: packet.TCP}))
	f := &flow{id: px.id, client: client, server: server, proto: packet.TCP, dir: px.dir}
	ctx, cancel := context.WithTimeout(ps.ctx, 30*time.Second)
	defer cancel()
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	// Read the client's first bytes: a whole ClientHello, or what comes.
	buf := make([]byte, 0, 4096)
	var h dissect.ClientHello
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for len(buf) < 16<<10 {
		n, err := c.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if perr := dissect.ParseClientHello(buf, dissect.HelloOptions{ReassembleRecords: true}, &h); !errors.Is(perr, dissect.ErrIncomplete) {
			break
		}
		if err != nil {
			return
		}
		if len(buf) == cap(buf) {
			buf = append(buf, make([]byte, 4096)...)[:len(buf)]
		}
	}
	c.SetReadDeadline(time.Time{})
	sc := scratchPool.Get().(*scratch)
	ip := &packet.IP{Version: 4, Src: client.Addr(), Dst: server.Addr(), Proto: packet.TCP, SrcPort: client.Port(), DstPort: server.Port(), Payload: buf}
	res := e.inspect(sc, px.r, f, &ruleState{pkts: 1}, ip, buf)
	ev := append([]Evidence(nil), sc.in.ev...)
	sni := string(h.ServerName())
	scratchPool.Put(sc)

	var icpt *InterceptAction
	hold := false
	for _, a := range px.r.actions {
		switch a := a.(type) {
		case interceptAct:
			icpt = a.cfg
		case terminateAct:
			hold = true
		}
	}
	if hold && res == Match {
		e.record(px.r, ActionTerminate, EffectHold, false, f, ev, "TCP terminated at the border; the flow is held", nil)
		io.Copy(io.Discard, c) // until the client gives up, or 30 s
		return
	}
	up, err := ps.mb.DialFrom(ctx, client, server)
	if err != nil {
		return
	}
	defer up.Close()
	if res != Match || icpt == nil || sni == "" {
		up.Write(buf)
		relay(c, up)
		return
	}
	ca, err := e.nationalCA(icpt.CA)
	if err != nil {
		return
	}
	e.record(px.r, ActionIntercept, EffectIntercept, false, f, ev, "TLS terminated with a certificate from "+icpt.CA, nil)
	down := tls.Server(&prefixConn{Conn: c, r: io.MultiReader(bytes.NewReader(buf), c)},
		&tls.Config{GetCertificate: ca.GetCertificate, NextProtos: []string{"http/1.1"}})
	if err := down.HandshakeContext(ctx); err != nil {
		return // the client did not trust the national CA
	}
	upTLS := tls.Client(up, &tls.Config{ServerName: sni, InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}})
	if err := upTLS.HandshakeContext(ctx); err != nil {
		return
	}
	stop()
	relay(down, upTLS)
}

// relay copies both ways until both directions are done.
func relay(a, b net.Conn) {
	done := make(chan struct{}, 2)
	cp := func(dst, src net.Conn) {
		io.Copy(dst, src)
		if cw, ok := dst.(interface{ CloseWrite() error }); ok {
			cw.CloseWrite()
		} else {
			dst.Close()
		}
		done <- struct{}{}
	}
	go cp(a, b)
	go cp(b, a)
	<-done
	<-done
}
