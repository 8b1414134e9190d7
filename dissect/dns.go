package dissect

// DNS header flag bits (RFC 1035 §4.1.1).
const (
	dnsFlagQR = 1 << 15
	dnsFlagAA = 1 << 10
	dnsFlagTC = 1 << 9
	dnsFlagRD = 1 << 8
	dnsFlagRA = 1 << 7
)

const (
	// dnsHeaderLen is the fixed DNS header size.
	dnsHeaderLen = 12
	// maxDNSNameWire is the longest name in wire form, root label included
	// (RFC 1035 §2.3.4). Its dotted form is at most 253 bytes.
	maxDNSNameWire = 255
	// maxDNSPointers bounds compression pointers followed in one name, the
	// same bound miekg/dns uses; it also makes pointer loops terminate.
	maxDNSPointers = (maxDNSNameWire+1)/2 - 2
)

// DNSMessage is the header and first question of a DNS message, as a DNS
// injector reads them. The zero value is ready for ParseDNS; a DNSMessage can be
// reused, and each parse overwrites it. Copying a DNSMessage copies its name.
type DNSMessage struct {
	ID      uint16
	Flags   uint16 // the raw second header word: QR, Opcode, AA, TC, RD, RA, Z, RCODE
	QDCount uint16
	ANCount uint16
	NSCount uint16
	ARCount uint16

	QType  uint16
	QClass uint16
	// QuestionEnd is the offset just after QTYPE and QCLASS of the first
	// question: an injector copies the query up to here into its answer.
	QuestionEnd int
	// Pointers is how many compression pointers the first question's name
	// followed (queries rarely use any).
	Pointers int

	name    [maxDNSNameWire]byte
	nameLen uint8
}

// QR reports whether the message is a response.
func (m *DNSMessage) QR() bool { return m.Flags&dnsFlagQR != 0 }

// Opcode returns the 4-bit OPCODE (0 is a standard query).
func (m *DNSMessage) Opcode() uint8 { return uint8(m.Flags>>11) & 0xf }

// AA reports the Authoritative Answer bit.
func (m *DNSMessage) AA() bool { return m.Flags&dnsFlagAA != 0 }

// TC reports the TrunCation bit.
func (m *DNSMessage) TC() bool { return m.Flags&dnsFlagTC != 0 }

// RD reports the Recursion Desired bit.
func (m *DNSMessage) RD() bool { return m.Flags&dnsFlagRD != 0 }

// RA reports the Recursion Available bit.
func (m *DNSMessage) RA() bool { return m.Flags&dnsFlagRA != 0 }

// Rcode returns the 4-bit RCODE of the header.
func (m *DNSMessage) Rcode() uint8 { return uint8(m.Flags) & 0xf }

// Name returns the first question's name, lower-cased (ASCII), in dotted form
// without the trailing dot; the root name is empty. Label bytes are copied raw,
// unescaped, as a censor flattening the name sees them. The slice aliases m and
// is valid until the next parse into m.
func (m *DNSMessage) Name() []byte { return m.name[:m.nameLen] }

// NameString returns Name as a string (it allocates).
func (m *DNSMessage) NameString() string { return string(m.Name()) }

// ParseDNS parses the header and the first question of the DNS message b, a
// UDP payload. Like the GFW injectors, it ignores QDCOUNT when locating the
// question: it reads one question right after the header whatever the counts
// say (the counts are reported for the caller's policy). Compression pointers
// are followed, at most 126 of them, to anywhere in b.
//
// Errors: ErrTruncated when b ends inside the header or the question;
// ErrMalformed for a reserved label type (0x40, 0x80), a name longer than 255
// wire bytes, or too many pointers. On error the header fields are still set
// when b holds a whole header.
func ParseDNS(b []byte, m *DNSMessage) error {
	*m = DNSMessage{}
	if len(b) < dnsHeaderLen {
		return ErrTruncated
	}
	m.ID = be16(b[0:])
	m.Flags = be16(b[2:])
	m.QDCount = be16(b[4:])
	m.ANCount = be16(b[6:])
	m.NSCount = be16(b[8:])
	m.ARCount = be16(b[10:])

	end, err := m.parseName(b, dnsHeaderLen)
	if err != nil {
		return err
	}
	if end+4 > len(b) {
		return ErrTruncated
	}
	m.QType = be16(b[end:])
	m.QClass = be16(b[end+2:])
	m.QuestionEnd = end + 4
	return nil
}

// parseName flattens the name at off into m.name and returns the offset just
// after the name as it sits at off (after the first pointer, if any).
func (m *DNSMessage) parseName(b []byte, off int) (int, error) {
	budget := maxDNSNameWire
	end := -1
	n := 0
	for {
		if off >= len(b) {
			return 0, ErrTruncated
		}
		c := int(b[off])
		off++
		switch c & 0xc0 {
		case 0x00:
			if c == 0 {
				if end < 0 {
					end = off
				}
				m.nameLen = uint8(n)
				return end, nil
			}
			if off+c > len(b) {
				return 0, ErrTruncated
			}
			budget -= c + 1
			if budget <= 0 {
				return 0, ErrMalformed
			}
			if n > 0 {
				m.name[n] = '.'
				n++
			}
			for _, ch := range b[off : off+c] {
				if 'A' <= ch && ch <= 'Z' {
					ch += 'a' - 'A'
				}
				m.name[n] = ch
				n++
			}
			off += c
		case 0xc0:
			if off >= len(b) {
				return 0, ErrTruncated
			}
			if end < 0 {
				end = off + 1
			}
			m.Pointers++
			if m.Pointers > maxDNSPointers {
				return 0, ErrMalformed
			}
			off = (c&0x3f)<<8 | int(b[off])
		default:
			return 0, ErrMalformed
		}
	}
}

// ParseDNSTCP parses a DNS message carried over TCP, which starts with a
// 2-byte length prefix (RFC 1035 §4.2.2). It returns ErrIncomplete while the
// stream holds fewer bytes than the prefix announces; otherwise it is ParseDNS
// on the message that follows. Offsets in m (QuestionEnd) count from the start
// of the message, after the prefix.
func ParseDNSTCP(stream []byte, m *DNSMessage) error {
	if len(stream) < 2 {
		*m = DNSMessage{}
		return ErrIncomplete
	}
	n := int(be16(stream))
	if len(stream)-2 < n {
		*m = DNSMessage{}
		return ErrIncomplete
	}
	return ParseDNS(stream[2:2+n], m)
}

func be16(b []byte) uint16 { return uint16(b[0])<<8 | uint16(b[1]) }

func be24(b []byte) int { return int(b[0])<<16 | int(b[1])<<8 | int(b[2]) }
