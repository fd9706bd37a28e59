// Command reconciler verifies the collectors' passes and decides, for every
// configured scope, the intents that bring JumpServer in step. Configuration
// comes from JMSSYNC_* environment variables (see reconciler.Config).
package main

import (
	"github.com/jmssync/jmssync/libs/svc"
	"github.com/jmssync/jmssync/services/reconciler/reconciler"
)

func main() { svc.Main(reconciler.Name, reconciler.Run) }
