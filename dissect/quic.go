package dissect

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"math/bits"
)

// QUIC v1 constants (RFC 9000, RFC 9001).
const (
	quicVersion1  = 0x00000001
	quicMaxCIDLen = 20
	quicSampleLen = 16
	quicTagLen    = 16

	// MaxQUICCrypto is how many bytes of the CRYPTO stream, from offset 0, a
	// QUICInitial collects; CRYPTO data beyond it is ignored.
	MaxQUICCrypto = 4096
)

// quicInitialSalt is the QUIC v1 initial salt (RFC 9001 §5.2).
var quicInitialSalt = [20]byte{
	0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17,
	0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad, 0xcc, 0xbb, 0x7f, 0x0a,
}

// QUICOptions bounds the work done on an Initial. The zero value walks every
// frame.
type QUICOptions struct {
	// MaxFrames bounds how many frames of the decrypted payload are walked;
	// zero means no bound. A run of contiguous PADDING bytes counts as one
	// frame. The GFW misses a CRYPTO frame buried under many PING or PADDING
	// frames; a low MaxFrames reproduces that.
	MaxFrames int
	// Continue keeps the CRYPTO data collected by earlier calls into the
	// same QUICInitial, and the keys of the first call's Destination
	// Connection ID, and adds this packet's: a ClientHello split across
	// Initial packets (quic-go since v0.52, browsers with post-quantum key
	// shares) is parsed once its pieces are in. The keys stay because a
	// client that has heard the server's first Initial addresses the
	// server's connection ID from then on, yet protects its Initials with
	// the keys of the ID it first chose (RFC 9001 5.2): a slow client
	// sends the rest of its ClientHello so. Without Continue each call
	// starts afresh.
	Continue bool
}

// QUICInitial is what a censor reads from a client's QUIC v1 Initial packet.
// The zero value is ready for use. Reuse one across calls: it keeps scratch
// buffers for the decrypted payload and the CRYPTO stream, and the keys of the
// last Destination Connection ID. Byte-slice results alias the datagram
// (Token) or those buffers (Hello's names), and are valid until the next parse
// into the same QUICInitial. Do not copy a QUICInitial that is in use.
type QUICInitial struct {
	Version         uint32
	Length          int // the Length field: packet number and payload bytes
	PacketEnd       int // offset after this packet; coalesced packets follow
	PacketNumber    uint64
	PacketNumberLen int

	Frames        int  // frames walked
	FrameLimitHit bool // walking stopped at QUICOptions.MaxFrames
	CryptoFrames  int  // CRYPTO frames walked
	CryptoLen     int  // contiguous CRYPTO bytes collected from offset 0

	// Hello is the ClientHello parsed from the CRYPTO stream (no record
	// layer, so its record fields are zero).
	Hello ClientHello

	dcid, scid       [quicMaxCIDLen]byte
	dcidLen, scidLen uint8
	token            []byte

	hdr, plain, crypto []byte
	have               [MaxQUICCrypto / 64]uint64

	keyDCID    [quicMaxCIDLen]byte
	keyDCIDLen int
	keyValid   bool
	hp         cipher.Block
	aead       cipher.AEAD
	iv         [12]byte
	// mask and nonce live here, not on the stack: they are passed to
	// interface methods and would escape.
	mask  [aes.BlockSize]byte
	nonce [12]byte
}

// DCID returns the Destination Connection ID.
func (q *QUICInitial) DCID() []byte { return q.dcid[:q.dcidLen] }

// SCID returns the Source Connection ID.
func (q *QUICInitial) SCID() []byte { return q.scid[:q.scidLen] }

// Token returns the Initial's token (empty on a first Initial).
func (q *QUICInitial) Token() []byte { return q.token }

// Crypto returns the contiguous CRYPTO stream bytes collected from offset 0.
func (q *QUICInitial) Crypto() []byte { return q.crypto[:q.CryptoLen] }

// ParseQUICInitial parses the first packet of datagram as a client's QUIC v1
// Initial: it checks the long header, derives the client Initial keys from
// the Destination Connection ID (RFC 9001 §5.2), removes header protection,
// decrypts the payload with AES-128-GCM, walks its frames (PADDING, PING, ACK,
// CRYPTO, CONNECTION_CLOSE) collecting CRYPTO data in any order, and parses
// the ClientHello from the CRYPTO stream into q.Hello.
//
// Errors: ErrNotQUIC for a short-header packet; ErrUnsupportedVersion for
// any version but 1 (QUIC v2 included; censors pass those); ErrNotInitial for
// another long-header type; ErrTruncated when the datagram ends before the
// packet does; ErrMalformed for bad lengths, frames or frame types not allowed
// in an Initial; ErrDecrypt when authentication fails. When the CRYPTO stream
// collected does not hold a whole ClientHello (it continues in a later packet,
// a frame is missing, or MaxFrames stopped the walk) the error is
// ErrIncomplete and q.Hello holds what the prefix showed; ErrNotTLS or
// ErrMalformed come from the ClientHello itself.
//
// Allocation: none once q's buffers have grown, when the Destination
// Connection ID is the one of the previous call (retransmissions, repeated
// probes). A new one costs the few allocations of aes.NewCipher and
// cipher.NewGCM, which offer no way to re-key an existing cipher; the key
// derivation itself (HKDF-SHA256) is done on the stack.
func ParseQUICInitial(datagram []byte, opts QUICOptions, q *QUICInitial) error {
	keep := opts.Continue && q.crypto != nil
	q.reset(keep)
	d := datagram
	if len(d) < 1 {
		return ErrTruncated
	}
	if d[0]&0x80 == 0 {
		return ErrNotQUIC
	}
	if len(d) < 5 {
		return ErrTruncated
	}
	q.Version = uint32(d[1])<<24 | uint32(d[2])<<16 | uint32(d[3])<<8 | uint32(d[4])
	if q.Version != quicVersion1 {
		return ErrUnsupportedVersion
	}
	if d[0]&0x30 != 0 {
		return ErrNotInitial
	}
	off := 5
	for i, cid := range [2]*[quicMaxCIDLen]byte{&q.dcid, &q.scid} {
		if off >= len(d) {
			return ErrTruncated
		}
		n := int(d[off])
		off++
		if n > quicMaxCIDLen {
			return ErrMalformed
		}
		if off+n > len(d) {
			return ErrTruncated
		}
		copy(cid[:], d[off:off+n])
		if i == 0 {
			q.dcidLen = uint8(n)
		} else {
			q.scidLen = uint8(n)
		}
		off += n
	}
	tokLen, n := quicVarint(d[off:])
	if n == 0 {
		return ErrTruncated
	}
	off += n
	if tokLen > uint64(len(d)-off) {
		return ErrTruncated
	}
	q.token = d[off : off+int(tokLen)]
	off += int(tokLen)
	length, n := quicVarint(d[off:])
	if n == 0 {
		return ErrTruncated
	}
	off += n
	pnOff := off
	if length > uint64(len(d)-pnOff) {
		return ErrTruncated
	}
	q.Length = int(length)
	q.PacketEnd = pnOff + q.Length
	if q.Length < 4+quicSampleLen {
		return ErrMalformed
	}

	sameDCID := q.keyValid && q.keyDCIDLen == int(q.dcidLen) && string(q.keyDCID[:q.keyDCIDLen]) == string(q.dcid[:q.dcidLen])
	if !keep || !q.keyValid {
		q.deriveKeys()
	}
	// With Continue, the first packet's keys open the next ones even when
	// the client has moved to the server's connection ID (RFC 9001 5.2);
	// a packet they do not open, under another ID, begins a connection of
	// its own.
	if err := q.open(d, pnOff); err != nil {
		if !keep || sameDCID {
			return err
		}
		q.have = [len(q.have)]uint64{}
		q.deriveKeys()
		if err := q.open(d, pnOff); err != nil {
			return err
		}
	}
	plain := q.plain

	if err := q.walkFrames(plain, opts); err != nil {
		return err
	}
	return parseHandshakeMessage(q.crypto[:q.CryptoLen], &q.Hello)
}

// reset clears the per-packet fields, keeping buffers and the key cache,
// and the CRYPTO data collected so far if keep.
func (q *QUICInitial) reset(keep bool) {
	q.Version, q.Length, q.PacketEnd, q.PacketNumber, q.PacketNumberLen = 0, 0, 0, 0, 0
	q.Frames, q.FrameLimitHit, q.CryptoFrames, q.CryptoLen = 0, false, 0, 0
	scratch := q.Hello.scratch[:0]
	q.Hello = ClientHello{scratch: scratch}
	q.dcidLen, q.scidLen, q.token = 0, 0, nil
	if q.crypto == nil {
		q.crypto = make([]byte, MaxQUICCrypto)
	}
	if !keep {
		q.have = [len(q.have)]uint64{}
	}
}

// walkFrames walks the frames of a decrypted Initial payload.
func (q *QUICInitial) walkFrames(p []byte, opts QUICOptions) error {
	off := 0
	for off < len(p) {
		if opts.MaxFrames > 0 && q.Frames >= opts.MaxFrames {
			q.FrameLimitHit = true
			break
		}
		q.Frames++
		typ := p[off]
		off++
		switch typ {
		case 0x00: // PADDING: a run counts as one frame
			for off < len(p) && p[off] == 0 {
				off++
			}
		case 0x01: // PING
		case 0x02, 0x03: // ACK
			var v [4]uint64
			n, ok := quicVarints(p[off:], v[:])
			if !ok {
				return ErrMalformed
			}
			off += n
			for i := uint64(0); i < v[2]; i++ { // ranges: gap, length
				n, ok = quicVarints(p[off:], v[:2])
				if !ok {
					return ErrMalformed
				}
				off += n
			}
			if typ == 0x03 { // ECN counts
				n, ok = quicVarints(p[off:], v[:3])
				if !ok {
					return ErrMalformed
				}
				off += n
			}
		case 0x06: // CRYPTO
			var v [2]uint64
			n, ok := quicVarints(p[off:], v[:])
			if !ok {
				return ErrMalformed
			}
			off += n
			if v[1] > uint64(len(p)-off) || v[0] > 1<<62-1-v[1] {
				return ErrMalformed
			}
			q.addCrypto(v[0], p[off:off+int(v[1])])
			off += int(v[1])
			q.CryptoFrames++
		case 0x1c, 0x1d: // CONNECTION_CLOSE (transport, application)
			var v [3]uint64
			k := 3
			if typ == 0x1d {
				k = 2
			}
			n, ok := quicVarints(p[off:], v[:k])
			if !ok {
				return ErrMalformed
			}
			off += n
			if v[k-1] > uint64(len(p)-off) {
				return ErrMalformed
			}
			off += int(v[k-1])
		default:
			return ErrMalformed
		}
	}
	q.CryptoLen = q.cryptoPrefix()
	return nil
}

// addCrypto stores CRYPTO data at stream offset at, as far as it fits.
func (q *QUICInitial) addCrypto(at uint64, data []byte) {
	if at >= MaxQUICCrypto {
		return
	}
	data = data[:min(uint64(len(data)), MaxQUICCrypto-at)]
	copy(q.crypto[at:], data)
	for i := int(at); i < int(at)+len(data); i++ {
		q.have[i/64] |= 1 << (i % 64)
	}
}

// cryptoPrefix returns the length of the contiguous CRYPTO data from 0.
func (q *QUICInitial) cryptoPrefix() int {
	for i, w := range q.have {
		if w != ^uint64(0) {
			return i*64 + bits.TrailingZeros64(^w)
		}
	}
	return MaxQUICCrypto
}

// open removes the header protection of the Initial in d whose packet
// number starts at pnOff and decrypts its payload into q.plain with q's
// current keys.
func (q *QUICInitial) open(d []byte, pnOff int) error {
	// Remove header protection (RFC 9001 §5.4).
	mask := &q.mask
	q.hp.Encrypt(mask[:], d[pnOff+4:pnOff+4+quicSampleLen])
	first := d[0] ^ mask[0]&0x0f
	pnLen := int(first&0x03) + 1
	q.PacketNumberLen = pnLen
	if q.Length < pnLen+quicTagLen {
		return ErrMalformed
	}
	q.hdr = append(q.hdr[:0], d[:pnOff+pnLen]...)
	q.hdr[0] = first
	q.nonce = q.iv
	nonce := &q.nonce
	q.PacketNumber = 0
	for i := 0; i < pnLen; i++ {
		q.hdr[pnOff+i] ^= mask[1+i]
		q.PacketNumber = q.PacketNumber<<8 | uint64(q.hdr[pnOff+i])
	}
	for i := 0; i < 8; i++ {
		nonce[11-i] ^= byte(q.PacketNumber >> (8 * i))
	}
	plain, err := q.aead.Open(q.plain[:0], nonce[:], d[pnOff+pnLen:q.PacketEnd], q.hdr)
	if err != nil {
		return ErrDecrypt
	}
	q.plain = plain
	return nil
}

// deriveKeys sets the client Initial keys for the packet's DCID, reusing the
// previous ones when the DCID is unchanged.
func (q *QUICInitial) deriveKeys() {
	dcid := q.dcid[:q.dcidLen]
	if q.keyValid && q.keyDCIDLen == len(dcid) && string(q.keyDCID[:q.keyDCIDLen]) == string(dcid) {
		return
	}
	initial := hmacSHA256(quicInitialSalt[:], dcid)
	client := hkdfExpandLabel(initial[:], "client in", 32)
	key := hkdfExpandLabel(client[:], "quic key", 16)
	iv := hkdfExpandLabel(client[:], "quic iv", 12)
	hp := hkdfExpandLabel(client[:], "quic hp", 16)
	// A 16-byte key never makes aes.NewCipher or cipher.NewGCM fail.
	q.hp, _ = aes.NewCipher(hp[:16])
	block, _ := aes.NewCipher(key[:16])
	q.aead, _ = cipher.NewGCM(block)
	copy(q.iv[:], iv[:12])
	copy(q.keyDCID[:], dcid)
	q.keyDCIDLen = len(dcid)
	q.keyValid = true
}

// hkdfExpandLabel is HKDF-Expand-Label (RFC 8446 §7.1) with an empty context,
// returning one block of output: the first length bytes are the result, for
// length at most 32, which is all the QUIC Initial labels need. label must be
// short (at most 40 bytes).
func hkdfExpandLabel(secret []byte, label string, length int) [sha256.Size]byte {
	var info [64]byte
	n := 0
	info[n], info[n+1] = byte(length>>8), byte(length)
	n += 2
	info[n] = byte(len("tls13 ") + len(label))
	n++
	n += copy(info[n:], "tls13 ")
	n += copy(info[n:], label)
	info[n] = 0 // context length
	n++
	info[n] = 1 // HKDF-Expand block counter
	n++
	return hmacSHA256(secret, info[:n])
}

// hmacSHA256 computes HMAC-SHA256 (RFC 2104) for a key of at most 64 bytes
// and a message of at most 64 bytes, on the stack.
func hmacSHA256(key, msg []byte) [sha256.Size]byte {
	var buf [128]byte
	for i := range 64 {
		var k byte
		if i < len(key) {
			k = key[i]
		}
		buf[i] = k ^ 0x36
	}
	n := 64 + copy(buf[64:], msg)
	inner := sha256.Sum256(buf[:n])
	for i := range 64 {
		buf[i] ^= 0x36 ^ 0x5c
	}
	copy(buf[64:], inner[:])
	return sha256.Sum256(buf[:64+sha256.Size])
}

// quicVarint decodes a QUIC variable-length integer (RFC 9000 §16); n is 0
// if b is too short.
func quicVarint(b []byte) (v uint64, n int) {
	if len(b) == 0 {
		return 0, 0
	}
	n = 1 << (b[0] >> 6)
	if len(b) < n {
		return 0, 0
	}
	v = uint64(b[0] & 0x3f)
	for i := 1; i < n; i++ {
		v = v<<8 | uint64(b[i])
	}
	return v, n
}

// quicVarints decodes len(v) consecutive varints.
func quicVarints(b []byte, v []uint64) (int, bool) {
	off := 0
	for i := range v {
		x, n := quicVarint(b[off:])
		if n == 0 {
			return 0, false
		}
		v[i] = x
		off += n
	}
	return off, true
}
