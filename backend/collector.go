package backend

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// maxMeasurement bounds a submitted measurement (16 MiB, as oohelperd bounds
// its bodies: a measurement with bodies of a few pages fits).
const maxMeasurement = 1 << 24

// maxReports bounds the reports the collector keeps track of.
const maxReports = 1 << 16

// reportTemplate is what a probe opens a report with: OONI's
// OOAPIReportTemplate.
type reportTemplate struct {
	DataFormatVersion string `json:"data_format_version"`
	Format            string `json:"format"`
	ProbeASN          string `json:"probe_asn"`
	ProbeCC           string `json:"probe_cc"`
	SoftwareName      string `json:"software_name"`
	SoftwareVersion   string `json:"software_version"`
	TestName          string `json:"test_name"`
	TestStartTime     string `json:"test_start_time"`
	TestVersion       string `json:"test_version"`
}

// report is a report the collector issued.
type report struct {
	open     bool
	cc       string // for measurement UIDs
	testName string
}

// collector keeps reports: one file of JSON lines each, named by the report
// ID it issued (never by anything a client wrote).
type collector struct {
	dir   string
	clock Clock

	randMu sync.Mutex
	rand   io.Reader

	mu      sync.Mutex
	reports map[string]*report

	// runs are the reports opened for measurements submitted without one
	// (runReport), by run.
	runMu sync.Mutex
	runs  map[string]string
}

var (
	errUnknownReport  = errors.New("backend: no such open report")
	errBadMeasurement = errors.New("backend: measurement is not a JSON object")
)

func newCollector(dir string, clock Clock, rand io.Reader) (*collector, error) {
	if dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("backend: reports directory: %w", err)
		}
	}
	return &collector{dir: dir, clock: clock, rand: rand, reports: map[string]*report{}, runs: map[string]string{}}, nil
}

// open issues a report ID in OONI's form
// (20240214T090617Z_webconnectivity_IT_30722_n1_1IvUiXNWHooB5rmD).
func (c *collector) open(t reportTemplate) (string, error) {
	cc := strings.ToUpper(t.ProbeCC)
	if len(cc) != 2 || !isAlpha(cc) {
		cc = "ZZ"
	}
	asn := strings.TrimPrefix(t.ProbeASN, "AS")
	if asn == "" || !isDigits(asn) || len(asn) > 10 {
		asn = "0"
	}
	name := keep(strings.ToLower(t.TestName), "abcdefghijklmnopqrstuvwxyz0123456789")
	if name == "" {
		name = "unknown"
	}
	id := fmt.Sprintf("%s_%s_%s_%s_n1_%s", c.clock.Now().UTC().Format("20060102T150405Z"), name, cc, asn, c.randomLetters(16))
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.reports) >= maxReports {
		return "", errors.New("backend: too many reports")
	}
	c.reports[id] = &report{open: true, cc: cc, testName: name}
	return id, nil
}

// store appends a measurement (a JSON object) to report id's file and
// returns its measurement UID. A closed report takes a measurement only
// when late is set (submit_measurement names its report in the content).
func (c *collector) store(id string, content []byte, late bool) (string, error) {
	var buf bytes.Buffer
	if err := json.Compact(&buf, content); err != nil || buf.Len() == 0 || buf.Bytes()[0] != '{' {
		return "", errBadMeasurement
	}
	buf.WriteByte('\n')
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.reports[id]
	if r == nil || !(r.open || late) {
		return "", errUnknownReport
	}
	if c.dir != "" {
		f, err := os.OpenFile(filepath.Join(c.dir, id+".jsonl"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			return "", fmt.Errorf("backend: %w", err)
		}
		_, err = f.Write(buf.Bytes())
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return "", fmt.Errorf("backend: %w", err)
		}
	}
	return fmt.Sprintf("%s_%s_%s_%s", c.clock.Now().UTC().Format("20060102150405.000000"), r.cc, r.testName, c.randomHex(8)), nil
}

// close closes report id.
func (c *collector) close(id string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.reports[id]
	if r == nil || !r.open {
		return errUnknownReport
	}
	r.open = false
	return nil
}

func (c *collector) random(n int) []byte {
	b := make([]byte, n)
	c.randMu.Lock()
	defer c.randMu.Unlock()
	if _, err := io.ReadFull(c.rand, b); err != nil {
		panic("backend: random source failed: " + err.Error())
	}
	return b
}

const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"

// randomLetters is n random ASCII letters (the random part of OONI's IDs).
func (c *collector) randomLetters(n int) string {
	b := c.random(n)
	for i := range b {
		b[i] = letters[int(b[i])%len(letters)]
	}
	return string(b)
}

func (c *collector) randomHex(n int) string { return hex.EncodeToString(c.random(n)) }

func isAlpha(s string) bool {
	return keep(strings.ToUpper(s), "ABCDEFGHIJKLMNOPQRSTUVWXYZ") == strings.ToUpper(s)
}

func isDigits(s string) bool { return keep(s, "0123456789") == s }

// keep is s with only the bytes of set.
func keep(s, set string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(set, s[i]) >= 0 {
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// openReport: POST /report with a report template.
func (b *Backend) openReport(w http.ResponseWriter, r *http.Request) {
	var t reportTemplate
	if readJSON(w, r, maxAPIBody, &t) != nil {
		return
	}
	switch {
	case t.DataFormatVersion != "0.2.0":
		http.Error(w, "unsupported data_format_version", http.StatusBadRequest)
		return
	case t.Format != "json":
		http.Error(w, "unsupported format", http.StatusBadRequest)
		return
	case t.TestName == "":
		http.Error(w, "no test_name", http.StatusBadRequest)
		return
	}
	id, err := b.col.open(t)
	if err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	writeJSON(w, map[string]any{"backend_version": "splinter", "report_id": id, "supported_formats": []string{"yaml", "json"}})
}

// submit: POST /report/{id} with {"format": "json", "content": {...}}.
func (b *Backend) submit(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Format  string          `json:"format"`
		Content json.RawMessage `json:"content"`
	}
	if readJSON(w, r, maxMeasurement, &req) != nil {
		return
	}
	if req.Format != "json" {
		http.Error(w, "unsupported format", http.StatusBadRequest)
		return
	}
	b.storeAndAnswer(w, r.PathValue("id"), req.Content, false)
}

// submitMeasurement: POST /api/v1/submit_measurement with the measurement
// as a string, its report named by its report_id; a measurement without
// one (probe-cli submits so since July 2026, opening no report) goes to the
// report the collector opens for its run, whose ID it then carries.
func (b *Backend) submitMeasurement(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Format  string `json:"format"`
		Content string `json:"content"`
	}
	if readJSON(w, r, maxMeasurement, &req) != nil {
		return
	}
	var m struct {
		ReportID *string `json:"report_id"`
		reportTemplate
	}
	if req.Format != "json" || json.Unmarshal([]byte(req.Content), &m) != nil {
		http.Error(w, "content is not a JSON measurement", http.StatusBadRequest)
		return
	}
	content := []byte(req.Content)
	if m.ReportID != nil && *m.ReportID != "" {
		b.storeAndAnswer(w, *m.ReportID, content, true)
		return
	}
	id, err := b.col.runReport(m.reportTemplate)
	if err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	if content, err = withReportID(content, id, m.ReportID != nil); err != nil {
		http.Error(w, "content is not a JSON measurement", http.StatusBadRequest)
		return
	}
	b.storeAndAnswer(w, id, content, true)
}

// runReport is the report of a run: the one the collector opened for the
// first measurement submitted without a report with the same software,
// test, probe_cc, probe_asn and test_start_time, or a new one.
func (c *collector) runReport(t reportTemplate) (string, error) {
	key := strings.Join([]string{t.SoftwareName, t.SoftwareVersion, t.TestName, t.TestVersion, t.ProbeCC, t.ProbeASN, t.TestStartTime}, "\x00")
	c.runMu.Lock()
	defer c.runMu.Unlock()
	if id, ok := c.runs[key]; ok {
		return id, nil
	}
	id, err := c.open(t)
	if err != nil {
		return "", err
	}
	c.runs[key] = id
	return id, nil
}

// withReportID is a measurement (a JSON object) with its report_id set to
// id: added first when it has none, replaced when it is there but empty.
func withReportID(content []byte, id string, present bool) ([]byte, error) {
	rid, err := json.Marshal(id)
	if err != nil {
		return nil, err
	}
	if present {
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(content, &fields); err != nil {
			return nil, errBadMeasurement
		}
		fields["report_id"] = rid
		return json.Marshal(fields)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, content); err != nil || buf.Len() < 2 || buf.Bytes()[0] != '{' {
		return nil, errBadMeasurement
	}
	rest := buf.Bytes()[1:]
	out := append([]byte(`{"report_id":`), rid...)
	if !bytes.Equal(rest, []byte("}")) {
		out = append(out, ',')
	}
	return append(out, rest...), nil
}

func (b *Backend) storeAndAnswer(w http.ResponseWriter, id string, content []byte, late bool) {
	uid, err := b.col.store(id, content, late)
	switch {
	case errors.Is(err, errUnknownReport):
		http.Error(w, err.Error(), http.StatusNotFound)
	case errors.Is(err, errBadMeasurement):
		http.Error(w, err.Error(), http.StatusBadRequest)
	case err != nil:
		http.Error(w, err.Error(), http.StatusInternalServerError)
	default:
		writeJSON(w, map[string]string{"measurement_uid": uid})
	}
}

// closeReport: POST /report/{id}/close.
func (b *Backend) closeReport(w http.ResponseWriter, r *http.Request) {
	if err := b.col.close(r.PathValue("id")); err != nil {
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	}
	writeJSON(w, map[string]any{})
}
