package dissect

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quic-go/quic-go"
	"golang.org/x/crypto/hkdf"
)

// oracleInitialKeys derives the QUIC v1 client Initial keys with
// golang.org/x/crypto/hkdf, independently of the package's own HKDF.
func oracleInitialKeys(dcid []byte) (key, iv, hp []byte) {
	initial := hkdf.Extract(sha256.New, dcid, quicInitialSalt[:])
	client := oracleExpandLabel(initial, "client in", 32)
	return oracleExpandLabel(client, "quic key", 16), oracleExpandLabel(client, "quic iv", 12), oracleExpandLabel(client, "quic hp", 16)
}

func oracleExpandLabel(secret []byte, label string, n int) []byte {
	full := "tls13 " + label
	info := []byte{byte(n >> 8), byte(n), byte(len(full))}
	info = append(info, full...)
	info = append(info, 0)
	out := make([]byte, n)
	if _, err := io.ReadFull(hkdf.Expand(sha256.New, secret, info), out); err != nil {
		panic(err)
	}
	return out
}

// initialSpec describes a client Initial for sealInitial.
type initialSpec struct {
	version    uint32 // 0 means 1
	dcid, scid []byte
	// keyDCID, when set, is the connection ID whose keys protect the
	// packet in place of dcid's: a client that has moved to the server's
	// ID keeps the keys of the one it chose (RFC 9001 5.2).
	keyDCID []byte
	token   []byte
	pn      uint32
	pnLen   int // 1 to 4; 0 means 2
	payload []byte
}

// sealInitial builds a protected client Initial packet (RFC 9001 §5) with keys
// from oracleInitialKeys.
func sealInitial(s initialSpec) []byte {
	if s.version == 0 {
		s.version = 1
	}
	if s.pnLen == 0 {
		s.pnLen = 2
	}
	payload := s.payload
	for s.pnLen+len(payload) < 4 { // the header-protection sample needs 4+16 bytes after the packet number
		payload = append(payload, 0)
	}
	hdr := []byte{0xc0 | byte(s.pnLen-1)}
	hdr = binary.BigEndian.AppendUint32(hdr, s.version)
	hdr = append(hdr, byte(len(s.dcid)))
	hdr = append(hdr, s.dcid...)
	hdr = append(hdr, byte(len(s.scid)))
	hdr = append(hdr, s.scid...)
	hdr = binary.BigEndian.AppendUint16(hdr, 0x4000|uint16(len(s.token)))
	hdr = append(hdr, s.token...)
	hdr = binary.BigEndian.AppendUint16(hdr, 0x4000|uint16(s.pnLen+len(payload)+16))
	pnOff := len(hdr)
	for i := s.pnLen - 1; i >= 0; i-- {
		hdr = append(hdr, byte(s.pn>>(8*i)))
	}
	kd := s.dcid
	if s.keyDCID != nil {
		kd = s.keyDCID
	}
	key, iv, hpKey := oracleInitialKeys(kd)
	block, _ := aes.NewCipher(key)
	aead, _ := cipher.NewGCM(block)
	nonce := append([]byte{}, iv...)
	for i := 0; i < 4; i++ {
		nonce[11-i] ^= byte(s.pn >> (8 * i))
	}
	pkt := aead.Seal(hdr, nonce, payload, hdr)
	hp, _ := aes.NewCipher(hpKey)
	mask := make([]byte, 16)
	hp.Encrypt(mask, pkt[pnOff+4:pnOff+20])
	pkt[0] ^= mask[0] & 0x0f
	for i := 0; i < s.pnLen; i++ {
		pkt[pnOff+i] ^= mask[1+i]
	}
	return pkt
}

func cryptoFrame(off int, data []byte) []byte {
	f := []byte{0x06}
	f = binary.BigEndian.AppendUint32(f, 0x80000000|uint32(off))
	f = binary.BigEndian.AppendUint16(f, 0x4000|uint16(len(data)))
	return append(f, data...)
}

func concat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func TestQUICInitialKeys(t *testing.T) {
	// RFC 9001 Appendix A.1.
	dcid, _ := hex.DecodeString("8394c8f03e515708")
	want := map[string]string{
		"key": "1f369613dd76d5467730efcbe3b1a22d",
		"iv":  "fa044b2f42a3fd3b46fb255c",
		"hp":  "9f50449e04a0e810283a1e9933adedd2",
	}
	initial := hmacSHA256(quicInitialSalt[:], dcid)
	client := hkdfExpandLabel(initial[:], "client in", 32)
	if got := hex.EncodeToString(client[:]); got != "c00cf151ca5be075ed0ebfb5c80323c42d6b7db67881289af4008f1f6c357aea" {
		t.Errorf("client_initial_secret = %s", got)
	}
	key := hkdfExpandLabel(client[:], "quic key", 16)
	iv := hkdfExpandLabel(client[:], "quic iv", 12)
	hp := hkdfExpandLabel(client[:], "quic hp", 16)
	got := map[string]string{"key": hex.EncodeToString(key[:16]), "iv": hex.EncodeToString(iv[:12]), "hp": hex.EncodeToString(hp[:16])}
	for k := range want {
		if got[k] != want[k] {
			t.Errorf("%s = %s, want %s", k, got[k], want[k])
		}
	}
	// Differential against golang.org/x/crypto/hkdf for DCIDs of every length.
	for n := 0; n <= quicMaxCIDLen; n++ {
		d := make([]byte, n)
		_, _ = rand.Read(d)
		k, i, h := oracleInitialKeys(d)
		initial := hmacSHA256(quicInitialSalt[:], d)
		client := hkdfExpandLabel(initial[:], "client in", 32)
		k2, i2, h2 := hkdfExpandLabel(client[:], "quic key", 16), hkdfExpandLabel(client[:], "quic iv", 12), hkdfExpandLabel(client[:], "quic hp", 16)
		if string(k) != string(k2[:16]) || string(i) != string(i2[:12]) || string(h) != string(h2[:16]) {
			t.Errorf("dcid %x: keys differ from x/crypto/hkdf", d)
		}
	}
}

// testHelloMsg returns a TLS 1.3 ClientHello handshake message (no record
// header) from crypto/tls.
func testHelloMsg(t testing.TB, sni string, alpn ...string) []byte {
	stream := captureClientHello(t, &tls.Config{ServerName: sni, NextProtos: alpn, MinVersion: tls.VersionTLS13, CurvePreferences: []tls.CurveID{tls.X25519}})
	return stream[5:]
}

func TestParseQUICInitial(t *testing.T) {
	msg := testHelloMsg(t, "quic.blocked.example", "h3")
	dcid := []byte{1, 2, 3, 4, 5, 6, 7, 8}
	scid := []byte{9, 9, 9}
	pad := make([]byte, 1000)
	half := len(msg) / 2
	pings := make([]byte, 50)
	for i := range pings {
		pings[i] = 0x01
	}
	seal := func(payload []byte) []byte {
		return sealInitial(initialSpec{dcid: dcid, scid: scid, payload: payload})
	}
	inOrder := seal(concat(cryptoFrame(0, msg), pad))
	outOfOrder := seal(concat(cryptoFrame(half, msg[half:]), []byte{0x01, 0, 0, 0}, cryptoFrame(0, msg[:half]), pad))
	buried := seal(concat(pings, cryptoFrame(0, msg), pad))
	withAck := seal(concat([]byte{0x02, 0x05, 0x00, 0x01, 0x00, 0x01, 0x01}, []byte{0x03, 1, 0, 0, 0, 7, 8, 9}, cryptoFrame(0, msg), []byte{0x1c, 0x0a, 0x00, 0x03, 'b', 'y', 'e'}, pad))
	missing := seal(concat(cryptoFrame(0, msg[:half]), cryptoFrame(half+10, msg[half+10:]), pad))
	secondHalfOnly := seal(concat(cryptoFrame(half, msg[half:]), pad))
	stream := seal(concat(cryptoFrame(0, msg), []byte{0x08, 0x00}, pad))
	tooLongFrame := seal(concat(cryptoFrame(0, msg), []byte{0x06, 0x00, 0x44, 0x00}))
	notHello := seal(concat(cryptoFrame(0, []byte{2, 0, 0, 4, 1, 2, 3, 4}), pad))
	withToken := sealInitial(initialSpec{dcid: dcid, token: []byte("retry-token"), pn: 0x1234, pnLen: 4, payload: concat(cryptoFrame(0, msg), pad)})
	coalesced := concat(inOrder, []byte{0xe0, 0, 0, 0, 1, 0, 0, 0})
	v2 := sealInitial(initialSpec{version: 0x6b3343cf, dcid: dcid, payload: pad})
	handshake := append([]byte{}, inOrder...)
	handshake[0] = 0xe0 | handshake[0]&0x0f
	badTag := append([]byte{}, inOrder...)
	badTag[len(badTag)-1] ^= 1
	bigDCID := append([]byte{0xc0, 0, 0, 0, 1, 21}, make([]byte, 30)...)

	tests := []struct {
		name          string
		in            []byte
		opts          QUICOptions
		wantErr       error
		wantSNI       string
		wantCryptoLen int
		check         func(*testing.T, *QUICInitial)
	}{
		{name: "in order", in: inOrder, wantSNI: "quic.blocked.example", wantCryptoLen: len(msg), check: func(t *testing.T, q *QUICInitial) {
			if string(q.DCID()) != string(dcid) || string(q.SCID()) != string(scid) || q.PacketEnd != len(inOrder) || q.Frames != 2 || q.CryptoFrames != 1 {
				t.Errorf("DCID %x SCID %x PacketEnd %d Frames %d CryptoFrames %d", q.DCID(), q.SCID(), q.PacketEnd, q.Frames, q.CryptoFrames)
			}
			if len(q.Hello.ALPN()) != 1 || string(q.Hello.ALPN()[0]) != "h3" || !q.Hello.TLS13 || q.Hello.RecordLength != 0 {
				t.Errorf("ALPN %q TLS13 %v", q.Hello.ALPN(), q.Hello.TLS13)
			}
		}},
		{name: "out of order", in: outOfOrder, wantSNI: "quic.blocked.example", wantCryptoLen: len(msg)},
		{name: "buried, unbounded", in: buried, wantSNI: "quic.blocked.example", wantCryptoLen: len(msg)},
		{name: "buried, MaxFrames 20", in: buried, opts: QUICOptions{MaxFrames: 20}, wantErr: ErrIncomplete, check: func(t *testing.T, q *QUICInitial) {
			if !q.FrameLimitHit || q.Frames != 20 {
				t.Errorf("FrameLimitHit %v Frames %d", q.FrameLimitHit, q.Frames)
			}
		}},
		{name: "in order, MaxFrames 1", in: inOrder, opts: QUICOptions{MaxFrames: 1}, wantSNI: "quic.blocked.example", wantCryptoLen: len(msg)},
		{name: "ACK and CONNECTION_CLOSE", in: withAck, wantSNI: "quic.blocked.example", wantCryptoLen: len(msg)},
		{name: "gap in CRYPTO, SNI in the first part", in: missing, wantErr: ErrIncomplete, wantSNI: "quic.blocked.example", wantCryptoLen: half},
		{name: "second half only", in: secondHalfOnly, wantErr: ErrIncomplete},
		{name: "STREAM frame", in: stream, wantErr: ErrMalformed},
		{name: "CRYPTO longer than payload", in: tooLongFrame, wantErr: ErrMalformed},
		{name: "CRYPTO not a ClientHello", in: notHello, wantErr: ErrNotTLS, wantCryptoLen: 8},
		{name: "token and 4-byte packet number", in: withToken, wantSNI: "quic.blocked.example", wantCryptoLen: len(msg), check: func(t *testing.T, q *QUICInitial) {
			if string(q.Token()) != "retry-token" || q.PacketNumber != 0x1234 || q.PacketNumberLen != 4 {
				t.Errorf("Token %q PN %#x/%d", q.Token(), q.PacketNumber, q.PacketNumberLen)
			}
		}},
		{name: "coalesced", in: coalesced, wantSNI: "quic.blocked.example", wantCryptoLen: len(msg), check: func(t *testing.T, q *QUICInitial) {
			if q.PacketEnd != len(inOrder) {
				t.Errorf("PacketEnd %d, want %d", q.PacketEnd, len(inOrder))
			}
		}},
		{name: "QUIC v2", in: v2, wantErr: ErrUnsupportedVersion},
		{name: "version negotiation", in: []byte{0x80, 0, 0, 0, 0, 0, 0}, wantErr: ErrUnsupportedVersion},
		{name: "short header", in: []byte{0x40, 1, 2, 3}, wantErr: ErrNotQUIC},
		{name: "Handshake packet", in: handshake, wantErr: ErrNotInitial},
		{name: "empty", in: nil, wantErr: ErrTruncated},
		{name: "truncated", in: inOrder[:len(inOrder)-1], wantErr: ErrTruncated},
		{name: "truncated in header", in: inOrder[:12], wantErr: ErrTruncated},
		{name: "DCID too long", in: bigDCID, wantErr: ErrMalformed},
		{name: "bad tag", in: badTag, wantErr: ErrDecrypt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var q QUICInitial
			err := ParseQUICInitial(tt.in, tt.opts, &q)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if got := string(q.Hello.ServerName()); got != tt.wantSNI {
				t.Errorf("SNI = %q, want %q", got, tt.wantSNI)
			}
			if q.CryptoLen != tt.wantCryptoLen {
				t.Errorf("CryptoLen = %d, want %d", q.CryptoLen, tt.wantCryptoLen)
			}
			if tt.check != nil {
				tt.check(t, &q)
			}
			writeSeed(t, "FuzzParseQUICInitial", strings.ReplaceAll(tt.name, " ", "_"), tt.in)
		})
	}
}

// TestParseQUICInitialContinue: a ClientHello split over two Initials is
// parsed with Continue once both are in, also when the second addresses the
// server's connection ID under the keys of the client's own (a slow client
// that heard the server's first Initial: RFC 9001 5.2, what Russia's QUIC
// ECH filter missed before); a packet the kept keys do not open, under
// another ID, starts afresh (a new connection on the same 5-tuple).
func TestParseQUICInitialContinue(t *testing.T) {
	msg := testHelloMsg(t, "quic.blocked.example", "h3")
	half := len(msg) / 2
	cli, srv, other := []byte{1, 2, 3, 4, 5, 6, 7, 8}, []byte{0xa, 0xb, 0xc, 0xd}, []byte{8, 7, 6, 5, 4, 3, 2, 1}
	pad := make([]byte, 1000)
	first := sealInitial(initialSpec{dcid: cli, payload: concat(cryptoFrame(0, msg[:half]), pad)})
	sameID := sealInitial(initialSpec{dcid: cli, pn: 1, payload: concat(cryptoFrame(half, msg[half:]), pad)})
	serverID := sealInitial(initialSpec{dcid: srv, keyDCID: cli, pn: 1, payload: concat(cryptoFrame(half, msg[half:]), pad)})
	fresh := sealInitial(initialSpec{dcid: other, payload: concat(cryptoFrame(0, msg), pad)})
	for _, tc := range []struct {
		name    string
		second  []byte
		opts    QUICOptions
		wantErr error
		wantSNI string
		wantLen int
	}{
		{"same ID", sameID, QUICOptions{Continue: true}, nil, "quic.blocked.example", len(msg)},
		{"server's ID, first keys", serverID, QUICOptions{Continue: true}, nil, "quic.blocked.example", len(msg)},
		{"server's ID without Continue", serverID, QUICOptions{}, ErrDecrypt, "", 0},
		{"second half alone", sameID, QUICOptions{}, ErrIncomplete, "", 0},
		{"a new connection", fresh, QUICOptions{Continue: true}, nil, "quic.blocked.example", len(msg)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var q QUICInitial
			if err := ParseQUICInitial(first, QUICOptions{Continue: true}, &q); !errors.Is(err, ErrIncomplete) {
				t.Fatalf("first half: err = %v, want %v", err, ErrIncomplete)
			}
			err := ParseQUICInitial(tc.second, tc.opts, &q)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if got := string(q.Hello.ServerName()); got != tc.wantSNI || q.CryptoLen != tc.wantLen {
				t.Errorf("SNI %q CryptoLen %d, want %q %d", got, q.CryptoLen, tc.wantSNI, tc.wantLen)
			}
		})
	}
}

// capturePacketConn is a net.PacketConn that records written datagrams and
// never receives any.
type capturePacketConn struct {
	mu      sync.Mutex
	written [][]byte
	wrote   chan struct{}
	closed  chan struct{}
	once    sync.Once
}

func newCapturePacketConn() *capturePacketConn {
	return &capturePacketConn{wrote: make(chan struct{}, 1), closed: make(chan struct{})}
}

func (c *capturePacketConn) ReadFrom([]byte) (int, net.Addr, error) {
	<-c.closed
	return 0, nil, net.ErrClosed
}

func (c *capturePacketConn) WriteTo(p []byte, _ net.Addr) (int, error) {
	c.mu.Lock()
	c.written = append(c.written, append([]byte{}, p...))
	c.mu.Unlock()
	select {
	case c.wrote <- struct{}{}:
	default:
	}
	return len(p), nil
}

func (c *capturePacketConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return nil
}

func (c *capturePacketConn) LocalAddr() net.Addr {
	return &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 50000}
}
func (c *capturePacketConn) SetDeadline(time.Time) error      { return nil }
func (c *capturePacketConn) SetReadDeadline(time.Time) error  { return nil }
func (c *capturePacketConn) SetWriteDeadline(time.Time) error { return nil }

var _ net.PacketConn = (*capturePacketConn)(nil)

// captureQUICInitials dials with quic-go over a capturePacketConn and returns
// the datagrams of its first flight.
func captureQUICInitials(t *testing.T, cfg *tls.Config) [][]byte {
	t.Helper()
	t.Setenv("QUIC_GO_DISABLE_RECEIVE_BUFFER_WARNING", "true") // the in-memory conn has no buffers to size
	pc := newCapturePacketConn()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	done := make(chan struct{})
	go func() {
		defer close(done)
		conn, err := quic.Dial(ctx, pc, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 443}, cfg, &quic.Config{})
		if err == nil {
			_ = conn.CloseWithError(0, "")
		}
	}()
	select {
	case <-pc.wrote:
	case <-time.After(5 * time.Second):
		t.Fatal("quic-go wrote nothing")
	}
	time.Sleep(20 * time.Millisecond) // let the rest of the first flight out
	cancel()
	pc.Close() // quic-go's transport waits for its reader to stop
	<-done
	pc.mu.Lock()
	defer pc.mu.Unlock()
	return pc.written
}

// TestParseQUICInitialQuicGo parses Initials sent by a real quic-go client.
func TestParseQUICInitialQuicGo(t *testing.T) {
	tests := []struct {
		name string
		cfg  *tls.Config
		// whole says the ClientHello fits in the first Initial.
		whole bool
	}{
		{name: "X25519", cfg: &tls.Config{ServerName: "quic-go.blocked.example", NextProtos: []string{"h3"}, CurvePreferences: []tls.CurveID{tls.X25519}}, whole: true},
		{name: "two ALPN", cfg: &tls.Config{ServerName: "www.example.org", NextProtos: []string{"h3", "doq"}, CurvePreferences: []tls.CurveID{tls.X25519}}, whole: true},
		{name: "default curves", cfg: &tls.Config{ServerName: "pq.example", NextProtos: []string{"h3"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dgrams := captureQUICInitials(t, tt.cfg)
			first := dgrams[0]
			var q QUICInitial
			err := ParseQUICInitial(first, QUICOptions{}, &q)
			if tt.whole && err != nil || err != nil && !errors.Is(err, ErrIncomplete) {
				t.Fatalf("err = %v (datagram of %d bytes, %d datagrams)", err, len(first), len(dgrams))
			}
			if err != nil {
				t.Logf("ClientHello continues past the first Initial: %d CRYPTO bytes, HasSNI %v", q.CryptoLen, q.Hello.HasSNI)
			}
			if (tt.whole || q.Hello.HasSNI) && string(q.Hello.ServerName()) != tt.cfg.ServerName {
				t.Errorf("SNI = %q, want %q", q.Hello.ServerName(), tt.cfg.ServerName)
			}
			if tt.whole {
				var alpn []string
				for _, p := range q.Hello.ALPN() {
					alpn = append(alpn, string(p))
				}
				if strings.Join(alpn, ",") != strings.Join(tt.cfg.NextProtos, ",") {
					t.Errorf("ALPN = %q, want %q", alpn, tt.cfg.NextProtos)
				}
				if !q.Hello.TLS13 || !q.Hello.Complete {
					t.Errorf("TLS13 %v Complete %v", q.Hello.TLS13, q.Hello.Complete)
				}
			}
			if *update {
				// Real captures are kept as files and as fuzz seeds.
				name := "quic-go_" + strings.ReplaceAll(tt.name, " ", "_")
				writeSeed(t, "FuzzParseQUICInitial", name, first)
				if err := os.WriteFile(filepath.Join("testdata", name+".bin"), first, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// TestParseQUICInitialCaptured parses the quic-go captures kept in testdata,
// so that a quic-go upgrade cannot silently change what is tested.
func TestParseQUICInitialCaptured(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "quic-go_X25519.bin"))
	if err != nil {
		t.Skip("no capture; run with -update")
	}
	var q QUICInitial
	if err := ParseQUICInitial(b, QUICOptions{}, &q); err != nil || string(q.Hello.ServerName()) != "quic-go.blocked.example" {
		t.Fatalf("err %v SNI %q", err, q.Hello.ServerName())
	}
}

func TestParseQUICInitialAllocs(t *testing.T) {
	msg := testHelloMsg(t, "alloc.example", "h3")
	payload := concat(cryptoFrame(0, msg), make([]byte, 900))
	pkt := sealInitial(initialSpec{dcid: []byte{1, 2, 3, 4, 5, 6, 7, 8}, payload: payload})
	var q QUICInitial
	t.Run("same DCID", func(t *testing.T) {
		mustZeroAllocs(t, func() { _ = ParseQUICInitial(pkt, QUICOptions{}, &q) })
	})
	t.Run("new DCID", func(t *testing.T) {
		other := sealInitial(initialSpec{dcid: []byte{8, 7, 6, 5, 4, 3, 2, 1}, payload: payload})
		pkts := [2][]byte{pkt, other}
		i := 0
		n := testing.AllocsPerRun(100, func() {
			i++
			_ = ParseQUICInitial(pkts[i%2], QUICOptions{}, &q)
		})
		// aes.NewCipher twice and cipher.NewGCM: no re-keying API.
		if n > 6 {
			t.Errorf("allocations per run = %v, want at most 6", n)
		}
		t.Logf("allocations per new DCID: %v", n)
	})
}

func BenchmarkParseQUICInitial(b *testing.B) {
	msg := testHelloMsg(b, "bench.example", "h3")
	payload := concat(cryptoFrame(0, msg), make([]byte, 900))
	pkt := sealInitial(initialSpec{dcid: []byte{1, 2, 3, 4, 5, 6, 7, 8}, payload: payload})
	other := sealInitial(initialSpec{dcid: []byte{8, 7, 6, 5, 4, 3, 2, 1}, payload: payload})
	b.Run("same-dcid", func(b *testing.B) {
		var q QUICInitial
		b.ReportAllocs()
		b.SetBytes(int64(len(pkt)))
		for b.Loop() {
			if err := ParseQUICInitial(pkt, QUICOptions{}, &q); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("new-dcid", func(b *testing.B) {
		var q QUICInitial
		pkts := [2][]byte{pkt, other}
		b.ReportAllocs()
		b.SetBytes(int64(len(pkt)))
		i := 0
		for b.Loop() {
			i++
			if err := ParseQUICInitial(pkts[i%2], QUICOptions{}, &q); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// FuzzParseQUICInitial checks that ParseQUICInitial never panics on arbitrary
// datagrams (real quic-go captures are among the seeds).
func FuzzParseQUICInitial(f *testing.F) {
	f.Add(sealInitial(initialSpec{dcid: []byte{1, 2, 3, 4, 5, 6, 7, 8}, payload: concat(cryptoFrame(0, buildHello(sniExt("seed.example"))[5:]), make([]byte, 100))}))
	f.Fuzz(func(t *testing.T, b []byte) {
		var q QUICInitial
		err := ParseQUICInitial(b, QUICOptions{}, &q)
		if err == nil && (q.PacketEnd > len(b) || !q.Hello.Complete) {
			t.Fatalf("PacketEnd %d len %d Complete %v", q.PacketEnd, len(b), q.Hello.Complete)
		}
	})
}

// FuzzQUICInitialPayload seals a fuzzed payload into a valid Initial, so that
// the frame walker and the CRYPTO reassembly see arbitrary plaintext.
func FuzzQUICInitialPayload(f *testing.F) {
	hello := buildHello(sniExt("seed.example"), alpnExt("h3"))[5:]
	f.Add(concat(cryptoFrame(0, hello), make([]byte, 10)), 0)
	f.Add(concat(cryptoFrame(20, hello[20:]), []byte{1, 1, 0, 0}, cryptoFrame(0, hello[:20])), 3)
	f.Add([]byte{0x02, 0x05, 0x00, 0x01, 0x00, 0x01, 0x01, 0x1c, 0x0a, 0x00, 0x00}, 0)
	f.Fuzz(func(t *testing.T, payload []byte, maxFrames int) {
		if len(payload) > 1400 {
			return
		}
		pkt := sealInitial(initialSpec{dcid: []byte{1, 2, 3, 4, 5, 6, 7, 8}, payload: payload})
		var q QUICInitial
		err := ParseQUICInitial(pkt, QUICOptions{MaxFrames: maxFrames}, &q)
		if errors.Is(err, ErrDecrypt) || errors.Is(err, ErrTruncated) {
			t.Fatalf("sealed packet: %v", err)
		}
		if q.CryptoLen > MaxQUICCrypto || q.FrameLimitHit && q.Frames != maxFrames {
			t.Fatalf("CryptoLen %d FrameLimitHit %v Frames %d", q.CryptoLen, q.FrameLimitHit, q.Frames)
		}
		if q.Hello.HasSNI && len(q.Hello.ServerName()) > q.CryptoLen {
			t.Fatal("SNI longer than the CRYPTO stream")
		}
	})
}
