package dissect

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// captureClientHello runs a crypto/tls client over a net.Pipe and returns the
// first TLS record it writes: its ClientHello.
func captureClientHello(t testing.TB, cfg *tls.Config) []byte {
	t.Helper()
	c, s := net.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = tls.Client(c, cfg).Handshake()
	}()
	hdr := make([]byte, 5)
	if _, err := io.ReadFull(s, hdr); err != nil {
		t.Fatal(err)
	}
	body := make([]byte, binary.BigEndian.Uint16(hdr[3:]))
	if _, err := io.ReadFull(s, body); err != nil {
		t.Fatal(err)
	}
	s.Close()
	c.Close()
	<-done
	return append(hdr, body...)
}

// oracleServerName feeds stream to a crypto/tls server and returns the
// ClientHelloInfo.ServerName it reports, and whether it got that far.
func oracleServerName(stream []byte) (string, bool) {
	c, s := net.Pipe()
	var name string
	var got bool
	cfg := &tls.Config{GetConfigForClient: func(chi *tls.ClientHelloInfo) (*tls.Config, error) {
		name, got = chi.ServerName, true
		return nil, errors.New("stop")
	}}
	go func() {
		_, _ = c.Write(stream)
		c.Close()
	}()
	srv := tls.Server(s, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.HandshakeContext(ctx)
	s.Close()
	return name, got
}

// helloExt is one extension for buildHello.
type helloExt struct {
	typ  uint16
	data []byte
}

// buildHello builds a one-record ClientHello carrying exts.
func buildHello(exts ...helloExt) []byte {
	body := []byte{0x03, 0x03}
	body = append(body, make([]byte, 32)...) // random
	body = append(body, 0)                   // session id
	body = append(body, 0, 2, 0x13, 0x01)    // cipher suites
	body = append(body, 1, 0)                // compression
	var e []byte
	for _, x := range exts {
		e = binary.BigEndian.AppendUint16(e, x.typ)
		e = binary.BigEndian.AppendUint16(e, uint16(len(x.data)))
		e = append(e, x.data...)
	}
	body = binary.BigEndian.AppendUint16(body, uint16(len(e)))
	body = append(body, e...)
	msg := append([]byte{1, byte(len(body) >> 16), byte(len(body) >> 8), byte(len(body))}, body...)
	rec := []byte{0x16, 0x03, 0x01}
	rec = binary.BigEndian.AppendUint16(rec, uint16(len(msg)))
	return append(rec, msg...)
}

func sniExt(names ...string) helloExt {
	var list []byte
	for _, n := range names {
		list = append(list, 0)
		list = binary.BigEndian.AppendUint16(list, uint16(len(n)))
		list = append(list, n...)
	}
	return helloExt{tlsExtServerName, append(binary.BigEndian.AppendUint16(nil, uint16(len(list))), list...)}
}

func alpnExt(protos ...string) helloExt {
	var list []byte
	for _, p := range protos {
		list = append(list, byte(len(p)))
		list = append(list, p...)
	}
	return helloExt{tlsExtALPN, append(binary.BigEndian.AppendUint16(nil, uint16(len(list))), list...)}
}

func TestClientHelloCryptoTLS(t *testing.T) {
	tests := []struct {
		name      string
		cfg       *tls.Config
		wantSNI   string
		wantALPN  []string
		wantCount int
		wantTLS13 bool
	}{
		{name: "TLS 1.3 with ALPN", cfg: &tls.Config{ServerName: "example.com", NextProtos: []string{"h2", "http/1.1"}}, wantSNI: "example.com", wantALPN: []string{"h2", "http/1.1"}, wantCount: 2, wantTLS13: true},
		{name: "TLS 1.2 only", cfg: &tls.Config{ServerName: "www.Blocked.example", MaxVersion: tls.VersionTLS12}, wantSNI: "www.Blocked.example"},
		{name: "no SNI", cfg: &tls.Config{InsecureSkipVerify: true}, wantTLS13: true},
		{name: "IP address is not sent as SNI", cfg: &tls.Config{ServerName: "192.0.2.1"}, wantTLS13: true},
		{name: "many ALPN", cfg: &tls.Config{ServerName: "a.example", NextProtos: []string{"h3", "h2", "http/1.1", "spdy/3", "x", "y"}}, wantSNI: "a.example", wantALPN: []string{"h3", "h2", "http/1.1", "spdy/3"}, wantCount: 6, wantTLS13: true},
		{name: "X25519 only", cfg: &tls.Config{ServerName: "x.example", CurvePreferences: []tls.CurveID{tls.X25519}}, wantSNI: "x.example", wantTLS13: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stream := captureClientHello(t, tt.cfg)
			writeSeed(t, "FuzzParseClientHello", "crypto_tls_"+strings.ReplaceAll(tt.name, " ", "_"), stream, true)
			for _, reassemble := range []bool{false, true} {
				var h ClientHello
				if err := ParseClientHello(stream, HelloOptions{ReassembleRecords: reassemble}, &h); err != nil {
					t.Fatal(err)
				}
				if got := string(h.ServerName()); got != tt.wantSNI || h.HasSNI != (tt.wantSNI != "") {
					t.Errorf("SNI = %q (%v), want %q", got, h.HasSNI, tt.wantSNI)
				}
				var alpn []string
				for _, p := range h.ALPN() {
					alpn = append(alpn, string(p))
				}
				if strings.Join(alpn, ",") != strings.Join(tt.wantALPN, ",") || h.ALPNCount != tt.wantCount {
					t.Errorf("ALPN = %q (%d), want %q (%d)", alpn, h.ALPNCount, tt.wantALPN, tt.wantCount)
				}
				if h.TLS13 != tt.wantTLS13 || !h.Complete || !h.RecordMatchesHandshake() || h.Extensions == 0 || h.LegacyVersion != tls.VersionTLS12 {
					t.Errorf("TLS13 %v Complete %v RecordMatches %v Extensions %d legacy %#x", h.TLS13, h.Complete, h.RecordMatchesHandshake(), h.Extensions, h.LegacyVersion)
				}
			}
			if name, ok := oracleServerName(stream); !ok || name != tt.wantSNI {
				t.Errorf("crypto/tls server saw %q (%v), want %q", name, ok, tt.wantSNI)
			}
		})
	}
}

func TestParseClientHello(t *testing.T) {
	plain := buildHello(sniExt("blocked.example"), alpnExt("h2"))
	twoNames := buildHello(sniExt("first.example", "second.example"))
	esni := buildHello(sniExt("front.example"), helloExt{tlsExtESNI, []byte{0x13, 0x01}})
	echOuter := buildHello(sniExt("public.example"), helloExt{tlsExtECH, []byte{0, 0, 1}})
	echInner := buildHello(helloExt{tlsExtECH, []byte{1}})
	tls13 := buildHello(helloExt{tlsExtSupportedVersions, []byte{4, 0x03, 0x04, 0x03, 0x03}})
	noExt := buildHello()
	noExt = noExt[:len(noExt)-2] // drop the empty extensions block
	noExt[4] -= 2
	noExt[8] -= 2
	badExtLen := append([]byte{}, plain...)
	badExtLen[len(badExtLen)-7] = 0xff // ALPN extension length beyond the block
	badSNIList := buildHello(helloExt{tlsExtServerName, []byte{0, 9, 0, 0, 1, 'a'}})
	split, err := SplitClientHelloRecords(plain, 20)
	if err != nil {
		t.Fatal(err)
	}
	tooBig := append([]byte{}, plain[:9]...)
	tooBig[6] = 0x02 // handshake length 0x02xxxx

	tests := []struct {
		name       string
		in         []byte
		opts       HelloOptions
		wantErr    error
		wantSNI    string
		wantNeeded int
		check      func(*testing.T, *ClientHello)
	}{
		{name: "plain", in: plain, wantSNI: "blocked.example"},
		{name: "first host_name wins", in: twoNames, wantSNI: "first.example"},
		{name: "ESNI", in: esni, wantSNI: "front.example", check: func(t *testing.T, h *ClientHello) {
			if !h.ESNI || h.ECH {
				t.Errorf("ESNI %v ECH %v", h.ESNI, h.ECH)
			}
		}},
		{name: "ECH outer", in: echOuter, wantSNI: "public.example", check: func(t *testing.T, h *ClientHello) {
			if !h.ECH || !h.ECHOuter {
				t.Errorf("ECH %v outer %v", h.ECH, h.ECHOuter)
			}
		}},
		{name: "ECH inner", in: echInner, check: func(t *testing.T, h *ClientHello) {
			if !h.ECH || h.ECHOuter {
				t.Errorf("ECH %v outer %v", h.ECH, h.ECHOuter)
			}
		}},
		{name: "supported_versions", in: tls13, check: func(t *testing.T, h *ClientHello) {
			if !h.TLS13 || h.Extensions != 1 {
				t.Errorf("TLS13 %v Extensions %d", h.TLS13, h.Extensions)
			}
		}},
		{name: "no extensions block", in: noExt, check: func(t *testing.T, h *ClientHello) {
			if !h.Complete || h.Extensions != 0 {
				t.Errorf("Complete %v Extensions %d", h.Complete, h.Extensions)
			}
		}},
		{name: "empty", in: nil, wantErr: ErrIncomplete, wantNeeded: 5},
		{name: "record header only", in: plain[:5], wantErr: ErrIncomplete, wantNeeded: 9},
		{name: "handshake header cut", in: plain[:7], wantErr: ErrIncomplete},
		{name: "cut after SNI", in: plain[:len(plain)-3], wantErr: ErrIncomplete, wantSNI: "blocked.example", wantNeeded: len(plain)},
		{name: "not handshake", in: []byte{0x17, 0x03, 0x03, 0, 1, 0}, wantErr: ErrNotTLS},
		{name: "not TLS major", in: []byte{'G', 'E', 'T'}, wantErr: ErrNotTLS},
		{name: "SSLv2-ish major", in: []byte{0x16, 0x02}, wantErr: ErrNotTLS},
		{name: "ServerHello", in: []byte{0x16, 0x03, 0x03, 0, 4, 2, 0, 0, 0}, wantErr: ErrNotTLS},
		{name: "zero-length record", in: []byte{0x16, 0x03, 0x01, 0, 0}, wantErr: ErrMalformed},
		{name: "extension length overflow", in: badExtLen, wantErr: ErrMalformed, wantSNI: "blocked.example"},
		{name: "SNI list overflow", in: badSNIList, wantErr: ErrMalformed},
		{name: "too large", in: tooBig, wantErr: ErrTooLarge},
		{name: "split, no reassembly", in: split, wantErr: ErrSplitRecord},
		{name: "split header only, no reassembly", in: split[:5], wantErr: ErrIncomplete},
		{name: "split, reassembled", in: split, opts: HelloOptions{ReassembleRecords: true}, wantSNI: "blocked.example", check: func(t *testing.T, h *ClientHello) {
			if h.Records != 2 || h.RecordMatchesHandshake() || h.RecordLength != 20 {
				t.Errorf("Records %d RecordLength %d matches %v", h.Records, h.RecordLength, h.RecordMatchesHandshake())
			}
		}},
		{name: "split, second record missing", in: split[:25], opts: HelloOptions{ReassembleRecords: true}, wantErr: ErrIncomplete},
		{name: "split, second record not handshake", in: append(append([]byte{}, split[:25]...), 0x17, 3, 3, 0, 1, 0), opts: HelloOptions{ReassembleRecords: true}, wantErr: ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h ClientHello
			err := ParseClientHello(tt.in, tt.opts, &h)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if got := string(h.ServerName()); got != tt.wantSNI {
				t.Errorf("SNI = %q, want %q", got, tt.wantSNI)
			}
			if tt.wantNeeded != 0 && h.Needed != tt.wantNeeded {
				t.Errorf("Needed = %d, want %d", h.Needed, tt.wantNeeded)
			}
			if err == nil && !h.Complete {
				t.Error("nil error but not Complete")
			}
			if tt.check != nil {
				tt.check(t, &h)
			}
		})
	}
}

// TestClientHelloPrefixes parses every prefix of a real ClientHello, plain and
// split in two records.
func TestClientHelloPrefixes(t *testing.T) {
	stream := captureClientHello(t, &tls.Config{ServerName: "prefix.example", NextProtos: []string{"h2"}})
	split, err := SplitClientHelloRecords(stream, 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range [][]byte{stream, split} {
		var h ClientHello
		for n := 0; n < len(in); n++ {
			err := ParseClientHello(in[:n], HelloOptions{ReassembleRecords: true}, &h)
			if !errors.Is(err, ErrIncomplete) {
				t.Fatalf("prefix %d: err = %v, want ErrIncomplete", n, err)
			}
			if h.Needed <= n || h.Needed > len(in) {
				t.Fatalf("prefix %d: Needed = %d, want in (%d, %d]", n, h.Needed, n, len(in))
			}
			if h.HasSNI && string(h.ServerName()) != "prefix.example" {
				t.Fatalf("prefix %d: SNI %q", n, h.ServerName())
			}
		}
		if err := ParseClientHello(in, HelloOptions{ReassembleRecords: true}, &h); err != nil || string(h.ServerName()) != "prefix.example" {
			t.Fatalf("whole: %v %q", err, h.ServerName())
		}
	}
}

// TestSplitClientHelloRecords checks the evasion helper: a split ClientHello
// is still a valid one for crypto/tls and a reassembling parser, and is missed
// by a parser that reads only the first record.
func TestSplitClientHelloRecords(t *testing.T) {
	stream := captureClientHello(t, &tls.Config{ServerName: "split.example"})
	var whole ClientHello
	if err := ParseClientHello(stream, HelloOptions{}, &whole); err != nil {
		t.Fatal(err)
	}
	msgLen := whole.HandshakeLength + 4
	for _, at := range []int{1, 4, 40, 100, msgLen / 2, msgLen - 1} {
		split, err := SplitClientHelloRecords(stream, at)
		if err != nil {
			t.Fatalf("at %d: %v", at, err)
		}
		if len(split) != len(stream)+5 {
			t.Fatalf("at %d: len %d", at, len(split))
		}
		var h ClientHello
		if err := ParseClientHello(split, HelloOptions{}, &h); !errors.Is(err, ErrSplitRecord) {
			t.Errorf("at %d: no reassembly: err = %v, want ErrSplitRecord", at, err)
		}
		if err := ParseClientHello(split, HelloOptions{ReassembleRecords: true}, &h); err != nil || string(h.ServerName()) != "split.example" || h.Records != 2 {
			t.Errorf("at %d: reassembled: %v %q records %d", at, err, h.ServerName(), h.Records)
		}
		if name, ok := oracleServerName(split); !ok || name != "split.example" {
			t.Errorf("at %d: crypto/tls server saw %q (%v)", at, name, ok)
		}
		if at == 40 {
			writeSeed(t, "FuzzParseClientHello", "split_at_40", split, true)
		}
	}
	for _, at := range []int{0, -1, msgLen} {
		if _, err := SplitClientHelloRecords(stream, at); err == nil {
			t.Errorf("at %d: no error", at)
		}
	}
	if _, err := SplitClientHelloRecords(stream[:50], 10); err == nil {
		t.Error("incomplete stream: no error")
	}
}

func TestParseClientHelloAllocs(t *testing.T) {
	stream := captureClientHello(t, &tls.Config{ServerName: "alloc.example", NextProtos: []string{"h2", "http/1.1"}})
	split, err := SplitClientHelloRecords(stream, 50)
	if err != nil {
		t.Fatal(err)
	}
	var h ClientHello
	t.Run("single record", func(t *testing.T) {
		mustZeroAllocs(t, func() { _ = ParseClientHello(stream, HelloOptions{}, &h) })
	})
	t.Run("reassembled", func(t *testing.T) {
		mustZeroAllocs(t, func() { _ = ParseClientHello(split, HelloOptions{ReassembleRecords: true}, &h) })
	})
}

func BenchmarkParseClientHello(b *testing.B) {
	stream := captureClientHello(b, &tls.Config{ServerName: "bench.example", NextProtos: []string{"h2", "http/1.1"}})
	split, err := SplitClientHelloRecords(stream, 50)
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		in   []byte
		opts HelloOptions
	}{
		{name: "single", in: stream},
		{name: "split-reassembled", in: split, opts: HelloOptions{ReassembleRecords: true}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var h ClientHello
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.in)))
			for b.Loop() {
				if err := ParseClientHello(bc.in, bc.opts, &h); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// FuzzParseClientHello checks that ParseClientHello never panics, keeps its
// invariants, and agrees with a crypto/tls server on the server name whenever
// that server gets as far as GetConfigForClient.
func FuzzParseClientHello(f *testing.F) {
	f.Add(buildHello(sniExt("seed.example"), alpnExt("h2", "http/1.1")), false)
	f.Add(buildHello(sniExt("a", "b"), helloExt{tlsExtECH, []byte{0}}, helloExt{tlsExtESNI, nil}), true)
	f.Fuzz(func(t *testing.T, stream []byte, reassemble bool) {
		var h ClientHello
		err := ParseClientHello(stream, HelloOptions{ReassembleRecords: reassemble}, &h)
		if (err == nil) != h.Complete {
			t.Fatalf("err %v Complete %v", err, h.Complete)
		}
		if len(h.ALPN()) > MaxALPN || h.ECHOuter && !h.ECH {
			t.Fatalf("inconsistent: %+v", h)
		}
		if errors.Is(err, ErrIncomplete) && h.Needed <= len(stream) {
			t.Fatalf("Needed %d <= len %d", h.Needed, len(stream))
		}
		if !reassemble {
			return
		}
		name, ok := oracleServerName(stream)
		if !ok {
			return
		}
		if err != nil {
			t.Fatalf("crypto/tls accepted (ServerName %q), ParseClientHello: %v", name, err)
		}
		if name != string(h.ServerName()) {
			t.Fatalf("ServerName = %q, crypto/tls %q", h.ServerName(), name)
		}
	})
}

var _ = bytes.Equal

func TestBuildClientHello(t *testing.T) {
	b := BuildClientHello("www.example.com", TLSExtension(0xffce, []byte{1, 2, 3}))
	var h ClientHello
	if err := ParseClientHello(b, HelloOptions{}, &h); err != nil {
		t.Fatal(err)
	}
	if string(h.ServerName()) != "www.example.com" || !h.ESNI || !h.Complete || !h.RecordMatchesHandshake() {
		t.Fatalf("parsed %+v, SNI %q", h, h.ServerName())
	}
}
