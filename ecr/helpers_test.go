//go:build linux || darwin

package ecr

import (
	"context"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/posbridge/posbridge/agent/agenttest"
	"github.com/posbridge/posbridge/ecr/ecrsim"
	"github.com/posbridge/posbridge/ecr/pt"
	"github.com/posbridge/posbridge/ecr/zvt"
	"github.com/posbridge/posbridge/store"
)

// rig is a real agent (against the CodePay emulator), a PT for one terminal
// and a serial port on a real pseudo-terminal whose master is the ECR.
type rig struct {
	t      *testing.T
	env    *agenttest.Env
	pt     *pt.PT
	ptmx   *os.File
	ecr    *ecrsim.Serial
	logs   *syncBuffer
	status chan PortStatus
	after  chan backoffCall // nil unless the test controls the back-off
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

type backoffCall struct {
	d    time.Duration
	fire chan time.Time
}

type rigOpts struct {
	sn          string
	env         *agenttest.Env
	linkT2      time.Duration
	respTimeout time.Duration
	path        string // serial path (a symlink); default the pty's own name
	ptmx        *os.File
	controlWait bool // the test answers back-off waits itself
	password    string
}

func newRig(t *testing.T, o rigOpts) *rig {
	t.Helper()
	if o.sn == "" {
		o.sn = agenttest.TermA
	}
	if o.env == nil {
		o.env = agenttest.New(t, agenttest.Opts{})
	}
	if o.linkT2 == 0 {
		o.linkT2 = time.Second
	}
	if o.respTimeout == 0 {
		o.respTimeout = 2 * time.Second
	}
	r := &rig{t: t, env: o.env, logs: &syncBuffer{}, status: make(chan PortStatus, 64)}
	log := testLogger(t, r.logs)
	p, err := pt.New(pt.Config{Name: "ecr0", TerminalSN: o.sn, Agent: o.env.Agent, Memory: store.ECRMemory{DB: o.env.DB}, Logger: log,
		ResponseTimeout: o.respTimeout, Location: time.UTC, Password: o.password})
	if err != nil {
		t.Fatal(err)
	}
	r.pt = p
	if o.ptmx == nil {
		o.ptmx, o.path = openPTY(t, o.path)
	}
	r.ptmx = o.ptmx
	sp := &SerialPort{
		Path: o.path, Mode: SerialMode{Baud: 9600, DataBits: 8, Parity: "none", StopBits: 2},
		PT: p, Link: zvt.LinkConfig{T2: o.linkT2}, Logger: log,
		Notify: func(st PortStatus) { r.status <- st },
	}
	if o.controlWait {
		r.after = make(chan backoffCall, 16)
		sp.After = func(d time.Duration) <-chan time.Time {
			c := backoffCall{d: d, fire: make(chan time.Time, 1)}
			r.after <- c
			return c.fire
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	r.wg.Go(func() { _ = p.Serve(ctx) })
	r.wg.Go(func() { _ = sp.Serve(ctx) })
	t.Cleanup(func() {
		cancel()
		r.wg.Wait()
		if t.Failed() {
			t.Logf("PT log:\n%s", r.logs.String())
		}
	})
	r.waitOpen()
	r.ecr = ecrsim.NewSerial(r.ptmx)
	r.ecr.T2 = 2 * time.Second
	return r
}

// openPTY opens a pseudo-terminal; with link set, link becomes a symlink to
// its device (a "port name" that survives unplugging).
func openPTY(t *testing.T, link string) (*os.File, string) {
	t.Helper()
	blocking, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminal available: %v", err)
	}
	name := tty.Name()
	_ = tty.Close()
	// pty.Open leaves the master in blocking mode, where Close waits for a
	// pending Read. A non-blocking duplicate goes through the runtime poller,
	// so closing it ends the ECR's reads at once: an unplugged cable.
	fd, err := syscall.Dup(int(blocking.Fd()))
	_ = blocking.Close()
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.SetNonblock(fd, true); err != nil {
		t.Fatal(err)
	}
	ptmx := os.NewFile(uintptr(fd), "ptmx")
	t.Cleanup(func() { _ = ptmx.Close() })
	if link == "" {
		return ptmx, name
	}
	_ = os.Remove(link)
	if err := os.Symlink(name, link); err != nil {
		t.Fatal(err)
	}
	return ptmx, link
}

// waitOpen waits until the port reports open.
func (r *rig) waitOpen() {
	r.t.Helper()
	for {
		select {
		case st := <-r.status:
			if st.Open {
				return
			}
		case <-time.After(waitLimit):
			r.t.Fatalf("serial port never opened; log:\n%s", r.logs.String())
		}
	}
}

func (r *rig) ctx() context.Context {
	ctx, cancel := context.WithTimeout(r.t.Context(), waitLimit)
	r.t.Cleanup(cancel)
	return ctx
}

// do runs one command like a well-behaved ECR.
func (r *rig) do(cmd zvt.APDU, o ecrsim.Options) ecrsim.Transcript {
	r.t.Helper()
	tr, err := ecrsim.Do(r.ctx(), r.ecr, cmd, o)
	if err != nil {
		r.t.Fatalf("%s: %v", zvt.ControlName(cmd.Control()), err)
	}
	return tr
}
