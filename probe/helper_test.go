package probe_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/splinter-lab/splinter/probe"
	"github.com/splinter-lab/splinter/world"
)

// helperCase is one file of testdata/oohelperd: a request to the test
// helper and oohelperd's answer to it in the lab world, reconstructed from
// probe-cli's internal/oohelperd (7cb22410c) and checked against the
// answers oohelperd recorded in probe-cli's QA scenarios
// (internal/minipipeline/testdata/webconnectivity/generated/*/measurement.json:
// successWithHTTP, websiteDownNXDOMAIN, websiteDownTCPConnect,
// tlsBlockingConnectionResetWithConsistentDNS) and ts-017's example.
//
// In the response, "$ANY" stands for any non-null value (a Date header)
// and "$BODY_LENGTH" for the length of the page the oracle URL serves, as
// a number or, in a header, its decimal string: the world's pages are
// content, not helper behaviour.
type helperCase struct {
	About    string          `json:"about"`
	Host     string          `json:"host"`
	Oracle   string          `json:"oracle"`
	Request  json.RawMessage `json:"request"`
	Response json.RawMessage `json:"response"`
}

// helperPolicy resets every TLS handshake with the target's SNI at XX's
// border: the helper on xx-client-1 stands behind it.
const helperPolicy = `name: case
lists:
  names: {kind: domains, items: [` + target + `]}
rules:
  - id: r
    source: helper test
    year: 2024
    scope: {protocols: [tcp]}
    match: [{tls-sni: {list: names}}]
    actions: [{rst: {to: both, flags: rst-ack}}]
`

// TestHelperAnswersAsOohelperd posts each request of testdata/oohelperd to
// the helper over HTTP, as a probe does, and compares the answer with
// oohelperd's field by field: every key, value and failure string, the
// order of the keys, and the keys left out.
func TestHelperAnswersAsOohelperd(t *testing.T) {
	t.Parallel()
	l := startLab(t, helperPolicy)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	// startLab serves the helper on fr-control; another stands behind
	// XX's border.
	xx := l.World().Host("xx-client-1")
	xxAddr, err := probe.ServeControl(ctx, xx, probe.Config{RootCAs: l.World().CA().Pool(), Geo: probe.PlanGeo(l.World().Plan())})
	if err != nil {
		t.Fatal(err)
	}
	helpers := map[string]netip.AddrPort{
		"fr-control":  netip.AddrPortFrom(l.World().Host("fr-control").Addrs()[0], 80),
		"xx-client-1": xxAddr,
	}
	files, err := filepath.Glob(filepath.Join("testdata", "oohelperd", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no cases: %v", err)
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".json"), func(t *testing.T) {
			t.Parallel()
			var c helperCase
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(data, &c); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			h := l.World().Host(c.Host)
			got := postHelper(t, h, helpers[c.Host], c.Request)
			bodyLength := -1
			if c.Oracle != "" {
				bodyLength = oracleLength(t, h, c.Oracle)
			}
			var want, have any
			if err := json.Unmarshal(c.Response, &want); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(got, &have); err != nil {
				t.Fatalf("answer is not JSON: %v\n%s", err, got)
			}
			for _, d := range diffJSON("", want, have, bodyLength) {
				t.Error(d)
			}
			if w, g := topKeys(t, c.Response), topKeys(t, got); !slices.Equal(w, g) {
				t.Errorf("keys in order %v, oohelperd's %v", g, w)
			}
			if t.Failed() {
				t.Logf("answer: %s", got)
			}
		})
	}
}

// TestHelperShapeMatchesSpec compares the shape of the helper's answer to
// ts-017's example request (an existing site over https://, QUIC off)
// with the spec's example response: the same keys in the same order, the
// same value types, endpoint and address maps alike.
func TestHelperShapeMatchesSpec(t *testing.T) {
	t.Parallel()
	l := startLab(t, "")
	h := l.World().Host("fr-control")
	req := fmt.Sprintf(`{"http_request": "https://%s/", "http_request_headers": {"Accept": ["text/html"]},
		"tcp_connect": ["198.18.96.71:443", "[2001:db8:1:1::7]:443"], "x_quic_enabled": false}`, target)
	got := postHelper(t, h, netip.AddrPortFrom(h.Addrs()[0], 80), []byte(req))
	spec, err := os.ReadFile(filepath.Join("testdata", "oohelperd-spec", "ts-017-example-response.json"))
	if err != nil {
		t.Fatal(err)
	}
	var sv, gv any
	if err := json.Unmarshal(spec, &sv); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(got, &gv); err != nil {
		t.Fatal(err)
	}
	// The example's site advertised no h3; ours does. Both are strings.
	if s, g := shape("", sv), shape("", gv); s != g {
		t.Errorf("shape differs from ts-017's example:\n got  %s\n spec %s", g, s)
	}
	if s, g := topKeys(t, spec), topKeys(t, got); !slices.Equal(s, g) {
		t.Errorf("keys in order %v, ts-017's example %v", g, s)
	}
}

// TestHelperHTTP checks the helper's HTTP behaviour outside measurements,
// as oohelperd's handler has it: GET is a health check, other methods and
// bad bodies an empty 400, and the Server header names oohelperd.
func TestHelperHTTP(t *testing.T) {
	t.Parallel()
	l := startLab(t, "")
	h := l.World().Host("fr-control")
	base := "http://" + netip.AddrPortFrom(h.Addrs()[0], 80).String() + "/"
	c := h.HTTPClient()
	for _, tc := range []struct {
		method, body string
		code         int
		want         string
	}{
		{"GET", "", 200, `{"message":"Hello OONItarian!"}`},
		{"PUT", "{}", 400, ""},
		{"POST", "not json", 400, ""},
		{"POST", `{"http_request": "http://[::1"}`, 400, ""},
	} {
		req, _ := http.NewRequest(tc.method, base, strings.NewReader(tc.body))
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.code || string(b) != tc.want {
			t.Errorf("%s %q: %d %q, want %d %q", tc.method, tc.body, resp.StatusCode, b, tc.code, tc.want)
		}
		if s := resp.Header.Get("Server"); !strings.HasPrefix(s, "oohelperd/") {
			t.Errorf("%s: Server %q", tc.method, s)
		}
	}
}

func postHelper(t *testing.T, h *world.Host, addr netip.AddrPort, req []byte) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	hr, _ := http.NewRequestWithContext(ctx, "POST", "http://"+addr.String()+"/", bytes.NewReader(req))
	hr.Header.Set("Content-Type", "application/json")
	resp, err := h.HTTPClient().Do(hr)
	if err != nil {
		t.Fatalf("POST to the helper: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("helper answered %d %q: %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	return body
}

// oracleLength is the length of the page at u, fetched directly from h.
func oracleLength(t *testing.T, h *world.Host, u string) int {
	t.Helper()
	resp, err := h.HTTPClient().Get(u)
	if err != nil {
		t.Fatalf("oracle %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("oracle %s: %v", u, err)
	}
	return len(b)
}

// diffJSON lists the differences between oohelperd's answer (want, with
// its placeholders) and the helper's, by path.
func diffJSON(path string, want, got any, bodyLength int) []string {
	switch w := want.(type) {
	case string:
		switch w {
		case "$ANY":
			if got == nil {
				return []string{path + ": null, want a value"}
			}
			return nil
		case "$BODY_LENGTH":
			switch g := got.(type) {
			case float64:
				if int(g) == bodyLength {
					return nil
				}
			case string:
				if g == strconv.Itoa(bodyLength) {
					return nil
				}
			}
			return []string{fmt.Sprintf("%s: %v, want the page's length %d", path, got, bodyLength)}
		}
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return []string{fmt.Sprintf("%s: %s, want an object", path, jsonText(got))}
		}
		var out []string
		for _, k := range sortedKeys(w) {
			gv, ok := g[k]
			if !ok {
				out = append(out, path+"."+k+": missing")
				continue
			}
			out = append(out, diffJSON(path+"."+k, w[k], gv, bodyLength)...)
		}
		for _, k := range sortedKeys(g) {
			if _, ok := w[k]; !ok {
				out = append(out, fmt.Sprintf("%s.%s: %s, oohelperd has no such key", path, k, jsonText(g[k])))
			}
		}
		return out
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return []string{fmt.Sprintf("%s: %s, want %s", path, jsonText(got), jsonText(want))}
		}
		var out []string
		for i := range w {
			out = append(out, diffJSON(fmt.Sprintf("%s[%d]", path, i), w[i], g[i], bodyLength)...)
		}
		return out
	}
	if jsonText(want) != jsonText(got) {
		return []string{fmt.Sprintf("%s: %s, want %s", path, jsonText(got), jsonText(want))}
	}
	return nil
}

// shape describes a JSON value by its keys and value types; the entries of
// maps keyed by endpoint, address or header name are described once, and
// must all be alike.
func shape(path string, v any) string {
	switch x := v.(type) {
	case map[string]any:
		switch path {
		case ".tcp_connect", ".tls_handshake", ".quic_handshake", ".ip_info", ".http_request.headers":
			seen := ""
			for _, k := range sortedKeys(x) {
				s := shape(path+".*", x[k])
				if seen != "" && s != seen {
					return "{*: mixed " + seen + " | " + s + "}"
				}
				seen = s
			}
			return "{*: " + seen + "}"
		}
		var parts []string
		for _, k := range sortedKeys(x) {
			parts = append(parts, k+": "+shape(path+"."+k, x[k]))
		}
		return "{" + strings.Join(parts, ", ") + "}"
	case []any:
		if len(x) == 0 {
			return "[]"
		}
		return "[" + shape(path+"[]", x[0]) + "]"
	case string:
		if strings.HasSuffix(path, ".failure") {
			return "string|null"
		}
		return "string"
	case float64:
		return "number"
	case bool:
		return "bool"
	}
	if strings.HasSuffix(path, ".failure") {
		return "string|null" // a failure is either
	}
	return "null"
}

// topKeys are the keys of a JSON object in the order they appear.
func topKeys(t *testing.T, data []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not an object: %s", data)
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

func sortedKeys(m map[string]any) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
