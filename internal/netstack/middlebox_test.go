package netstack

import (
	"context"
	"io"
	"net"
	"net/netip"
	"testing"
	"time"
)

// TestMiddleboxTerminatesAndDialsOnward: a client dials an address nobody
// has; the middlebox answers for it, and dials onward from the client's
// address to a real server.
func TestMiddleboxTerminatesAndDialsOnward(t *testing.T) {
	var client, server *Stack
	var mb *Middlebox
	accepted := make(chan string, 1)
	clientAddr, serverAddr := netip.MustParseAddr("198.18.0.1"), netip.MustParseAddr("198.18.5.5")
	var err error
	// Everything the client or server sends goes to the middlebox, and
	// what the middlebox sends goes to whichever of them it is addressed to.
	client, err = New(Config{Addrs: []netip.Addr{clientAddr}, Send: func(b []byte) { mb.Deliver(b) }})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server, err = New(Config{Addrs: []netip.Addr{serverAddr}, Send: func(b []byte) { mb.Deliver(b) }})
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	ln, err := server.ListenTCP(netip.AddrPortFrom(netip.IPv4Unspecified(), 443))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			io.WriteString(c, "from the real server, to "+c.RemoteAddr().String())
			c.Close()
		}
	}()
	mb, err = NewMiddlebox(func(b []byte) {
		dst := netip.AddrFrom4([4]byte(b[16:20]))
		cp := append([]byte(nil), b...)
		if dst == clientAddr {
			go client.Deliver(cp)
		} else {
			go server.Deliver(cp)
		}
	}, func(c net.Conn, cl, sv netip.AddrPort) {
		defer c.Close()
		up, err := mb.DialFrom(context.Background(), cl, sv)
		if err != nil {
			accepted <- "dial: " + err.Error()
			return
		}
		b, _ := io.ReadAll(up)
		accepted <- string(b)
		c.Write(b)
	})
	if err != nil {
		t.Fatal(err)
	}
	defer mb.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	c, err := client.DialTCP(ctx, netip.AddrPortFrom(serverAddr, 443))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	select {
	case s := <-accepted:
		if s != "from the real server, to 198.18.0.1:"+c.LocalAddr().(*net.TCPAddr).AddrPort().String()[len("198.18.0.1:"):] {
			t.Fatalf("middlebox got %q", s)
		}
	case <-ctx.Done():
		t.Fatal("the middlebox accepted nothing")
	}
}
