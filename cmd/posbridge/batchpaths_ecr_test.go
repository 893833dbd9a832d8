package main

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/posbridge/posbridge/agent/agenttest"
	"github.com/posbridge/posbridge/api/wsapi"
	"github.com/posbridge/posbridge/ecr"
	"github.com/posbridge/posbridge/ecr/ecrsim"
	"github.com/posbridge/posbridge/ecr/pt"
	"github.com/posbridge/posbridge/ecr/zvt"
	"github.com/posbridge/posbridge/internal/config"
	"github.com/posbridge/posbridge/store"
)

// ecrClosePaths adds the ZVT end of day (06 50) from an ECR over TCP.
func ecrClosePaths(t *testing.T, e *agenttest.Env) []closePath {
	svc, err := ecr.New(ecr.Config{Agent: e.Agent, PT: pt.Config{Memory: store.ECRMemory{DB: e.DB}}, ECRs: []config.ECR{{Protocol: "zvt", TCPListen: "127.0.0.1:0", TerminalSN: agenttest.TermA}},
		Logger: newLogger(discard{}, false)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := svc.Prepare(ctx); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); svc.Serve(ctx) }()
	t.Cleanup(func() { cancel(); wg.Wait() })
	addr := svc.TCPAddrs()[0].String()
	return []closePath{{"ecr", func(t *testing.T) wsapi.BatchReport {
		dctx, dcancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer dcancel()
		c, err := ecrsim.DialTCP(dctx, addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		cmd, err := zvt.EndOfDay{Password: "000000"}.Encode()
		if err != nil {
			t.Fatal(err)
		}
		tr, err := ecrsim.Do(dctx, c, cmd, ecrsim.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if code, ok := tr.Result(); !ok || code != 0 {
			t.Fatalf("end of day: %s", tr)
		}
		list, err := e.Agent.BatchList(dctx, agenttest.TermA, 2)
		if err != nil || len(list) < 2 {
			t.Fatalf("batches after end of day: %+v, %v", list, err)
		}
		return wsapi.BatchReportFrom(list[1]) // list[0] is the new open batch
	}}}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
