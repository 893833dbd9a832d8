package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/posbridge/posbridge/agent"
)

// TestPrintReportThreeCases: the CLI says what the console and the CSV say
// in each case, and never prints "null".
func TestPrintReportThreeCases(t *testing.T) {
	const head = `"terminal_sn":"T1","batch_no":3,"state":"closed","opened_at":"2026-01-01T08:00:00Z","closed_at":"2026-01-01T20:00:00Z","closed_by":"cli",` +
		`"local":{"count":1,"total_amount":"12.34","currency":"USD","tips":"0.00","by_type":{"sale":{"count":1,"amount":"12.34"}}}`
	tests := []struct {
		name, json string
		want       []string
		not        []string
	}{
		{"agree", `{` + head + `,"cloud":{"count":1,"total_amount":"12.34"},"differences":[],"comparison":"agree"}`,
			[]string{"CodePay  1 transactions  12.34", "  " + agent.AgreeLine + "\n"}, []string{"!", "not compared"}},
		{"differ", `{` + head + `,"cloud":{"count":2,"total_amount":"17.34"},"differences":["count: CodePay has 2 transactions, posbridge 1","total: CodePay has 17.34 USD, posbridge 12.34 USD (difference 5.00)"],"comparison":"differ"}`,
			[]string{"! count: CodePay has 2 transactions, posbridge 1", "! total: CodePay has 17.34 USD"}, []string{agent.AgreeLine, "not compared"}},
		{"not compared", `{` + head + `,"cloud":null,"differences":["` + agent.NotComparedLine + `"],"comparison":"not_compared"}`,
			[]string{"! " + agent.NotComparedLine}, []string{agent.AgreeLine, "CodePay  "}},
		{"not compared with the SDK's settle list", `{` + head + `,"cloud":null,"differences":["` + agent.NotComparedLine + `"],"comparison":"not_compared","cloud_settle_list":"VISA 1 12.34"}`,
			[]string{"! " + agent.NotComparedLine, "CodePay settle list  VISA 1 12.34"}, []string{agent.AgreeLine}},
		// An agent from before "comparison": derived, and the old empty answer is not agreement.
		{"old agent, empty answer", `{` + head + `,"cloud":{"count":null,"total_amount":""},"differences":[]}`,
			[]string{"! " + agent.NotComparedLine, "CodePay  ? transactions  ?"}, []string{agent.AgreeLine}},
		{"old agent, agree", `{` + head + `,"cloud":{"count":1,"total_amount":"12.34"},"differences":[]}`,
			[]string{agent.AgreeLine}, []string{"!"}},
		{"breakdown with refund, cashback and a void", `{"terminal_sn":"T1","batch_no":5,"state":"open","opened_at":"2026-01-01T20:00:00Z","closed_at":null,` +
			`"local":{"count":3,"total_amount":"35.00","currency":"USD","tips":"2.00","cashback":"10.00","by_type":{"sale":{"count":1,"amount":"20.00"},"cashback":{"count":1,"amount":"8.00"},"refund":{"count":1,"amount":"-5.00"}},` +
			`"not_in_total":{"void":{"count":1,"amount":"7.00"}}},"cloud":null,"differences":[]}`,
			[]string{"refund       1  -5.00\n", "cashback        10.00\n", "void         1  7.00 (not in the total)\n", "(tips 2.00)"}, []string{"!"}},
		{"open batch", `{"terminal_sn":"T1","batch_no":4,"state":"open","opened_at":"2026-01-01T20:00:00Z","closed_at":null,"local":{"count":0,"total_amount":"0.00","currency":"USD","tips":"0.00"},"cloud":null,"differences":[]}`,
			[]string{"batch 4  open"}, []string{agent.AgreeLine, "!", "CodePay"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var r batchReport
			if err := json.Unmarshal([]byte(tc.json), &r); err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			printReport(&b, r)
			out := b.String()
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			for _, w := range append(tc.not, "null") {
				if strings.Contains(out, w) {
					t.Errorf("output has %q:\n%s", w, out)
				}
			}
		})
	}
}
