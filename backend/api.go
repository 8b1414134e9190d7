package backend

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"
)

// maxAPIBody bounds an API request's body; the collector takes more.
const maxAPIBody = 1 << 20

// routes maps the endpoints (see the package doc).
func (b *Backend) routes() *http.ServeMux {
	m := http.NewServeMux()
	m.HandleFunc("GET /api/v1/test-helpers", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, b.testHelpers())
	})
	m.HandleFunc("POST /api/v1/check-in", b.checkIn)
	m.HandleFunc("POST /api/v1/register", b.register)
	m.HandleFunc("POST /api/v1/login", b.login)
	m.HandleFunc("GET /api/v1/test-list/urls", b.testList)
	m.HandleFunc("POST /report", b.openReport)
	m.HandleFunc("POST /report/{id}", b.submit)
	m.HandleFunc("POST /report/{id}/close", b.closeReport)
	m.HandleFunc("POST /api/v1/submit_measurement", b.submitMeasurement)
	m.HandleFunc("GET /cdn-cgi/trace", b.cloudflareTrace)
	m.HandleFunc("GET /lookup", b.ubuntuLookup)
	m.HandleFunc("GET /ip", b.plainIP)
	if b.cfg.Helper != nil {
		m.Handle("/{$}", b.cfg.Helper)
	}
	return m
}

// checkInRequest is OONI's OOAPICheckInConfig, the part of it we read.
type checkInRequest struct {
	ProbeASN        string `json:"probe_asn"`
	ProbeCC         string `json:"probe_cc"`
	SoftwareName    string `json:"software_name"`
	SoftwareVersion string `json:"software_version"`
	WebConnectivity struct {
		CategoryCodes []string `json:"category_codes"`
	} `json:"web_connectivity"`
}

// checkInResponse is OONI's OOAPICheckInResult.
type checkInResponse struct {
	Conf struct {
		Features    map[string]bool      `json:"features"`
		TestHelpers map[string][]Service `json:"test_helpers"`
	} `json:"conf"`
	ProbeASN string `json:"probe_asn"`
	ProbeCC  string `json:"probe_cc"`
	Tests    struct {
		WebConnectivity *checkInWebConnectivity `json:"web_connectivity"`
	} `json:"tests"`
	UTCTime time.Time `json:"utc_time"`
	V       int64     `json:"v"`
}

type checkInWebConnectivity struct {
	ReportID string `json:"report_id"`
	URLs     []URL  `json:"urls"`
}

// checkIn hands out the test list (of the categories asked for, all when
// none), the test helpers, the feature flags and a report ID for
// web_connectivity, open on the collector.
func (b *Backend) checkIn(w http.ResponseWriter, r *http.Request) {
	var req checkInRequest
	if readJSON(w, r, maxAPIBody, &req) != nil {
		return
	}
	var resp checkInResponse
	resp.V = 1
	resp.ProbeASN, resp.ProbeCC = req.ProbeASN, req.ProbeCC
	resp.UTCTime = b.cfg.Clock.Now().UTC().Truncate(time.Second)
	resp.Conf.Features = b.cfg.Features
	if resp.Conf.Features == nil {
		resp.Conf.Features = map[string]bool{}
	}
	resp.Conf.TestHelpers = b.testHelpers()
	id, err := b.col.open(reportTemplate{TestName: "web_connectivity", ProbeASN: req.ProbeASN, ProbeCC: req.ProbeCC})
	if err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	resp.Tests.WebConnectivity = &checkInWebConnectivity{ReportID: id, URLs: b.urls(req.WebConnectivity.CategoryCodes)}
	writeJSON(w, resp)
}

// urls is the test list, of the given categories (all when none).
func (b *Backend) urls(categories []string) []URL {
	out := []URL{}
	for _, u := range b.cfg.URLs {
		if len(categories) == 0 || slices.Contains(categories, u.CategoryCode) {
			if u.CountryCode == "" {
				u.CountryCode = "XX"
			}
			if u.CategoryCode == "" {
				u.CategoryCode = "MISC"
			}
			out = append(out, u)
		}
	}
	return out
}

// testList is the older test list endpoint: ?category_codes=A,B.
func (b *Backend) testList(w http.ResponseWriter, r *http.Request) {
	var cats []string
	if c := r.URL.Query().Get("category_codes"); c != "" {
		cats = strings.Split(c, ",")
	}
	urls := b.urls(cats)
	writeJSON(w, map[string]any{"metadata": map[string]int{"count": len(urls)}, "results": urls})
}

// register gives a probe a client ID (OONI's OOAPIRegisterResponse); its
// metadata and password are not kept.
func (b *Backend) register(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Password string `json:"password"`
		Platform string `json:"platform"`
	}
	if readJSON(w, r, maxAPIBody, &req) != nil {
		return
	}
	if req.Password == "" {
		http.Error(w, "register: no password", http.StatusBadRequest)
		return
	}
	writeJSON(w, map[string]string{"client_id": b.col.randomLetters(32)})
}

// login gives any registered-looking probe a token for a day (OONI's
// OOAPILoginAuth).
func (b *Backend) login(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Username string `json:"username"`
		Password string `json:"password"`
	}
	if readJSON(w, r, maxAPIBody, &req) != nil {
		return
	}
	if req.Username == "" || req.Password == "" {
		http.Error(w, "login: no credentials", http.StatusUnauthorized)
		return
	}
	writeJSON(w, map[string]any{
		"expire": b.cfg.Clock.Now().UTC().Add(24 * time.Hour).Truncate(time.Second),
		"token":  b.col.randomLetters(40),
	})
}

// readJSON decodes the request's body into v, at most limit bytes, and
// answers 400 when it cannot.
func readJSON(w http.ResponseWriter, r *http.Request, limit int64, v any) error {
	data, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err == nil && int64(len(data)) > limit {
		err = errors.New("body too large")
	}
	if err == nil {
		err = json.Unmarshal(data, v)
	}
	if err != nil {
		http.Error(w, "bad request: "+err.Error(), http.StatusBadRequest)
		return errBadRequest
	}
	return nil
}

func writeJSON(w http.ResponseWriter, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(data)
}
