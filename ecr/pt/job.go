package pt

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/posbridge/posbridge/ecr/zvt"
)

// job is one command during which the PT is master: it answers 80 00 00,
// sends its messages and gives the master rights back with 06 0F or 06 1E.
// At most one job runs per PT. A job talks through its line (sess), which can
// go away and come back; it runs on the PT's lifetime context, not the line's.
type job struct {
	p          *PT
	kind       string
	continuous bool
	pay        *payJob // payment jobs only

	// Guarded by p.mu.
	sess       *session
	reattached bool // the request was re-sent while the job ran
	completing bool // the final 06 0F / 06 1E is out: the ECR is master again

	released chan struct{} // closed when a new command supersedes a completing job

	wake     chan struct{} // the line changed
	abortReq chan struct{} // the ECR sent 06 B0

	// Job goroutine only.
	owed     bool     // an earlier message's response may still arrive late
	owedSess *session // the line the owed response would come on
}

// startJob starts a job on line s; p.mu must be held and p.job be nil.
func (p *PT) startJob(s *session, kind string, pj *payJob, run func(ctx context.Context, j *job)) {
	j := &job{p: p, kind: kind, continuous: s.continuous, pay: pj, sess: s,
		wake: make(chan struct{}, 1), abortReq: make(chan struct{}, 1), released: make(chan struct{})}
	p.job = j
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		defer func() {
			p.mu.Lock()
			if p.job == j {
				p.job = nil
			}
			p.mu.Unlock()
		}()
		defer func() {
			if r := recover(); r != nil {
				func() {
					defer p.recoverPanic(kind)
					panic(r)
				}()
				// Hand the master rights back with "system error".
				j.reply(p.ctx, resultMessage(zvt.ResultSystemError, 0, nil))
				if pj != nil {
					p.adoptAfterPanic(pj)
				}
			}
		}()
		run(p.ctx, j)
	}()
}

// signal wakes the job after its line changed; p.mu must be held.
func (j *job) signal() {
	select {
	case j.wake <- struct{}{}:
	default:
	}
}

// line returns the job's current line, or nil.
func (j *job) line() *session {
	j.p.mu.Lock()
	defer j.p.mu.Unlock()
	return j.sess
}

// awaitLine returns the job's line, waiting up to d for one to attach.
func (j *job) awaitLine(ctx context.Context, d time.Duration) *session {
	if s := j.line(); s != nil {
		return s
	}
	t := j.p.clock.NewTimer(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C():
			return j.line()
		case <-j.wake:
			if s := j.line(); s != nil {
				return s
			}
		}
	}
}

// takeReattached reports and clears whether the request was re-sent.
func (j *job) takeReattached() bool {
	j.p.mu.Lock()
	defer j.p.mu.Unlock()
	r := j.reattached
	j.reattached = false
	return r
}

// reply writes on the job's line without waiting for a response.
func (j *job) reply(ctx context.Context, a zvt.APDU) {
	if s := j.line(); s != nil {
		j.p.reply(ctx, s, a)
	}
}

// exchange sends a to the ECR and waits T3 for its application response.
func (j *job) exchange(ctx context.Context, a zvt.APDU) (zvt.Response, error) {
	s := j.line()
	if s == nil {
		return zvt.Response{}, errNoLine
	}
	if j.owedSess != s {
		j.owed, j.owedSess = false, s
	}
	if s.drain() > 0 {
		j.owed = false // the late response came in the meantime
	}
	name := zvt.ControlName(a.Control())
	if err := s.t.WriteAPDU(ctx, a); err != nil {
		return zvt.Response{}, fmt.Errorf("send %s: %w", name, err)
	}
	t := j.p.clock.NewTimer(j.p.cfg.ResponseTimeout)
	defer t.Stop()
	for {
		select {
		case r := <-s.resp:
			if j.owed {
				// The first response after a timed-out message is taken as
				// that message's late answer: an acknowledgement is never
				// credited to the wrong message (worst case: one more repeat).
				j.owed = false
				continue
			}
			var resp zvt.Response
			if err := resp.Decode(r); err != nil {
				return zvt.Response{}, fmt.Errorf("read response to %s: %w", name, err)
			}
			return resp, nil
		case <-t.C():
			j.owed = true
			return zvt.Response{}, fmt.Errorf("%s: %w", name, errNoResponse)
		case <-s.done:
			return zvt.Response{}, fmt.Errorf("%s: %w", name, errLineClosed)
		case <-j.released:
			// The ECR sent its next command: it took our completion.
			return zvt.Response{CCRC: zvt.CCRCPositive}, nil
		case <-ctx.Done():
			return zvt.Response{}, ctx.Err()
		}
	}
}

// finishing marks the job as sending its final message: from now on a new
// command from the ECR supersedes it (the ECR answers 06 0F / 06 1E and is
// master again, and may send its next command before the job has seen the
// answer).
func (j *job) finishing() {
	j.p.mu.Lock()
	j.completing = true
	j.p.mu.Unlock()
}

// sleep waits d or until ctx ends.
func (j *job) sleep(ctx context.Context, d time.Duration) bool {
	t := j.p.clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C():
		return true
	}
}

// deliverStatus sends a Status-Information until the ECR acknowledges it
// (80 00 00 or 84 00 00): the first send plus StatusRepeats repeats, each
// waiting T3 for the answer (or, with no line attached, T3 for one to come
// back). 84 9C 00 ("please wait") repeats it after 2 s without counting; any
// other 84 xx means the ECR refuses the result (issue of goods failed).
// maxWaits bounds the 84 9C answers (BMP 02 of the request; -1: not sent).
// It reports whether the ECR acknowledged it.
func (j *job) deliverStatus(ctx context.Context, si zvt.StatusInformation, maxWaits int) bool {
	a, err := si.Encode()
	if err != nil {
		j.p.log.Error("building status information", "err", err)
		return false
	}
	return j.deliver(ctx, a, maxWaits)
}

// deliver sends a message whose acknowledgement counts (Status-Information,
// Print Line, Print Text-Block) until the ECR acknowledges it, as
// deliverStatus describes; maxWaits 0 takes no 84 9C at all.
func (j *job) deliver(ctx context.Context, a zvt.APDU, maxWaits int) bool {
	p := j.p
	name := zvt.ControlName(a.Control())
	if maxWaits < 0 {
		maxWaits = maxPleaseWait
	}
	waits := 0
	for attempt := 1; attempt <= 1+p.cfg.StatusRepeats; {
		if ctx.Err() != nil {
			return false
		}
		if j.awaitLine(ctx, p.cfg.ResponseTimeout) == nil {
			p.log.Warn("no ECR line for the message", "msg", name, "attempt", attempt)
			attempt++
			continue
		}
		resp, err := j.exchange(ctx, a)
		switch {
		case ctx.Err() != nil:
			return false
		case err != nil:
			p.log.Warn("message not acknowledged", "msg", name, "attempt", attempt, "err", err)
			attempt++
		case resp.Positive():
			return true
		case resp.CCRC == zvt.CCRCNegative && resp.APRC == zvt.ResultPleaseWait:
			waits++
			if waits > maxWaits {
				p.log.Warn("ECR answered 84 9C (please wait) too often; giving up", "msg", name, "times", waits)
				return false
			}
			if !j.sleep(ctx, pleaseWaitDelay) {
				return false
			}
		default:
			p.log.Warn("ECR refused the message", "msg", name, "aprc", fmt.Sprintf("%02X", resp.APRC))
			return false
		}
	}
	return false
}

// complete gives the master rights back: 06 0F 00 for result 00, otherwise
// 06 1E <result>. Its acknowledgement changes nothing (PA00P015 §2.2.9).
func (j *job) complete(ctx context.Context, code byte) {
	j.finish(ctx, resultMessage(code, 0, nil), "completion not acknowledged by the ECR (nothing depends on it)")
}

// abort ends a command with 06 1E; currency goes with result 6F only, tlv
// (extended error code and text) only where the ECR may receive it.
func (j *job) abort(ctx context.Context, code byte, currency int, tlv []zvt.TLV) {
	j.finish(ctx, resultMessage(code, currency, tlv), "abort not acknowledged by the ECR")
}

// finish sends the command's final message (06 0F or 06 1E), which gives the
// master rights back to the ECR; a missing acknowledgement is only logged, as
// unacked.
func (j *job) finish(ctx context.Context, a zvt.APDU, unacked string) {
	j.finishing()
	j.owed = false // whatever answer comes now ends the command
	if _, err := j.exchange(ctx, a); err != nil && ctx.Err() == nil {
		j.p.log.Info(unacked, "msg", zvt.ControlName(a.Control()), "err", err)
	}
}

// sendStatus sends one Intermediate Status-Information and waits for its
// answer; a missing answer only gets logged.
func (j *job) sendStatus(ctx context.Context, code byte) {
	if j.line() == nil {
		return
	}
	if _, err := j.exchange(ctx, intermediateStatusMessage(code)); err != nil && ctx.Err() == nil && !errors.Is(err, errNoLine) {
		j.p.log.Info("intermediate status not acknowledged", "err", err)
	}
}

// waitWithStatus waits for a value on ch, sending 04 FF <code> at once and
// every KeepAlive while the ECR asked for intermediate status.
func waitWithStatus[T any](ctx context.Context, j *job, code byte, ch <-chan T) (T, bool) {
	want := j.p.wantStatus()
	if want {
		j.sendStatus(ctx, code)
	}
	for {
		t := j.p.clock.NewTimer(j.p.cfg.KeepAlive)
		select {
		case v := <-ch:
			t.Stop()
			return v, true
		case <-ctx.Done():
			t.Stop()
			var zero T
			return zero, false
		case <-t.C():
			if want {
				j.sendStatus(ctx, code)
			}
		}
	}
}
