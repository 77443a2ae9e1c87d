//go:build !race

package devproc

const raceEnabled = false
