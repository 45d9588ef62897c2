package metrics

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/loginjail/loginjail/session"
)

// Path is where the metrics are served.
const Path = "/metrics"

// Server serves /metrics.
type Server struct {
	// Logins is nil for the exporter, which sees no logins.
	Logins *Logins
	reg    *session.Registry
	addr   net.Addr
	srv    *http.Server
}

// Listen starts serving on addr the per-session series of reg and, with
// logins, the listener's login metrics. The process's own Go and process
// metrics are left out: these metrics are about sessions, and a scrape
// of node or process metrics belongs to other exporters.
func Listen(addr string, reg *session.Registry, logins bool) (*Server, error) {
	s := &Server{reg: reg}
	if logins {
		s.Logins = newLogins()
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics_listen %q: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc(Path, s.serveMetrics)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprintf(w, "loginjail metrics: %s\n", Path)
	})
	s.addr = ln.Addr()
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			slog.Error("metrics server", "err", err)
		}
	}()
	slog.Info("serving metrics", "event", "metrics.listen", "addr", s.addr.String(), "path", Path)
	return s, nil
}

// Addr is the address the metrics are served on.
func (s *Server) Addr() net.Addr { return s.addr }

// Close stops serving.
func (s *Server) Close() error { return s.srv.Close() }

// serveMetrics writes every family in the text format.
func (s *Server) serveMetrics(w http.ResponseWriter, r *http.Request) {
	fams := sessionFamilies(s.reg)
	if s.Logins != nil {
		fams = append(fams, s.Logins.families()...)
	}
	var b strings.Builder
	writeFamilies(&b, fams)
	w.Header().Set("Content-Type", contentType)
	if _, err := w.Write([]byte(b.String())); err != nil {
		slog.Debug("metrics: write", "err", err)
	}
}
