package cli

import (
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
)

// serveDebug serves the profiler on its own listener, apart from the API: it needs no
// credentials, so it must never share the address responders and detectors reach.
// It returns the address it listens on.
func serveDebug(listen string, log *slog.Logger) (addr string, stop func(), err error) {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return "", nil, usageErr("--debug-listen %s: %v; choose a free HOST:PORT", listen, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: serveReadHeaderTimeout}
	go func() { _ = hs.Serve(ln) }()
	log.Info("serving the profiler", "listen", ln.Addr().String())
	return ln.Addr().String(), func() { hs.Close() }, nil
}
