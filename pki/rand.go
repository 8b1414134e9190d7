package pki

import "crypto/rand"

// cryptoRand reads from crypto/rand; it is what signing uses (the standard
// library ignores other readers for ECDSA signatures since Go 1.26).
type cryptoRand struct{}

func (cryptoRand) Read(b []byte) (int, error) { return rand.Read(b) }
