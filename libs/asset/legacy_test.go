package asset_test

import (
	"testing"

	"github.com/jmssync/jmssync/libs/asset"
)

func TestLegacyInstanceID(t *testing.T) {
	for _, tc := range []struct {
		name, comment, want string
		ok                  bool
	}{
		{"python comment", "由JMS-Sync同步于 2024-05-01 10:00:00\ninstance_id: i-bp1abc\ninstance_type: ecs.g6\nregion: cn-hangzhou", "i-bp1abc", true},
		{"first marker wins", "instance_id: i-1\ninstance_id: i-2", "i-1", true},
		{"text after the first marker on the line", "x instance_id:  i-9 instance_id: i-8 ", "i-9 instance_id: i-8", true},
		{"crlf trimmed", "a\r\ninstance_id: i-3\r\n", "i-3", true},
		{"no space", "instance_id:i-4", "i-4", true},
		{"empty id", "instance_id:   \nregion: x", "", false},
		{"hand-made", "made by hand\nowner: dba", "", false},
		{"case matters, as in Python", "Instance_ID: i-5", "", false},
		{"empty", "", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := asset.LegacyInstanceID(tc.comment)
			if got != tc.want || ok != tc.ok {
				t.Fatalf("LegacyInstanceID(%q) = %q, %v; want %q, %v", tc.comment, got, ok, tc.want, tc.ok)
			}
		})
	}
}
