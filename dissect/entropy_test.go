package dissect

import (
	"bytes"
	"strings"
	"testing"
)

// highEntropy is a 32-byte non-printable pattern with exactly 4 set bits per
// byte on average and no printable run: it passes no exemption.
var highEntropy = bytes.Repeat([]byte{0x0f, 0xf0, 0x87, 0x99, 0xaa, 0xc3, 0x1e, 0xe1}, 4)

func TestFullyEncryptedExempt(t *testing.T) {
	tests := []struct {
		name       string
		in         []byte
		wantExempt bool
		wantRule   string
	}{
		{name: "random-looking is blocked", in: highEntropy, wantExempt: false},
		{name: "empty", in: nil, wantExempt: false},
		{name: "ex1 low popcount zeros", in: make([]byte, 64), wantExempt: true, wantRule: "ex1"},
		{name: "ex1 high popcount", in: bytes.Repeat([]byte{0xff, 0xfe, 0x7f}, 20), wantExempt: true, wantRule: "ex1"},
		{name: "ex1 at exactly 3.4", in: []byte{0x07, 0x07, 0x07, 0x0f, 0x0f}, wantExempt: true, wantRule: "ex1"},
		{name: "3.6 bits per byte is not ex1", in: []byte{0x07, 0x07, 0x0f, 0x0f, 0x0f}, wantExempt: false},
		{name: "ex1 at exactly 4.6", in: []byte{0x1f, 0x1f, 0x1f, 0x0f, 0x0f}, wantExempt: true, wantRule: "ex1"},
		{name: "ex2 printable start", in: append([]byte("SSH-2."), highEntropy...), wantExempt: true, wantRule: "ex2"},
		{name: "ex3 mostly printable", in: append(append([]byte{0x81}, highEntropy[:10]...), []byte("abcdefghijklmnopqrs")...), wantExempt: true, wantRule: "ex3"},
		{name: "ex4 long printable run", in: append(append(append([]byte{}, highEntropy...), highEntropy...), []byte("0123456789abcdefghijk")...), wantExempt: true, wantRule: "ex4"},
		{name: "ex4 run of exactly 20 is not enough", in: append(append(append([]byte{}, highEntropy...), highEntropy...), []byte("0123456789abcdefghij")...), wantExempt: false},
		{name: "ex5 TLS handshake", in: append([]byte{0x16, 0x03, 0x01}, highEntropy...), wantExempt: true, wantRule: "ex5"},
		{name: "ex5 TLS application data", in: append([]byte{0x17, 0x03, 0x03}, highEntropy...), wantExempt: true, wantRule: "ex5"},
		{name: "TLS-like with bad minor", in: append([]byte{0x17, 0x03, 0x0a}, highEntropy...), wantExempt: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			exempt, rule := FullyEncryptedExempt(tt.in)
			if exempt != tt.wantExempt || rule != tt.wantRule {
				t.Errorf("= %v %q, want %v %q", exempt, rule, tt.wantExempt, tt.wantRule)
			}
			writeSeed(t, "FuzzFullyEncryptedExempt", strings.ReplaceAll(tt.name, " ", "_"), tt.in)
		})
	}
}

// TestFullyEncryptedExemptEx5HTTP checks the HTTP prefixes of Ex5. They are
// printable, so Ex2 catches them first when 6 bytes follow; with fewer bytes
// than 6 they reach Ex5.
func TestFullyEncryptedExemptEx5HTTP(t *testing.T) {
	for _, p := range []string{"GET ", "PUT ", "POST ", "HEAD "} {
		in := append([]byte(p), 0x81)
		if exempt, rule := FullyEncryptedExempt(in); !exempt {
			t.Errorf("%q: not exempt (%q)", p, rule)
		}
	}
	// "GET " followed by non-printable high-entropy bytes, so that neither
	// Ex2 (6 printable), Ex3 nor Ex1 applies: only Ex5 can exempt it.
	in := append([]byte("GET "), highEntropy...)
	in = append(in, highEntropy...)
	if exempt, rule := FullyEncryptedExempt(in); !exempt || rule != "ex5" {
		t.Errorf("GET + random: %v %q, want ex5", exempt, rule)
	}
}

func TestFullyEncryptedExemptAllocs(t *testing.T) {
	in := bytes.Repeat(highEntropy, 20)
	mustZeroAllocs(t, func() { _, _ = FullyEncryptedExempt(in) })
}

func BenchmarkFullyEncryptedExempt(b *testing.B) {
	in := bytes.Repeat(highEntropy, 40)
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		FullyEncryptedExempt(in)
	}
}

// FuzzFullyEncryptedExempt checks the rule against a direct, floating-point
// restatement of the paper's definitions.
func FuzzFullyEncryptedExempt(f *testing.F) {
	f.Add(highEntropy)
	f.Fuzz(func(t *testing.T, b []byte) {
		exempt, rule := FullyEncryptedExempt(b)
		if exempt != (rule != "") {
			t.Fatalf("exempt %v rule %q", exempt, rule)
		}
		if len(b) == 0 {
			return
		}
		ones, printable := 0, 0
		for _, c := range b {
			for x := c; x != 0; x >>= 1 {
				ones += int(x & 1)
			}
			if c >= 0x20 && c <= 0x7e {
				printable++
			}
		}
		avg := float64(ones) / float64(len(b))
		ex1 := avg <= 3.4+1e-9 || avg >= 4.6-1e-9
		ex3 := float64(printable)/float64(len(b)) > 0.5
		if ex1 != (rule == "ex1") {
			t.Fatalf("avg %.4f, rule %q", avg, rule)
		}
		if !ex1 && ex3 && rule != "ex2" && rule != "ex3" {
			t.Fatalf("%d/%d printable, rule %q", printable, len(b), rule)
		}
	})
}
