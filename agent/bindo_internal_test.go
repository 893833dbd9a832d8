package agent

import (
	"context"
	"testing"

	"github.com/posbridge/posbridge/store"
)

// TestResumeBindoSkipsClaimed: a Bindo payment this process is already
// taking through Bindo (created while Serve was starting, so it is in the
// start-up snapshot of unfinished payments) is left to its goroutine: it is
// neither failed as "restarted before the card data reached Bindo" nor
// followed a second time. The agent here has no journal and no Bindo client,
// so touching the payment at all would panic.
func TestResumeBindoSkipsClaimed(t *testing.T) {
	a := &Agent{}
	a.claimBindo("LIVE1")
	a.resumeBindo(context.Background(), []store.Payment{
		{MerchantOrderNo: "LIVE1", Route: RouteBindo, Type: TypeSale, State: StateQueued},
	})
	a.releaseBindo("LIVE1")
	if len(a.bindoLive) != 0 {
		t.Fatalf("claims left after release: %v", a.bindoLive)
	}
	// Claims nest: the second holder keeps it claimed after the first lets go.
	a.claimBindo("X")
	a.claimBindo("X")
	a.releaseBindo("X")
	if a.claimBindoIfFree("X") {
		t.Fatal("X claimed twice, released once, yet free")
	}
	a.releaseBindo("X")
	if !a.claimBindoIfFree("X") {
		t.Fatal("X released by both holders, yet not free")
	}
}
