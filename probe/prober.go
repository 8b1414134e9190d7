package probe

import (
	"context"
	"crypto/x509"
	"net/netip"
	"sync"
	"time"

	"github.com/splinter-lab/splinter/clock"
)

// Config tunes a Prober. The zero value is usable: system roots, no ASNs,
// the defaults below for timeouts, no foreign resolver, no control, and no
// wait for the residual window.
type Config struct {
	// RootCAs verify TLS certificates; nil means the system's roots. In the
	// emulated world, the scenario CA's pool (w.CA().Pool()).
	RootCAs *x509.CertPool
	// Geo gives ASNs and says what a bogon is; see PlanGeo.
	Geo *Geo
	// Vantage describes where the probe stands, for the measurement's base
	// keys.
	Vantage Vantage
	// ForeignResolver, if valid, is a public resolver abroad that the
	// probe asks as well (injection on the path shows there).
	ForeignResolver netip.AddrPort
	// Control measures the same URL from an uncensored vantage; nil
	// leaves web_connectivity without a verdict. See ControlClient.
	Control Controller

	// DNSTimeout bounds one DNS exchange; 0 means 2 s.
	DNSTimeout time.Duration
	// DNSRetry is how often an unanswered UDP query is sent again; 0 means
	// 500 ms.
	DNSRetry time.Duration
	// DNSWindow is how long to keep reading UDP answers after the first;
	// 0 means 150 ms, negative means do not wait.
	DNSWindow time.Duration
	// ConnectTimeout bounds a TCP connect; 0 means 2 s.
	ConnectTimeout time.Duration
	// ConnectRetryPause is the pause before connects that all timed out
	// are tried again, rather than reported as IP blocking; 0 means 500 ms.
	ConnectRetryPause time.Duration
	// HandshakeTimeout bounds a TLS or QUIC handshake; 0 means 2 s.
	HandshakeTimeout time.Duration
	// HTTPTimeout bounds an HTTP request with its redirects, its connects
	// and its body; 0 means 20 s, so that a censor that holds a request
	// before answering with a block page (Kazakhstan's 15 s) is heard out
	// even when the connect before it was slow.
	HTTPTimeout time.Duration
	// ThroughputBytes is the size of the throughput download; 0 means
	// 48 KiB, negative skips the test.
	ThroughputBytes int
	// ThroughputConcurrency is how many throughput tests the prober runs at
	// once (they share the vantage's access link); 0 means 8.
	ThroughputConcurrency int
	// ThroughputTime bounds the download; 0 means 2 s.
	ThroughputTime time.Duration
	// ThrottledBelow is the rate in bit/s under which a download may be
	// throttled (and is compared with a download without SNI); 0 means
	// 300 kbit/s.
	ThrottledBelow float64
	// ThrottleRatio is how many times faster than the download with SNI
	// beside it a baseline must run for a pair to show throttling; 0 means
	// 2.5.
	ThrottleRatio float64
	// ResidualWait, if positive, repeats the residual control request after
	// this long (a censor's residual window is 60–180 s); 0 skips it.
	ResidualWait time.Duration
	// BenignName is the Host and SNI of residual control requests, a name no
	// censor lists; "" means "www.example.com".
	BenignName string
	// QUIC enables the QUIC handshake step when the control saw QUIC work;
	// nil means enabled.
	QUIC *bool

	// Pacer, if set, paces the prober to the machine's load: every
	// timeout above (and the helper's, ThroughputTime and
	// ConnectRetryPause) is multiplied by its Factor when the step
	// starts, and each attempt of WebConnectivity holds a place among its
	// measurements in flight. Probers of one campaign, and the helper
	// they ask, share one.
	Pacer *Pacer
	// Retries is how many times WebConnectivity measures a URL again when
	// its verdict rests on a timeout (see the package doc); 0 means once,
	// negative never. On a quiet machine (the pacer's factor under
	// QuietFactor) a prober stops measuring again for a timeout that its
	// retries have confirmed ConfirmedRetries times and never changed: a
	// censor at work, not the machine.
	Retries int
	// RetryPause is the pause before measuring again, multiplied by the
	// pacer's factor; 0 means 1 s.
	RetryPause time.Duration

	// Clock is the probe's time: measurement timestamps, timeouts and
	// waits (socket deadlines excepted: they are real time). nil is the
	// system clock. In a world, give the world's clock, so that a
	// measurement's times and the borders' decisions share one timeline.
	Clock clock.Clock
}

// Vantage is where a probe measures from: its OONI base keys.
type Vantage struct {
	Host         string       `json:"host"`
	CC           string       `json:"cc"`
	ASN          uint32       `json:"asn"`
	NetworkName  string       `json:"network_name"`
	Addrs        []netip.Addr `json:"addrs"`
	Resolver     netip.Addr   `json:"resolver"`
	ResolverASN  uint32       `json:"resolver_asn"`
	ResolverName string       `json:"resolver_network_name"`
}

// Prober runs experiments on one Network. Its methods are safe for concurrent
// use.
type Prober struct {
	net  Network
	cfg  Config
	thru chan struct{} // throughput tests in flight

	mu      sync.Mutex
	retried map[TimeoutBasis]retryYield // what the prober's retries gave
}

// New returns a Prober measuring through n.
func New(n Network, cfg Config) *Prober {
	if cfg.DNSTimeout == 0 {
		cfg.DNSTimeout = 2 * time.Second
	}
	if cfg.DNSRetry == 0 {
		cfg.DNSRetry = 500 * time.Millisecond
	}
	if cfg.DNSWindow == 0 {
		cfg.DNSWindow = 150 * time.Millisecond
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = 2 * time.Second
	}
	if cfg.ConnectRetryPause == 0 {
		cfg.ConnectRetryPause = 500 * time.Millisecond
	}
	if cfg.HandshakeTimeout == 0 {
		cfg.HandshakeTimeout = 2 * time.Second
	}
	if cfg.HTTPTimeout == 0 {
		cfg.HTTPTimeout = 20 * time.Second
	}
	if cfg.ThroughputBytes == 0 {
		cfg.ThroughputBytes = 48 << 10
	}
	if cfg.ThroughputConcurrency <= 0 {
		cfg.ThroughputConcurrency = 8
	}
	if cfg.ThroughputTime == 0 {
		cfg.ThroughputTime = 2 * time.Second
	}
	if cfg.ThrottledBelow == 0 {
		cfg.ThrottledBelow = 300e3
	}
	if cfg.ThrottleRatio == 0 {
		cfg.ThrottleRatio = 2.5
	}
	if cfg.Retries == 0 {
		cfg.Retries = 1
	}
	if cfg.RetryPause == 0 {
		cfg.RetryPause = time.Second
	}
	if cfg.BenignName == "" {
		cfg.BenignName = "www.example.com"
	}
	cfg.Clock = clock.Or(cfg.Clock)
	if len(cfg.Vantage.Addrs) == 0 {
		if a, ok := n.(interface{ Addrs() []netip.Addr }); ok {
			cfg.Vantage.Addrs = a.Addrs()
		}
	}
	if !cfg.Vantage.Resolver.IsValid() {
		if rs := n.Resolvers(); len(rs) > 0 {
			cfg.Vantage.Resolver = rs[0]
		}
	}
	if cfg.Geo != nil {
		if len(cfg.Vantage.Addrs) > 0 && cfg.Vantage.ASN == 0 {
			cfg.Vantage.ASN, cfg.Vantage.NetworkName = cfg.Geo.ASN(cfg.Vantage.Addrs[0])
			if cfg.Vantage.CC == "" {
				cfg.Vantage.CC = cfg.Geo.CC(cfg.Vantage.Addrs[0])
			}
		}
		if cfg.Vantage.Resolver.IsValid() && cfg.Vantage.ResolverASN == 0 {
			cfg.Vantage.ResolverASN, cfg.Vantage.ResolverName = cfg.Geo.ASN(cfg.Vantage.Resolver)
		}
	}
	return &Prober{net: n, cfg: cfg, thru: make(chan struct{}, cfg.ThroughputConcurrency)}
}

// Config returns the prober's configuration with defaults filled in.
func (p *Prober) Config() Config { return p.cfg }

func (p *Prober) now() time.Time { return p.cfg.Clock.Now() }

// withTimeout bounds ctx by d, stretched by the pacer's factor, on the
// probe's clock.
func (p *Prober) withTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	return clock.WithTimeout(ctx, p.cfg.Clock, p.scale(d))
}

// scale stretches a timeout or a pause by the pacer's factor now.
func (p *Prober) scale(d time.Duration) time.Duration {
	f := p.cfg.Pacer.Factor()
	if f <= 1 {
		return d
	}
	return time.Duration(float64(d) * f)
}

// since is seconds since t, as OONI's "t" keys.
func (p *Prober) since(t time.Time) float64 {
	return float64(p.now().Sub(t).Microseconds()) / 1e6
}

// resolver is the vantage's own recursive resolver.
func (p *Prober) resolver() netip.AddrPort {
	if p.cfg.Vantage.Resolver.IsValid() {
		return netip.AddrPortFrom(p.cfg.Vantage.Resolver, 53)
	}
	return netip.AddrPort{}
}
