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
	case errors.As(err, &trErr), errors.As(err, &appErr), errors.As(err, &alertErr), errors.As(err, &recErr):
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

// failureError is an error that already is a df-007 name (a bogon answer,
// an NXDOMAIN rcode).
type failureError string

func (f failureError) Error() string { return "probe: " + string(f) }

func str(s string) *string { return &s }
