package adminapi

import (
	"context"
	"errors"
	"fmt"
	stdlog "log"
	"net"
	"net/http"
	"time"

	"github.com/rs/zerolog"
)

// shutdownGrace is how long Serve waits for in-flight requests at
// shutdown.
const shutdownGrace = 10 * time.Second

// Serve serves h on ln until ctx is done, then shuts down gracefully:
// in-flight requests get shutdownGrace to finish; live streams end because
// the API's Config.Context (pass the same ctx) is done. Timeouts: headers
// within 10 s, idle keep-alive connections closed after 2 min; request
// bodies have their own read deadline in the handlers, and there is no
// server-wide write timeout because live streams are long-lived.
func Serve(ctx context.Context, ln net.Listener, h http.Handler, log zerolog.Logger) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          stdlog.New(log.With().Str("component", "adminapi.http").Logger(), "", 0),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve admin API: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	err := srv.Shutdown(sctx)
	if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	if err != nil {
		_ = srv.Close()
		return fmt.Errorf("shut down admin API: %w", err)
	}
	return nil
}
