package agent

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/posbridge/posbridge/cloud/codepay"
)

func TestCallReached(t *testing.T) {
	live := context.Background()
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name            string
		ctx             context.Context
		err             error
		reached, counts bool
	}{
		{"answer", live, nil, true, true},
		{"signed refusal", live, fmt.Errorf("query order: %w", &codepay.GatewayError{Code: "40004", Msg: "order not exist"}), true, true},
		{"signed refusal while shutting down", cancelled, &codepay.GatewayError{Code: "1"}, true, true},
		{"not sent", live, fmt.Errorf("send x: %w: %w", codepay.ErrNotSent, errors.New("connection refused")), false, true},
		{"timeout", live, fmt.Errorf("send x: %w: %w", codepay.ErrUnknownOutcome, context.DeadlineExceeded), false, true},
		{"HTTP 500", live, fmt.Errorf("call x: %w: HTTP status 500", codepay.ErrUnknownOutcome), false, true},
		{"bad signature", live, fmt.Errorf("verify: %w: %w", codepay.ErrUnknownOutcome, codepay.ErrBadSignature), false, true},
		{"refused locally", live, &codepay.ValidationError{Field: "amount", Reason: "negative"}, false, false},
		{"caller cancelled", cancelled, fmt.Errorf("send x: %w: %w", codepay.ErrNotSent, context.Canceled), false, false},
		{"inner cancel", live, fmt.Errorf("send x: %w: %w", codepay.ErrUnknownOutcome, context.Canceled), false, false},
		{"other", live, errors.New("encode request: boom"), false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			reached, counts := callReached(tc.ctx, tc.err)
			if reached != tc.reached || counts != tc.counts {
				t.Fatalf("callReached(%v) = %v, %v; want %v, %v", tc.err, reached, counts, tc.reached, tc.counts)
			}
		})
	}
}

func TestErrorLine(t *testing.T) {
	got := errorLine(errors.New("read response:\nunexpected 4761739001010119\r\tend"))
	if strings.ContainsAny(got, "\n\r\t") || strings.Contains(got, "4761739001010119") || !strings.HasPrefix(got, "read response: unexpected ") {
		t.Fatalf("errorLine = %q: want one line without the PAN", got)
	}
	long := errorLine(errors.New(strings.Repeat("é", 400)))
	if len(long) > maxLastError+len("…") || !strings.HasSuffix(long, "…") || !strings.HasPrefix(long, "éé") {
		t.Fatalf("errorLine of a long error = %d bytes %q", len(long), long)
	}
}
