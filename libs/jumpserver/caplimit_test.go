package jumpserver

import (
	"errors"
	"fmt"
	"net/http"
	"testing"
)

// TestCapLimit: the cap JumpServer enforced is read from its refusal, so
// the applier reports it instead of its own configured cap.
func TestCapLimit(t *testing.T) {
	h := http.Header{}
	for _, tc := range []struct {
		body string
		want int
	}{
		{`{"error":"The number of assets exceeds the limit of 5000"}`, 5000},
		{`{"error":"The number of assets exceeds the limit of 50"}`, 50},
		{`{"error":"资产数量超过限制 50"}`, 50},
		{`{"error":"The number of assets exceeds the limit"}`, 0},
	} {
		ce := capError(classify("POST", hostsPath, 400, h, []byte(tc.body)))
		got, ok := CapLimit(fmt.Errorf("create: %w", ce))
		if got != tc.want || ok != (tc.want > 0) {
			t.Errorf("%s: CapLimit = %d, %v; want %d", tc.body, got, ok, tc.want)
		}
	}
	if _, ok := CapLimit(classify("POST", hostsPath, 400, h, []byte(`{"name":["limit of 50"]}`))); ok {
		t.Error("a field error read as a cap")
	}
	if _, ok := CapLimit(errors.New("limit of 50")); ok {
		t.Error("a plain error read as a cap")
	}
}
