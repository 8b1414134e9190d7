package probe

import (
	"context"
	"math"
	"net/netip"
	"time"

	"github.com/splinter-lab/splinter/clock"
)

// TimeoutBasis names the timeout a verdict rests on (x_timeout): the step
// whose timeout, or slowness, the verdict follows from. A machine too busy
// to answer in time produces exactly these; a censor that drops or slows
// traffic produces them too, and does so again when asked again.
type TimeoutBasis string

// The timeouts a verdict may rest on.
const (
	// TimeoutDNS: a query of the probe timed out or got SERVFAIL (its
	// resolver's own queries timed out) while the control resolved.
	TimeoutDNS TimeoutBasis = "dns"
	// TimeoutTCPConnect: the connects of a tcp_ip verdict timed out.
	TimeoutTCPConnect TimeoutBasis = "tcp_connect"
	// TimeoutTLS: the TLS handshake of a tls verdict timed out.
	TimeoutTLS TimeoutBasis = "tls_handshake"
	// TimeoutQUIC: the QUIC handshake of a quic verdict timed out.
	TimeoutQUIC TimeoutBasis = "quic_handshake"
	// TimeoutHTTP: the fetch of an http-failure or down verdict timed
	// out.
	TimeoutHTTP TimeoutBasis = "http_request"
	// TimeoutThroughput: a throttled verdict rests on how fast downloads
	// ran, which a busy machine slows too; an accessible one on a
	// throughput test that could not tell (Throughput.Inconclusive); a
	// tcp_ip or tls one on downloads that stalled (Throughput.Stalled).
	TimeoutThroughput TimeoutBasis = "throughput"
	// TimeoutResidual: the benign request of a residual verdict timed
	// out, after a block that rested on a timeout; or a benign request of
	// a tcp_ip verdict that rests on them (ResidualCheck.Before).
	TimeoutResidual TimeoutBasis = "residual"
	// TimeoutControl: no control measurement came back.
	TimeoutControl TimeoutBasis = "control"
	// TimeoutControlDNS: the control's lookup timed out or got SERVFAIL
	// (the helper's unknown_error).
	TimeoutControlDNS TimeoutBasis = "control_dns"
	// TimeoutControlTCP: a connect of the control to an address it
	// resolved timed out.
	TimeoutControlTCP TimeoutBasis = "control_tcp_connect"
	// TimeoutControlTLS: a handshake of the control with an address it
	// resolved timed out.
	TimeoutControlTLS TimeoutBasis = "control_tls_handshake"
	// TimeoutControlHTTP: the control's fetch timed out.
	TimeoutControlHTTP TimeoutBasis = "control_http_request"
)

// Attempt is an earlier attempt of a measurement that was made again
// because its verdict rested on a timeout (splinter's x_attempts): what it
// saw, when, and how long the probe paused before the next.
type Attempt struct {
	// Start is when the attempt started, to the nanosecond.
	Start time.Time `json:"start"`
	// Runtime is how long it ran, in seconds.
	Runtime float64 `json:"runtime"`
	// Verdict and Reason are the attempt's own.
	Verdict Verdict `json:"verdict"`
	Reason  string  `json:"reason"`
	// Timeout is what the verdict rested on.
	Timeout TimeoutBasis `json:"timeout"`
	// TimeoutFactor is the pacer's factor the attempt's timeouts were
	// stretched by (1 without a pacer).
	TimeoutFactor float64 `json:"timeout_factor"`
	// Pause is how long the probe waited before the next attempt, in
	// seconds.
	Pause float64 `json:"pause"`
}

// WebConnectivity measures rawURL in the manner of OONI's web_connectivity
// (ts-017): resolve the host through the vantage's resolver (and the foreign
// resolver, if configured) unless it is an IP literal, connect to every
// address, fetch the URL over plain HTTP (or HTTPS), hand-shake TLS with
// every address on port 443 with the host as SNI, ask the control for its
// view of the same URL, then the splinter steps: a QUIC handshake where the
// control saw QUIC work, a throughput test, and a residual test after a
// block. The analysis compares probe and control and sets blocking,
// accessible and the finer x_verdict (see the package doc for the
// precedence).
//
// A verdict that rests on a timeout (x_timeout, TimeoutBasis) is measured
// again, the whole measurement, after Config.RetryPause, up to
// Config.Retries times; the last attempt is reported, the earlier ones are
// listed in x_attempts. With a pacer (Config.Pacer) each attempt holds a
// place among the measurements in flight, a second attempt ahead of the
// queue, and none while it pauses.
func (p *Prober) WebConnectivity(ctx context.Context, rawURL, reportID string) *Measurement {
	var earlier []Attempt
	answered := map[netip.Addr]bool{}
	for n := 0; ; n++ {
		release, _ := p.cfg.Pacer.Acquire(ctx, n > 0)
		factor := p.cfg.Pacer.Factor()
		m := p.attempt(ctx, rawURL, reportID, answered)
		release()
		tk := m.TestKeys
		if b := tk.baseline; b != nil && b.failure == nil {
			answered[b.addr.Addr()] = true
		}
		if factor > 1 {
			tk.TimeoutFactor = math.Round(factor*100) / 100
		}
		tk.Timeout = p.timeoutBasis(tk)
		if n > 0 {
			p.yield(earlier[0].Timeout, earlier[0].Verdict == tk.Verdict)
		}
		if tk.Timeout == "" || n >= p.cfg.Retries || ctx.Err() != nil || p.confirmed(tk.Timeout) {
			tk.Attempts = earlier
			undecided(tk)
			return m
		}
		pause := p.scale(p.cfg.RetryPause)
		earlier = append(earlier, Attempt{
			Start: tk.Start, Runtime: m.TestRuntime,
			Verdict: tk.Verdict, Reason: tk.VerdictReason, Timeout: tk.Timeout,
			TimeoutFactor: max(tk.TimeoutFactor, 1), Pause: pause.Seconds(),
		})
		if clock.Sleep(ctx, p.cfg.Clock, pause) != nil {
			tk.Attempts = earlier[:len(earlier)-1]
			return m
		}
	}
}

// Thresholds of the retry policy: a prober stops measuring again for a
// timeout basis once its retries of that basis confirmed the verdict
// ConfirmedRetries times and never changed one, while the pacer's factor
// is under QuietFactor (a machine that keeps up: its timeouts are a
// censor's). On a busier machine every such verdict is measured again.
const (
	ConfirmedRetries = 4
	QuietFactor      = 1.25
)

// retryYield is what a prober's retries of one timeout basis gave.
type retryYield struct{ confirmed, changed int }

// yield records a retry of a verdict resting on basis: whether the next
// attempt saw the same verdict.
func (p *Prober) yield(basis TimeoutBasis, same bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.retried == nil {
		p.retried = map[TimeoutBasis]retryYield{}
	}
	y := p.retried[basis]
	if same {
		y.confirmed++
	} else {
		y.changed++
	}
	p.retried[basis] = y
}

// confirmed reports whether a verdict resting on basis needs no retry: the
// machine is quiet and the prober's retries of that basis have only ever
// confirmed their verdicts, ConfirmedRetries times at least.
func (p *Prober) confirmed(basis TimeoutBasis) bool {
	p.mu.Lock()
	y := p.retried[basis]
	p.mu.Unlock()
	return y.changed == 0 && y.confirmed >= ConfirmedRetries && p.cfg.Pacer.Factor() < QuietFactor
}

// undecided turns a last attempt's accessible verdict that rests on an
// inconclusive throughput test into unknown: the first download ran slow
// and, measured again, the downloads still ran too slow beside each other
// (baselines under Config.ThrottledBelow: a path or a machine too slow) to
// tell throttling from slowness. Saying accessible would hide a throttled
// site; the reason says why the test could not judge.
func undecided(tk *TestKeys) {
	t := tk.Throughput
	if tk.Verdict != Accessible || tk.Timeout != TimeoutThroughput || t == nil || !t.Inconclusive {
		return
	}
	tk.Verdict, tk.Blocking, tk.Accessible = Unknown, BlockingUnknown, nil
	tk.VerdictReason = "cannot judge throttling: the downloads ran too slow to tell a throttled site from a slow path or a busy machine (" + t.summary() + ")"
}

// timeoutBasis is what tk's verdict rests on when that is a timeout: a
// control answer with a timeout in a step the verdict compares with
// (every verdict compares with the control), or the probe's own step
// that timed out behind the verdict. "" when it rests on none.
func (p *Prober) timeoutBasis(tk *TestKeys) TimeoutBasis {
	if tk.ControlFailure != nil {
		if p.cfg.Control == nil {
			return "" // no control to ask again
		}
		return TimeoutControl
	}
	if tk.Control == nil {
		return ""
	}
	if b := controlTimeout(tk.Control); b != "" {
		return b
	}
	return probeTimeout(tk, tk.Verdict)
}

// probeTimeout is the probe's step behind verdict v that timed out.
func probeTimeout(tk *TestKeys, v Verdict) TimeoutBasis {
	lastFailed := func() *string {
		if len(tk.Requests) == 0 {
			return nil
		}
		return tk.Requests[0].Failure
	}
	switch v {
	case DNS:
		for _, q := range tk.Queries {
			if timedOut(q.Failure) || q.Failure != nil && *q.Failure == FailureDNSServfail {
				return TimeoutDNS
			}
		}
	case TCPIP:
		if t := tk.Throughput; t != nil && t.Stalled != "" {
			return TimeoutThroughput
		}
		if r := tk.Residual; r != nil && (timedOut(r.Immediate) || timedOut(r.Before)) {
			return TimeoutResidual // the benign requests before and after
		}
		for _, c := range tk.TCPConnect {
			if timedOut(c.Status.Failure) {
				return TimeoutTCPConnect
			}
		}
	case HTTPFailure:
		if timedOut(lastFailed()) {
			return TimeoutHTTP
		}
	case TLS:
		if t := tk.Throughput; t != nil && t.Stalled != "" {
			return TimeoutThroughput
		}
		for _, hs := range tk.TLSHandshakes {
			if hs.Operation == "tls_handshake" && timedOut(hs.Failure) {
				return TimeoutTLS
			}
		}
		if len(tk.Requests) > 0 && tk.Requests[0].FailedOperation == "tls_handshake" && timedOut(lastFailed()) {
			return TimeoutTLS
		}
	case QUIC:
		for _, q := range tk.QUICHandshakes {
			if timedOut(q.Failure) {
				return TimeoutQUIC
			}
		}
	case Throttled:
		return TimeoutThroughput
	case Accessible:
		if t := tk.Throughput; t != nil && t.Inconclusive {
			return TimeoutThroughput
		}
	case Residual:
		// Tk.Methods: residual first, then the block it followed.
		if r := tk.Residual; r != nil && timedOut(r.Immediate) && len(tk.Methods) > 1 && probeTimeout(tk, tk.Methods[1]) != "" {
			return TimeoutResidual
		}
	case Down:
		if timedOut(lastFailed()) {
			return TimeoutHTTP
		}
		for _, c := range tk.TCPConnect {
			if timedOut(c.Status.Failure) {
				return TimeoutTCPConnect
			}
		}
	case Unknown:
		return TimeoutControl
	}
	return ""
}

// controlTimeout is the control's step that timed out: its lookup, its
// fetch, or a connect or handshake with an address it resolved itself (a
// connect to a forged address the probe was given may time out: that is
// the forgery, not the machine).
func controlTimeout(c *ControlResponse) TimeoutBasis {
	if f := c.DNS.Failure; f != nil && *f == ControlFailureUnknown {
		return TimeoutControlDNS
	}
	if timedOut(c.HTTPRequest.Failure) {
		return TimeoutControlHTTP
	}
	for ep, t := range c.TCPConnect {
		if timedOut(t.Failure) && controlResolved(c, ep) {
			return TimeoutControlTCP
		}
	}
	for ep, t := range c.TLSHandshake {
		if timedOut(t.Failure) && controlResolved(c, ep) {
			return TimeoutControlTLS
		}
	}
	return ""
}

// controlResolved reports whether endpoint ep ("ip:port") has an address
// the control resolved, or the control resolved nothing and had no reason
// to (an IP literal).
func controlResolved(c *ControlResponse, ep string) bool {
	ap, err := netip.ParseAddrPort(ep)
	if err != nil {
		return false
	}
	if len(c.DNS.Addrs) == 0 {
		return c.DNS.Failure == nil
	}
	for _, a := range c.DNS.Addrs {
		if a == ap.Addr().Unmap() || a == ap.Addr() {
			return true
		}
	}
	return false
}

func timedOut(f *string) bool { return f != nil && *f == FailureTimeout }
