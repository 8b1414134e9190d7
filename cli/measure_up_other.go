//go:build !linux

package cli

// measureUp needs portal, which runs on Linux only.
func measureUp(e *env, scen, state, from string, urls []string, quiet bool) error {
	return badInput("--state joins a splinter up, which runs on Linux only")
}
