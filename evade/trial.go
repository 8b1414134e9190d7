package evade

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/splinter-lab/splinter/border"
	"github.com/splinter-lab/splinter/lab"
	"github.com/splinter-lab/splinter/strategy"
)

// Outcome is how a trial ended.
type Outcome string

// Outcomes.
const (
	// Success: the status and the exact body the site serves for the URL.
	Success Outcome = "success"
	// Reset: a RST ended the connection (at connect, TLS, write or read).
	Reset Outcome = "reset"
	// Timeout: no answer within the trial's timeout.
	Timeout Outcome = "timeout"
	// Other: anything else; Reason says what.
	Other Outcome = "other"
)

// Reason details an outcome. It is a closed set.
type Reason string

// Reasons.
const (
	ReasonNone      Reason = ""
	ReasonStatus    Reason = "status"    // an HTTP status other than the site's (400 from a confused server)
	ReasonContent   Reason = "content"   // the site's status with other content (a block page)
	ReasonClosed    Reason = "closed"    // the connection closed before a full answer
	ReasonMalformed Reason = "malformed" // bytes that are not an HTTP response
	ReasonTLS       Reason = "tls"       // a TLS handshake that failed without a reset
	ReasonError     Reason = "error"     // another network error
)

// Stage is where a trial ended when it failed.
type Stage string

// Stages.
const (
	StageConnect Stage = "connect"
	StageTLS     Stage = "tls"
	StageWrite   Stage = "write"
	StageRead    Stage = "read"
)

// Trial is one attempt: its connection on the wire, its outcome, and the
// decisions the borders took about its connection.
type Trial struct {
	URL string `json:"url"`
	// N numbers the trials of a URL from 0.
	N int `json:"n"`
	// Client is the client's address and wire port; Server the server's.
	Client netip.AddrPort `json:"client"`
	Server netip.AddrPort `json:"server"`
	// At is the world's time when the trial started.
	At      time.Time `json:"at"`
	Outcome Outcome   `json:"outcome"`
	Reason  Reason    `json:"reason,omitempty"`
	// Stage is where a failed trial ended.
	Stage Stage `json:"stage,omitempty"`
	// Status and Bytes are the HTTP status and body size received, if any.
	Status int `json:"status,omitempty"`
	Bytes  int `json:"bytes,omitempty"`
	// Millis is how long the trial took, in milliseconds of real time.
	Millis float64 `json:"ms"`
	// FlowIDs are the border flows of the trial's connection, from its
	// decisions.
	FlowIDs   []uint64          `json:"flow_ids,omitempty"`
	Decisions []border.Decision `json:"decisions,omitempty"`
	// Fired counts, for the client's strategy, the packets each outbound
	// tree and then each inbound tree fired on; ServerFired the same for
	// the server's strategy (Geneva punishes trees that never run).
	Fired       []int `json:"fired,omitempty"`
	ServerFired []int `json:"server_fired,omitempty"`
	// Blocked is set when the trial's connection set off a residual block
	// or a null route; Hit when a block set off earlier met it.
	Blocked bool `json:"blocked,omitempty"`
	Hit     bool `json:"hit,omitempty"`
}

// Tally sums up the trials of a URL.
type Tally struct {
	URL     string `json:"url"`
	Trials  int    `json:"trials"`
	Success int    `json:"success"`
	Reset   int    `json:"reset"`
	Timeout int    `json:"timeout"`
	Other   int    `json:"other"`
	// Blocked is how many trials set off a residual block or null route;
	// Jumps how many times the world's clock jumped during these trials,
	// skipping Skipped of world time; Hits how many trials met a block
	// anyway (0 when trials are isolated).
	Blocked int           `json:"blocked"`
	Jumps   int           `json:"jumps"`
	Skipped time.Duration `json:"skipped_ns"`
	Hits    int           `json:"hits"`
	// Ports is how many server ports the trials rotated over.
	Ports int `json:"ports"`
	// OwnTuple: every block on the path covers only the connection that
	// set it off (keyed by the 4-tuple), so trials shared server ports and
	// needed no jump.
	OwnTuple bool `json:"own_tuple,omitempty"`
}

// Rate is the success rate.
func (t Tally) Rate() float64 {
	if t.Trials == 0 {
		return 0
	}
	return float64(t.Success) / float64(t.Trials)
}

// String is the one-line summary `splinter evade` prints.
func (t Tally) String() string {
	return fmt.Sprintf("%s: success %d/%d (reset %d, timeout %d, other %d)", t.URL, t.Success, t.Trials, t.Reset, t.Timeout, t.Other)
}

// Residual says how residual windows were skipped, for people.
func (t Tally) Residual() string {
	if t.Blocked == 0 && t.Jumps == 0 {
		return fmt.Sprintf("no trial set off a residual block (%s)", plural(t.Ports, "server port"))
	}
	if t.OwnTuple && t.Jumps == 0 {
		return fmt.Sprintf("%s set off a residual block, each on its own connection's 4-tuple; every trial had a fresh client port, so none met another's block (%d did)",
			plural(t.Blocked, "trial"), t.Hits)
	}
	return fmt.Sprintf("%s set off a residual block; trials rotated over %s and the world's clock jumped %s (%v of world time skipped) so that no trial met another's block (%d did)",
		plural(t.Blocked, "trial"), plural(t.Ports, "server port"), plural(t.Jumps, "time"), t.Skipped, t.Hits)
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

func (t *Tally) add(tr *Trial) {
	t.Trials++
	switch tr.Outcome {
	case Success:
		t.Success++
	case Reset:
		t.Reset++
	case Timeout:
		t.Timeout++
	default:
		t.Other++
	}
	if tr.Blocked {
		t.Blocked++
	}
	if tr.Hit {
		t.Hits++
	}
}

// Attempt is what a run of trials tries: a URL from a host with strategies
// on either side.
type Attempt struct {
	URL string
	// From is the host the trials start at; "" means Options.From.
	From string
	// Client and Server are the strategies applied to the client's and
	// the web host's packets; nil applies none.
	Client, Server *strategy.Strategy
	// Trials is how many; 0 means DefaultTrials.
	Trials int
	// Each, if set, is called with each trial as it ends (from several
	// goroutines at once).
	Each func(*Trial)

	capture *capture // Packets: record the wire packets of the trials
}

// Run runs the attempt's trials and returns them with their tally. A URL
// that is not http(s) or names no site of the scenario is an
// *lab.InputError.
func (s *Session) Run(ctx context.Context, a Attempt) (Tally, []*Trial, error) {
	u, err := url.Parse(a.URL)
	if err != nil {
		return Tally{}, nil, &lab.InputError{Err: fmt.Errorf("evade: %q is not an http or https URL", a.URL)}
	}
	from := a.From
	if from == "" {
		from = s.opts.From
	}
	req, err := s.target(from, u)
	if err != nil {
		return Tally{}, nil, err
	}
	n := a.Trials
	if n <= 0 {
		n = DefaultTrials
	}
	s.mu.Lock()
	jumps0, skipped0 := s.jumps, s.skipped
	s.mu.Unlock()
	trials := make([]*Trial, n)
	var next int
	var mu sync.Mutex
	var wg sync.WaitGroup
	var firstErr error
	for range min(s.opts.Concurrency, n) {
		wg.Go(func() {
			for {
				mu.Lock()
				i := next
				next++
				mu.Unlock()
				if i >= n {
					return
				}
				tr, err := s.trial(ctx, req, a, i)
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					next = n
					mu.Unlock()
					return
				}
				trials[i] = tr
				if a.Each != nil {
					a.Each(tr)
				}
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return Tally{}, nil, firstErr
	}
	t := Tally{URL: a.URL, Ports: len(req.ports), OwnTuple: req.ownTuple}
	for _, tr := range trials {
		t.add(tr)
	}
	s.mu.Lock()
	t.Jumps, t.Skipped = s.jumps-jumps0, s.skipped-skipped0
	s.mu.Unlock()
	return t, trials, nil
}

// trial runs trial i of a.
func (s *Session) trial(ctx context.Context, r *request, a Attempt, i int) (*Trial, error) {
	server, err := s.acquire(ctx, r.target)
	if err != nil {
		return nil, err
	}
	client := s.wirePort(server, r.from)
	s.mu.Lock()
	s.trialN++
	seq := s.trialN
	s.mu.Unlock()
	var ce, se *strategy.Engine
	if a.Client != nil {
		ce = strategy.New(a.Client, strategy.Options{Rand: rand.New(rand.NewPCG(s.opts.Seed, seq<<1)), Delay: s.later(&r.client.shim.wire), Generators: s.opts.Generators})
	}
	if a.Server != nil {
		se = strategy.New(a.Server, strategy.Options{Rand: rand.New(rand.NewPCG(s.opts.Seed, seq<<1|1)), Delay: s.later(&r.pool.shim.wire), Generators: s.opts.Generators})
		r.pool.shim.set(client, se)
	}
	pending := r.client.shim.expect(server, client.Port(), ce, a.capture)
	tr := &Trial{URL: a.URL, N: i, Client: client, Server: server, At: s.clk.Now()}
	start := time.Now()
	status, body, stage, err := s.exchange(ctx, r, server)
	tr.Millis = float64(time.Since(start).Microseconds()) / 1000
	r.client.shim.done(server, pending)
	if a.Server != nil {
		r.pool.shim.set(client, nil)
	}
	tr.Status, tr.Bytes = status, len(body)
	if ce != nil {
		out, in := ce.Fired()
		tr.Fired = append(out, in...)
	}
	if se != nil {
		out, in := se.Fired()
		tr.ServerFired = append(out, in...)
	}
	switch {
	case err == nil && status == r.status && bytes.Equal(body, r.body):
		tr.Outcome = Success
	case err == nil && status != r.status:
		tr.Outcome, tr.Reason = Other, ReasonStatus
	case err == nil:
		tr.Outcome, tr.Reason = Other, ReasonContent
	default:
		tr.Outcome, tr.Reason = classify(err, stage)
		tr.Stage = stage
	}
	if ctx.Err() != nil {
		s.release(r.target, server, false)
		return nil, ctx.Err()
	}
	tr.Decisions = s.ledger.of(client, server)
	for _, d := range tr.Decisions {
		if len(tr.FlowIDs) == 0 || tr.FlowIDs[len(tr.FlowIDs)-1] != d.FlowID {
			tr.FlowIDs = append(tr.FlowIDs, d.FlowID)
		}
		if d.Effect == border.EffectBlock {
			if d.Enforced {
				tr.Hit = true
			} else {
				tr.Blocked = true
			}
		}
	}
	s.release(r.target, server, tr.Blocked)
	return tr, nil
}

// later returns a Delay function for a strategy engine that sends the
// packet through the emit function last seen by a shim, on the lab clock.
func (s *Session) later(emit *atomic.Pointer[func([]byte)]) func([]byte, time.Duration) {
	return func(pkt []byte, d time.Duration) {
		s.clk.AfterFunc(d, func() {
			if e := emit.Load(); e != nil {
				(*e)(pkt)
			}
		})
	}
}

// exchange sends the request of r to server from the client host and
// reads the answer.
func (s *Session) exchange(ctx context.Context, r *request, server netip.AddrPort) (status int, body []byte, stage Stage, err error) {
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	c, err := r.client.host.DialAddr(ctx, "tcp", server)
	if err != nil {
		return 0, nil, StageConnect, err
	}
	defer c.Close()
	deadline, _ := ctx.Deadline()
	_ = c.SetDeadline(deadline)
	if r.tls != nil {
		tc := tls.Client(c, r.tls)
		if err := tc.HandshakeContext(ctx); err != nil {
			return 0, nil, StageTLS, err
		}
		c = tc
	}
	req := "GET " + r.url.RequestURI() + " HTTP/1.1\r\nHost: " + r.url.Host + "\r\nUser-Agent: splinter-evade\r\nAccept: */*\r\nConnection: close\r\n\r\n"
	if _, err := io.WriteString(c, req); err != nil {
		return 0, nil, StageWrite, err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return 0, nil, StageRead, err
	}
	body, err = io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, body, StageRead, err
	}
	return resp.StatusCode, body, "", nil
}

// classify maps a failed exchange's error onto an outcome.
func classify(err error, stage Stage) (Outcome, Reason) {
	var ne net.Error
	var oe *net.OpError
	switch {
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.ECONNREFUSED),
		errors.Is(err, syscall.ECONNABORTED), errors.Is(err, syscall.EPIPE):
		return Reset, ReasonNone
	case errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, context.DeadlineExceeded),
		errors.As(err, &ne) && ne.Timeout():
		return Timeout, ReasonNone
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return Other, ReasonClosed
	case stage == StageTLS:
		return Other, ReasonTLS
	case stage == StageRead && !errors.As(err, &oe):
		// Not the network's error: net/http's or TLS's about the bytes.
		return Other, ReasonMalformed
	}
	return Other, ReasonError
}

// Packets runs one trial of url from the named host ("" for Options.From)
// with no strategy and returns the packets of its connection as they were
// on the client's wire, in both directions: what strategy.Gen.Packets
// takes so that random triggers and values come from real traffic.
func (s *Session) Packets(ctx context.Context, url, from string) ([][]byte, error) {
	c := &capture{}
	if _, _, err := s.Run(ctx, Attempt{URL: url, From: from, Trials: 1, capture: c}); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pkts, nil
}
