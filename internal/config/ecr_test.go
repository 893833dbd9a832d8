package config

import "testing"

func TestECRDefaultsAndProblem(t *testing.T) {
	e := ECR{Protocol: "zvt", Serial: "/dev/ttyUSB0", TerminalSN: "SN1"}
	e.SetDefaults()
	if e.Baud != 9600 || e.DataBits != 8 || e.Parity != "none" || e.StopBits != 2 {
		t.Fatalf("SetDefaults() = %+v, want 9600 8N2", e)
	}
	known := func(sn string) bool { return sn == "SN1" }
	tests := []struct {
		name       string
		edit       func(*ECR)
		known      func(string) bool
		field, msg string
	}{
		{"valid", func(*ECR) {}, known, "", ""},
		{"protocol", func(e *ECR) { e.Protocol = "opi" }, known, "protocol", `only "zvt" is supported, got "opi"`},
		{"both lines", func(e *ECR) { e.TCPListen = ":20007" }, known, "", "set exactly one of serial or tcp_listen"},
		{"no line", func(e *ECR) { e.Serial = "" }, known, "", "set exactly one of serial or tcp_listen"},
		{"terminal", func(e *ECR) { e.TerminalSN = "SN2" }, known, "terminal_sn", `no [[terminal]] with sn "SN2"`},
		{"terminal unchecked", func(e *ECR) { e.TerminalSN = "SN2" }, nil, "", ""},
		{"parity", func(e *ECR) { e.Parity = "mark" }, known, "parity", `want none, even or odd, got "mark"`},
		{"data bits", func(e *ECR) { e.DataBits = 9 }, known, "data_bits", "want 5-8, got 9"},
		{"stop bits", func(e *ECR) { e.StopBits = 3 }, known, "stop_bits", "want 1 or 2, got 3"},
		{"protocol first", func(e *ECR) { e.Protocol, e.StopBits = "", 3 }, known, "protocol", `only "zvt" is supported, got ""`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := e
			tc.edit(&c)
			if field, msg := c.Problem(tc.known); field != tc.field || msg != tc.msg {
				t.Errorf("Problem(%+v) = %q, %q; want %q, %q", c, field, msg, tc.field, tc.msg)
			}
		})
	}
}
