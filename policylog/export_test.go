package policylog

// SplitBundleForTest splits a tlog-tiles entry bundle into its entries.
func SplitBundleForTest(b []byte) [][]byte {
	es, _ := decodeBundle(b)
	return es
}
