package policylog

import (
	"net/http"
	"os"
	"strings"
	"time"
)

// Handler serves the log in dir as static resources, so that any
// tlog-tiles client can read it: checkpoint (text/plain, cached for 5
// seconds), tile/<L>/<N>[.p/<W>] and tile/entries/<N>[.p/<W>]
// (application/octet-stream, immutable), and beside them policies/<sha256>
// (the bundles entries commit to) and log.vkey. Nothing else is served
// (no signer key, no witness state): other paths are 404, methods other
// than GET and HEAD 405. Files are opened within dir only (os.Root).
func Handler(dir string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		p := strings.TrimPrefix(r.URL.Path, "/")
		var ctype, cache string
		switch {
		case p == CheckpointFile:
			ctype, cache = "text/plain; charset=utf-8", "max-age=5"
		case p == VerifierKeyFile:
			ctype, cache = "text/plain; charset=utf-8", "max-age=60"
		case strings.HasPrefix(p, "tile/"):
			if _, err := ParseTilePath(p); err != nil {
				http.NotFound(w, r)
				return
			}
			ctype, cache = "application/octet-stream", "public, max-age=31536000, immutable"
		case strings.HasPrefix(p, PolicyDir+"/") && isHexHash(strings.TrimPrefix(p, PolicyDir+"/")):
			ctype, cache = "application/octet-stream", "public, max-age=31536000, immutable"
		default:
			http.NotFound(w, r)
			return
		}
		root, err := os.OpenRoot(dir)
		if err != nil {
			http.Error(w, "log unavailable", http.StatusInternalServerError)
			return
		}
		defer root.Close()
		f, err := root.Open(p)
		if err != nil {
			http.NotFound(w, r)
			return
		}
		defer f.Close()
		fi, err := f.Stat()
		if err != nil || !fi.Mode().IsRegular() {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", ctype)
		w.Header().Set("Cache-Control", cache)
		http.ServeContent(w, r, "", time.Time{}, f)
	})
}

// Handler serves the log's directory (see the package-level Handler).
func (l *Log) Handler() http.Handler { return Handler(l.dir) }
