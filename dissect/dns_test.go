package dissect

import (
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// dnsQuery builds a one-question query by hand.
func dnsQuery(id, flags uint16, labels []string, qtype, qclass uint16) []byte {
	b := binary.BigEndian.AppendUint16(nil, id)
	b = binary.BigEndian.AppendUint16(b, flags)
	b = append(b, 0, 1, 0, 0, 0, 0, 0, 0)
	for _, l := range labels {
		b = append(b, byte(len(l)))
		b = append(b, l...)
	}
	b = append(b, 0)
	b = binary.BigEndian.AppendUint16(b, qtype)
	return binary.BigEndian.AppendUint16(b, qclass)
}

func TestParseDNS(t *testing.T) {
	plain := dnsQuery(0xbeef, 0x0100, []string{"WWW", "Example", "com"}, 28, 1)
	long := make([]string, 0, 5)
	for range 4 {
		long = append(long, strings.Repeat("a", 63))
	}
	// A name whose wire form is 4*64+1 = 257 bytes: too long.
	tooLong := dnsQuery(1, 0, long, 1, 1)
	// 3*64 + 61+1 + 1 = 255 bytes: the longest legal name.
	longest := dnsQuery(1, 0, append(long[:3:3], strings.Repeat("b", 61)), 1, 1)

	// A pointer in the question to a name placed after it (odd but legal to follow).
	withPtr := []byte{0, 7, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0,
		3, 'f', 'o', 'o', 0xc0, 22, 0, 1, 0, 1, // foo + ptr -> 22
		3, 'b', 'a', 'r', 0}
	loop := []byte{0, 7, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1}

	tests := []struct {
		name      string
		in        []byte
		wantErr   error
		wantName  string
		wantType  uint16
		wantClass uint16
		wantEnd   int
		wantRD    bool
		wantQD    uint16
	}{
		{name: "plain AAAA", in: plain, wantName: "www.example.com", wantType: 28, wantClass: 1, wantEnd: len(plain), wantRD: true, wantQD: 1},
		{name: "trailing bytes kept out of QuestionEnd", in: append(append([]byte{}, plain...), 0, 0, 41), wantName: "www.example.com", wantType: 28, wantClass: 1, wantEnd: len(plain), wantRD: true, wantQD: 1},
		{name: "root name", in: dnsQuery(2, 0, nil, 2, 1), wantName: "", wantType: 2, wantClass: 1, wantEnd: 17, wantQD: 1},
		{name: "longest name", in: longest, wantName: strings.Join(append(long[:3:3], strings.Repeat("b", 61)), "."), wantType: 1, wantClass: 1, wantEnd: len(longest), wantQD: 1},
		{name: "compression pointer", in: withPtr, wantName: "foo.bar", wantType: 1, wantClass: 1, wantEnd: 22, wantQD: 1},
		{name: "short header", in: plain[:11], wantErr: ErrTruncated},
		{name: "header only", in: plain[:12], wantErr: ErrTruncated},
		{name: "cut in label", in: plain[:15], wantErr: ErrTruncated},
		{name: "cut in qclass", in: plain[:len(plain)-1], wantErr: ErrTruncated},
		{name: "name too long", in: tooLong, wantErr: ErrMalformed},
		{name: "pointer loop", in: loop, wantErr: ErrMalformed},
		{name: "reserved label type", in: []byte{0, 7, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0x40, 0, 0, 1, 0, 1}, wantErr: ErrMalformed},
		{name: "pointer cut", in: []byte{0, 7, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0}, wantErr: ErrTruncated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m DNSMessage
			err := ParseDNS(tt.in, &m)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if got := m.NameString(); got != tt.wantName {
				t.Errorf("Name = %q, want %q", got, tt.wantName)
			}
			if m.QType != tt.wantType || m.QClass != tt.wantClass {
				t.Errorf("QType, QClass = %d, %d, want %d, %d", m.QType, m.QClass, tt.wantType, tt.wantClass)
			}
			if m.QuestionEnd != tt.wantEnd {
				t.Errorf("QuestionEnd = %d, want %d", m.QuestionEnd, tt.wantEnd)
			}
			if m.RD() != tt.wantRD || m.QDCount != tt.wantQD {
				t.Errorf("RD, QDCount = %v, %d, want %v, %d", m.RD(), m.QDCount, tt.wantRD, tt.wantQD)
			}
		})
	}
}

func TestParseDNSHeaderFlags(t *testing.T) {
	// QR=1, Opcode=2, AA, TC, RD, RA, RCODE=3.
	b := dnsQuery(0x1234, 0x8000|2<<11|0x0400|0x0200|0x0100|0x0080|3, []string{"a"}, 1, 1)
	binary.BigEndian.PutUint16(b[4:], 2)
	binary.BigEndian.PutUint16(b[6:], 3)
	binary.BigEndian.PutUint16(b[8:], 4)
	binary.BigEndian.PutUint16(b[10:], 5)
	var m DNSMessage
	if err := ParseDNS(b, &m); err != nil {
		t.Fatal(err)
	}
	if m.ID != 0x1234 || !m.QR() || m.Opcode() != 2 || !m.AA() || !m.TC() || !m.RD() || !m.RA() || m.Rcode() != 3 {
		t.Errorf("header = %+v", m)
	}
	if m.QDCount != 2 || m.ANCount != 3 || m.NSCount != 4 || m.ARCount != 5 {
		t.Errorf("counts = %d %d %d %d", m.QDCount, m.ANCount, m.NSCount, m.ARCount)
	}
}

func TestParseDNSTCP(t *testing.T) {
	q := dnsQuery(9, 0x0100, []string{"example", "org"}, 1, 1)
	stream := binary.BigEndian.AppendUint16(nil, uint16(len(q)))
	stream = append(stream, q...)
	tests := []struct {
		name    string
		in      []byte
		wantErr error
	}{
		{name: "whole", in: stream},
		{name: "prefix only", in: stream[:1], wantErr: ErrIncomplete},
		{name: "message cut", in: stream[:len(stream)-1], wantErr: ErrIncomplete},
		{name: "next message follows", in: append(append([]byte{}, stream...), 0, 12)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m DNSMessage
			err := ParseDNSTCP(tt.in, &m)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if err == nil && (m.NameString() != "example.org" || m.QuestionEnd != len(q)) {
				t.Errorf("name %q end %d", m.NameString(), m.QuestionEnd)
			}
		})
	}
}

// TestParseDNSMiekg checks queries packed by miekg/dns.
func TestParseDNSMiekg(t *testing.T) {
	tests := []struct {
		name  string
		qname string
		qtype uint16
	}{
		{name: "A", qname: "Example.COM.", qtype: dns.TypeA},
		{name: "AAAA", qname: "www.google.com.", qtype: dns.TypeAAAA},
		{name: "TXT deep", qname: "a.b.c.d.e.f.g.example.net.", qtype: dns.TypeTXT},
		{name: "root NS", qname: ".", qtype: dns.TypeNS},
		{name: "underscore", qname: "_dmarc.example.org.", qtype: dns.TypeTXT},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg := new(dns.Msg)
			msg.SetQuestion(tt.qname, tt.qtype)
			msg.SetEdns0(1232, true)
			b, err := msg.Pack()
			if err != nil {
				t.Fatal(err)
			}
			var m DNSMessage
			if err := ParseDNS(b, &m); err != nil {
				t.Fatal(err)
			}
			want := strings.ToLower(strings.TrimSuffix(tt.qname, "."))
			if m.NameString() != want || m.QType != tt.qtype || m.QClass != dns.ClassINET || m.ID != msg.Id {
				t.Errorf("got %q %d %d id %d, want %q %d 1 id %d", m.NameString(), m.QType, m.QClass, m.ID, want, tt.qtype, msg.Id)
			}
			if m.ARCount != 1 || !m.RD() {
				t.Errorf("ARCount %d RD %v", m.ARCount, m.RD())
			}
			writeSeed(t, "FuzzParseDNS", "miekg_"+tt.name, b)
		})
	}
}

func TestParseDNSAllocs(t *testing.T) {
	b := dnsQuery(1, 0x0100, []string{"www", "example", "com"}, 1, 1)
	var m DNSMessage
	mustZeroAllocs(t, func() { _ = ParseDNS(b, &m) })
}

func BenchmarkParseDNS(b *testing.B) {
	q := dnsQuery(1, 0x0100, []string{"www", "Example", "com"}, 1, 1)
	var m DNSMessage
	b.ReportAllocs()
	b.SetBytes(int64(len(q)))
	for b.Loop() {
		if err := ParseDNS(q, &m); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzParseDNS checks that ParseDNS never panics, stays in bounds, and agrees
// with miekg/dns on every message miekg unpacks with a question.
func FuzzParseDNS(f *testing.F) {
	f.Add(dnsQuery(1, 0x0100, []string{"www", "example", "com"}, 1, 1))
	f.Add([]byte{0, 7, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		var m DNSMessage
		err := ParseDNS(b, &m)
		if err == nil && (m.QuestionEnd > len(b) || m.QuestionEnd < 17 || len(m.Name()) > 253) {
			t.Fatalf("QuestionEnd %d len %d name %d", m.QuestionEnd, len(b), len(m.Name()))
		}
		var msg dns.Msg
		if msg.Unpack(b) != nil || len(msg.Question) == 0 {
			return
		}
		if err != nil {
			// miekg accepts a question cut after its name; ParseDNS does not.
			if _, end, nerr := dns.UnpackDomainName(b, 12); nerr == nil && end+4 > len(b) && errors.Is(err, ErrTruncated) {
				return
			}
			t.Fatalf("miekg unpacked %v but ParseDNS: %v", msg.Question[0], err)
		}
		q := msg.Question[0]
		if q.Qtype != m.QType || q.Qclass != m.QClass {
			t.Errorf("type/class = %d/%d, miekg %d/%d", m.QType, m.QClass, q.Qtype, q.Qclass)
		}
		if !strings.Contains(q.Name, `\`) {
			if want := strings.TrimSuffix(q.Name, "."); !strings.EqualFold(want, m.NameString()) {
				t.Errorf("name = %q, miekg %q", m.NameString(), q.Name)
			}
		}
	})
}
