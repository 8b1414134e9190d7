package dissect

import "math/bits"

// FullyEncryptedExempt applies the exemption rules the GFW used from November
// 2021 to March 2023 to the first client-to-server data packet of a TCP
// connection, to decide whether it may be fully encrypted traffic ("How China
// Detects and Blocks Fully Encrypted Traffic", USENIX Security 2023). It
// returns exempt true and the first rule that holds, in the paper's order:
//
//   - "ex1": the average number of set bits per byte is at most 3.4 or at
//     least 4.6;
//   - "ex2": the first 6 bytes are printable ASCII (0x20-0x7e);
//   - "ex3": more than half of the bytes are printable;
//   - "ex4": more than 20 contiguous bytes are printable;
//   - "ex5": it starts like TLS (0x16 or 0x17, 0x03, 0x00-0x09) or with
//     "GET ", "PUT ", "POST " or "HEAD ".
//
// When none holds it returns false and "": the censor may then block. An
// empty payload is not a data packet and also returns false and "".
func FullyEncryptedExempt(first []byte) (exempt bool, rule string) {
	return FullyEncryptedExemptWith(first, DefaultExemptions)
}

// Exemptions are the thresholds of the fully-encrypted-traffic test, so that
// a profile can vary them. The zero value exempts nothing but Ex5 when
// Protocols is set; DefaultExemptions are the paper's.
type Exemptions struct {
	PopcountLow, PopcountHigh float64 // Ex1: average set bits per byte at most / at least
	PrintablePrefix           int     // Ex2: this many leading printable bytes (0: off)
	PrintableRatio            float64 // Ex3: more than this share printable
	PrintableRun              int     // Ex4: a printable run longer than this (0: off)
	Protocols                 bool    // Ex5: starts like TLS or HTTP
}

// DefaultExemptions are the thresholds measured in the USENIX Security 2023
// paper.
var DefaultExemptions = Exemptions{PopcountLow: 3.4, PopcountHigh: 4.6, PrintablePrefix: 6, PrintableRatio: 0.5, PrintableRun: 20, Protocols: true}

// FullyEncryptedExemptWith is FullyEncryptedExempt with the given
// thresholds.
func FullyEncryptedExemptWith(first []byte, x Exemptions) (exempt bool, rule string) {
	n := len(first)
	if n == 0 {
		return false, ""
	}
	ones, printable, run, longest := 0, 0, 0, 0
	for _, c := range first {
		ones += bits.OnesCount8(c)
		if isPrintable(c) {
			printable++
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	if avg := float64(ones) / float64(n); avg <= x.PopcountLow || avg >= x.PopcountHigh {
		return true, "ex1"
	}
	if p := x.PrintablePrefix; p > 0 && n >= p && allPrintable(first[:p]) {
		return true, "ex2"
	}
	if float64(printable) > x.PrintableRatio*float64(n) {
		return true, "ex3"
	}
	if x.PrintableRun > 0 && longest > x.PrintableRun {
		return true, "ex4"
	}
	if !x.Protocols {
		return false, ""
	}
	if n >= 3 && (first[0] == 0x16 || first[0] == 0x17) && first[1] == 0x03 && first[2] <= 0x09 {
		return true, "ex5"
	}
	for _, p := range [...]string{"GET ", "PUT ", "POST ", "HEAD "} {
		if len(first) >= len(p) && string(first[:len(p)]) == p {
			return true, "ex5"
		}
	}
	return false, ""
}

func isPrintable(c byte) bool { return c >= 0x20 && c <= 0x7e }

func allPrintable(b []byte) bool {
	for _, c := range b {
		if !isPrintable(c) {
			return false
		}
	}
	return true
}
