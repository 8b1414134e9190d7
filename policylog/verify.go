package policylog

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/transparency-dev/formats/proof"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// Keys are the public keys a verifier trusts: the log's Ed25519 verifier
// key and the witnesses' cosignature verifier keys.
type Keys struct {
	Log       string
	Witnesses []string
}

// KeysFromDir reads the keys a log directory publishes (log.vkey,
// witnesses/*.vkey). Trusting them is trust on first use: pin keys obtained
// out of band where it matters.
func KeysFromDir(dir string) (Keys, error) {
	var k Keys
	b, err := os.ReadFile(filepath.Join(dir, VerifierKeyFile))
	if err != nil {
		return k, fmt.Errorf("policylog: %s is not a log: %w", dir, unwrapPath(err))
	}
	k.Log = strings.TrimSpace(string(b))
	ws, _ := filepath.Glob(filepath.Join(dir, WitnessDir, "*.vkey"))
	slices.Sort(ws)
	for _, w := range ws {
		b, err := os.ReadFile(w)
		if err != nil {
			return k, fmt.Errorf("policylog: %w", unwrapPath(err))
		}
		k.Witnesses = append(k.Witnesses, strings.TrimSpace(string(b)))
	}
	return k, nil
}

func (k Keys) verifiers() (log note.Verifier, witnesses []note.Verifier, err error) {
	log, err = note.NewVerifier(k.Log)
	if err != nil {
		return nil, nil, fmt.Errorf("policylog: log key %q: %v", shorten(k.Log), err)
	}
	for _, wk := range k.Witnesses {
		v, err := NewCosignatureVerifier(wk)
		if err != nil {
			return nil, nil, err
		}
		witnesses = append(witnesses, v)
	}
	return log, witnesses, nil
}

// VerifyError lists every problem VerifyDir found, each naming the file
// (and entry or hash) concerned.
type VerifyError struct {
	Dir      string
	Problems []string
}

func (e *VerifyError) Error() string {
	return fmt.Sprintf("policylog: %s fails verification:\n  %s", e.Dir, strings.Join(e.Problems, "\n  "))
}

// Report is what VerifyDir checked.
type Report struct {
	Origin      string
	Size        int64
	Root        tlog.Hash
	Cosigners   []string // witnesses whose cosignature on the checkpoint verified
	Checkpoints int      // historical checkpoints checked
	Tiles       int      // hash tiles and entry bundles checked
	Policies    int      // policy bundles checked
}

// VerifyDir checks a log directory offline, trusting keys: the latest
// checkpoint's and every historical checkpoint's signatures (a signature
// line by an unknown key, or by a known key that does not verify, is a
// problem), that every entry decodes, that the entries hash to the
// checkpoint's root, that every hash tile and entry bundle on disk holds
// what the entries imply, that every policy bundle hashes to its entry's
// sha256 and loads, that every entry's inclusion proof and every historical
// checkpoint's consistency proof verify. When the entries and the tiles
// disagree, the signed root says which side was changed. Any problem is
// reported in a *VerifyError naming the entry, tile or checkpoint.
func VerifyDir(dir string, keys Keys) (*Report, error) {
	logV, witV, err := keys.verifiers()
	if err != nil {
		return nil, err
	}
	verr := &VerifyError{Dir: dir}
	bad := func(format string, args ...any) { verr.Problems = append(verr.Problems, fmt.Sprintf(format, args...)) }
	rep := &Report{Origin: logV.Name()}

	cpData, err := os.ReadFile(filepath.Join(dir, CheckpointFile))
	if err != nil {
		return nil, fmt.Errorf("policylog: %s is not a log: %w", dir, unwrapPath(err))
	}
	cp, ok := checkNote(CheckpointFile, cpData, logV, witV, bad)
	if !ok {
		return rep, verr
	}
	rep.Size, rep.Root, rep.Cosigners = cp.size, cp.root, cp.cosigners

	// Entries, from the bundles the checkpoint's size needs.
	var entries [][]byte
	var leaf []tlog.Hash
	for k := int64(0); k*tileWidth < cp.size; k++ {
		w := int(min(tileWidth, cp.size-k*tileWidth))
		p := TilePath(tlog.Tile{H: TileHeight, L: -1, N: k, W: w})
		b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(p)))
		if err != nil {
			bad("%s: missing (entries %d-%d): %v", p, k*tileWidth, k*tileWidth+int64(w)-1, errors.Unwrap(err))
			return rep, verr
		}
		es, err := decodeBundle(b)
		if err == nil && len(es) != w {
			err = fmt.Errorf("holds %d entries, want %d", len(es), w)
		}
		if err != nil {
			bad("%s: %v", p, err)
			return rep, verr
		}
		for j, e := range es {
			i := k*tileWidth + int64(j)
			entries = append(entries, e)
			leaf = append(leaf, tlog.RecordHash(e))
			if _, err := ParseEntry(e); err != nil {
				bad("entry %d (in %s): %v", i, p, err)
			}
		}
	}
	fromEntries, err := storedHashes(leaf)
	if err != nil {
		return rep, err
	}
	entriesRoot := rootOf(fromEntries, cp.size)

	// Tiles on disk, read back as a tree of their own.
	onDisk := map[int64]tlog.Hash{}
	tileProblems := []string{}
	err = filepath.WalkDir(filepath.Join(dir, "tile"), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		rel = filepath.ToSlash(rel)
		t, perr := ParseTilePath(rel)
		if perr != nil {
			bad("%s: not a tlog-tiles path", rel)
			return nil
		}
		rep.Tiles++
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if t.L == -1 {
			// Bundles the size needs were read above; older partial ones
			// must hold a prefix of the same entries.
			es, derr := decodeBundle(data)
			if derr == nil && len(es) != t.W {
				derr = fmt.Errorf("holds %d entries, want %d", len(es), t.W)
			}
			if derr != nil {
				bad("%s: %v", rel, derr)
				return nil
			}
			for j, e := range es {
				i := t.N*tileWidth + int64(j)
				if i >= int64(len(entries)) {
					bad("%s: entry %d is beyond the checkpoint's size %d", rel, i, cp.size)
					break
				}
				if !bytes.Equal(e, entries[i]) {
					bad("entry %d (in %s): differs from the same entry in %s", i, rel, TilePath(bundleTile(i, cp.size)))
				}
			}
			return nil
		}
		if len(data) != t.W*tlog.HashSize {
			tileProblems = append(tileProblems, fmt.Sprintf("%s: %d bytes, want %d", rel, len(data), t.W*tlog.HashSize))
			return nil
		}
		level := TileHeight * t.L
		for j := 0; j < t.W; j++ {
			nodeIdx := t.N*tileWidth + int64(j) // index among the nodes of this tree level
			if (nodeIdx+1)<<uint(level) > cp.size {
				tileProblems = append(tileProblems, fmt.Sprintf("%s: reaches beyond the checkpoint's size %d", rel, cp.size))
				break
			}
			h := tlog.Hash(data[j*tlog.HashSize : (j+1)*tlog.HashSize])
			si := tlog.StoredHashIndex(level, nodeIdx)
			if prev, ok := onDisk[si]; ok && prev != h {
				tileProblems = append(tileProblems, fmt.Sprintf("%s: hash %d differs from the same hash in another tile", rel, j))
			}
			onDisk[si] = h
			if want := fromEntries[si]; want != h {
				what := fmt.Sprintf("entry %d", nodeIdx)
				if level > 0 {
					what = fmt.Sprintf("entries %d-%d", nodeIdx<<uint(level), (nodeIdx+1)<<uint(level)-1)
				}
				tileProblems = append(tileProblems, fmt.Sprintf("%s: hash %d (%s) does not match the entries", rel, j, what))
			}
		}
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return rep, fmt.Errorf("policylog: %w", err)
	}
	// Every tile the size needs must be there.
	for _, t := range tlog.NewTiles(TileHeight, 0, cp.size) {
		if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(TilePath(t)))); err != nil {
			bad("%s: missing", TilePath(t))
		}
	}

	switch {
	case entriesRoot == cp.root:
		// The entries are what was signed: any tile that disagrees was changed.
		verr.Problems = append(verr.Problems, tileProblems...)
	default:
		// The entries were changed (or the tiles and entries together): name
		// the entries whose leaf hash differs from the level-0 tiles, which
		// the signed root vouches for if they hash to it.
		tilesRoot, terr := rootFromTiles(onDisk, cp.size)
		named := false
		for i, h := range leaf {
			if d, ok := onDisk[tlog.StoredHashIndex(0, int64(i))]; ok && d != h {
				bad("entry %d (in %s): its leaf hash does not match %s", i, TilePath(bundleTile(int64(i), cp.size)), TilePath(levelZeroTile(int64(i), cp.size)))
				named = true
			}
		}
		if terr != nil || tilesRoot != cp.root {
			verr.Problems = append(verr.Problems, tileProblems...)
		}
		if !named {
			bad("the entries do not hash to the root of %s (size %d)", CheckpointFile, cp.size)
		}
	}

	// Policy bundles.
	for i, e := range entries {
		pe, err := ParseEntry(e)
		if err != nil || pe.Type != EntryPolicyVersion {
			continue
		}
		name := PolicyDir + "/" + pe.Policy.SHA256
		b, err := os.ReadFile(filepath.Join(dir, PolicyDir, pe.Policy.SHA256))
		if err != nil {
			bad("entry %d: %s: missing", i, name)
			continue
		}
		rep.Policies++
		if h := sha256.Sum256(b); hex.EncodeToString(h[:]) != pe.Policy.SHA256 {
			bad("entry %d: %s does not hash to the logged sha256", i, name)
			continue
		}
		pv, err := ParsePolicyVersion(b)
		if err != nil {
			bad("entry %d: %s: %v", i, name, err)
			continue
		}
		if ref := pv.Ref(); !refEqual(ref, *pe.Policy) {
			bad("entry %d: %s: its name, version, date or files differ from the entry's", i, name)
		}
	}

	// Inclusion proofs of every entry against the checkpoint.
	if entriesRoot == cp.root {
		r := hashReader(fromEntries)
		for i := range leaf {
			p, err := tlog.ProveRecord(cp.size, int64(i), r)
			if err == nil {
				err = tlog.CheckRecord(p, cp.size, cp.root, int64(i), leaf[i])
			}
			if err != nil {
				bad("entry %d: inclusion proof: %v", i, err)
			}
		}
	}

	// Historical checkpoints: signed, and consistent with the latest.
	hist, _ := os.ReadDir(filepath.Join(dir, HistoryDir))
	for _, h := range hist {
		name := HistoryDir + "/" + h.Name()
		b, err := os.ReadFile(filepath.Join(dir, HistoryDir, h.Name()))
		if err != nil {
			bad("%s: %v", name, err)
			continue
		}
		old, ok := checkNote(name, b, logV, witV, bad)
		if !ok {
			continue
		}
		rep.Checkpoints++
		if strconv.FormatInt(old.size, 10) != h.Name() {
			bad("%s: holds a checkpoint of size %d", name, old.size)
			continue
		}
		if old.size > cp.size {
			bad("%s: size %d is beyond the latest checkpoint's %d", name, old.size, cp.size)
			continue
		}
		if old.size == cp.size && old.root != cp.root {
			bad("%s: same size as %s but another root: the log forked", name, CheckpointFile)
			continue
		}
		if entriesRoot != cp.root || old.size == 0 || old.size == cp.size {
			if old.size == 0 && old.root != emptyRoot {
				bad("%s: the empty tree's root is not SHA-256 of nothing", name)
			}
			continue
		}
		r := hashReader(fromEntries)
		p, err := tlog.ProveTree(cp.size, old.size, r)
		if err == nil {
			err = tlog.CheckTree(p, cp.size, cp.root, old.size, old.root)
		}
		if err != nil {
			bad("%s: not consistent with %s: %v", name, CheckpointFile, err)
		}
	}
	if len(verr.Problems) > 0 {
		return rep, verr
	}
	return rep, nil
}

func refEqual(a, b PolicyRef) bool {
	return a.Name == b.Name && a.Jurisdiction == b.Jurisdiction && a.Version == b.Version &&
		a.Effective == b.Effective && a.SHA256 == b.SHA256 && a.Cause == b.Cause &&
		slices.Equal(a.Files, b.Files)
}

type checkedNote struct {
	size      int64
	root      tlog.Hash
	cosigners []string
}

// checkNote checks a signed checkpoint: every signature line well formed,
// by a known key, and valid; the log's among them.
func checkNote(name string, data []byte, logV note.Verifier, witV []note.Verifier, bad func(string, ...any)) (checkedNote, bool) {
	var out checkedNote
	text, sigs, ok := bytes.Cut(data, []byte("\n\n"))
	if !ok || !bytes.HasSuffix(data, []byte("\n")) {
		bad("%s: not a signed note", name)
		return out, false
	}
	known := map[string]note.Verifier{}
	for _, v := range append([]note.Verifier{logV}, witV...) {
		known[fmt.Sprintf("%s+%08x", v.Name(), v.KeyHash())] = v
	}
	okAll := true
	for n, line := range strings.Split(strings.TrimSuffix(string(sigs), "\n"), "\n") {
		rest, ok := strings.CutPrefix(line, "— ")
		signer, b64, ok2 := strings.Cut(rest, " ")
		sig, err := base64.StdEncoding.DecodeString(b64)
		if !ok || !ok2 || err != nil || len(sig) < 5 {
			bad("%s: signature line %d (%s) is malformed", name, n+1, signerName(line))
			okAll = false
			continue
		}
		id := fmt.Sprintf("%s+%08x", signer, uint32(sig[0])<<24|uint32(sig[1])<<16|uint32(sig[2])<<8|uint32(sig[3]))
		v, ok := known[id]
		if !ok {
			bad("%s: signature line %d is by an unknown key %s", name, n+1, id)
			okAll = false
			continue
		}
		if !v.Verify(append(text, '\n'), sig[4:]) {
			what := "cosignature of witness " + signer
			if v == logV {
				what = "the log's signature"
			}
			bad("%s: %s does not verify", name, what)
			okAll = false
			continue
		}
		if v == logV {
			continue
		}
		out.cosigners = append(out.cosigners, signer)
	}
	n, err := note.Open(data, note.VerifierList(append([]note.Verifier{logV}, witV...)...))
	if err != nil {
		if okAll {
			bad("%s: %v", name, err)
		}
		return out, false
	}
	if !hasSig(n, logV) {
		bad("%s: not signed by the log's key %s", name, logV.Name())
		return out, false
	}
	size, root, err := parseCheckpointText(n.Text)
	if err != nil {
		bad("%s: %v", name, err)
		return out, false
	}
	if origin, _, _ := strings.Cut(n.Text, "\n"); origin != logV.Name() {
		bad("%s: origin %q is not the log's %q", name, origin, logV.Name())
		return out, false
	}
	out.size, out.root = size, root
	return out, okAll
}

func signerName(line string) string {
	rest, _ := strings.CutPrefix(line, "— ")
	name, _, _ := strings.Cut(rest, " ")
	return shorten(name)
}

// storedHashes computes every stored hash of the tree whose leaves are leaf.
func storedHashes(leaf []tlog.Hash) ([]tlog.Hash, error) {
	var hs []tlog.Hash
	for i, h := range leaf {
		more, err := tlog.StoredHashesForRecordHash(int64(i), h, hashReader(hs))
		if err != nil {
			return nil, fmt.Errorf("policylog: %w", err)
		}
		hs = append(hs, more...)
	}
	return hs, nil
}

func hashReader(hs []tlog.Hash) tlog.HashReader {
	return tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			if x < 0 || x >= int64(len(hs)) {
				return nil, fmt.Errorf("stored hash %d missing", x)
			}
			out[i] = hs[x]
		}
		return out, nil
	})
}

func rootOf(hs []tlog.Hash, n int64) tlog.Hash {
	if n == 0 {
		return emptyRoot
	}
	h, err := tlog.TreeHash(n, hashReader(hs))
	if err != nil {
		return tlog.Hash{}
	}
	return h
}

// rootFromTiles computes the tree hash from the hashes read from tiles.
func rootFromTiles(onDisk map[int64]tlog.Hash, n int64) (tlog.Hash, error) {
	if n == 0 {
		return emptyRoot, nil
	}
	return tlog.TreeHash(n, tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			h, ok := onDisk[x]
			if !ok {
				return nil, fmt.Errorf("stored hash %d not in any tile", x)
			}
			out[i] = h
		}
		return out, nil
	}))
}

// levelZeroTile is the level-0 tile (as wide as size allows) holding entry
// i.
func levelZeroTile(i, size int64) tlog.Tile {
	n := i / tileWidth
	return tlog.Tile{H: TileHeight, L: 0, N: n, W: int(min(tileWidth, size-n*tileWidth))}
}

// bundleTile is the entry bundle holding entry i.
func bundleTile(i, size int64) tlog.Tile {
	t := levelZeroTile(i, size)
	t.L = -1
	return t
}

// Trust is what a jurisdiction trusts: the log's verifier key and
// witnesses' cosignature verifier keys, of which Quorum must have cosigned.
type Trust struct {
	Log       string
	Witnesses []string
	Quorum    int
}

// Verified is what VerifyPolicy established.
type Verified struct {
	// Index is the log index of the policy version's entry: the index a
	// border cites in its decisions.
	Index int64
	// Size and Origin identify the checkpoint the proof is against.
	Size   int64
	Origin string
	// Cosigners are the trusted witnesses whose cosignatures verified.
	Cosigners []string
	// Policy is the logged entry.
	Policy PolicyRef
}

// VerifyPolicy checks offline that canonical (a PolicyVersion.Canonical
// bundle) is the policy version recorded by the entry that proofData (a
// tlog-proof whose extra data is the entry, as ProveInclusion writes it)
// proves included in a checkpoint signed by trust's log key and cosigned by
// at least trust.Quorum of its witnesses. Any failure is an error saying
// which check failed.
func VerifyPolicy(canonical, proofData []byte, trust Trust) (*Verified, error) {
	logV, witV, err := Keys{Log: trust.Log, Witnesses: trust.Witnesses}.verifiers()
	if err != nil {
		return nil, err
	}
	if trust.Quorum < 0 || trust.Quorum > len(witV) {
		return nil, fmt.Errorf("policylog: trust: quorum %d of %d witnesses", trust.Quorum, len(witV))
	}
	var tp proof.TLogProof
	if err := tp.Unmarshal(proofData); err != nil {
		return nil, fmt.Errorf("policylog: proof: %v", err)
	}
	if tp.ExtraData == nil {
		return nil, errors.New("policylog: proof: no entry in its extra data")
	}
	e, err := ParseEntry(tp.ExtraData)
	if err != nil {
		return nil, fmt.Errorf("policylog: proof: %w", err)
	}
	if e.Type != EntryPolicyVersion {
		return nil, fmt.Errorf("policylog: proof: entry %d is a %s entry, not a policy version", tp.Index, e.Type)
	}
	if h := sha256.Sum256(canonical); hex.EncodeToString(h[:]) != e.Policy.SHA256 {
		return nil, fmt.Errorf("policylog: the policy's sha256 %x is not the one logged at entry %d (%s %s: %.12s)", h[:6], tp.Index, e.Policy.Name, e.Policy.Version, e.Policy.SHA256)
	}
	n, err := note.Open(tp.Checkpoint, note.VerifierList(append([]note.Verifier{logV}, witV...)...))
	if err != nil {
		return nil, fmt.Errorf("policylog: proof's checkpoint: %v", err)
	}
	if !hasSig(n, logV) {
		return nil, fmt.Errorf("policylog: proof's checkpoint is not signed by the log %s", logV.Name())
	}
	if origin, _, _ := strings.Cut(n.Text, "\n"); origin != logV.Name() {
		return nil, fmt.Errorf("policylog: proof's checkpoint is of log %q, not %q", origin, logV.Name())
	}
	v := &Verified{Index: int64(tp.Index), Origin: logV.Name(), Policy: *e.Policy}
	for _, w := range witV {
		if hasSig(n, w) {
			v.Cosigners = append(v.Cosigners, w.Name())
		}
	}
	if len(v.Cosigners) < trust.Quorum {
		return nil, fmt.Errorf("policylog: proof's checkpoint is cosigned by %d trusted witnesses (%s), the quorum is %d", len(v.Cosigners), strings.Join(v.Cosigners, ", "), trust.Quorum)
	}
	size, root, err := parseCheckpointText(n.Text)
	if err != nil {
		return nil, fmt.Errorf("policylog: proof's checkpoint: %v", err)
	}
	v.Size = size
	if int64(tp.Index) >= size {
		return nil, fmt.Errorf("policylog: proof: index %d is beyond the checkpoint's size %d", tp.Index, size)
	}
	hashes := make(tlog.RecordProof, len(tp.Hashes))
	for i, h := range tp.Hashes {
		hashes[i] = h
	}
	if err := tlog.CheckRecord(hashes, size, root, int64(tp.Index), tlog.RecordHash(tp.ExtraData)); err != nil {
		return nil, fmt.Errorf("policylog: proof: entry %d is not included in the checkpoint of size %d: %v", tp.Index, size, err)
	}
	return v, nil
}
