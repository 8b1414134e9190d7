package world_test

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/splinter-lab/splinter/scenario"
	"github.com/splinter-lab/splinter/world"
)

// TestNoGoroutinesLeftAfterClose starts a whole world with its services and
// borders, uses it, stops it, and checks that nothing it started is still
// running.
func TestNoGoroutinesLeftAfterClose(t *testing.T) {
	defer goleak.VerifyNone(t,
		// quic-go and net/http keep process-wide helpers.
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreAnyFunction("github.com/quic-go/quic-go.(*Transport).listen"),
		goleak.IgnoreCurrent(),
	)
	sc, err := scenario.Embedded("two-lands")
	if err != nil {
		t.Fatal(err)
	}
	w, err := world.Start(sc, world.Options{})
	if err != nil {
		t.Fatal(err)
	}
	c := w.Host("cn-client-1")
	hc := c.HTTPClient()
	if resp, err := hc.Get("https://www.people-daily.cn/"); err == nil {
		resp.Body.Close()
	} else {
		t.Fatal(err)
	}
	hc.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := c.Ping(ctx, netip.MustParseAddr("198.18.96.66")); err != nil {
		t.Fatal(err)
	}
	w.Close()
}
