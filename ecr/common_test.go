package ecr

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/posbridge/posbridge/agent"
	"github.com/posbridge/posbridge/agent/agenttest"
	"github.com/posbridge/posbridge/ecr/ecrsim"
	"github.com/posbridge/posbridge/ecr/pt"
	"github.com/posbridge/posbridge/ecr/zvt"
	"github.com/posbridge/posbridge/store"
)

const (
	methodCreate = "wisehub.cloud.pay.order"
	// waitLimit only bounds a broken run; passing runs never wait for it.
	waitLimit = 30 * time.Second
)

// syncBuffer collects log output from several goroutines.
type syncBuffer struct {
	mu      sync.Mutex
	b       bytes.Buffer
	changed chan struct{} // closed and replaced on every write
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.changed != nil {
		close(s.changed)
		s.changed = nil
	}
	return s.b.Write(p)
}

// wait returns a channel closed at the next write.
func (s *syncBuffer) wait() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.changed == nil {
		s.changed = make(chan struct{})
	}
	return s.changed
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testLogger writes to buf (and to the test output with POSBRIDGE_TEST_LOG).
func testLogger(t testing.TB, buf *syncBuffer) *slog.Logger {
	var w = []interface{ Write([]byte) (int, error) }{buf}
	if os.Getenv("POSBRIDGE_TEST_LOG") != "" {
		w = append(w, t.Output())
	}
	return slog.New(slog.NewTextHandler(multiWriter(w), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type multiWriter []interface{ Write([]byte) (int, error) }

func (m multiWriter) Write(p []byte) (int, error) {
	for _, w := range m {
		_, _ = w.Write(p)
	}
	return len(p), nil
}

// ecrPayments returns this ECR's payments on the rig's terminal, oldest first.
func ecrPayments(t *testing.T, e *agenttest.Env, sn, typ string) []agent.Payment {
	t.Helper()
	list, err := e.Agent.List(context.Background(), agent.ListFilter{TerminalSN: sn, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var out []agent.Payment
	for i := len(list) - 1; i >= 0; i-- {
		p := list[i]
		if p.Source == agent.SourceECR && p.Type == typ && strings.HasPrefix(p.MerchantOrderNo, "ZVT-") {
			out = append(out, p)
		}
	}
	return out
}

// status decodes the transcript's status information or fails.
func status(t *testing.T, tr ecrsim.Transcript) zvt.StatusInformation {
	t.Helper()
	si, ok := tr.Status()
	if !ok {
		t.Fatalf("no status information: %s", tr)
	}
	return si
}

// ptTuning shortens the PT's waits for tests on real time; the PT keeps its
// memory in env's journal.
func ptTuning(env *agenttest.Env) pt.Config {
	return pt.Config{Memory: store.ECRMemory{DB: env.DB}, ResponseTimeout: 2 * time.Second, Location: time.UTC}
}

func waitLog(t *testing.T, logs *syncBuffer, text string) {
	t.Helper()
	timeout := time.After(waitLimit)
	for {
		next := logs.wait()
		if strings.Contains(logs.String(), text) {
			return
		}
		select {
		case <-next:
		case <-timeout:
			t.Fatalf("log never said %q:\n%s", text, logs.String())
		}
	}
}
