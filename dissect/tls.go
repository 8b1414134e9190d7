package dissect

// TLS constants (RFC 8446).
const (
	tlsRecordHeaderLen    = 5
	tlsHandshakeHeaderLen = 4
	tlsTypeHandshake      = 0x16
	tlsTypeClientHello    = 0x01

	tlsExtServerName        = 0x0000
	tlsExtALPN              = 0x0010
	tlsExtSupportedVersions = 0x002b
	tlsExtESNI              = 0xffce
	tlsExtECH               = 0xfe0d

	tlsVersion13 = 0x0304

	// DefaultMaxHandshakeLen is the largest ClientHello body accepted when
	// HelloOptions.MaxHandshakeLen is zero: the 64 KiB crypto/tls accepts.
	DefaultMaxHandshakeLen = 1 << 16

	// MaxALPN is how many ALPN protocol names a ClientHello keeps.
	MaxALPN = 4
)

// HelloOptions selects how much of the TLS record layer the parser follows.
// The zero value parses only the first record, with the default size limit.
type HelloOptions struct {
	// ReassembleRecords says whether a ClientHello handshake message that
	// continues past its first TLS record is reassembled from the following
	// handshake records, as endpoints do. When false, only the first record is
	// read and such a ClientHello yields ErrSplitRecord (the GFW's SNI boxes
	// behave like this: a ClientHello split over two records evades them).
	ReassembleRecords bool
	// MaxHandshakeLen bounds the declared ClientHello body length; a longer
	// one yields ErrTooLarge. Zero means DefaultMaxHandshakeLen.
	MaxHandshakeLen int
}

// ClientHello holds what a censor reads from a TLS ClientHello. The zero value
// is ready for use; reuse one across calls so that its reassembly buffer is
// kept. Byte-slice results alias either the parsed input or that buffer, and
// are valid until the next parse into the same ClientHello and while the input
// is unchanged.
type ClientHello struct {
	// Record layer; zero when the message came without one (QUIC).
	RecordVersion uint16
	RecordLength  int // length field of the first record
	Records       int // records the handshake message spanned (read so far)

	HandshakeLength int // ClientHello body length from the handshake header
	LegacyVersion   uint16
	// Complete says the whole handshake message was available and parsed.
	Complete bool
	// Needed, after ErrIncomplete, is a lower bound on the total input length
	// at which the parser can make progress.
	Needed int

	Extensions int  // extensions parsed
	HasSNI     bool // a server_name extension with a host_name entry
	ALPNCount  int  // ALPN protocol names offered (only MaxALPN are kept)
	TLS13      bool // supported_versions lists TLS 1.3
	ESNI       bool // encrypted_server_name (0xffce) present
	ECH        bool // encrypted_client_hello (0xfe0d) present
	ECHOuter   bool // ... and its type byte is 0 (outer ClientHello)

	sni     []byte
	alpn    [MaxALPN][]byte
	scratch []byte
}

// ServerName returns the first host_name entry of the server_name extension,
// or nil. It is not lower-cased or validated.
func (h *ClientHello) ServerName() []byte { return h.sni }

// ALPN returns the first MaxALPN protocol names offered, in order.
func (h *ClientHello) ALPN() [][]byte {
	n := min(h.ALPNCount, MaxALPN)
	return h.alpn[:n]
}

// RecordMatchesHandshake reports the check Iran's protocol filter makes:
// the first record's length equals the handshake length plus its 4-byte
// header, and the record version is 0x0301 to 0x0303.
func (h *ClientHello) RecordMatchesHandshake() bool {
	return h.RecordLength == h.HandshakeLength+tlsHandshakeHeaderLen &&
		h.RecordVersion >= 0x0301 && h.RecordVersion <= 0x0303
}

// ParseClientHello parses the TLS ClientHello at the start of stream, the
// client-to-server bytes of a TCP connection, which begin with a TLS record.
//
// It returns nil when the whole ClientHello was parsed (h.Complete is set).
// ErrIncomplete means the stream ends first: h holds the fields found in the
// available prefix (an SNI that arrived whole is reported) and h.Needed a lower
// bound on the stream length required. ErrSplitRecord means the handshake
// message continues past the first record and opts.ReassembleRecords is false:
// h holds what the first record showed; it is returned as soon as the headers
// show the split, whether or not more bytes have arrived. ErrNotTLS means
// the stream does not start with a handshake record carrying a ClientHello;
// ErrTooLarge that the declared length exceeds opts.MaxHandshakeLen;
// ErrMalformed that lengths are inconsistent.
func ParseClientHello(stream []byte, opts HelloOptions, h *ClientHello) error {
	scratch := h.scratch[:0]
	*h = ClientHello{scratch: scratch}
	maxLen := opts.MaxHandshakeLen
	if maxLen <= 0 {
		maxLen = DefaultMaxHandshakeLen
	}

	if len(stream) >= 1 && stream[0] != tlsTypeHandshake {
		return ErrNotTLS
	}
	if len(stream) >= 2 && stream[1] != 0x03 {
		return ErrNotTLS
	}
	if len(stream) < tlsRecordHeaderLen {
		h.Needed = tlsRecordHeaderLen
		return ErrIncomplete
	}
	h.RecordVersion = be16(stream[1:])
	h.RecordLength = int(be16(stream[3:]))
	h.Records = 1
	if h.RecordLength == 0 {
		return ErrMalformed
	}
	recEnd := tlsRecordHeaderLen + h.RecordLength
	frag := stream[tlsRecordHeaderLen:min(recEnd, len(stream))]
	if len(frag) >= 1 && frag[0] != tlsTypeClientHello {
		return ErrNotTLS
	}

	// Fast path: the handshake header is in the first record and the message
	// ends inside it. No copy.
	if len(frag) >= tlsHandshakeHeaderLen {
		hl := be24(frag[1:])
		h.HandshakeLength = hl
		if hl > maxLen {
			return ErrTooLarge
		}
		if tlsHandshakeHeaderLen+hl <= h.RecordLength {
			err := parseHandshakeMessage(frag, h)
			if err == ErrIncomplete {
				h.Needed = tlsRecordHeaderLen + tlsHandshakeHeaderLen + hl
			}
			return err
		}
	}
	if !opts.ReassembleRecords {
		if len(frag) >= tlsHandshakeHeaderLen || recEnd <= len(stream) {
			// The headers show the message continues past this record.
			_ = parseHandshakeMessage(frag, h)
			return ErrSplitRecord
		}
		h.Needed = tlsRecordHeaderLen + tlsHandshakeHeaderLen
		return ErrIncomplete
	}

	// Reassembly: gather handshake bytes from consecutive handshake records.
	pos := 0
	want := tlsHandshakeHeaderLen
	for {
		if len(scratch) >= tlsHandshakeHeaderLen {
			hl := be24(scratch[1:])
			h.HandshakeLength = hl
			if hl > maxLen {
				h.scratch = scratch
				return ErrTooLarge
			}
			want = tlsHandshakeHeaderLen + hl
		}
		if len(scratch) >= want {
			break
		}
		if pos >= len(stream) || len(stream)-pos < tlsRecordHeaderLen {
			h.Needed = pos + tlsRecordHeaderLen
			break
		}
		if pos > 0 {
			if stream[pos] != tlsTypeHandshake {
				h.scratch = scratch
				return ErrMalformed
			}
			if be16(stream[pos+3:]) == 0 {
				h.scratch = scratch
				return ErrMalformed
			}
			h.Records++
		}
		end := pos + tlsRecordHeaderLen + int(be16(stream[pos+3:]))
		avail := min(end, len(stream))
		limit := want
		if len(scratch) < tlsHandshakeHeaderLen {
			limit = tlsHandshakeHeaderLen + maxLen // length not known yet
		}
		take := min(avail-pos-tlsRecordHeaderLen, limit-len(scratch))
		scratch = append(scratch, stream[pos+tlsRecordHeaderLen:pos+tlsRecordHeaderLen+take]...)
		if avail < end && len(scratch) < want {
			h.Needed = len(stream) + (want - len(scratch))
			if len(scratch) < tlsHandshakeHeaderLen {
				h.Needed = len(stream) + tlsHandshakeHeaderLen - len(scratch)
			}
			break
		}
		pos = end
	}
	h.scratch = scratch
	needed := h.Needed
	err := parseHandshakeMessage(scratch, h)
	if err == ErrIncomplete {
		h.Needed = max(needed, len(stream)+1)
	}
	return err
}

// parseHandshakeMessage parses a ClientHello handshake message (4-byte header
// then body) from msg, which may stop short of the declared length. It sets
// every field except the record-layer ones and Needed, and returns
// ErrIncomplete if msg is short.
func parseHandshakeMessage(msg []byte, h *ClientHello) error {
	if len(msg) >= 1 && msg[0] != tlsTypeClientHello {
		return ErrNotTLS
	}
	if len(msg) < tlsHandshakeHeaderLen {
		return ErrIncomplete
	}
	hl := be24(msg[1:])
	h.HandshakeLength = hl
	body := msg[tlsHandshakeHeaderLen:min(len(msg), tlsHandshakeHeaderLen+hl)]
	if err := parseHelloBody(body, hl, h); err != nil {
		return err
	}
	if len(body) < hl {
		return ErrIncomplete
	}
	h.Complete = true
	return nil
}

// span checks that n bytes at off fit in the declared bound end (else
// ErrMalformed) and in the available bytes b (else ErrIncomplete).
func span(b []byte, off, n, end int) error {
	if n < 0 || off+n > end {
		return ErrMalformed
	}
	if off+n > len(b) {
		return ErrIncomplete
	}
	return nil
}

// parseHelloBody walks a ClientHello body whose declared length is declared
// and whose first len(b) bytes are available.
func parseHelloBody(b []byte, declared int, h *ClientHello) error {
	off, end := 0, declared
	if err := span(b, off, 2+32+1, end); err != nil {
		return err
	}
	h.LegacyVersion = be16(b)
	off += 2 + 32
	off += 1 + int(b[off]) // legacy_session_id
	if err := span(b, off, 2, end); err != nil {
		return err
	}
	off += 2 + int(be16(b[off:])) // cipher_suites
	if err := span(b, off, 1, end); err != nil {
		return err
	}
	off += 1 + int(b[off]) // legacy_compression_methods
	if off > end {
		return ErrMalformed
	}
	if off == end {
		return nil // no extensions
	}
	if err := span(b, off, 2, end); err != nil {
		return err
	}
	extEnd := off + 2 + int(be16(b[off:]))
	off += 2
	if extEnd > end {
		return ErrMalformed
	}
	for off < extEnd {
		if err := span(b, off, 4, extEnd); err != nil {
			return err
		}
		typ, n := be16(b[off:]), int(be16(b[off+2:]))
		off += 4
		if err := span(b, off, n, extEnd); err != nil {
			return err
		}
		data := b[off : off+n]
		off += n
		h.Extensions++
		var err error
		switch typ {
		case tlsExtServerName:
			err = h.parseSNI(data)
		case tlsExtALPN:
			err = h.parseALPN(data)
		case tlsExtSupportedVersions:
			err = h.parseSupportedVersions(data)
		case tlsExtESNI:
			h.ESNI = true
		case tlsExtECH:
			h.ECH = true
			h.ECHOuter = len(data) > 0 && data[0] == 0
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// parseSNI reads a ServerNameList (RFC 6066 §3) and keeps the first
// host_name entry.
func (h *ClientHello) parseSNI(d []byte) error {
	if len(d) < 2 {
		return ErrMalformed
	}
	end := 2 + int(be16(d))
	if end > len(d) {
		return ErrMalformed
	}
	for off := 2; off < end; {
		if off+3 > end {
			return ErrMalformed
		}
		typ, n := d[off], int(be16(d[off+1:]))
		off += 3
		if off+n > end {
			return ErrMalformed
		}
		if typ == 0 && !h.HasSNI {
			h.HasSNI = true
			h.sni = d[off : off+n]
		}
		off += n
	}
	return nil
}

// parseALPN reads a ProtocolNameList (RFC 7301 §3.1).
func (h *ClientHello) parseALPN(d []byte) error {
	if len(d) < 2 {
		return ErrMalformed
	}
	end := 2 + int(be16(d))
	if end > len(d) {
		return ErrMalformed
	}
	for off := 2; off < end; {
		n := int(d[off])
		off++
		if off+n > end {
			return ErrMalformed
		}
		if h.ALPNCount < MaxALPN {
			h.alpn[h.ALPNCount] = d[off : off+n]
		}
		h.ALPNCount++
		off += n
	}
	return nil
}

// parseSupportedVersions reads the ClientHello form of supported_versions
// (RFC 8446 §4.2.1).
func (h *ClientHello) parseSupportedVersions(d []byte) error {
	if len(d) < 1 || 1+int(d[0]) > len(d) {
		return ErrMalformed
	}
	list := d[1 : 1+int(d[0])]
	for i := 0; i+1 < len(list); i += 2 {
		if be16(list[i:]) == tlsVersion13 {
			h.TLS13 = true
		}
	}
	return nil
}

// SplitClientHelloRecords re-frames the single-record ClientHello at the start
// of stream into two TLS records, the first carrying handshake bytes [0, at)
// and the second the rest, with the original record header's type and
// version. Bytes after the first record are kept. This is a known evasion of
// the GFW's SNI filtering; it allocates and is meant for tests and evasion
// strategies, not for the censor's hot path. at counts from the start of the
// handshake message (its 4-byte header included) and must lie strictly
// inside it.
func SplitClientHelloRecords(stream []byte, at int) ([]byte, error) {
	var h ClientHello
	if err := ParseClientHello(stream, HelloOptions{}, &h); err != nil {
		return nil, err
	}
	msgLen := tlsHandshakeHeaderLen + h.HandshakeLength
	if at <= 0 || at >= msgLen {
		return nil, ErrMalformed
	}
	recEnd := tlsRecordHeaderLen + h.RecordLength
	payload := stream[tlsRecordHeaderLen:recEnd]
	out := make([]byte, 0, len(stream)+tlsRecordHeaderLen)
	out = append(out, stream[0], stream[1], stream[2], byte(at>>8), byte(at))
	out = append(out, payload[:at]...)
	rest := len(payload) - at
	out = append(out, stream[0], stream[1], stream[2], byte(rest>>8), byte(rest))
	out = append(out, payload[at:]...)
	return append(out, stream[recEnd:]...), nil
}
