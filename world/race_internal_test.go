//go:build race

package world

const raceOn = true
