package policylog

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/transparency-dev/formats/proof"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// Files of a log directory.
const (
	CheckpointFile  = "checkpoint"
	VerifierKeyFile = "log.vkey"
	SignerKeyFile   = "log.key"
	WitnessDir      = "witnesses"
	PolicyDir       = "policies"
	HistoryDir      = "checkpoints"
)

// emptyRoot is the RFC 6962 hash of the empty tree, SHA-256 of nothing.
var emptyRoot = tlog.Hash(sha256.Sum256(nil))

// Log is an open log directory. Its methods are safe for concurrent use by
// one process; two processes must not append to one directory at once.
type Log struct {
	dir      string
	origin   string
	signer   note.Signer // nil: read-only
	verifier note.Verifier

	mu         sync.Mutex
	size       int64
	hashes     []tlog.Hash // stored hashes, tlog.StoredHashIndex order
	entries    [][]byte
	checkpoint []byte           // latest, with cosignatures
	witnessAt  map[string]int64 // size each witness last cosigned, as the log believes
}

// Create makes a new, empty log in dir (created if needed; it must not hold
// a log already) whose origin is the key's name, writes the verifier key to
// log.vkey and signs the checkpoint of the empty tree.
func Create(dir, skey string) (*Log, error) {
	signer, err := note.NewSigner(skey)
	if err != nil {
		return nil, fmt.Errorf("policylog: signer key: %w", err)
	}
	vkey, err := VerifierKey(skey)
	if err != nil {
		return nil, err
	}
	verifier, err := note.NewVerifier(vkey)
	if err != nil {
		return nil, fmt.Errorf("policylog: %w", err)
	}
	if _, err := os.Stat(filepath.Join(dir, CheckpointFile)); err == nil {
		return nil, fmt.Errorf("policylog: %s already holds a log", dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("policylog: %w", err)
	}
	if err := writeFile(filepath.Join(dir, VerifierKeyFile), []byte(vkey+"\n")); err != nil {
		return nil, err
	}
	l := &Log{dir: dir, origin: signer.Name(), signer: signer, verifier: verifier, witnessAt: map[string]int64{}}
	cp, err := l.sign(0)
	if err != nil {
		return nil, err
	}
	if err := l.publish(0, cp); err != nil {
		return nil, err
	}
	l.checkpoint = cp
	return l, nil
}

// Open opens the log in dir. With a signer key (which must be the log's),
// the log can be appended to; with "" it is read-only. Open recomputes the
// tree from the entry bundles and fails if it does not match the signed
// checkpoint (VerifyDir says where).
func Open(dir, skey string) (*Log, error) {
	vb, err := os.ReadFile(filepath.Join(dir, VerifierKeyFile))
	if err != nil {
		return nil, fmt.Errorf("policylog: %s is not a log: %w", dir, unwrapPath(err))
	}
	verifier, err := note.NewVerifier(strings.TrimSpace(string(vb)))
	if err != nil {
		return nil, fmt.Errorf("policylog: %s: %w", filepath.Join(dir, VerifierKeyFile), err)
	}
	l := &Log{dir: dir, origin: verifier.Name(), verifier: verifier, witnessAt: map[string]int64{}}
	if skey != "" {
		if l.signer, err = note.NewSigner(skey); err != nil {
			return nil, fmt.Errorf("policylog: signer key: %w", err)
		}
		if vk, err := VerifierKey(skey); err != nil || vk != strings.TrimSpace(string(vb)) {
			return nil, fmt.Errorf("policylog: the signer key is not the key of the log in %s", dir)
		}
	}
	cp, err := os.ReadFile(filepath.Join(dir, CheckpointFile))
	if err != nil {
		return nil, fmt.Errorf("policylog: %w", unwrapPath(err))
	}
	n, err := note.Open(cp, note.VerifierList(verifier))
	if err != nil {
		return nil, fmt.Errorf("policylog: %s/checkpoint: %v", dir, err)
	}
	size, root, err := parseCheckpointText(n.Text)
	if err != nil {
		return nil, fmt.Errorf("policylog: %s/checkpoint: %v", dir, err)
	}
	entries, err := readEntries(dir, size)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		if err := l.add(e); err != nil {
			return nil, err
		}
	}
	if got := l.root(size); got != root {
		return nil, fmt.Errorf("policylog: %s: the entries do not hash to the checkpoint's root (run verify to see where)", dir)
	}
	l.size, l.checkpoint = size, cp
	return l, nil
}

// readEntries reads the entry bundles that a tree of size n needs.
func readEntries(dir string, n int64) ([][]byte, error) {
	var out [][]byte
	for k := int64(0); k*tileWidth < n; k++ {
		w := int(min(tileWidth, n-k*tileWidth))
		p := TilePath(tlog.Tile{H: TileHeight, L: -1, N: k, W: w})
		b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(p)))
		if err != nil {
			return nil, fmt.Errorf("policylog: %s: %w", p, unwrapPath(err))
		}
		es, err := decodeBundle(b)
		if err != nil {
			return nil, fmt.Errorf("policylog: %s: %v", p, err)
		}
		if len(es) != w {
			return nil, fmt.Errorf("policylog: %s holds %d entries, want %d", p, len(es), w)
		}
		out = append(out, es...)
	}
	return out, nil
}

// add appends one entry to the in-memory tree.
func (l *Log) add(data []byte) error {
	hs, err := tlog.StoredHashes(int64(len(l.entries)), data, l.reader())
	if err != nil {
		return fmt.Errorf("policylog: %w", err)
	}
	l.hashes = append(l.hashes, hs...)
	l.entries = append(l.entries, data)
	return nil
}

func (l *Log) reader() tlog.HashReader {
	return tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			if x < 0 || x >= int64(len(l.hashes)) {
				return nil, fmt.Errorf("policylog: stored hash %d not in the tree", x)
			}
			out[i] = l.hashes[x]
		}
		return out, nil
	})
}

func (l *Log) root(n int64) tlog.Hash {
	if n == 0 {
		return emptyRoot
	}
	h, err := tlog.TreeHash(n, l.reader())
	if err != nil {
		return tlog.Hash{}
	}
	return h
}

func (l *Log) sign(n int64) ([]byte, error) {
	if l.signer == nil {
		return nil, errors.New("policylog: the log was opened read-only (no signer key)")
	}
	root := l.root(n)
	text := fmt.Sprintf("%s\n%d\n%s\n", l.origin, n, base64.StdEncoding.EncodeToString(root[:]))
	cp, err := note.Sign(&note.Note{Text: text}, l.signer)
	if err != nil {
		return nil, fmt.Errorf("policylog: signing the checkpoint: %w", err)
	}
	return cp, nil
}

// publish writes a checkpoint as the latest and into the history.
func (l *Log) publish(n int64, cp []byte) error {
	if err := writeFile(filepath.Join(l.dir, HistoryDir, strconv.FormatInt(n, 10)), cp); err != nil {
		return err
	}
	return writeFile(filepath.Join(l.dir, CheckpointFile), cp)
}

// Origin is the log's origin (its key's name).
func (l *Log) Origin() string { return l.origin }

// Dir is the log's directory.
func (l *Log) Dir() string { return l.dir }

// VerifierKey is the log's verifier key.
func (l *Log) VerifierKey() string {
	b, _ := os.ReadFile(filepath.Join(l.dir, VerifierKeyFile))
	return strings.TrimSpace(string(b))
}

// Size is the number of entries under the latest checkpoint.
func (l *Log) Size() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.size
}

// Checkpoint returns the latest signed checkpoint with its cosignatures.
func (l *Log) Checkpoint() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return bytes.Clone(l.checkpoint)
}

// Append adds entries to the log, writes the tiles and bundles they fill,
// and signs and publishes a checkpoint of the new size. It returns the
// index of the first entry. Nothing is changed if an entry is invalid.
func (l *Log) Append(entries ...Entry) (first int64, err error) {
	datas := make([][]byte, len(entries))
	for i, e := range entries {
		if e.Type == EntryPolicyVersion {
			if _, err := os.Stat(l.policyPath(e.Policy.SHA256)); err != nil {
				return 0, fmt.Errorf("policylog: policy version %s %s: its bundle is not stored (use AppendPolicy)", e.Policy.Name, e.Policy.Version)
			}
		}
		if datas[i], err = e.Marshal(); err != nil {
			return 0, err
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.signer == nil {
		return 0, errors.New("policylog: the log was opened read-only (no signer key)")
	}
	old := l.size
	rollback := func() {
		l.entries = l.entries[:old]
		l.hashes = l.hashes[:tlog.StoredHashCount(old)]
	}
	for _, d := range datas {
		if err := l.add(d); err != nil {
			rollback()
			return 0, err
		}
	}
	n := int64(len(l.entries))
	for _, t := range tilesFor(old, n) {
		var data []byte
		if t.L == -1 {
			data = encodeBundle(l.entries[t.N*tileWidth : t.N*tileWidth+int64(t.W)])
		} else if data, err = tlog.ReadTileData(t, l.reader()); err != nil {
			rollback()
			return 0, fmt.Errorf("policylog: %w", err)
		}
		if err := writeFile(filepath.Join(l.dir, filepath.FromSlash(TilePath(t))), data); err != nil {
			rollback()
			return 0, err
		}
	}
	cp, err := l.sign(n)
	if err == nil {
		err = l.publish(n, cp)
	}
	if err != nil {
		rollback()
		return 0, err
	}
	l.size, l.checkpoint = n, cp
	return old, nil
}

// AppendPolicy stores the version's bundle under policies/ and appends its
// entry. It returns the entry's index.
func (l *Log) AppendPolicy(pv *PolicyVersion) (int64, error) {
	ref := pv.Ref()
	if err := writeFile(l.policyPath(ref.SHA256), pv.Canonical()); err != nil {
		return 0, err
	}
	return l.Append(Entry{Type: EntryPolicyVersion, Policy: &ref})
}

func (l *Log) policyPath(sha string) string { return filepath.Join(l.dir, PolicyDir, sha) }

// Entry returns entry i and its encoding.
func (l *Log) Entry(i int64) (Entry, []byte, error) {
	l.mu.Lock()
	if i < 0 || i >= l.size {
		l.mu.Unlock()
		return Entry{}, nil, fmt.Errorf("policylog: no entry %d (the log has %d)", i, l.size)
	}
	data := l.entries[i]
	l.mu.Unlock()
	e, err := ParseEntry(data)
	return e, data, err
}

// PolicyVersion returns the policy version recorded by entry i, read from
// its bundle and checked against the entry's hash.
func (l *Log) PolicyVersion(i int64) (*PolicyVersion, error) {
	e, _, err := l.Entry(i)
	if err != nil {
		return nil, err
	}
	if e.Type != EntryPolicyVersion {
		return nil, fmt.Errorf("policylog: entry %d is a %s entry, not a policy version", i, e.Type)
	}
	b, err := os.ReadFile(l.policyPath(e.Policy.SHA256))
	if err != nil {
		return nil, fmt.Errorf("policylog: entry %d: %w", i, unwrapPath(err))
	}
	if h := sha256.Sum256(b); hex.EncodeToString(h[:]) != e.Policy.SHA256 {
		return nil, fmt.Errorf("policylog: entry %d: %s/%s does not hash to the logged sha256", i, PolicyDir, e.Policy.SHA256)
	}
	return ParsePolicyVersion(b)
}

// ProveInclusion returns a tlog-proof that entry index is in the tree of
// the given size, against the checkpoint the log issued at that size (with
// the cosignatures it has gathered); the proof's extra data is the entry.
func (l *Log) ProveInclusion(index, size int64) ([]byte, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if size <= 0 || size > l.size || index < 0 || index >= size {
		return nil, fmt.Errorf("policylog: cannot prove entry %d in a tree of size %d (the log has %d)", index, size, l.size)
	}
	cp := l.checkpoint
	if size != l.size {
		var err error
		if cp, err = os.ReadFile(filepath.Join(l.dir, HistoryDir, strconv.FormatInt(size, 10))); err != nil {
			return nil, fmt.Errorf("policylog: the log issued no checkpoint at size %d", size)
		}
	}
	p, err := tlog.ProveRecord(size, index, l.reader())
	if err != nil {
		return nil, fmt.Errorf("policylog: %w", err)
	}
	tp := proof.TLogProof{Index: uint64(index), Checkpoint: cp, ExtraData: l.entries[index]}
	for _, h := range p {
		tp.Hashes = append(tp.Hashes, h)
	}
	return tp.Marshal(), nil
}

// ProveConsistency returns the RFC 6962 consistency proof from the tree of
// size old to the tree of size new.
func (l *Log) ProveConsistency(old, new int64) (tlog.TreeProof, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if old < 0 || old > new || new > l.size {
		return nil, fmt.Errorf("policylog: no consistency proof from size %d to %d (the log has %d)", old, new, l.size)
	}
	if old == 0 || old == new {
		return tlog.TreeProof{}, nil
	}
	p, err := tlog.ProveTree(new, old, l.reader())
	if err != nil {
		return nil, fmt.Errorf("policylog: %w", err)
	}
	return p, nil
}

// Cosign asks the witness to cosign the latest checkpoint, with a
// consistency proof from the size it last cosigned (learnt from its 409
// answer when the log does not know it), checks the cosignature and adds it
// to the checkpoint. The witness's verifier key is written to
// witnesses/<name>.vkey (the name path-escaped: "w.example%2Fw1").
func (l *Log) Cosign(w *Witness) error {
	l.mu.Lock()
	size, cp := l.size, l.checkpoint
	old := l.witnessAt[w.Name()]
	l.mu.Unlock()
	var sigs []byte
	for try := 0; ; try++ {
		p, err := l.ProveConsistency(old, size)
		if err != nil {
			return err
		}
		sigs, err = w.AddCheckpoint(AddCheckpointRequest(old, p, cp))
		var we *WitnessError
		if errors.As(err, &we) && we.Status == 409 && we.Size != old && we.Size <= size && try == 0 {
			old = we.Size
			continue
		}
		if err != nil {
			return fmt.Errorf("policylog: witness %s refused checkpoint %d: %w", w.Name(), size, err)
		}
		break
	}
	v, err := NewCosignatureVerifier(w.VerifierKey())
	if err != nil {
		return err
	}
	merged := mergeSignatures(cp, sigs, v)
	n, err := note.Open(merged, note.VerifierList(l.verifier, v))
	if err != nil {
		return fmt.Errorf("policylog: cosignature of %s: %v", w.Name(), err)
	}
	if !hasSig(n, v) {
		return fmt.Errorf("policylog: witness %s returned no cosignature by its key", w.Name())
	}
	if err := writeFile(filepath.Join(l.dir, WitnessDir, url.PathEscape(w.Name())+".vkey"), []byte(w.VerifierKey()+"\n")); err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.size != size {
		return fmt.Errorf("policylog: the log grew while %s cosigned", w.Name())
	}
	if err := l.publish(size, merged); err != nil {
		return err
	}
	l.checkpoint = merged
	l.witnessAt[w.Name()] = size
	return nil
}

func hasSig(n *note.Note, v note.Verifier) bool {
	for _, s := range n.Sigs {
		if s.Name == v.Name() && s.Hash == v.KeyHash() {
			return true
		}
	}
	return false
}

// mergeSignatures appends the signature lines sigs to the signed note cp,
// dropping cp's lines by the same key as v (a newer cosignature replaces an
// older one).
func mergeSignatures(cp, sigs []byte, v note.Verifier) []byte {
	text, block, _ := bytes.Cut(cp, []byte("\n\n"))
	var b bytes.Buffer
	b.Write(text)
	b.WriteString("\n\n")
	for _, line := range strings.SplitAfter(string(block), "\n") {
		if line == "" {
			continue
		}
		if name, key, ok := sigLineKey(line); ok && name == v.Name() && key == v.KeyHash() {
			continue
		}
		b.WriteString(line)
	}
	b.Write(sigs)
	return b.Bytes()
}

// sigLineKey returns the key name and key hash of a signature line.
func sigLineKey(line string) (string, uint32, bool) {
	rest, ok := strings.CutPrefix(strings.TrimSuffix(line, "\n"), "— ")
	if !ok {
		return "", 0, false
	}
	name, b64, ok := strings.Cut(rest, " ")
	if !ok {
		return "", 0, false
	}
	sig, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(sig) < 5 {
		return name, 0, false
	}
	return name, uint32(sig[0])<<24 | uint32(sig[1])<<16 | uint32(sig[2])<<8 | uint32(sig[3]), true
}

// writeFile writes data to path atomically (a temporary file renamed),
// creating directories.
func writeFile(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("policylog: %w", err)
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return fmt.Errorf("policylog: %w", err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(0o644)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("policylog: %w", err)
	}
	return nil
}

func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", pe.Path, pe.Err)
	}
	return err
}
