package policylog

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	fnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

const (
	algEd25519     = 0x01
	algCosignature = 0x04
)

// Cosigner signs checkpoints with tlog-cosignature/v1 Ed25519 cosignatures
// (a big-endian uint64 timestamp and an Ed25519 signature over
// "cosignature/v1\ntime <T>\n" followed by the checkpoint body). The
// timestamp comes from an injected clock. It implements note.Signer.
type Cosigner struct {
	name  string
	hash  uint32
	key   ed25519.PrivateKey
	clock func() time.Time
}

var _ note.Signer = (*Cosigner)(nil)

// NewCosigner makes a cosigner from a signer key as note.GenerateKey writes
// it ("PRIVATE+KEY+<name>+<hash>+<base64 key>"); the key may be of type
// Ed25519 (0x01) or cosignature (0x04). A nil clock is time.Now.
func NewCosigner(skey string, clock func() time.Time) (*Cosigner, error) {
	name, seed, err := parseSignerKey(skey)
	if err != nil {
		return nil, err
	}
	if clock == nil {
		clock = time.Now
	}
	key := ed25519.NewKeyFromSeed(seed)
	pub := append([]byte{algCosignature}, key.Public().(ed25519.PublicKey)...)
	return &Cosigner{name: name, hash: keyHash(name, pub), key: key, clock: clock}, nil
}

func parseSignerKey(skey string) (name string, seed []byte, err error) {
	f := strings.SplitN(skey, "+", 5)
	if len(f) != 5 || f[0] != "PRIVATE" || f[1] != "KEY" || f[2] == "" || len(f[3]) != 8 {
		return "", nil, errors.New("policylog: malformed signer key")
	}
	b, err := base64.StdEncoding.DecodeString(f[4])
	if err != nil || len(b) != 1+ed25519.SeedSize || (b[0] != algEd25519 && b[0] != algCosignature) {
		return "", nil, errors.New("policylog: malformed signer key (want an Ed25519 key)")
	}
	return f[2], b[1:], nil
}

func keyHash(name string, pub []byte) uint32 {
	h := sha256.New()
	h.Write([]byte(name + "\n"))
	h.Write(pub)
	return binary.BigEndian.Uint32(h.Sum(nil))
}

// Name is the cosigner's name.
func (c *Cosigner) Name() string { return c.name }

// KeyHash is the cosignature key ID.
func (c *Cosigner) KeyHash() uint32 { return c.hash }

// Sign cosigns a checkpoint body.
func (c *Cosigner) Sign(msg []byte) ([]byte, error) {
	if bytes.Count(msg, []byte("\n")) < 3 {
		return nil, errors.New("policylog: cosigned text is not a checkpoint")
	}
	t := c.clock().Unix()
	if t < 0 {
		return nil, errors.New("policylog: cosignature time before 1970")
	}
	signed := fmt.Appendf(nil, "cosignature/v1\ntime %d\n%s", t, msg)
	sig := binary.BigEndian.AppendUint64(make([]byte, 0, 8+ed25519.SignatureSize), uint64(t))
	return append(sig, ed25519.Sign(c.key, signed)...), nil
}

// VerifierKey is the cosigner's verifier key in cosignature form
// ("<name>+<hash>+<base64 0x04||key>").
func (c *Cosigner) VerifierKey() string {
	pub := append([]byte{algCosignature}, c.key.Public().(ed25519.PublicKey)...)
	return fmt.Sprintf("%s+%08x+%s", c.name, c.hash, base64.StdEncoding.EncodeToString(pub))
}

// NewCosignatureVerifier returns a verifier of tlog-cosignature/v1
// signatures from a cosignature verifier key (VerifierKey) or an Ed25519
// note verifier key of the same key.
func NewCosignatureVerifier(vkey string) (note.Verifier, error) {
	v, err := fnote.NewVerifierForCosignatureV1(vkey)
	if err != nil {
		return nil, fmt.Errorf("policylog: witness key %q: %v", shorten(vkey), err)
	}
	return v, nil
}

// CosignatureTime returns the timestamp of a cosignature.
func CosignatureTime(s note.Signature) (time.Time, error) {
	return fnote.CoSigV1Timestamp(s)
}

// Witness is a tlog-witness: it keeps, for each log it follows, the size and
// root of the latest checkpoint it cosigned, and cosigns a new checkpoint
// only if the log signed it and a consistency proof from that size holds.
// Its methods are safe for concurrent use. Use NewWitness.
type Witness struct {
	cosigner *Cosigner
	logs     map[string]note.Verifier // by origin

	mu    sync.Mutex
	state map[string]WitnessState
}

// WitnessState is what a witness remembers of one log.
type WitnessState struct {
	Size int64     `json:"size"`
	Root tlog.Hash `json:"root"`
}

// WitnessError is a refusal to cosign, with the HTTP status tlog-witness
// assigns it (404 unknown origin, 403 no valid log signature, 400 bad
// request, 409 conflict with Size the witness's latest size, 422
// consistency proof does not verify).
type WitnessError struct {
	Status int
	Size   int64 // for 409: the size the witness last cosigned
	Msg    string
}

func (e *WitnessError) Error() string { return "policylog: witness: " + e.Msg }

// NewWitness makes a witness that cosigns with c the checkpoints of the
// logs whose verifiers are given (one per origin).
func NewWitness(c *Cosigner, logs ...note.Verifier) *Witness {
	w := &Witness{cosigner: c, logs: map[string]note.Verifier{}, state: map[string]WitnessState{}}
	for _, v := range logs {
		w.logs[v.Name()] = v
	}
	return w
}

// Name is the witness's name (its cosigner's).
func (w *Witness) Name() string { return w.cosigner.Name() }

// VerifierKey is the witness's cosignature verifier key.
func (w *Witness) VerifierKey() string { return w.cosigner.VerifierKey() }

// State returns what the witness remembers of the log with that origin.
func (w *Witness) State(origin string) WitnessState {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.state[origin]
}

// MarshalState encodes the witness's state, to persist it.
func (w *Witness) MarshalState() []byte {
	w.mu.Lock()
	defer w.mu.Unlock()
	b, _ := json.Marshal(w.state)
	return b
}

// RestoreState replaces the witness's state with one MarshalState wrote.
func (w *Witness) RestoreState(data []byte) error {
	st := map[string]WitnessState{}
	if err := json.Unmarshal(data, &st); err != nil {
		return fmt.Errorf("policylog: witness state: %v", err)
	}
	w.mu.Lock()
	w.state = st
	w.mu.Unlock()
	return nil
}

// AddCheckpoint handles a tlog-witness add-checkpoint request body ("old
// <size>", consistency proof lines, an empty line, the checkpoint) and
// returns the cosignature line(s), or a *WitnessError.
func (w *Witness) AddCheckpoint(body []byte) ([]byte, error) {
	old, proof, cp, err := parseAddCheckpoint(body)
	if err != nil {
		return nil, &WitnessError{Status: http.StatusBadRequest, Msg: err.Error()}
	}
	origin, _, _ := strings.Cut(string(cp), "\n")
	v, ok := w.logs[origin]
	if !ok {
		return nil, &WitnessError{Status: http.StatusNotFound, Msg: fmt.Sprintf("unknown log %q", origin)}
	}
	n, err := note.Open(cp, note.VerifierList(v))
	if err != nil {
		return nil, &WitnessError{Status: http.StatusForbidden, Msg: fmt.Sprintf("checkpoint of %q: no valid signature by the log: %v", origin, err)}
	}
	size, root, err := parseCheckpointText(n.Text)
	if err != nil {
		return nil, &WitnessError{Status: http.StatusBadRequest, Msg: fmt.Sprintf("checkpoint of %q: %v", origin, err)}
	}
	if old > size {
		return nil, &WitnessError{Status: http.StatusBadRequest, Msg: fmt.Sprintf("old size %d is larger than the checkpoint's %d", old, size)}
	}

	w.mu.Lock()
	defer w.mu.Unlock()
	st := w.state[origin]
	if old != st.Size {
		return nil, &WitnessError{Status: http.StatusConflict, Size: st.Size, Msg: fmt.Sprintf("old size %d, but the latest checkpoint cosigned for %q has size %d", old, origin, st.Size)}
	}
	switch {
	case old == size:
		if st.Root != root && size > 0 {
			return nil, &WitnessError{Status: http.StatusConflict, Size: st.Size, Msg: fmt.Sprintf("checkpoint of %q at size %d has root %v, the witness cosigned %v", origin, size, root, st.Root)}
		}
	case old == 0:
		if len(proof) != 0 {
			return nil, &WitnessError{Status: http.StatusBadRequest, Msg: "a consistency proof from size 0 must be empty"}
		}
	default:
		if err := tlog.CheckTree(proof, size, root, old, st.Root); err != nil {
			return nil, &WitnessError{Status: http.StatusUnprocessableEntity, Msg: fmt.Sprintf("consistency proof from %d to %d of %q does not verify: %v", old, size, origin, err)}
		}
	}
	signed, err := note.Sign(&note.Note{Text: n.Text}, w.cosigner)
	if err != nil {
		return nil, err
	}
	w.state[origin] = WitnessState{Size: size, Root: root}
	_, sigs, _ := bytes.Cut(signed, []byte("\n\n"))
	return sigs, nil
}

// AddCheckpointRequest encodes an add-checkpoint request body.
func AddCheckpointRequest(old int64, proof tlog.TreeProof, checkpoint []byte) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "old %d\n", old)
	for _, h := range proof {
		b.WriteString(base64.StdEncoding.EncodeToString(h[:]))
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	b.Write(checkpoint)
	return b.Bytes()
}

func parseAddCheckpoint(body []byte) (old int64, proof tlog.TreeProof, cp []byte, err error) {
	head, cp, ok := bytes.Cut(body, []byte("\n\n"))
	if !ok {
		return 0, nil, nil, errors.New("no empty line before the checkpoint")
	}
	sc := bufio.NewScanner(bytes.NewReader(head))
	sc.Scan()
	s, ok := strings.CutPrefix(sc.Text(), "old ")
	if !ok {
		return 0, nil, nil, errors.New("first line is not \"old <size>\"")
	}
	if old, err = strconv.ParseInt(s, 10, 64); err != nil || old < 0 || strconv.FormatInt(old, 10) != s {
		return 0, nil, nil, fmt.Errorf("old size %q is not a decimal size", s)
	}
	for sc.Scan() {
		h, err := base64.StdEncoding.DecodeString(sc.Text())
		if err != nil || len(h) != tlog.HashSize {
			return 0, nil, nil, fmt.Errorf("consistency proof line %q is not a base64 SHA-256 hash", shorten(sc.Text()))
		}
		proof = append(proof, tlog.Hash(h))
	}
	if len(proof) > 63 {
		return 0, nil, nil, errors.New("more than 63 consistency proof lines")
	}
	return old, proof, cp, nil
}

// parseCheckpointText parses a checkpoint's body (origin, size, root; no
// extension lines are written by this log, but they are allowed).
func parseCheckpointText(text string) (size int64, root tlog.Hash, err error) {
	lines := strings.SplitN(text, "\n", 4)
	if len(lines) < 4 || lines[0] == "" {
		return 0, root, errors.New("checkpoint body has fewer than three lines")
	}
	size, err = strconv.ParseInt(lines[1], 10, 64)
	if err != nil || size < 0 || strconv.FormatInt(size, 10) != lines[1] {
		return 0, root, fmt.Errorf("checkpoint size %q is not a decimal size", lines[1])
	}
	h, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(h) != tlog.HashSize {
		return 0, root, fmt.Errorf("checkpoint root %q is not a base64 SHA-256 hash", lines[2])
	}
	return size, tlog.Hash(h), nil
}

func shorten(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}
