package metrics

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/loginjail/loginjail/session"
)

// Path is where the metrics are served.
const Path = "/metrics"

// Server serves /metrics.
type Server struct {
	// Logins is nil for the exporter, which sees no logins.
	Logins *Logins
	addr   net.Addr
	srv    *http.Server
}

// Listen starts serving on addr the per-session series of reg and, with
// logins, the listener's login metrics. The process's own Go and process
// collectors are left out: these metrics are about sessions, and a
// scrape of node or process metrics belongs to other exporters.
func Listen(addr string, reg *session.Registry, logins bool) (*Server, error) {
	pr := prometheus.NewRegistry()
	if err := pr.Register(newSessionCollector(reg)); err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	s := &Server{}
	if logins {
		s.Logins = newLogins()
		for _, c := range s.Logins.collectors() {
			if err := pr.Register(c); err != nil {
				return nil, fmt.Errorf("metrics: %w", err)
			}
		}
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics_listen %q: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle(Path, promhttp.HandlerFor(pr, promhttp.HandlerOpts{ErrorLog: slogErrors{}}))
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

// slogErrors sends promhttp's errors to the log.
type slogErrors struct{}

func (slogErrors) Println(v ...any) { slog.Warn("metrics", "err", fmt.Sprint(v...)) }
