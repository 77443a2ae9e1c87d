//go:build race

package devproc

const raceEnabled = true
