package border_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/splinter-lab/splinter/border"
	"github.com/splinter-lab/splinter/clock"
	"github.com/splinter-lab/splinter/packet"
	"github.com/splinter-lab/splinter/policy"
	"github.com/splinter-lab/splinter/scenario"
	"github.com/splinter-lab/splinter/world"
)

// lab is a running lab world whose XX border enforces a test policy.
type lab struct {
	t       *testing.T
	w       *world.World
	clock   *clock.Manual
	client  *world.Host
	log     *border.Log
	engines map[string]*border.Engine
}

var t0 = time.Date(2024, 6, 4, 12, 0, 0, 0, time.UTC)

const header = `name: test
meta: {jurisdiction: XX, year: 2024}
`

// newLab starts the lab world with the policy text (lists and rules after a
// standard header). realClock makes the engine use the system clock.
func newLab(t *testing.T, pol string, realClock bool) *lab {
	t.Helper()
	data, err := os.ReadFile("testdata/lab.yaml")
	if err != nil {
		t.Fatal(err)
	}
	sc, err := scenario.Load("testdata/lab.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	p, err := policy.Load("test.yaml", []byte(header+pol), os.DirFS("testdata"), ".")
	if err != nil {
		t.Fatalf("policy: %v", err)
	}
	l := &lab{t: t, log: border.NewLog(nil, 0)}
	var clk clock.Clock
	if !realClock {
		l.clock = clock.NewManual(t0)
		clk = l.clock
	}
	l.w, l.engines = engineWorld(t, sc, p, clk, l.log)
	l.client = l.w.Host("client")
	return l
}

func (l *lab) site(domain string) *world.Host {
	for _, s := range l.w.Plan().Sites {
		if s.Domain == domain {
			return l.w.Host(s.Host)
		}
	}
	l.t.Fatalf("no site %s", domain)
	return nil
}

func (l *lab) decisions() []border.Decision { return l.log.Decisions() }

// tlsDial handshakes with the server at dst using SNI name.
func (l *lab) tlsDial(from *world.Host, dst netip.AddrPort, sni string, wrap func(net.Conn) net.Conn) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	c, err := from.DialAddr(ctx, "tcp", dst)
	if err != nil {
		return err
	}
	defer c.Close()
	if wrap != nil {
		c = wrap(c)
	}
	c.SetDeadline(time.Now().Add(2 * time.Second))
	tc := tls.Client(c, from.TLSConfig(sni))
	return tc.HandshakeContext(ctx)
}

// httpGet fetches url from h with a short timeout and returns status and
// body.
func httpGet(h *world.Host, url string) (int, string, error) {
	c := h.HTTPClient()
	c.Timeout = 3 * time.Second
	defer c.CloseIdleConnections()
	resp, err := c.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// capture records the packets of a link until stopped.
type capture struct {
	mu  sync.Mutex
	buf bytes.Buffer
	c   *world.Capture
}

func (c *capture) Write(b []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.Write(b)
}

func (l *lab) capture(link string) *capture {
	c := &capture{}
	var err error
	if c.c, err = l.w.Capture(link, c); err != nil {
		l.t.Fatal(err)
	}
	return c
}

type record struct {
	at  time.Time
	pkt []byte
}

// records stops the capture and returns its packets with their times.
func (c *capture) records(t *testing.T) []record {
	c.c.Close()
	c.mu.Lock()
	defer c.mu.Unlock()
	b := c.buf.Bytes()[24:]
	var out []record
	for len(b) >= 16 {
		sec, usec := binary.LittleEndian.Uint32(b[0:]), binary.LittleEndian.Uint32(b[4:])
		n := int(binary.LittleEndian.Uint32(b[8:]))
		out = append(out, record{time.Unix(int64(sec), int64(usec)*1000), append([]byte(nil), b[16:16+n]...)})
		b = b[16+n:]
	}
	return out
}

// packets stops the capture and returns its packets.
func (c *capture) packets(t *testing.T) [][]byte {
	var out [][]byte
	for _, r := range c.records(t) {
		out = append(out, r.pkt)
	}
	return out
}

func parse(t *testing.T, pkt []byte) *packet.IP {
	var p packet.IP
	if err := packet.Parse(pkt, &p); err != nil {
		t.Fatalf("parse captured packet: %v", err)
	}
	return &p
}

func rules(d []border.Decision) string {
	var s []string
	for _, x := range d {
		s = append(s, x.Rule+":"+string(x.Action))
	}
	return strings.Join(s, " ")
}

var _ = http.StatusOK
