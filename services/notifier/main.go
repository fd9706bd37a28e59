// Command notifier closes jms-sync runs and sends their DingTalk cards and
// alerts. Configuration comes from JMSSYNC_* environment variables (see
// notifier.Config).
package main

import (
	"github.com/jmssync/jmssync/libs/svc"
	"github.com/jmssync/jmssync/services/notifier/notifier"
)

func main() { svc.Main(notifier.Name, notifier.Run) }
