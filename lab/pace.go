package lab

import (
	"context"
	"time"

	"github.com/splinter-lab/splinter/probe"
	"github.com/splinter-lab/splinter/scenario"
	"github.com/splinter-lab/splinter/world"
)

// startPacer starts p's sampling for the lab's life (nil: no pacing): the
// scheduling delay, and the world's round trip to the control host, timed
// by an ICMP echo from a client in the control host's jurisdiction (else
// the first client): a path no censor stands on when the control's
// jurisdiction is open, as a control's must be.
func (l *Lab) startPacer(ctx context.Context, p *probe.Pacer) {
	if p == nil {
		return
	}
	l.pacer = p
	var rtt func(context.Context) (time.Duration, error)
	if from, to := l.pinger(); from != nil {
		dst := to.Addr(4)
		if !dst.IsValid() {
			dst = to.Addr(6)
		}
		rtt = func(ctx context.Context) (time.Duration, error) {
			ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			return from.Ping(ctx, dst)
		}
	}
	p.Start(ctx, rtt)
}

// pinger is the host the pacer's round trips start from and the control
// host they go to (nil, nil without a control host or a client).
func (l *Lab) pinger() (from, to *world.Host) {
	to = l.ControlHost()
	if to == nil {
		return nil, nil
	}
	for _, h := range l.w.Hosts() {
		if h.Role() != scenario.RoleClient {
			continue
		}
		if h.Jurisdiction() == to.Jurisdiction() {
			return h, to
		}
		if from == nil {
			from = h
		}
	}
	if from == nil {
		return nil, nil
	}
	return from, to
}
