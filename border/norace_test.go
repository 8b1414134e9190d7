//go:build !race

package border_test

const raceEnabled = false
