package border_test

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"time"
)

// A Shadowsocks AEAD server and client (aes-128-gcm: 16-byte salt), for
// the active-probing tests. The wire format is the Shadowsocks AEAD spec's:
// a salt, then chunks [encrypted 2-byte length][tag][encrypted payload]
// [tag], each direction keyed by HKDF-SHA1(key, salt, "ss-subkey") with a
// little-endian nonce counter; the key is EVP_BytesToKey(password). The
// server reacts to what it cannot authenticate as shadowsocks-libev
// v3.0.8-v3.2.5 does (IMC 2020, §5.2 and Table 3): it waits until it holds
// 51 bytes (salt, length, its tag and the first payload's tag), then
// resets a connection whose length chunk does not authenticate or whose
// salt it has seen before (its replay filter). Options make it react as
// v3.3.x (a timeout instead of the reset) or as OutlineVPN 1.0.7-1.0.8
// (no replay filter: an identical replay is served; a timeout on failure).

const ssSalt = 16

func ssKey(password string) []byte {
	var key, prev []byte
	for len(key) < 16 {
		h := md5.New()
		h.Write(prev)
		h.Write([]byte(password))
		prev = h.Sum(nil)
		key = append(key, prev...)
	}
	return key[:16]
}

type ssAEAD struct {
	aead  cipher.AEAD
	nonce [12]byte
}

func newSSAEAD(key, salt []byte) *ssAEAD {
	sub, err := hkdf.Key(sha1.New, key, salt, "ss-subkey", 16)
	if err != nil {
		panic(err)
	}
	blk, _ := aes.NewCipher(sub)
	g, _ := cipher.NewGCM(blk)
	return &ssAEAD{aead: g}
}

func (a *ssAEAD) next() []byte {
	n := append([]byte(nil), a.nonce[:]...)
	for i := range a.nonce {
		a.nonce[i]++
		if a.nonce[i] != 0 {
			break
		}
	}
	return n
}

func (a *ssAEAD) seal(dst, p []byte) []byte { return a.aead.Seal(dst, a.next(), p, nil) }

func (a *ssAEAD) open(c []byte) ([]byte, error) { return a.aead.Open(nil, a.next(), c, nil) }

// ssChunk appends one chunk of p.
func (a *ssAEAD) chunk(dst, p []byte) []byte {
	var l [2]byte
	binary.BigEndian.PutUint16(l[:], uint16(len(p)))
	dst = a.seal(dst, l[:])
	return a.seal(dst, p)
}

// ssFirstPacket is what a genuine client sends first: a salt and one chunk
// holding the target (a hostname address) and the first request bytes.
func ssFirstPacket(key []byte, target string, port uint16, data []byte) []byte {
	salt := make([]byte, ssSalt)
	rand.Read(salt)
	a := newSSAEAD(key, salt)
	spec := append([]byte{3, byte(len(target))}, target...)
	spec = binary.BigEndian.AppendUint16(spec, port)
	return a.chunk(append([]byte(nil), salt...), append(spec, data...))
}

type ssMode int

const (
	ssLibev325 ssMode = iota // reset on failure, replay filter
	ssLibev333               // wait on failure (v3.3.1-v3.3.3), replay filter
	ssOutline                // no replay filter: an identical replay is served; waits on failure (1.0.7-1.0.8)
)

// ssServer serves Shadowsocks on ln until it is closed: a genuine
// connection gets an encrypted reply of reply bytes.
type ssServer struct {
	key   []byte
	mode  ssMode
	reply int
	mu    sync.Mutex
	salts map[string]bool
}

func (s *ssServer) serve(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go s.handle(c)
	}
}

func (s *ssServer) fail(c net.Conn) {
	if s.mode != ssLibev325 {
		// v3.3.x reads on until the peer gives up.
		c.SetReadDeadline(time.Now().Add(60 * time.Second))
		io.Copy(io.Discard, c)
		c.Close()
		return
	}
	// Closing with unread bytes resets, as libev does.
	c.Close()
}

func (s *ssServer) handle(c net.Conn) {
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(60 * time.Second))
	// libev waits for salt + length + tag + the first payload's tag.
	head := make([]byte, ssSalt+2+16+16+1)
	if _, err := io.ReadFull(c, head); err != nil {
		return // the peer gave up first: a timeout, to a prober
	}
	salt := string(head[:ssSalt])
	a := newSSAEAD(s.key, head[:ssSalt])
	l, err := a.open(head[ssSalt : ssSalt+18])
	s.mu.Lock()
	replay := s.salts[salt]
	if err == nil && !replay {
		s.salts[salt] = true
	}
	s.mu.Unlock()
	if err != nil || replay && s.mode != ssOutline {
		s.fail(c)
		return
	}
	n := int(binary.BigEndian.Uint16(l))
	body := make([]byte, n+16)
	copy(body, head[ssSalt+18:])
	if _, err := io.ReadFull(c, body[len(head)-ssSalt-18:]); err != nil {
		return
	}
	if _, err := a.open(body); err != nil {
		s.fail(c)
		return
	}
	out := make([]byte, ssSalt)
	rand.Read(out)
	w := newSSAEAD(s.key, out)
	resp := w.chunk(out, make([]byte, s.reply))
	c.Write(resp)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	io.Copy(io.Discard, c)
}

// ssExchange opens a genuine connection from dial and reports whether the
// server's reply arrived within wait.
func ssExchange(dial func() (net.Conn, error), key []byte, wait time.Duration) ([]byte, error) {
	c, err := dial()
	if err != nil {
		return nil, err
	}
	defer c.Close()
	first := ssFirstPacket(key, "www.example.com", 443, make([]byte, 200))
	if _, err := c.Write(first); err != nil {
		return first, err
	}
	c.SetReadDeadline(time.Now().Add(wait))
	buf := make([]byte, ssSalt+18)
	if _, err := io.ReadFull(c, buf); err != nil {
		return first, err
	}
	a := newSSAEAD(key, buf[:ssSalt])
	if _, err := a.open(buf[ssSalt:]); err != nil {
		return first, errors.New("reply does not authenticate")
	}
	return first, nil
}
