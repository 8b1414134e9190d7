package explorer

import (
	"context"
	"embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/splinter-lab/splinter/probe"
	"github.com/splinter-lab/splinter/store"
)

//go:embed openapi.yaml
var openAPI []byte

//go:embed static
var static embed.FS

// OpenAPI returns the OpenAPI 3 document that describes the JSON API.
func OpenAPI() []byte { return slices.Clone(openAPI) }

// Options tune New. The zero value is usable.
type Options struct {
	// Logf reports errors that are the server's fault (a failed query);
	// nil means the standard logger.
	Logf func(format string, args ...any)
	// Timeout bounds the work of one request; 0 means 30 seconds.
	Timeout time.Duration
}

// Explorer is the API and the explorer over one store. It is an
// http.Handler; its zero value is not usable (New makes one).
type Explorer struct {
	s    *store.Store
	o    Options
	mux  *http.ServeMux
	glos glossaryView
}

var _ http.Handler = (*Explorer)(nil)

// New returns the API and the explorer over s.
func New(s *store.Store, opts Options) *Explorer {
	if opts.Logf == nil {
		opts.Logf = log.Printf
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Second
	}
	e := &Explorer{s: s, o: opts, mux: http.NewServeMux(), glos: newGlossaryView()}
	for _, rt := range apiRoutes {
		e.mux.HandleFunc(rt.Method+" "+rt.Path, e.api(rt.handle))
	}
	e.mux.HandleFunc("GET /api/v1/openapi.yaml", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/yaml")
		w.Write(openAPI)
	})
	e.mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, apiError{Error: "no such API route: " + r.Method + " " + r.URL.Path})
	})
	for _, pg := range pageRoutes {
		e.mux.HandleFunc(strings.TrimSpace(pg.Method+" "+pg.Path), e.page(pg.handle))
	}
	sub, _ := fs.Sub(static, "static")
	e.mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(sub)))
	return e
}

// ServeHTTP serves the API, the pages and their static files.
func (e *Explorer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	// Pages load only their own stylesheet and script; inline style
	// attributes colour the verdicts and heatmap squares.
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	e.mux.ServeHTTP(w, r)
}

// route is one API route: a method, a path in ServeMux's syntax (which is
// OpenAPI's for the paths here) and its handler, which returns the value
// to encode.
type route struct {
	Method, Path string
	handle       func(e *Explorer, ctx context.Context, r *http.Request) (any, error)
}

// badRequest is an error in what the client asked.
type badRequest struct{ msg string }

func (b badRequest) Error() string { return b.msg }

func badParam(name, format string, args ...any) error {
	return badRequest{fmt.Sprintf("parameter %s: %s", name, fmt.Sprintf(format, args...))}
}

// status maps an error onto an HTTP status and the message the client
// sees: a server's failure is logged, and the client is told only that.
func (e *Explorer) status(r *http.Request, err error) (int, string) {
	var br badRequest
	switch {
	case errors.As(err, &br):
		return http.StatusBadRequest, br.msg
	case errors.Is(err, store.ErrNotFound):
		msg := strings.TrimPrefix(err.Error(), "store: ")
		return http.StatusNotFound, strings.Replace(msg, ": "+store.ErrNotFound.Error(), ": not found", 1)
	case errors.Is(err, context.DeadlineExceeded):
		e.o.Logf("explorer: %s %s: %v", r.Method, r.URL.Path, err)
		return http.StatusServiceUnavailable, "the query took too long"
	}
	e.o.Logf("explorer: %s %s: %v", r.Method, r.URL.Path, err)
	return http.StatusInternalServerError, "internal error (logged by the server)"
}

type apiError struct {
	Error string `json:"error"`
}

func (e *Explorer) api(h func(*Explorer, context.Context, *http.Request) (any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), e.o.Timeout)
		defer cancel()
		v, err := h(e, ctx, r)
		if err != nil {
			code, msg := e.status(r, err)
			writeJSON(w, code, apiError{Error: msg})
			return
		}
		writeJSON(w, http.StatusOK, v)
	}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		code, b = http.StatusInternalServerError, []byte(`{"error":"internal error (encoding)"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	w.Write(b)
	w.Write([]byte("\n"))
}

// params reads a request's query parameters, refusing those a route does
// not know.
type params struct {
	q     url.Values
	known map[string]bool
	err   error
}

func newParams(r *http.Request, known ...string) *params {
	q, err := url.ParseQuery(r.URL.RawQuery)
	p := &params{q: q, known: map[string]bool{}}
	if err != nil {
		p.fail(badRequest{"malformed query: " + err.Error()})
	}
	for _, k := range known {
		p.known[k] = true
	}
	for k := range q {
		if !p.known[k] {
			p.fail(badParam(k, "unknown (this route takes %s)", orNone(known)))
		}
	}
	return p
}

func orNone(ss []string) string {
	if len(ss) == 0 {
		return "none"
	}
	return strings.Join(ss, ", ")
}

func (p *params) fail(err error) {
	if p.err == nil {
		p.err = err
	}
}

// str returns a parameter's value (at most 2048 bytes of UTF-8).
func (p *params) str(name string) string {
	v := p.q.Get(name)
	if len(v) > 2048 || !utf8.ValidString(v) {
		p.fail(badParam(name, "want at most 2048 bytes of UTF-8"))
		return ""
	}
	return v
}

func (p *params) intIn(name string, lo, hi int) int {
	v := p.str(name)
	if v == "" {
		return 0
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		p.fail(badParam(name, "%q: want an integer from %d to %d", v, lo, hi))
		return 0
	}
	return n
}

func (p *params) boolean(name string) bool {
	switch v := p.str(name); v {
	case "", "false", "0":
		return false
	case "true", "1", "on":
		return true
	default:
		p.fail(badParam(name, "%q: want true or false", v))
		return false
	}
}

// verdicts are those the API accepts in filters.
var verdicts = append(append([]probe.Verdict{}, probe.Verdicts...), probe.Unknown)

func (p *params) verdict(name string) probe.Verdict {
	v := probe.Verdict(p.str(name))
	if v != "" && !slices.Contains(verdicts, v) {
		p.fail(badParam(name, "%q: not a verdict (see /api/v1/glossary)", v))
		return ""
	}
	return v
}

func (p *params) run(name string) string {
	v := p.str(name)
	if v == "" {
		p.fail(badParam(name, "missing"))
		return ""
	}
	if store.ValidRunID(v) != nil {
		p.fail(badParam(name, "%q is not a run id", v))
	}
	return v
}

// cursor returns the key a page continues after, from an opaque cursor
// (a page's next).
func (p *params) cursor(name string) *store.Key {
	v := p.str(name)
	if v == "" {
		return nil
	}
	k, err := decodeCursor(v)
	if err != nil {
		p.fail(badParam(name, "not a cursor from a page's next"))
		return nil
	}
	return k
}

// encodeCursor makes a key into a cursor for the next page.
func encodeCursor(k *store.Key) string {
	if k == nil {
		return ""
	}
	return base64.RawURLEncoding.EncodeToString([]byte(k.Vantage + "\x00" + k.Input))
}

func decodeCursor(s string) (*store.Key, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, err
	}
	v, in, ok := strings.Cut(string(b), "\x00")
	if !ok || !utf8.ValidString(v) || !utf8.ValidString(in) {
		return nil, errors.New("explorer: bad cursor")
	}
	return &store.Key{Vantage: v, Input: in}, nil
}

// pathRun returns the {run} of a path, checked.
func pathRun(r *http.Request) (string, error) {
	id := r.PathValue("run")
	if err := store.ValidRunID(id); err != nil {
		return "", badRequest{fmt.Sprintf("run %q is not a run id", id)}
	}
	return id, nil
}
