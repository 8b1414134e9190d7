package store

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"

	"github.com/splinter-lab/splinter/probe"
)

// This file maps probe's measurements onto the measurements and obs_web
// tables.

// Key names one measurement of a run: where it was measured from and what.
// Shards of a run write disjoint keys; a key written twice keeps the later
// measurement.
type Key struct {
	Vantage string `json:"vantage"`
	Input   string `json:"input"`
}

// UID is a measurement's stable identifier, for links: a digest of the run
// and the key.
func UID(run string, k Key) string {
	h := sha256.Sum256([]byte(run + "\x00" + k.Vantage + "\x00" + k.Input))
	return hex.EncodeToString(h[:10])
}

// Observation is one row of obs_web: what a measurement saw of one endpoint
// (an address, port and transport), after OONI's pipeline v5 WebObservation:
// the DNS answer that named the address, the TCP connect, the TLS or QUIC
// handshake and the HTTP transaction that went to it. A DNS query that
// failed or whose answer no flow used is a row of its own without an
// endpoint. Pointers are nil where a step did not happen.
type Observation struct {
	Idx       int        `json:"idx"`
	Hostname  string     `json:"hostname"`
	IP        netip.Addr `json:"ip,omitzero"`
	Port      *int       `json:"port"`
	Transport string     `json:"transport"` // "tcp", "udp" (QUIC) or "" (DNS only)
	IPASN     *int64     `json:"ip_asn"`

	DNSQueryType  *string  `json:"dns_query_type"`
	DNSEngine     *string  `json:"dns_engine"`
	DNSResolver   *string  `json:"dns_resolver"`
	DNSFailure    *string  `json:"dns_failure"`
	DNSRcode      *string  `json:"dns_rcode"`
	DNSAnswerType *string  `json:"dns_answer_type"`
	DNSAnswer     *string  `json:"dns_answer"`
	DNSAnswerLate *bool    `json:"dns_answer_late"` // arrived after the first answer (an injector raced the resolver)
	DNST          *float64 `json:"dns_t"`

	TCPSuccess *bool    `json:"tcp_success"`
	TCPFailure *string  `json:"tcp_failure"`
	TCPBlocked *bool    `json:"tcp_blocked"`
	TCPT       *float64 `json:"tcp_t"`

	TLSServerName          *string  `json:"tls_server_name"`
	TLSVersion             *string  `json:"tls_version"`
	TLSCipherSuite         *string  `json:"tls_cipher_suite"`
	TLSALPN                *string  `json:"tls_alpn"`
	TLSSuccess             *bool    `json:"tls_success"`
	TLSFailure             *string  `json:"tls_failure"`
	TLSFailedOperation     *string  `json:"tls_failed_operation"`
	TLSCertificateChainLen *int64   `json:"tls_certificate_chain_length"`
	TLST                   *float64 `json:"tls_t"`

	HTTPRequestURL      *string  `json:"http_request_url"`
	HTTPRequestMethod   *string  `json:"http_request_method"`
	HTTPFailure         *string  `json:"http_failure"`
	HTTPStatusCode      *int64   `json:"http_response_status_code"`
	HTTPBodyLength      *int64   `json:"http_response_body_length"`
	HTTPBodyIsTruncated *bool    `json:"http_response_body_is_truncated"`
	HTTPBodySHA1        *string  `json:"http_response_body_sha1"`
	HTTPHeaderLocation  *string  `json:"http_response_header_location"`
	HTTPHeaderServer    *string  `json:"http_response_header_server"`
	HTTPT               *float64 `json:"http_t"`
}

func ptr[T any](v T) *T { return &v }

// Observations derives a measurement's obs_web rows.
func Observations(m *probe.Measurement) []Observation {
	tk := m.TestKeys
	if tk == nil {
		return nil
	}
	var obs []Observation
	// byAddr finds the row of an endpoint, or the DNS row that named its
	// address and has no endpoint yet.
	type ep struct {
		addr      netip.Addr
		port      int
		transport string
	}
	rowOf := map[ep]int{}
	dnsOf := map[netip.Addr]int{} // first non-late answer naming the address
	asn := map[netip.Addr]int64{}
	for a, info := range ipInfo(tk) {
		asn[a] = info
	}
	for _, q := range tk.Queries {
		base := Observation{
			Hostname:     q.Hostname,
			DNSQueryType: ptr(q.QueryType),
			DNSEngine:    ptr(q.Engine),
			DNSFailure:   q.Failure,
			DNST:         ptr(q.T),
		}
		if q.ResolverAddress.IsValid() {
			base.DNSResolver = ptr(q.ResolverAddress.String())
		}
		if q.Rcode != "" {
			base.DNSRcode = ptr(q.Rcode)
		}
		answers := [][]probe.DNSAnswer{q.Answers}
		answers = append(answers, q.Late...)
		n := 0
		for i, as := range answers {
			for _, a := range as {
				o := base
				o.DNSAnswerType = ptr(a.AnswerType)
				o.DNSAnswerLate = ptr(i > 0)
				switch {
				case a.IPv4.IsValid():
					o.IP = a.IPv4
				case a.IPv6.IsValid():
					o.IP = a.IPv6
				}
				if o.IP.IsValid() {
					o.DNSAnswer = ptr(o.IP.String())
				} else if a.Hostname != "" {
					o.DNSAnswer = ptr(a.Hostname)
				}
				if a.ASN != 0 {
					o.IPASN = ptr(int64(a.ASN))
				}
				obs = append(obs, o)
				if i == 0 && o.IP.IsValid() {
					if _, ok := dnsOf[o.IP.Unmap()]; !ok {
						dnsOf[o.IP.Unmap()] = len(obs) - 1
					}
				}
				n++
			}
		}
		if n == 0 {
			obs = append(obs, base)
		}
	}
	// endpoint returns the row for an endpoint, claiming the DNS row that
	// named its address for its first endpoint and copying the DNS facts
	// onto the others.
	endpoint := func(a netip.Addr, port int, transport string) *Observation {
		a = a.Unmap()
		k := ep{a, port, transport}
		if i, ok := rowOf[k]; ok {
			return &obs[i]
		}
		var o Observation
		if i, ok := dnsOf[a]; ok {
			if obs[i].Port == nil {
				obs[i].Port, obs[i].Transport = ptr(port), transport
				rowOf[k] = i
				return &obs[i]
			}
			o = obs[i]
			o.TCPSuccess, o.TCPFailure, o.TCPBlocked, o.TCPT = nil, nil, nil, nil
			o.TLSServerName, o.TLSVersion, o.TLSCipherSuite, o.TLSALPN, o.TLSSuccess, o.TLSFailure, o.TLSFailedOperation, o.TLSCertificateChainLen, o.TLST = nil, nil, nil, nil, nil, nil, nil, nil, nil
			o.HTTPRequestURL, o.HTTPRequestMethod, o.HTTPFailure, o.HTTPStatusCode, o.HTTPBodyLength, o.HTTPBodyIsTruncated, o.HTTPBodySHA1, o.HTTPHeaderLocation, o.HTTPHeaderServer, o.HTTPT = nil, nil, nil, nil, nil, nil, nil, nil, nil, nil
		} else {
			o.Hostname = host(m.Input)
			o.IP = a
			if n, ok := asn[a]; ok {
				o.IPASN = ptr(n)
			}
		}
		o.Port, o.Transport = ptr(port), transport
		obs = append(obs, o)
		rowOf[k] = len(obs) - 1
		return &obs[len(obs)-1]
	}
	for _, c := range tk.TCPConnect {
		o := endpoint(c.IP, int(c.Port), "tcp")
		o.TCPSuccess, o.TCPFailure, o.TCPBlocked, o.TCPT = ptr(c.Status.Success), c.Status.Failure, c.Status.Blocked, ptr(c.T)
	}
	for _, h := range tk.TLSHandshakes {
		o := endpoint(h.Address.Addr(), int(h.Address.Port()), "tcp")
		if o.TLST != nil { // a second handshake to one endpoint: a row of its own
			cp := *o
			obs = append(obs, cp)
			o = &obs[len(obs)-1]
		}
		tlsFacts(o, h.ServerName, h.Failure, h.T)
		o.TLSVersion, o.TLSCipherSuite, o.TLSALPN = nonEmpty(h.TLSVersion), nonEmpty(h.CipherSuite), nonEmpty(h.NegotiatedProtocol)
		o.TLSFailedOperation = nonEmpty(h.Operation)
		if h.Failure == nil {
			o.TLSCertificateChainLen = ptr(int64(len(h.PeerCertificates)))
		}
		if o.TCPSuccess == nil { // the handshake's own connect
			if h.Operation == "connect" {
				o.TCPSuccess, o.TCPFailure = ptr(false), h.Failure
			} else {
				o.TCPSuccess = ptr(true)
			}
		}
	}
	for _, h := range tk.QUICHandshakes {
		o := endpoint(h.Address.Addr(), int(h.Address.Port()), "udp")
		tlsFacts(o, h.ServerName, h.Failure, h.T)
		o.TLSALPN = nonEmpty(h.NegotiatedProtocol)
		if h.Failure == nil {
			o.TLSVersion = ptr("TLSv1.3")
		}
	}
	for _, r := range tk.Requests {
		var o *Observation
		if r.Address.IsValid() {
			o = endpoint(r.Address.Addr(), int(r.Address.Port()), "tcp")
			if o.HTTPRequestURL != nil { // two requests to one endpoint
				cp := *o
				obs = append(obs, cp)
				o = &obs[len(obs)-1]
			}
		} else {
			obs = append(obs, Observation{Hostname: host(r.Request.URL)})
			o = &obs[len(obs)-1]
		}
		httpFacts(o, r)
	}
	for i := range obs {
		obs[i].Idx = i
	}
	return obs
}

func tlsFacts(o *Observation, sni string, failure *string, t float64) {
	o.TLSServerName = ptr(sni)
	o.TLSSuccess = ptr(failure == nil)
	o.TLSFailure = failure
	o.TLST = ptr(t)
}

func httpFacts(o *Observation, r probe.HTTPRequest) {
	o.HTTPRequestURL = ptr(r.Request.URL)
	o.HTTPRequestMethod = nonEmpty(r.Request.Method)
	o.HTTPFailure = r.Failure
	o.HTTPT = ptr(r.T)
	if r.Response.Code != 0 || r.Response.Body != "" {
		o.HTTPStatusCode = ptr(int64(r.Response.Code))
		o.HTTPBodyLength = ptr(int64(len(r.Response.Body)))
		o.HTTPBodyIsTruncated = ptr(r.Response.BodyIsTruncated)
		sum := sha1.Sum([]byte(r.Response.Body))
		o.HTTPBodySHA1 = ptr(hex.EncodeToString(sum[:]))
		o.HTTPHeaderLocation = header(r.Response.Headers, "Location")
		o.HTTPHeaderServer = header(r.Response.Headers, "Server")
	}
}

func header(h map[string]string, name string) *string {
	for k, v := range h {
		if strings.EqualFold(k, name) {
			return ptr(v)
		}
	}
	return nil
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// ipInfo are the ASNs the control's ip_info gives the addresses.
func ipInfo(tk *probe.TestKeys) map[netip.Addr]int64 {
	out := map[netip.Addr]int64{}
	if tk.Control == nil {
		return out
	}
	for s, info := range tk.Control.IPInfo {
		if a, err := netip.ParseAddr(s); err == nil && info.ASN != 0 {
			out[a.Unmap()] = int64(info.ASN)
		}
	}
	return out
}

func host(input string) string {
	u, err := url.Parse(input)
	if err != nil {
		return input
	}
	return u.Hostname()
}

// asn reads OONI's "AS1234".
func asn(s string) int64 {
	n, _ := strconv.ParseInt(strings.TrimPrefix(s, "AS"), 10, 64)
	return n
}

// measurementKey is the key of m, or an error when m lacks what the store
// keys it by.
func measurementKey(m *probe.Measurement) (Key, error) {
	if m == nil || m.TestKeys == nil {
		return Key{}, fmt.Errorf("store: a measurement without test keys")
	}
	k := Key{Vantage: m.TestKeys.Vantage.Host, Input: m.Input}
	if k.Vantage == "" {
		k.Vantage = m.ProbeCC + "/" + m.ProbeASN
	}
	return k, nil
}

// measurementValues maps m onto the measurements table, and its JSON onto
// measurement_json.
func measurementValues(run, writer string, m *probe.Measurement) (Key, values, values, error) {
	k, err := measurementKey(m)
	if err != nil {
		return k, nil, nil, err
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return k, nil, nil, fmt.Errorf("store: measurement %s: %w", k.Input, err)
	}
	j := values{"run_id": run, "vantage": k.Vantage, "input": k.Input, "writer": writer, "ooni": string(raw)}
	tk := m.TestKeys
	var methods []string
	for _, v := range tk.Methods {
		methods = append(methods, string(v))
	}
	blocking, _ := tk.Blocking.MarshalJSON()
	v := values{
		"run_id":                  run,
		"vantage":                 k.Vantage,
		"input":                   k.Input,
		"uid":                     UID(run, k),
		"writer":                  writer,
		"report_id":               m.ReportID,
		"domain":                  host(m.Input),
		"category":                m.Annotations["category_code"],
		"probe_cc":                m.ProbeCC,
		"probe_asn":               asn(m.ProbeASN),
		"probe_network_name":      m.ProbeNetworkName,
		"probe_ip":                addrString(m.ProbeIP),
		"resolver_ip":             addrString(m.ResolverIP),
		"resolver_asn":            asn(m.ResolverASN),
		"start_ns":                tk.Start.UnixNano(),
		"runtime":                 m.TestRuntime,
		"verdict":                 string(tk.Verdict),
		"blocking":                strings.Trim(string(blocking), `"`),
		"methods":                 strings.Join(methods, ","),
		"reason":                  tk.VerdictReason,
		"accessible":              tk.Accessible,
		"dns_consistency":         tk.DNSConsistency,
		"dns_experiment_failure":  tk.DNSExperimentFailure,
		"http_experiment_failure": tk.HTTPExperimentFailure,
		"control_failure":         tk.ControlFailure,
		"body_length_match":       tk.BodyLengthMatch,
		"body_proportion":         tk.BodyProportion,
		"status_code_match":       tk.StatusCodeMatch,
		"headers_match":           tk.HeadersMatch,
		"title_match":             tk.TitleMatch,
		"dns_race":                tk.DNSRace,
	}
	if t := tk.Throughput; t != nil {
		v["throughput_bps"] = ptr(t.BitsPerS)
	}
	if r := tk.Residual; r != nil {
		v["residual_blocked"] = ptr(r.Blocked)
	}
	if tk.Start.IsZero() {
		v["start_ns"] = int64(0)
	}
	return k, v, j, nil
}

func addrString(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

// observationValues maps o onto obs_web.
func observationValues(run, writer string, k Key, m *probe.Measurement, o *Observation) values {
	v := values{
		"run_id":                          run,
		"vantage":                         k.Vantage,
		"input":                           k.Input,
		"idx":                             int64(o.Idx),
		"writer":                          writer,
		"probe_cc":                        m.ProbeCC,
		"probe_asn":                       asn(m.ProbeASN),
		"hostname":                        o.Hostname,
		"ip":                              addrString(o.IP),
		"transport":                       o.Transport,
		"ip_asn":                          o.IPASN,
		"dns_query_type":                  o.DNSQueryType,
		"dns_engine":                      o.DNSEngine,
		"dns_resolver":                    o.DNSResolver,
		"dns_failure":                     o.DNSFailure,
		"dns_rcode":                       o.DNSRcode,
		"dns_answer_type":                 o.DNSAnswerType,
		"dns_answer":                      o.DNSAnswer,
		"dns_answer_late":                 o.DNSAnswerLate,
		"dns_t":                           o.DNST,
		"tcp_success":                     o.TCPSuccess,
		"tcp_failure":                     o.TCPFailure,
		"tcp_blocked":                     o.TCPBlocked,
		"tcp_t":                           o.TCPT,
		"tls_server_name":                 o.TLSServerName,
		"tls_version":                     o.TLSVersion,
		"tls_cipher_suite":                o.TLSCipherSuite,
		"tls_alpn":                        o.TLSALPN,
		"tls_success":                     o.TLSSuccess,
		"tls_failure":                     o.TLSFailure,
		"tls_failed_operation":            o.TLSFailedOperation,
		"tls_certificate_chain_length":    o.TLSCertificateChainLen,
		"tls_t":                           o.TLST,
		"http_request_url":                o.HTTPRequestURL,
		"http_request_method":             o.HTTPRequestMethod,
		"http_failure":                    o.HTTPFailure,
		"http_response_status_code":       o.HTTPStatusCode,
		"http_response_body_length":       o.HTTPBodyLength,
		"http_response_body_is_truncated": o.HTTPBodyIsTruncated,
		"http_response_body_sha1":         o.HTTPBodySHA1,
		"http_response_header_location":   o.HTTPHeaderLocation,
		"http_response_header_server":     o.HTTPHeaderServer,
		"http_t":                          o.HTTPT,
	}
	if o.Port != nil {
		v["port"] = ptr(int64(*o.Port))
	}
	return v
}
