package probe

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"time"
)

// OONI data format constants.
const (
	DataFormatVersion = "0.2.0"
	SoftwareName      = "splinter"
	SoftwareVersion   = "0.1.0"
	TestName          = "web_connectivity"
	TestVersion       = "0.4.3"
	// TimeFormat is the format of OONI's time keys (UTC).
	TimeFormat = "2006-01-02 15:04:05"
)

// Measurement is one OONI measurement (df-000's base keys) whose test_keys
// are web_connectivity's.
type Measurement struct {
	Annotations          map[string]string `json:"annotations"`
	DataFormatVersion    string            `json:"data_format_version"`
	Input                string            `json:"input"`
	MeasurementStartTime string            `json:"measurement_start_time"`
	ProbeASN             string            `json:"probe_asn"`
	ProbeCC              string            `json:"probe_cc"`
	ProbeIP              netip.Addr        `json:"probe_ip"`
	ProbeNetworkName     string            `json:"probe_network_name"`
	ReportID             string            `json:"report_id"`
	ResolverASN          string            `json:"resolver_asn"`
	ResolverIP           netip.Addr        `json:"resolver_ip"`
	ResolverNetworkName  string            `json:"resolver_network_name"`
	SoftwareName         string            `json:"software_name"`
	SoftwareVersion      string            `json:"software_version"`
	TestHelpers          map[string]any    `json:"test_helpers"`
	TestKeys             *TestKeys         `json:"test_keys"`
	TestName             string            `json:"test_name"`
	TestRuntime          float64           `json:"test_runtime"`
	TestStartTime        string            `json:"test_start_time"`
	TestVersion          string            `json:"test_version"`
}

// TestKeys are web_connectivity's test keys (ooni/spec ts-017), with
// splinter's additions prefixed x_.
type TestKeys struct {
	Agent          string     `json:"agent"`
	ClientResolver netip.Addr `json:"client_resolver"`
	Retries        *int       `json:"retries"`
	SOCKSProxy     *string    `json:"socksproxy"`

	Queries       []DNSQuery     `json:"queries"`
	TCPConnect    []TCPConnect   `json:"tcp_connect"`
	TLSHandshakes []TLSHandshake `json:"tls_handshakes"`
	Requests      []HTTPRequest  `json:"requests"`

	Control        *ControlResponse `json:"control"`
	ControlFailure *string          `json:"control_failure"`

	DNSExperimentFailure  *string  `json:"dns_experiment_failure"`
	DNSConsistency        *string  `json:"dns_consistency"`
	HTTPExperimentFailure *string  `json:"http_experiment_failure"`
	BodyLengthMatch       *bool    `json:"body_length_match"`
	BodyProportion        *float64 `json:"body_proportion"`
	StatusCodeMatch       *bool    `json:"status_code_match"`
	HeadersMatch          *bool    `json:"headers_match"`
	TitleMatch            *bool    `json:"title_match"`

	Accessible *bool    `json:"accessible"`
	Blocking   Blocking `json:"blocking"`

	// Splinter's additions.
	QUICHandshakes []QUICHandshake `json:"x_quic_handshakes"`
	Throughput     *Throughput     `json:"x_throughput"`
	Residual       *ResidualCheck  `json:"x_residual"`
	// baseline is the benign request made before the measurement's own
	// (ResidualCheck.Before), kept for the residual test.
	baseline *benignOutcome
	DNSRace  bool    `json:"x_dns_race"`
	Verdict  Verdict `json:"x_verdict"`
	// Methods are every blocking method the analysis found, in Verdicts
	// order; the verdict is the first.
	Methods       []Verdict `json:"x_methods"`
	VerdictReason string    `json:"x_verdict_reason"`
	// Timeout names the timeout the verdict rests on, if it rests on one
	// (see TimeoutBasis); such a verdict was measured again before it was
	// reported, unless Config.Retries forbade it.
	Timeout TimeoutBasis `json:"x_timeout,omitempty"`
	// Attempts are the earlier attempts of a measurement made again
	// because their verdict rested on a timeout, oldest first: what each
	// saw. These test keys are the last attempt's.
	Attempts []Attempt `json:"x_attempts,omitempty"`
	// TimeoutFactor is the pacer's factor when the attempt started: its
	// timeouts were that many times the configured ones (absent for 1).
	TimeoutFactor float64 `json:"x_timeout_factor,omitempty"`
	Vantage       Vantage `json:"x_vantage"`
	// Start is when the measurement started, to the nanosecond.
	Start time.Time `json:"x_start"`
}

// Blocking is web_connectivity's blocking key: false (BlockingNone), null
// (BlockingUnknown) or a method string ("dns", "tcp_ip", "http-failure",
// "http-diff").
type Blocking string

// Blocking values.
const (
	BlockingNone        Blocking = ""
	BlockingUnknown     Blocking = "null"
	BlockingDNS         Blocking = "dns"
	BlockingTCPIP       Blocking = "tcp_ip"
	BlockingHTTPFailure Blocking = "http-failure"
	BlockingHTTPDiff    Blocking = "http-diff"
)

// MarshalJSON writes false, null or the method.
func (b Blocking) MarshalJSON() ([]byte, error) {
	switch b {
	case BlockingNone:
		return []byte("false"), nil
	case BlockingUnknown:
		return []byte("null"), nil
	}
	return json.Marshal(string(b))
}

// UnmarshalJSON reads false, null or a string.
func (b *Blocking) UnmarshalJSON(d []byte) error {
	switch string(d) {
	case "false":
		*b = BlockingNone
		return nil
	case "null":
		*b = BlockingUnknown
		return nil
	}
	var s string
	if err := json.Unmarshal(d, &s); err != nil {
		return fmt.Errorf("probe: blocking: %w", err)
	}
	*b = Blocking(s)
	return nil
}

// Verdict is splinter's verdict on a measurement: OONI's blocking methods
// with the failures told apart further.
type Verdict string

// Verdicts.
const (
	Accessible  Verdict = "accessible"   // blocking false, accessible true
	DNS         Verdict = "dns"          // DNS answers inconsistent with the control
	TCPIP       Verdict = "tcp_ip"       // no TCP connection to the site's addresses
	HTTPFailure Verdict = "http-failure" // the HTTP fetch failed after its TLS handshake, or over plain HTTP
	HTTPDiff    Verdict = "http-diff"    // a different plain HTTP answer (a block page)
	TLS         Verdict = "tls"          // a TLS handshake failed (SNI filtering), the fetch's own included
	QUIC        Verdict = "quic"         // the QUIC handshake failed
	Throttled   Verdict = "throttled"    // reachable, but slowed far down
	Residual    Verdict = "residual"     // blocked, and the block outlived the request
	// NonExistent: the name exists nowhere; the probe's resolver and the
	// control's both answer NXDOMAIN. Not blocked, not accessible.
	NonExistent Verdict = "nonexistent"
	// Down: the website is down; the control could not fetch it either.
	// Not blocked, not accessible (ts-017's expected failure).
	Down    Verdict = "down"
	Unknown Verdict = "unknown" // no control, no verdict
)

// Verdicts lists the verdicts in order of precedence: when a measurement
// shows several, the first wins. The blocking methods come first; then the
// two verdicts that say the site cannot be reached by anyone (a blocking
// method seen beside them still wins: a censor may poison a name that is
// also down); Accessible last; Unknown never mixes. The package doc has the
// table.
var Verdicts = []Verdict{DNS, TCPIP, Residual, HTTPDiff, HTTPFailure, TLS, QUIC, Throttled, NonExistent, Down, Accessible}

// Blocked reports whether v is a blocking verdict.
func (v Verdict) Blocked() bool {
	switch v {
	case Accessible, Unknown, Down, NonExistent, "":
		return false
	}
	return true
}

// Reachable reports whether the probe reached the site: OONI's accessible
// key. A throttled site is reachable.
func (v Verdict) Reachable() bool { return v == Accessible || v == Throttled }

// Blocking returns the OONI blocking key for v.
func (v Verdict) Blocking() Blocking {
	switch v {
	case Accessible, Throttled, Down, NonExistent:
		return BlockingNone
	case DNS:
		return BlockingDNS
	case TCPIP:
		return BlockingTCPIP
	case HTTPDiff:
		return BlockingHTTPDiff
	case HTTPFailure, TLS, QUIC, Residual:
		return BlockingHTTPFailure
	}
	return BlockingUnknown
}

func newMeasurement(input string, start time.Time, v Vantage, reportID string) *Measurement {
	ts := start.UTC().Format(TimeFormat)
	return &Measurement{
		Annotations:          map[string]string{"platform": "splinter", "engine_name": SoftwareName, "vantage": v.Host},
		DataFormatVersion:    DataFormatVersion,
		Input:                input,
		MeasurementStartTime: ts,
		ProbeASN:             fmt.Sprintf("AS%d", v.ASN),
		ProbeCC:              orZZ(v.CC),
		ProbeIP:              firstAddr(v.Addrs),
		ProbeNetworkName:     v.NetworkName,
		ReportID:             reportID,
		ResolverASN:          fmt.Sprintf("AS%d", v.ResolverASN),
		ResolverIP:           v.Resolver,
		ResolverNetworkName:  v.ResolverName,
		SoftwareName:         SoftwareName,
		SoftwareVersion:      SoftwareVersion,
		TestName:             TestName,
		TestStartTime:        ts,
		TestVersion:          TestVersion,
	}
}

func orZZ(cc string) string {
	if cc == "" {
		return "ZZ"
	}
	return cc
}

func firstAddr(as []netip.Addr) netip.Addr {
	for _, a := range as {
		if a.Is4() {
			return a
		}
	}
	if len(as) > 0 {
		return as[0]
	}
	return netip.IPv4Unspecified()
}

// ReportID returns an OONI-style report ID for a vantage and start time.
func ReportID(start time.Time, v Vantage, seq string) string {
	return fmt.Sprintf("%s_webconnectivity_%s_%d_n1_%s", start.UTC().Format("20060102T150405Z"), orZZ(v.CC), v.ASN, seq)
}
