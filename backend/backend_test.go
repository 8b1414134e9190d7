package backend_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"encoding/xml"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pion/stun/v3"
	"go.uber.org/goleak"

	"github.com/splinter-lab/splinter/backend"
	"github.com/splinter-lab/splinter/pki"
)

// TestMain checks that the services leave no goroutine behind.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// loopback is the machine's own network, on 127.0.0.1 only.
type loopback struct{}

func (loopback) Listen(network, address string) (net.Listener, error) {
	return net.Listen(network, address)
}

func (loopback) ListenPacket(network, address string) (net.PacketConn, error) {
	return net.ListenPacket(network, address)
}

// fixedClock is a clock that stands still.
type fixedClock struct{ t time.Time }

func (c fixedClock) Now() time.Time { return c.t }

var t0 = time.Date(2026, 11, 22, 9, 6, 17, 0, time.UTC)

// startLoopback starts the services on 127.0.0.1 with a test helper stub
// and returns them with a client that trusts their CA.
func startLoopback(t *testing.T, cfg backend.Config) (*backend.Backend, *http.Client) {
	t.Helper()
	ca, err := pki.NewCA("backend test CA", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg.TLS = ca.ServerTLSConfig()
	cfg.HTTP, cfg.HTTPS, cfg.STUN = "127.0.0.1:0", "127.0.0.1:0", []string{"127.0.0.1:0"}
	if cfg.Clock == nil {
		cfg.Clock = fixedClock{t0}
	}
	b, err := backend.Start(context.Background(), loopback{}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}, ForceAttemptHTTP2: true}
	t.Cleanup(tr.CloseIdleConnections)
	return b, &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

func do(t *testing.T, c *http.Client, method, url string, body any) (int, []byte) {
	t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		r = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, data
}

func decode[T any](t *testing.T, data []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatalf("%v: %s", err, data)
	}
	return v
}

// TestProbeServices walks the API as probe-cli does, over HTTPS and HTTP:
// the test helpers list, check-in, registration and login.
func TestProbeServices(t *testing.T) {
	helper := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "helper "+r.Method) })
	b, c := startLoopback(t, backend.Config{
		Helper:   helper,
		Features: map[string]bool{"webconnectivity_0.5": false},
		URLs: []backend.URL{
			{CategoryCode: "NEWS", CountryCode: "CN", URL: "https://www.freepress-herald.com/"},
			{CategoryCode: "ANON", URL: "https://www.tunnelgate-vpn.com/"},
		},
	})
	u := b.URLs()
	if !strings.HasPrefix(u.HTTPS, "https://127.0.0.1:") || !strings.HasPrefix(u.HTTP, "http://127.0.0.1:") || u.ProbeServices != u.HTTPS {
		t.Fatalf("URLs = %+v", u)
	}
	for _, base := range []string{u.HTTPS, u.HTTP} {
		code, data := do(t, c, "GET", base+"/api/v1/test-helpers", nil)
		ths := decode[map[string][]backend.Service](t, data)
		want := []backend.Service{{Address: u.HTTPS, Type: "https"}, {Address: u.HTTP, Type: "https"}}
		if code != 200 || len(ths["web-connectivity"]) != 2 || ths["web-connectivity"][0] != want[0] || ths["web-connectivity"][1] != want[1] {
			t.Errorf("test-helpers: %d %s", code, data)
		}
		// The helper answers on the addresses the list gives.
		for _, th := range ths["web-connectivity"] {
			if code, data := do(t, c, "POST", th.Address+"/", "{}"); code != 200 || string(data) != "helper POST" {
				t.Errorf("helper at %s: %d %q", th.Address, code, data)
			}
		}
	}

	// Check-in, as probe-cli's session posts it.
	code, data := do(t, c, "POST", u.HTTPS+"/api/v1/check-in", map[string]any{
		"charging": true, "on_wifi": true, "platform": "linux", "probe_asn": "AS4134", "probe_cc": "CN",
		"run_type": "timed", "software_name": "miniooni", "software_version": "3.21.0",
		"web_connectivity": map[string]any{"category_codes": []string{"NEWS"}},
	})
	type checkIn struct {
		Conf struct {
			Features    map[string]bool              `json:"features"`
			TestHelpers map[string][]backend.Service `json:"test_helpers"`
		} `json:"conf"`
		ProbeASN string `json:"probe_asn"`
		ProbeCC  string `json:"probe_cc"`
		Tests    struct {
			WebConnectivity struct {
				ReportID string        `json:"report_id"`
				URLs     []backend.URL `json:"urls"`
			} `json:"web_connectivity"`
		} `json:"tests"`
		UTCTime time.Time `json:"utc_time"`
		V       int64     `json:"v"`
	}
	ci := decode[checkIn](t, data)
	wc := ci.Tests.WebConnectivity
	if code != 200 || ci.V != 1 || ci.ProbeCC != "CN" || ci.ProbeASN != "AS4134" || !ci.UTCTime.Equal(t0) ||
		len(ci.Conf.TestHelpers["web-connectivity"]) != 2 || ci.Conf.Features["webconnectivity_0.5"] ||
		len(wc.URLs) != 1 || wc.URLs[0].URL != "https://www.freepress-herald.com/" ||
		!regexp.MustCompile(`^20261122T090617Z_webconnectivity_CN_4134_n1_[A-Za-z]{16}$`).MatchString(wc.ReportID) {
		t.Errorf("check-in: %d %s", code, data)
	}
	// Without categories, every URL, with defaults for what is missing.
	_, data = do(t, c, "POST", u.HTTPS+"/api/v1/check-in", map[string]any{"probe_cc": "US"})
	if urls := decode[checkIn](t, data).Tests.WebConnectivity.URLs; len(urls) != 2 || urls[1].CountryCode != "XX" {
		t.Errorf("check-in without categories: %s", data)
	}
	_, data = do(t, c, "GET", u.HTTP+"/api/v1/test-list/urls?category_codes=ANON", nil)
	if tl := decode[struct {
		Metadata struct{ Count int } `json:"metadata"`
		Results  []backend.URL       `json:"results"`
	}](t, data); tl.Metadata.Count != 1 || tl.Results[0].CategoryCode != "ANON" {
		t.Errorf("test-list/urls: %s", data)
	}

	// Register, then log in.
	code, data = do(t, c, "POST", u.HTTPS+"/api/v1/register", map[string]any{
		"platform": "linux", "probe_asn": "AS4134", "probe_cc": "CN", "software_name": "miniooni",
		"software_version": "3.21.0", "supported_tests": []string{"web_connectivity"}, "password": "p4ss",
	})
	reg := decode[struct {
		ClientID string `json:"client_id"`
	}](t, data)
	if code != 200 || len(reg.ClientID) != 32 {
		t.Errorf("register: %d %s", code, data)
	}
	code, data = do(t, c, "POST", u.HTTPS+"/api/v1/login", map[string]string{"username": reg.ClientID, "password": "p4ss"})
	auth := decode[struct {
		Expire time.Time `json:"expire"`
		Token  string    `json:"token"`
	}](t, data)
	if code != 200 || auth.Token == "" || !auth.Expire.Equal(t0.Add(24*time.Hour)) {
		t.Errorf("login: %d %s", code, data)
	}

	// What a probe does wrong gets a clear 4xx.
	for _, tc := range []struct {
		method, path string
		body         any
		code         int
	}{
		{"POST", "/api/v1/check-in", "not json", 400},
		{"POST", "/api/v1/register", map[string]string{}, 400},
		{"POST", "/api/v1/login", map[string]string{"username": "x"}, 401},
		{"GET", "/api/v1/manifest", nil, 404},
		{"GET", "/api/v1/check-in", nil, 405},
		{"POST", "/api/v1/check-in", strings.Repeat(" ", 1<<20+1), 400},
	} {
		if code, data := do(t, c, tc.method, u.HTTP+tc.path, tc.body); code != tc.code {
			t.Errorf("%s %s: %d %s, want %d", tc.method, tc.path, code, data, tc.code)
		}
	}
}

// TestCollector opens a report, submits measurements, closes it, and finds
// them in the report's file, one JSON line each.
func TestCollector(t *testing.T) {
	dir := t.TempDir()
	b, c := startLoopback(t, backend.Config{Reports: dir})
	base := b.URLs().HTTPS
	tmpl := map[string]string{
		"data_format_version": "0.2.0", "format": "json", "probe_asn": "AS4134", "probe_cc": "CN",
		"software_name": "miniooni", "software_version": "3.21.0", "test_name": "web_connectivity",
		"test_start_time": "2026-11-22 09:06:17", "test_version": "0.4.3",
	}
	code, data := do(t, c, "POST", base+"/report", tmpl)
	open := decode[struct {
		BackendVersion   string   `json:"backend_version"`
		ReportID         string   `json:"report_id"`
		SupportedFormats []string `json:"supported_formats"`
	}](t, data)
	if code != 200 || !strings.HasPrefix(open.ReportID, "20261122T090617Z_webconnectivity_CN_4134_n1_") || !strings.Contains(strings.Join(open.SupportedFormats, ","), "json") {
		t.Fatalf("open: %d %s", code, data)
	}
	id := open.ReportID
	ms := []string{
		`{"input": "https://www.freepress-herald.com/", "report_id": "` + id + `", "test_keys": {"blocking": "dns"}}`,
		`{"input": "http://www.people-daily.cn/", "report_id": "` + id + `", "test_keys": {"blocking": false}}`,
	}
	uidRE := regexp.MustCompile(`^20261122090617\.000000_CN_webconnectivity_[0-9a-f]{16}$`)
	for _, m := range ms {
		code, data := do(t, c, "POST", base+"/report/"+id, `{"format": "json", "content": `+m+`}`)
		if code != 200 || !uidRE.MatchString(decode[map[string]string](t, data)["measurement_uid"]) {
			t.Errorf("submit: %d %s", code, data)
		}
	}
	// The newer endpoint names the report inside the measurement.
	late := `{"input": "https://www.tunnelgate-vpn.com/", "report_id": "` + id + `"}`
	if code, data := do(t, c, "POST", base+"/api/v1/submit_measurement", map[string]any{"format": "json", "content": late}); code != 200 {
		t.Errorf("submit_measurement: %d %s", code, data)
	}
	if code, data := do(t, c, "POST", base+"/report/"+id+"/close", ""); code != 200 || string(data) != "{}" {
		t.Errorf("close: %d %s", code, data)
	}
	for _, tc := range []struct {
		name, method, path string
		body               any
		code               int
	}{
		{"after close", "POST", "/report/" + id, `{"format": "json", "content": {}}`, 404},
		{"closed twice", "POST", "/report/" + id + "/close", "", 404},
		{"unknown report", "POST", "/report/20261122T090617Z_webconnectivity_CN_4134_n1_AAAAAAAAAAAAAAAA", `{"format": "json", "content": {}}`, 404},
		{"a path for a report", "POST", "/report/..%2F..%2Fetc%2Fpasswd", `{"format": "json", "content": {}}`, 404},
		{"bad version", "POST", "/report", map[string]string{"data_format_version": "0.1.0", "format": "json", "test_name": "x"}, 400},
		{"yaml", "POST", "/report", map[string]string{"data_format_version": "0.2.0", "format": "yaml", "test_name": "x"}, 400},
		{"not a measurement", "POST", "/api/v1/submit_measurement", map[string]any{"format": "json", "content": "[1]"}, 400},
	} {
		if code, data := do(t, c, tc.method, base+tc.path, tc.body); code != tc.code {
			t.Errorf("%s: %d %s, want %d", tc.name, code, data, tc.code)
		}
	}

	f, err := os.Open(filepath.Join(dir, id+".jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	want := append(append([]string(nil), ms...), late)
	if len(lines) != len(want) {
		t.Fatalf("%d lines stored, want %d:\n%s", len(lines), len(want), strings.Join(lines, "\n"))
	}
	for i, l := range lines {
		var got, w any
		json.Unmarshal([]byte(l), &got)
		json.Unmarshal([]byte(want[i]), &w)
		if gb, _ := json.Marshal(got); string(gb) != func() string { b, _ := json.Marshal(w); return string(b) }() || strings.Contains(l, "\n") {
			t.Errorf("line %d = %s, want %s", i+1, l, want[i])
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("%d files in the reports directory, want 1", len(entries))
	}
}

// ooniCloudflareIP reads the trace as probe-cli's cloudflare lookup does.
func ooniCloudflareIP(body []byte) string {
	return strings.Trim(string(regexp.MustCompile("(?:ip)=(.*)").Find(body)), "ip=")
}

// TestIPLookup asks the lookups as probe-cli reads them, and the STUN
// server with pion/stun's client, as probe-cli's geolocation does.
func TestIPLookup(t *testing.T) {
	b, c := startLoopback(t, backend.Config{Country: func(a netip.Addr) string {
		if a.IsLoopback() {
			return "ZZ"
		}
		return ""
	}})
	u := b.URLs()
	_, data := do(t, c, "GET", u.HTTPS+"/cdn-cgi/trace", nil)
	if ip := ooniCloudflareIP(data); ip != "127.0.0.1" || !strings.Contains(string(data), "loc=ZZ\n") {
		t.Errorf("cdn-cgi/trace: %q gives %q", data, ip)
	}
	_, data = do(t, c, "GET", u.HTTP+"/lookup", nil)
	var ub struct {
		XMLName xml.Name `xml:"Response"`
		IP      string   `xml:"Ip"`
	}
	if err := xml.Unmarshal(data, &ub); err != nil || ub.IP != "127.0.0.1" {
		t.Errorf("lookup: %q: %v", data, err)
	}
	if _, data = do(t, c, "GET", u.HTTP+"/ip", nil); string(data) != "127.0.0.1\n" {
		t.Errorf("ip: %q", data)
	}

	conn, err := net.Dial("udp", b.STUNAddrs()[0].String())
	if err != nil {
		t.Fatal(err)
	}
	got := stunLookup(t, conn)
	if got != conn.LocalAddr().String() {
		t.Errorf("STUN mapped %s, want %s", got, conn.LocalAddr())
	}
}

// stunLookup asks a binding over conn with pion/stun's client and returns
// the XOR-MAPPED-ADDRESS.
func stunLookup(t *testing.T, conn net.Conn) string {
	t.Helper()
	cl, err := stun.NewClient(conn)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	got := make(chan string, 1)
	err = cl.Start(stun.MustBuild(stun.TransactionID, stun.BindingRequest), func(ev stun.Event) {
		if ev.Error != nil {
			got <- "error: " + ev.Error.Error()
			return
		}
		var xa stun.XORMappedAddress
		if err := xa.GetFrom(ev.Message); err != nil {
			got <- "error: " + err.Error()
			return
		}
		if err := stun.Fingerprint.Check(ev.Message); err != nil {
			got <- "error: " + err.Error()
			return
		}
		got <- xa.String()
	})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case s := <-got:
		return s
	case <-time.After(10 * time.Second):
		t.Fatal("no STUN answer")
	}
	return ""
}

// TestCollectorWithoutReport submits as probe-cli has since July 2026: to
// /api/v1/submit_measurement, with no report opened and no report_id. The
// measurements of one run land in one report the collector opened for
// them, each line carrying its ID; another run gets another report.
func TestCollectorWithoutReport(t *testing.T) {
	dir := t.TempDir()
	b, c := startLoopback(t, backend.Config{Reports: dir})
	base := b.URLs().HTTPS
	run := func(start, input, extra string) string {
		return `{` + extra + `"data_format_version":"0.2.0","input":"` + input + `","probe_asn":"AS4134","probe_cc":"CN","software_name":"miniooni",` +
			`"software_version":"3.31.0-alpha","test_name":"web_connectivity","test_start_time":"` + start + `","test_version":"0.4.3","test_keys":{"blocking":false}}`
	}
	subs := []string{
		run("2026-11-30 19:24:51", "http://www.people-daily.cn/", ""),
		run("2026-11-30 19:24:51", "https://www.freepress-herald.com/", `"report_id":"",`),
		run("2026-11-30 19:30:00", "http://www.people-daily.cn/", ""),
	}
	uidRE := regexp.MustCompile(`^20261122090617\.000000_CN_webconnectivity_[0-9a-f]{16}$`)
	for _, m := range subs {
		code, data := do(t, c, "POST", base+"/api/v1/submit_measurement", map[string]any{"format": "json", "content": m, "nym": nil})
		if code != 200 || !uidRE.MatchString(decode[map[string]string](t, data)["measurement_uid"]) {
			t.Fatalf("submit_measurement: %d %s", code, data)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != 2 {
		t.Fatalf("reports: %v %v, want two (one per run)", entries, err)
	}
	lines := map[string][]map[string]any{}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		id := strings.TrimSuffix(e.Name(), ".jsonl")
		if !strings.HasPrefix(id, "20261122T090617Z_webconnectivity_CN_4134_n1_") {
			t.Errorf("report %s", e.Name())
		}
		for _, l := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
			m := decode[map[string]any](t, []byte(l))
			if m["report_id"] != id || m["probe_cc"] != "CN" || m["test_keys"] == nil {
				t.Errorf("%s: line %s", e.Name(), l)
			}
			lines[m["test_start_time"].(string)] = append(lines[m["test_start_time"].(string)], m)
		}
	}
	if len(lines["2026-11-30 19:24:51"]) != 2 || len(lines["2026-11-30 19:30:00"]) != 1 {
		t.Errorf("runs: %v", lines)
	}
}
