package idpaysim

import (
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"time"

	"github.com/posbridge/posbridge/cloud/internal/simkit"
)

// FaultKind is a kind of injected fault.
type FaultKind string

// Fault kinds.
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
	// FaultSlow processes the request and answers after Fault.Delay (real
	// time); a client that gives up first never sees the answer.
	FaultSlow FaultKind = "slow"
	// FaultBadSignature signs the answer over other content.
	FaultBadSignature FaultKind = "bad_signature"
	// FaultUnsigned leaves the signature out of the answer.
	FaultUnsigned FaultKind = "unsigned"
)

// FaultKinds lists every kind.
func FaultKinds() []FaultKind {
	return []FaultKind{FaultHTTP500, FaultHTTP500AfterProcess, FaultHTTP429, FaultDrop, FaultDropAfterProcess,
		FaultSlow, FaultBadSignature, FaultUnsigned}
}

func (k FaultKind) valid() bool { return slices.Contains(FaultKinds(), k) }

func (k FaultKind) processes() bool {
	return k != FaultHTTP500 && k != FaultHTTP429 && k != FaultDrop
}

// defaultSlowDelay is the FaultSlow delay when none is given.
const defaultSlowDelay = 30 * time.Second

// Fault makes the next Count requests of Op ("create", "query"; "" = any)
// misbehave as Kind. Count ≤ 0 means 1.
type Fault struct {
	Op    string        `json:"op"`
	Kind  FaultKind     `json:"kind"`
	Count int           `json:"count"`
	Delay time.Duration `json:"-"` // FaultSlow; ≤ 0 means 30 s
}

// InjectFault queues f; faults apply in order, one per request.
func (s *Sim) InjectFault(f Fault) error {
	if !f.Kind.valid() {
		return fmt.Errorf("%w: unknown fault kind %q", ErrInvalidConfig, f.Kind)
	}
	if f.Kind == FaultSlow && f.Delay <= 0 {
		f.Delay = defaultSlowDelay
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.Add(f.Op, f.Count, f)
	return nil
}

// ClearFaults drops every fault not yet used up.
func (s *Sim) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.Clear()
}

// maxBody bounds a request body.
const maxBody = 64 << 10

// handleGateway serves CreatePath and QueryPath.
func (s *Sim) handleGateway(op string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, decErr := decodeRequest(w, r)
		s.mu.Lock()
		now := s.clock.Now()
		fault := s.faults.Take(op)
		rec := &Request{Time: now, Op: op, OrderNo: p[fOrderNo], Params: redact(p), Fault: fault.Kind}
		s.requests.Add(rec)
		if fault.Kind != "" && !fault.Kind.processes() {
			s.mu.Unlock()
			s.log.Info("injected fault, request not processed", "fault", string(fault.Kind), "op", op, "order_no", rec.OrderNo)
			failUnprocessed(w, fault.Kind)
			return
		}
		ans, code, aerr := s.processLocked(op, p, decErr, now)
		out, err := s.answer(ans, code, aerr, fault.Kind)
		rec.RespCode = code
		if aerr != nil {
			rec.ErrorCode, rec.Message = aerr.code, aerr.msg
		}
		s.mu.Unlock()
		s.log.Info("request", "op", op, "order_no", rec.OrderNo, "resp_code", code, "error_code", rec.ErrorCode, "fault", string(fault.Kind))
		if err != nil {
			http.Error(w, "internal server error", http.StatusInternalServerError)
			return
		}
		if !simkit.Misbehave(w, r, fault.Kind == FaultSlow, fault.Kind == FaultDropAfterProcess, fault.Delay) {
			return
		}
		if fault.Kind == FaultHTTP500AfterProcess {
			http.Error(w, "internal server error (injected fault, request processed)", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		_, _ = w.Write(out)
	}
}

// decodeRequest reads a JSON body (spec line 32).
func decodeRequest(w http.ResponseWriter, r *http.Request) (params, error) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return params{}, fmt.Errorf("content type must be application/json (spec line 32)")
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		return params{}, fmt.Errorf("read body: %w", err)
	}
	p, err := decodeJSON(body)
	if err != nil {
		return params{}, err
	}
	return p, nil
}

// processLocked authenticates and runs one request. code is the
// platRespCode to answer.
func (s *Sim) processLocked(op string, p params, decErr error, now time.Time) (params, string, *apiError) {
	switch {
	case decErr != nil:
		return nil, respFail, refuse(CodeParamError, "%v", decErr)
	case verify(s.cfg.MerchantPublicKey, p) != nil:
		return nil, respFail, refuse(CodeSignError, "signature verification failed")
	case p[fMerchantCode] != s.cfg.MerchantCode:
		return nil, respFail, refuse(CodeMerchantError, "unknown merchant")
	case op == opCreate:
		ans, code, e := s.createLocked(p, now)
		if code == "" {
			code = respFail
		}
		return ans, code, e
	}
	return s.queryLocked(p)
}

// answer encodes the signed JSON answer.
func (s *Sim) answer(ans params, code string, aerr *apiError, kind FaultKind) ([]byte, error) {
	if ans == nil {
		ans = params{fMerchantCode: s.cfg.MerchantCode}
	}
	ans[fRespCode] = code
	if aerr != nil {
		ans[fErrorCode], ans[fRespMessage] = aerr.code, aerr.msg
	} else {
		ans[fRespMessage] = "success"
	}
	return encodeAnswer(s.cfg.PlatformKey, ans, kind == FaultBadSignature, kind == FaultUnsigned)
}

func failUnprocessed(w http.ResponseWriter, k FaultKind) {
	switch k {
	case FaultHTTP500:
		http.Error(w, "internal server error (injected fault)", http.StatusInternalServerError)
	case FaultHTTP429:
		http.Error(w, "too many requests (injected fault)", http.StatusTooManyRequests)
	default:
		simkit.DropConn(w)
	}
}

// Operations as recorded in the request log.
const (
	opCreate = "create"
	opQuery  = "query"
)
