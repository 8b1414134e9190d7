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
	// Average popcount ones/n compared without floating point.
	if 10*ones <= 34*n || 10*ones >= 46*n {
		return true, "ex1"
	}
	if n >= 6 && allPrintable(first[:6]) {
		return true, "ex2"
	}
	if 2*printable > n {
		return true, "ex3"
	}
	if longest > 20 {
		return true, "ex4"
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
