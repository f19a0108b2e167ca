package catools

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"

	"github.com/cabridge/cabridge/ca/client"
)

// errorLog is the client's logger: it prints warnings and errors to the
// tool's stderr, as libca prints its exceptions. It also keeps the
// errors the server reported for requests without a reply of their own
// (a plain WRITE), so that put can tell a rejected value.
type errorLog struct {
	w io.Writer

	mu     sync.Mutex
	server []string // "ECA_xxx: text" of each ERROR the client could not route
}

func (h *errorLog) logger() *slog.Logger { return slog.New(h) }

// Enabled passes warnings and errors.
func (h *errorLog) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }

// Handle prints r on one line.
func (h *errorLog) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString("CA.Client.Exception: ")
	b.WriteString(r.Message)
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%q", a.Key, a.Value.String())
		return true
	})
	b.WriteByte('\n')
	h.mu.Lock()
	defer h.mu.Unlock()
	_, err := io.WriteString(h.w, b.String())
	return err
}

// serverError records an ERROR of the server that no request took
// (client.Config.OnServerError).
func (h *errorLog) serverError(e client.ServerError) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.server = append(h.server, e.Err.Code.Name()+": "+e.Err.Msg)
}

// WithAttrs returns h: the client logs no shared attributes worth keeping.
func (h *errorLog) WithAttrs([]slog.Attr) slog.Handler { return h }

// WithGroup returns h.
func (h *errorLog) WithGroup(string) slog.Handler { return h }

// serverErrors returns the server errors recorded so far.
func (h *errorLog) serverErrors() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.server...)
}
