package policylog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/tlog"
)

// TileHeight is the height of every tile: tlog-tiles fixes it at 8, so a
// full tile holds 256 hashes (or, at the entries level, 256 entries).
const TileHeight = 8

const tileWidth = 1 << TileHeight

// TilePath returns the tlog-tiles path of a tile: tile/<L>/<N>[.p/<W>] for
// hash tiles, tile/entries/<N>[.p/<W>] for entry bundles (x/mod's data
// tiles, L = -1). It panics if t.H is not TileHeight.
func TilePath(t tlog.Tile) string {
	if t.H != TileHeight {
		panic(fmt.Sprintf("policylog: tile height %d, want %d", t.H, TileHeight))
	}
	level := strconv.Itoa(t.L)
	if t.L == -1 {
		level = "entries"
	}
	var b strings.Builder
	b.WriteString("tile/")
	b.WriteString(level)
	b.WriteByte('/')
	b.WriteString(tileIndexPath(t.N))
	if t.W != tileWidth {
		fmt.Fprintf(&b, ".p/%d", t.W)
	}
	return b.String()
}

// tileIndexPath encodes n as zero-padded 3-digit elements, all but the
// last prefixed with x: 1234067 is x001/x234/067.
func tileIndexPath(n int64) string {
	s := fmt.Sprintf("%03d", n%1000)
	for n >= 1000 {
		n /= 1000
		s = fmt.Sprintf("x%03d/%s", n%1000, s)
	}
	return s
}

// ParseTilePath is the inverse of TilePath. It accepts only canonical
// paths (no extra leading zeroes, widths 1..255 after .p/).
func ParseTilePath(p string) (tlog.Tile, error) {
	bad := func() (tlog.Tile, error) { return tlog.Tile{}, fmt.Errorf("policylog: %q is not a tlog-tiles path", p) }
	rest, ok := strings.CutPrefix(p, "tile/")
	if !ok {
		return bad()
	}
	levelStr, rest, ok := strings.Cut(rest, "/")
	if !ok {
		return bad()
	}
	t := tlog.Tile{H: TileHeight, W: tileWidth}
	if levelStr == "entries" {
		t.L = -1
	} else {
		l, err := strconv.Atoi(levelStr)
		if err != nil || l < 0 || l > 63 || strconv.Itoa(l) != levelStr {
			return bad()
		}
		t.L = l
	}
	if idx, w, ok := strings.Cut(rest, ".p/"); ok {
		width, err := strconv.Atoi(w)
		if err != nil || width < 1 || width >= tileWidth || strconv.Itoa(width) != w {
			return bad()
		}
		t.W, rest = width, idx
	}
	elems := strings.Split(rest, "/")
	var n int64
	for i, e := range elems {
		if i < len(elems)-1 {
			var ok bool
			if e, ok = strings.CutPrefix(e, "x"); !ok {
				return bad()
			}
		}
		if len(e) != 3 || strings.Trim(e, "0123456789") != "" {
			return bad()
		}
		d, _ := strconv.Atoi(e)
		n = n*1000 + int64(d)
	}
	t.N = n
	if TilePath(t) != p {
		return bad()
	}
	return t, nil
}

// tilesFor returns the hash tiles and entry bundles that growing the tree
// from oldSize to newSize creates or widens.
func tilesFor(oldSize, newSize int64) []tlog.Tile {
	ts := tlog.NewTiles(TileHeight, oldSize, newSize)
	// Entry bundles mirror level-0 tiles.
	var out []tlog.Tile
	for _, t := range ts {
		out = append(out, t)
		if t.L == 0 {
			out = append(out, tlog.Tile{H: t.H, L: -1, N: t.N, W: t.W})
		}
	}
	return out
}

// encodeBundle encodes entries as a tlog-tiles entry bundle.
func encodeBundle(entries [][]byte) []byte {
	n := 0
	for _, e := range entries {
		n += 2 + len(e)
	}
	out := make([]byte, 0, n)
	for _, e := range entries {
		out = binary.BigEndian.AppendUint16(out, uint16(len(e)))
		out = append(out, e...)
	}
	return out
}

// decodeBundle splits an entry bundle into its entries.
func decodeBundle(data []byte) ([][]byte, error) {
	var out [][]byte
	for len(data) > 0 {
		if len(data) < 2 {
			return out, errors.New("truncated length prefix")
		}
		n := int(binary.BigEndian.Uint16(data))
		data = data[2:]
		if len(data) < n {
			return out, fmt.Errorf("entry %d claims %d bytes, %d left", len(out), n, len(data))
		}
		out = append(out, data[:n])
		data = data[n:]
	}
	return out, nil
}
