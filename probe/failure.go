package probe

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"os"
	"syscall"

	"github.com/quic-go/quic-go"
)

// Failure strings: the closed set a measurement may store, OONI's df-007
// names. A nil *string in a result is OONI's null (no failure).
const (
	FailureConnectionRefused     = "connection_refused"
	FailureConnectionReset       = "connection_reset"
	FailureConnectionAborted     = "connection_aborted"
	FailureHostUnreachable       = "host_unreachable"
	FailureNetworkUnreachable    = "network_unreachable"
	FailureTimeout               = "generic_timeout_error"
	FailureEOF                   = "eof_error"
	FailureDNSNXDomain           = "dns_nxdomain_error"
	FailureDNSBogon              = "dns_bogon_error"
	FailureDNSNoAnswer           = "dns_no_answer"
	FailureDNSRefused            = "dns_refused_error"
	FailureDNSServfail           = "dns_servfail_error"
	FailureDNSMisbehaving        = "dns_server_misbehaving"
	FailureSSLInvalidHostname    = "ssl_invalid_hostname"
	FailureSSLUnknownAuthority   = "ssl_unknown_authority"
	FailureSSLInvalidCertificate = "ssl_invalid_certificate"
	FailureSSLFailedHandshake    = "ssl_failed_handshake"
	FailureQUICIncompatible      = "quic_incompatible_version"
	FailureHTTPRequestFailed     = "http_request_failed"
	FailureInterrupted           = "interrupted"
	FailureJSONParse             = "json_parse_error"
	FailureUnknown               = "unknown_failure"
)

// Failures is every failure string the probe writes; all are in df-007.
var Failures = []string{
	FailureConnectionRefused, FailureConnectionReset, FailureConnectionAborted,
	FailureHostUnreachable, FailureNetworkUnreachable, FailureTimeout, FailureEOF,
	FailureDNSNXDomain, FailureDNSBogon, FailureDNSNoAnswer, FailureDNSRefused,
	FailureDNSServfail, FailureDNSMisbehaving, FailureSSLInvalidHostname,
	FailureSSLUnknownAuthority, FailureSSLInvalidCertificate, FailureSSLFailedHandshake,
	FailureQUICIncompatible, FailureHTTPRequestFailed, FailureInterrupted,
	FailureJSONParse, FailureUnknown,
}

// IsFailure reports whether s is one of df-007's failure strings (the
// "unknown_failure ..." family included).
func IsFailure(s string) bool {
	for _, f := range Failures {
		if s == f {
			return true
		}
	}
	return len(s) > len(FailureUnknown) && s[:len(FailureUnknown)+1] == FailureUnknown+" "
}

// Classify names err with a df-007 string; nil for a nil error. It never
// returns the error's text.
func Classify(err error) *string {
	if err == nil {
		return nil
	}
	s := classify(err)
	return &s
}

func classify(err error) string {
	var (
		hostErr   x509.HostnameError
		authErr   x509.UnknownAuthorityError
		certErr   x509.CertificateInvalidError
		alertErr  tls.AlertError
		recErr    tls.RecordHeaderError
		verErr    *tls.CertificateVerificationError
		dnsErr    *net.DNSError
		vnErr     *quic.VersionNegotiationError
		idleErr   *quic.IdleTimeoutError
		hsErr     *quic.HandshakeTimeoutError
		trErr     *quic.TransportError
		appErr    *quic.ApplicationError
		statelErr *quic.StatelessResetError
		netErr    net.Error
	)
	switch {
	case errors.Is(err, syscall.ECONNRESET):
		return FailureConnectionReset
	case errors.Is(err, syscall.ECONNREFUSED):
		return FailureConnectionRefused
	case errors.Is(err, syscall.ECONNABORTED):
		return FailureConnectionAborted
	case errors.Is(err, syscall.EHOSTUNREACH):
		return FailureHostUnreachable
	case errors.Is(err, syscall.ENETUNREACH):
		return FailureNetworkUnreachable
	case errors.Is(err, context.Canceled):
		return FailureInterrupted
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded),
		errors.As(err, &idleErr), errors.As(err, &hsErr):
		return FailureTimeout
	case errors.As(err, &hostErr):
		return FailureSSLInvalidHostname
	case errors.As(err, &authErr):
		return FailureSSLUnknownAuthority
	case errors.As(err, &certErr):
		return FailureSSLInvalidCertificate
	case errors.As(err, &verErr):
		return FailureSSLInvalidCertificate
	case errors.As(err, &vnErr):
		return FailureQUICIncompatible
	case errors.As(err, &statelErr):
		return FailureConnectionReset
	case errors.As(err, &trErr):
		return quicTransportFailure(trErr)
	case errors.As(err, &alertErr):
		if alertErr == alertUnrecognizedName {
			return FailureSSLInvalidHostname
		}
		return FailureSSLFailedHandshake
	case errors.As(err, &appErr), errors.As(err, &recErr):
		return FailureSSLFailedHandshake
	case errors.As(err, &dnsErr):
		switch {
		case dnsErr.IsNotFound:
			return FailureDNSNXDomain
		case dnsErr.IsTimeout:
			return FailureTimeout
		}
		return FailureDNSMisbehaving
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.EPIPE):
		return FailureEOF
	case errors.As(err, &netErr) && netErr.Timeout():
		return FailureTimeout
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "remote error" {
		return FailureSSLFailedHandshake
	}
	var f failureError
	if errors.As(err, &f) {
		return string(f)
	}
	return FailureUnknown
}

// The test helper's failure strings. oohelperd maps the failures of its
// DNS lookup, TCP connects and HTTP fetch onto the names OONI's first,
// Twisted-based helper used (df-007's legacy table) and onto two names
// df-007 does not list; its TLS and QUIC handshakes keep df-007's names. A
// control measurement (test_keys.control) holds these, a probe's own keys
// never do.
const (
	// ControlFailureDNSNameError is the helper's NXDOMAIN.
	ControlFailureDNSNameError = "dns_name_error"
	// ControlFailureDNSServerFailure is a refused or misbehaving resolver.
	ControlFailureDNSServerFailure = "dns_server_failure"
	// ControlFailureDNSLookupError is any lookup failure of the HTTP fetch.
	ControlFailureDNSLookupError = "dns_lookup_error"
	// ControlFailureConnectError is a connect that failed other than by a
	// timeout or a refusal.
	ControlFailureConnectError = "connect_error"
	// ControlFailureConnectionRefused is a refused connect.
	ControlFailureConnectionRefused = "connection_refused_error"
	// ControlFailureUnknown is everything else: a lookup that timed out or
	// got SERVFAIL, a fetch reset or cut short, a certificate refused.
	ControlFailureUnknown = "unknown_error"
)

// ControlFailures lists the helper's own failure names.
var ControlFailures = []string{
	ControlFailureDNSNameError, ControlFailureDNSServerFailure, ControlFailureDNSLookupError,
	ControlFailureConnectError, ControlFailureConnectionRefused, ControlFailureUnknown,
}

// IsControlFailure reports whether s may stand in a control measurement: a
// helper name (ControlFailures) or, for its handshakes and timeouts, a
// df-007 one.
func IsControlFailure(s string) bool {
	for _, f := range ControlFailures {
		if s == f {
			return true
		}
	}
	return IsFailure(s)
}

// helperDNSFailure is the helper's name for a lookup that failed with
// df-007's f (oohelperd's dnsMapFailure): NXDOMAIN is dns_name_error, no
// answer is no failure at all, a refused or misbehaving resolver is
// dns_server_failure, anything else (a timeout, SERVFAIL) unknown_error.
func helperDNSFailure(f *string) *string {
	if f == nil {
		return nil
	}
	switch *f {
	case FailureDNSNXDomain:
		return str(ControlFailureDNSNameError)
	case FailureDNSNoAnswer:
		return nil
	case FailureDNSRefused, FailureDNSMisbehaving:
		return str(ControlFailureDNSServerFailure)
	}
	return str(ControlFailureUnknown)
}

// helperTCPFailure is the helper's name for a connect that failed with
// df-007's f (oohelperd's tcpMapFailure).
func helperTCPFailure(f *string) *string {
	if f == nil {
		return nil
	}
	switch *f {
	case FailureTimeout:
		return f
	case FailureConnectionRefused:
		return str(ControlFailureConnectionRefused)
	}
	return str(ControlFailureConnectError)
}

// helperHTTPFailure is the helper's name for a fetch that failed with
// df-007's f, in its lookup when resolving is set (oohelperd's
// httpMapFailure): a lookup that found nothing or timed out is
// dns_lookup_error (SERVFAIL and a bogon answer are not), a timeout
// elsewhere generic_timeout_error, a refused connect
// connection_refused_error, anything else unknown_error.
func helperHTTPFailure(f *string, resolving bool) *string {
	if f == nil {
		return nil
	}
	switch *f {
	case FailureDNSNXDomain, FailureDNSNoAnswer, FailureDNSRefused, FailureDNSMisbehaving:
		return str(ControlFailureDNSLookupError)
	case FailureTimeout:
		if resolving {
			return str(ControlFailureDNSLookupError)
		}
		return f
	case FailureConnectionRefused:
		return str(ControlFailureConnectionRefused)
	}
	return str(ControlFailureUnknown)
}

// TLS alerts (RFC 8446, 6.2) that name a failure more precisely than
// ssl_failed_handshake, as OONI's classifier reads them.
const (
	alertBadCertificate         = 42
	alertUnsupportedCertificate = 43
	alertCertificateRevoked     = 44
	alertCertificateExpired     = 45
	alertCertificateUnknown     = 46
	alertUnknownCA              = 48
	alertUnrecognizedName       = 112
)

// quicTransportFailure names a QUIC transport error: a refused connection,
// or the TLS alert a CRYPTO_ERROR carries, the way OONI's classifier does.
func quicTransportFailure(e *quic.TransportError) string {
	if e.ErrorCode == quic.ConnectionRefused {
		return FailureConnectionRefused
	}
	if !e.ErrorCode.IsCryptoError() {
		return FailureSSLFailedHandshake
	}
	switch uint8(e.ErrorCode) {
	case alertBadCertificate, alertUnsupportedCertificate, alertCertificateRevoked, alertCertificateExpired, alertCertificateUnknown:
		return FailureSSLInvalidCertificate
	case alertUnknownCA:
		return FailureSSLUnknownAuthority
	case alertUnrecognizedName:
		return FailureSSLInvalidHostname
	}
	return FailureSSLFailedHandshake
}

// failureError is an error that already is a df-007 name (a bogon answer,
// an NXDOMAIN rcode).
type failureError string

func (f failureError) Error() string { return "probe: " + string(f) }

func str(s string) *string { return &s }
