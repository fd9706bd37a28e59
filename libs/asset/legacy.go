package asset

import "strings"

// LegacyMarker is what the Python jms-sync wrote into an asset's comment
// before the instance id.
const LegacyMarker = "instance_id:"

// LegacyInstanceID reads the instance id the Python jms-sync stored in an
// asset comment, with its rule: the text after the first "instance_id:" on
// the first line that has one, trimmed. The reconciler (adopt candidates),
// the applier (re-checks, twins of a create) and `jms-sync adopt` all read
// it here, so they cannot disagree on which asset is the old tool's.
func LegacyInstanceID(comment string) (string, bool) {
	for line := range strings.Lines(comment) {
		if _, after, ok := strings.Cut(line, LegacyMarker); ok {
			id := strings.TrimSpace(after)
			return id, id != ""
		}
	}
	return "", false
}
