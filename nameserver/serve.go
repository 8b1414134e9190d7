package nameserver

import (
	"context"
	"errors"
	"net"
	"sync"

	"github.com/miekg/dns"
)

// Serve answers DNS queries with handler on pc (UDP) and ln (TCP), either of
// which may be nil, until ctx is cancelled or a server fails. It then stops
// both servers, closes pc and ln, waits for every query in progress, and
// returns nil after a cancellation or the first failure otherwise. It starts
// no goroutine that outlives it.
func Serve(ctx context.Context, handler dns.Handler, pc net.PacketConn, ln net.Listener) error {
	if pc == nil && ln == nil {
		return errors.New("nameserver: Serve needs a PacketConn or a Listener")
	}
	var servers []*dns.Server
	if pc != nil {
		servers = append(servers, &dns.Server{PacketConn: pc, Handler: handler, UDPSize: dns.MaxMsgSize})
	}
	if ln != nil {
		servers = append(servers, &dns.Server{Listener: ln, Handler: handler})
	}
	errs := make([]error, len(servers))
	started := make([]chan struct{}, len(servers))
	exited := make([]chan struct{}, len(servers))
	anyExited := make(chan struct{}, len(servers))
	var wg sync.WaitGroup
	for i, srv := range servers {
		started[i], exited[i] = make(chan struct{}), make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started[i]) }
		wg.Go(func() {
			errs[i] = srv.ActivateAndServe()
			close(exited[i])
			anyExited <- struct{}{}
		})
	}
	select {
	case <-ctx.Done():
	case <-anyExited:
	}
	// A dns.Server cannot be shut down before it has started: wait for each
	// to have started or exited.
	for i, srv := range servers {
		select {
		case <-started[i]:
			_ = srv.Shutdown()
		case <-exited[i]:
		}
	}
	wg.Wait()
	var err error
	if ctx.Err() == nil {
		if err = errors.Join(errs...); err == nil {
			err = errors.New("nameserver: DNS server stopped")
		}
	}
	if pc != nil {
		pc.Close()
	}
	if ln != nil {
		ln.Close()
	}
	return err
}
