// Command collector-huaweicloud lists Huawei Cloud ECS servers of the
// configured accounts and regions and publishes them as passes on NATS
// JetStream. Configuration comes from JMSSYNC_* environment variables.
package main

import (
	"github.com/jmssync/jmssync/libs/svc"
	"github.com/jmssync/jmssync/services/collector-huaweicloud/huaweicollector"
)

func main() { svc.Main(huaweicollector.Service, huaweicollector.Run) }
