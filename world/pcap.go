package world

import (
	"encoding/binary"
	"io"
	"sync"

	"github.com/splinter-lab/splinter/clock"
)

// Capture writes the packets of one link to a pcap stream (LINKTYPE_RAW:
// each record is a bare IPv4 or IPv6 packet).
type Capture struct {
	mu     sync.Mutex
	wr     io.Writer
	clk    clock.Clock
	link   *Link
	err    error
	closed bool
	count  int
}

const (
	pcapMagic   = 0xa1b2c3d4
	linktypeRaw = 101
	snaplen     = 65535
)

func newCapture(wr io.Writer, clk clock.Clock) (*Capture, error) {
	var hdr [24]byte
	binary.LittleEndian.PutUint32(hdr[0:], pcapMagic)
	binary.LittleEndian.PutUint16(hdr[4:], 2)
	binary.LittleEndian.PutUint16(hdr[6:], 4)
	binary.LittleEndian.PutUint32(hdr[16:], snaplen)
	binary.LittleEndian.PutUint32(hdr[20:], linktypeRaw)
	if _, err := wr.Write(hdr[:]); err != nil {
		return nil, err
	}
	return &Capture{wr: wr, clk: clk}, nil
}

func (c *Capture) write(pkt []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.err != nil {
		return
	}
	now := c.clk.Now()
	var rec [16]byte
	binary.LittleEndian.PutUint32(rec[0:], uint32(now.Unix()))
	binary.LittleEndian.PutUint32(rec[4:], uint32(now.Nanosecond()/1000))
	binary.LittleEndian.PutUint32(rec[8:], uint32(len(pkt)))
	binary.LittleEndian.PutUint32(rec[12:], uint32(len(pkt)))
	if _, c.err = c.wr.Write(rec[:]); c.err == nil {
		_, c.err = c.wr.Write(pkt)
	}
	c.count++
}

// Packets is how many packets were captured so far.
func (c *Capture) Packets() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.count
}

// Close stops the capture and returns the first write error, if any. It
// does not close the writer.
func (c *Capture) Close() error {
	l := c.link
	for {
		old := l.taps.Load()
		if old == nil {
			break
		}
		var list []*Capture
		for _, o := range *old {
			if o != c {
				list = append(list, o)
			}
		}
		var next *[]*Capture
		if len(list) > 0 {
			next = &list
		}
		if l.taps.CompareAndSwap(old, next) {
			break
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	return c.err
}
