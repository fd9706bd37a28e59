// Command applier applies jms-sync intents to JumpServer: the only
// component that writes there. Configuration comes from JMSSYNC_*
// environment variables (see applier.Config).
package main

import (
	"github.com/jmssync/jmssync/libs/svc"
	"github.com/jmssync/jmssync/services/applier/applier"
)

func main() { svc.Main(applier.Name, applier.Run) }
