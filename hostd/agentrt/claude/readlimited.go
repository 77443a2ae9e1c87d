package claude

import (
	"io"

	"github.com/trustyclaw/trustyclaw/hostd/agentrt/agentproc"
)

// readLimited reads a process's stdout to EOF, keeping at most max bytes
// and draining the rest so the process never blocks on a full pipe.
func readLimited(p *agentproc.Process, max int64) ([]byte, error) {
	defer p.Stdout.Close()
	b, err := io.ReadAll(io.LimitReader(p.Stdout, max))
	if err == nil {
		_, err = io.Copy(io.Discard, p.Stdout)
	}
	return b, err
}
