package qrwalletsim

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"time"

	"github.com/posbridge/posbridge/cloud/internal/simkit"
)

// maxBody bounds an API request body.
const maxBody = 64 << 10

// FaultKind is a kind of injected fault.
type FaultKind string

// Fault kinds. The spec defines no signature, so there is no
// "bad signature" fault: FaultForged (an answer about another order) is
// what a forged or misrouted answer to this API looks like.
const (
	// FaultHTTP500 answers HTTP 500 without processing the request.
	FaultHTTP500 FaultKind = "http500"
	// FaultHTTP500AfterProcess processes the request, then answers HTTP 500.
	FaultHTTP500AfterProcess FaultKind = "http500_after_process"
	// FaultHTTP429 answers HTTP 429 without processing the request.
	FaultHTTP429 FaultKind = "http429"
	// FaultDrop closes the connection without processing the request.
	FaultDrop FaultKind = "drop"
	// FaultDropAfterProcess processes the request, then closes the
	// connection without an answer: the unknown-outcome case.
	FaultDropAfterProcess FaultKind = "drop_after_process"
	// FaultSlow processes the request, then waits Delay (real time) before
	// answering.
	FaultSlow FaultKind = "slow"
	// FaultAuthRefused answers HTTP 401 without processing, as for an
	// expired token.
	FaultAuthRefused FaultKind = "auth_refused"
	// FaultForged processes the request, then answers about another order:
	// out_trade_no prefixed with "FORGED-".
	FaultForged FaultKind = "forged"
	// FaultMalformed processes the request, then answers HTTP 200 with an
	// HTML page instead of the envelope.
	FaultMalformed FaultKind = "malformed"
	// FaultConflictingKeys processes the request, then repeats
	// out_trade_no in the answer with another value.
	FaultConflictingKeys FaultKind = "conflicting_keys"
)

// FaultKinds lists every kind.
func FaultKinds() []FaultKind {
	return []FaultKind{FaultHTTP500, FaultHTTP500AfterProcess, FaultHTTP429, FaultDrop, FaultDropAfterProcess,
		FaultSlow, FaultAuthRefused, FaultForged, FaultMalformed, FaultConflictingKeys}
}

// processes reports whether a request that gets k is processed.
func (k FaultKind) processes() bool {
	switch k {
	case FaultHTTP500, FaultHTTP429, FaultDrop, FaultAuthRefused:
		return false
	}
	return true
}

// defaultSlowDelay is FaultSlow's delay when none is given: past the
// client's usual 15 s timeout.
const defaultSlowDelay = 30 * time.Second

// Fault makes the next Count requests to Endpoint ("" = any) misbehave as
// Kind. Count ≤ 0 means 1.
type Fault struct {
	Endpoint string        `json:"endpoint"`
	Kind     FaultKind     `json:"kind"`
	Count    int           `json:"count"`
	Delay    time.Duration `json:"-"`
}

// InjectFault queues f; faults apply in the order injected, a request
// takes at most one.
func (s *Sim) InjectFault(f Fault) error {
	if !slices.Contains(FaultKinds(), f.Kind) {
		return fmt.Errorf("%w: fault kind %q", ErrInvalidConfig, f.Kind)
	}
	if f.Kind == FaultSlow && f.Delay <= 0 {
		f.Delay = defaultSlowDelay
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.Add(f.Endpoint, f.Count, f)
	return nil
}

// ClearFaults drops every fault not yet used.
func (s *Sim) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.Clear()
}

// Request is one recorded API request.
type Request struct {
	Time        time.Time         `json:"time"`
	Endpoint    string            `json:"endpoint"`
	OutTradeNo  string            `json:"out_trade_no,omitempty"`
	Body        map[string]string `json:"body"` // raw JSON of each member; password redacted, auth_code masked
	ContentType string            `json:"content_type,omitempty"`
	BearerToken bool              `json:"bearer_token"` // an Authorization: Bearer header was sent
	Fault       FaultKind         `json:"fault,omitempty"`
	HTTPStatus  int               `json:"http_status,omitempty"` // 0 when the connection was dropped
	Success     bool              `json:"success"`
	Message     string            `json:"message,omitempty"`
}

func (r *Request) clone() Request {
	c := *r
	c.Body = maps.Clone(r.Body)
	return c
}

// recordBody redacts a request body for the log.
func recordBody(b body) map[string]string {
	out := make(map[string]string, len(b))
	for k, v := range b {
		switch k {
		case "password":
			out[k] = simkit.Redacted
		case "auth_code":
			s, _, _ := b.text(k)
			out[k] = maskCode(s)
		default:
			out[k] = string(v)
		}
	}
	return out
}

// run is an endpoint's business logic, called with the lock held.
type run func(r *http.Request, b body, now time.Time) reply

// api serves one endpoint: fault, log, decode, authenticate, run, answer.
func (s *Sim) api(endpoint string, fn run) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		raw, readErr := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
		s.mu.Lock()
		now := s.clock.Now()
		fault := s.faults.Take(endpoint)
		rec := &Request{Time: now, Endpoint: endpoint, ContentType: r.Header.Get("Content-Type"),
			BearerToken: len(r.Header.Get("Authorization")) > len("Bearer "), Fault: fault.Kind}
		s.requests.Add(rec)
		b, e := decodeBody(r, raw, endpoint == EndpointToken)
		if readErr != nil {
			b, e = nil, refuse("Unreadable body: %v", readErr)
		}
		if b != nil {
			rec.Body = recordBody(b)
			rec.OutTradeNo, _, _ = b.text("out_trade_no")
		}
		if !fault.Kind.processes() {
			rec.HTTPStatus = unprocessedStatus(fault.Kind)
			s.mu.Unlock()
			s.log.Info("qrwalletsim: injected fault, request not processed", "fault", string(fault.Kind), "endpoint", endpoint)
			failUnprocessed(w, fault.Kind)
			return
		}
		rep := s.processLocked(endpoint, r, b, e, now, fn)
		mode := s.mode
		rep = fault.Kind.alter(rep)
		rec.HTTPStatus, rec.Success, rec.Message = rep.httpStatus(mode), rep.ok, rep.msg
		s.mu.Unlock()

		s.log.Info("qrwalletsim: request", "endpoint", endpoint, "out_trade_no", rec.OutTradeNo,
			"http_status", rec.HTTPStatus, "success", rep.ok, "message", rep.msg, "fault", string(fault.Kind))
		s.answer(w, r, rep, mode, fault)
	}
}

// processLocked authenticates (every endpoint but the token's, line 28)
// and runs the endpoint.
func (s *Sim) processLocked(endpoint string, r *http.Request, b body, e *refusal, now time.Time, fn run) reply {
	if endpoint != EndpointToken {
		// Authentication comes first, as a bearer-token API checks it
		// before reading the body.
		if ae := s.authenticateLocked(r, now); ae != nil {
			return ae.reply()
		}
	}
	if e != nil {
		return e.reply()
	}
	return fn(r, b, now)
}

// alter applies an after-process fault to the answer's content.
func (k FaultKind) alter(rep reply) reply {
	if !rep.ok || (k != FaultForged && k != FaultConflictingKeys) {
		return rep
	}
	data := slices.Clone(rep.data)
	for i, f := range data {
		if f.k != "out_trade_no" {
			continue
		}
		if k == FaultForged {
			data[i].v = fmt.Sprint("FORGED-", f.v)
		} else {
			data = append(data, kv{"out_trade_no", fmt.Sprint("OTHER-", f.v)})
			break
		}
	}
	rep.data = data
	return rep
}

// answer writes the answer, applying transport faults.
func (s *Sim) answer(w http.ResponseWriter, r *http.Request, rep reply, mode Mode, fault Fault) {
	out, status := rep.encode(mode, s.cur), rep.httpStatus(mode)
	switch fault.Kind {
	case FaultHTTP500AfterProcess:
		out, status = []byte("Internal Server Error"), http.StatusInternalServerError
	case FaultMalformed:
		out, status = []byte("<html><body>502 Bad Gateway</body></html>"), http.StatusOK
	}
	if !simkit.Misbehave(w, r, fault.Kind == FaultSlow, fault.Kind == FaultDropAfterProcess, fault.Delay) {
		return
	}
	if fault.Kind == FaultMalformed || fault.Kind == FaultHTTP500AfterProcess {
		w.Header().Set("Content-Type", "text/html")
	} else {
		w.Header().Set("Content-Type", "application/json")
	}
	w.WriteHeader(status)
	_, _ = w.Write(out)
}

func unprocessedStatus(k FaultKind) int {
	switch k {
	case FaultHTTP500:
		return http.StatusInternalServerError
	case FaultHTTP429:
		return http.StatusTooManyRequests
	case FaultAuthRefused:
		return http.StatusUnauthorized
	}
	return 0
}

// failUnprocessed answers a request the fault kept from being processed.
func failUnprocessed(w http.ResponseWriter, k FaultKind) {
	switch k {
	case FaultDrop:
		simkit.DropConn(w)
	case FaultAuthRefused:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		b, _ := json.Marshal(map[string]any{"success": false, "message": "Unauthenticated."})
		_, _ = w.Write(b)
	default:
		http.Error(w, http.StatusText(unprocessedStatus(k)), unprocessedStatus(k))
	}
}
