package border

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/splinter-lab/splinter/packet"
	"github.com/splinter-lab/splinter/policy"
)

// ActionBlockpage is the kind of BlockpageAction.
const ActionBlockpage ActionKind = "blockpage"

// BlockpageAction answers an HTTP request with a block page in place of the
// server. It needs a status and a body (or body file).
type BlockpageAction struct {
	// Status is the HTTP status code (200, 403).
	Status int `yaml:"status"`
	// Headers are extra response headers.
	Headers map[string]string `yaml:"headers"`
	// Body is the page; BodyFile, relative to the policy file, is read by
	// the policy's Load into Body.
	Body     string `yaml:"body"`
	BodyFile string `yaml:"body-file"`
	// Flags of the segment carrying the page; 0 means fin-psh-ack. Iran
	// sends it with rst; Kazakhstan and Airtel with fin-psh-ack.
	Flags policy.TCPFlags `yaml:"flags"`
	// ThenRST follows the page with a RST (Airtel).
	ThenRST bool `yaml:"then-rst"`
	// Hold delays the page, holding the flow meanwhile (Kazakhstan: 15s).
	Hold time.Duration `yaml:"hold"`
	// Fingerprint of the page's IP header.
	Fingerprint policy.Fingerprint `yaml:"fingerprint"`
	// DropRequest keeps the request from reaching the server.
	DropRequest bool `yaml:"drop-request"`
}

func init() {
	RegisterAction(string(ActionBlockpage), "Answer an HTTP request with a block page, with chosen TCP flags, optional RST and hold time.",
		func() ActionConfig { return &BlockpageAction{} })
}

// Kind implements policy.Action.
func (*BlockpageAction) Kind() string { return string(ActionBlockpage) }

// Validate implements policy.Action.
func (a *BlockpageAction) Validate(c *policy.Checker) {
	if a.Status < 100 || a.Status > 599 {
		c.Errorf("status", "status %d is not an HTTP status", a.Status)
	}
	if a.Body == "" && a.BodyFile == "" {
		c.Errorf("body", "blockpage needs a body or a body-file")
	}
	c.FileRef("body-file", a.BodyFile)
	if a.Hold < 0 {
		c.Errorf("hold", "hold %s is negative", a.Hold)
	}
	a.Fingerprint.Validate(c, "fingerprint")
}

// ReadFiles implements policy.FileUser: it reads BodyFile into Body.
func (a *BlockpageAction) ReadFiles(c *policy.Checker, read func(name string) ([]byte, error)) {
	if a.BodyFile == "" {
		return
	}
	if a.Body != "" {
		c.Errorf("body-file", "body and body-file are exclusive")
		return
	}
	if !policy.LocalRef(a.BodyFile) {
		return // a reference outside the policy's folder is Validate's to report
	}
	b, err := read(a.BodyFile)
	if err != nil {
		c.Errorf("body-file", "cannot read body file %q: %v", a.BodyFile, err)
		return
	}
	a.Body = string(b)
}

// Compile implements ActionConfig.
func (a *BlockpageAction) Compile(*Compiler) (Action, error) {
	bp := &blockpageAct{cfg: a, resp: blockpage(a), flags: uint8(a.Flags)}
	if bp.flags == 0 {
		bp.flags = packet.FIN | packet.PSH | packet.ACK
	}
	bp.detail = fmt.Sprintf("HTTP %d block page, %d bytes, %s", a.Status, len(bp.resp), policy.TCPFlags(bp.flags))
	if a.ThenRST {
		bp.detail += ", then rst"
	}
	return bp, nil
}

// blockpage renders the HTTP response a blockpage action sends.
func blockpage(a *BlockpageAction) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "HTTP/1.1 %d %s\r\n", a.Status, http.StatusText(a.Status))
	hasCT := false
	for k, v := range a.Headers {
		fmt.Fprintf(&b, "%s: %s\r\n", k, v)
		hasCT = hasCT || strings.EqualFold(k, "content-type")
	}
	if !hasCT {
		b.WriteString("Content-Type: text/html; charset=utf-8\r\n")
	}
	b.WriteString("Content-Length: " + strconv.Itoa(len(a.Body)) + "\r\nConnection: close\r\n\r\n")
	b.WriteString(a.Body)
	return []byte(b.String())
}

type blockpageAct struct {
	cfg    *BlockpageAction
	resp   []byte
	flags  uint8
	detail string
}

// Effect is a readable page, unless the page rides in a segment with RST
// set: then the client's stack drops it and sees a reset.
func (bp *blockpageAct) Effect() Effect {
	if bp.flags&packet.RST != 0 {
		return EffectReset
	}
	return EffectPage
}

func (bp *blockpageAct) Apply(a *Act) packet.Verdict {
	if a.f.proto != packet.TCP || !a.fromClient {
		return packet.Verdict{}
	}
	cli, srv := seqs(a.f, a.p, true)
	var pkts [][]byte
	seq := srv
	const mss = 1400
	for off := 0; off < len(bp.resp); off += mss {
		end := min(off+mss, len(bp.resp))
		fl := uint8(packet.PSH | packet.ACK)
		if end == len(bp.resp) {
			fl = bp.flags
		}
		pkts = append(pkts, packet.AppendTCP(nil, packet.TCPSegment{Src: a.f.server, Dst: a.f.client, Seq: seq, Ack: cli, Flags: fl, Window: 65535, Payload: bp.resp[off:end], Shape: a.Shape(bp.cfg.Fingerprint)}))
		seq += uint32(end - off)
	}
	if bp.flags&packet.FIN != 0 {
		seq++
	}
	if bp.cfg.ThenRST {
		pkts = append(pkts, packet.AppendTCP(nil, packet.TCPSegment{Src: a.f.server, Dst: a.f.client, Seq: seq, Ack: cli, Flags: packet.RST | packet.ACK, Shape: a.Shape(bp.cfg.Fingerprint)}))
	}
	a.record(bp.detail, &BlockpageFacts{Status: bp.cfg.Status, Bytes: len(bp.resp), InRST: bp.flags&packet.RST != 0})
	inject := a.inject
	send := func() {
		for _, b := range pkts {
			inject(b)
		}
	}
	if bp.cfg.Hold > 0 {
		a.e.clock.AfterFunc(bp.cfg.Hold, send)
	} else {
		send()
	}
	if bp.cfg.DropRequest || bp.cfg.Hold > 0 {
		// The request never reaches the server.
		a.f.dropC2S = true
		return packet.Verdict{Drop: true}
	}
	return packet.Verdict{}
}
