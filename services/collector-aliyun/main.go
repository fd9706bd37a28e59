// Command collector-aliyun lists Alibaba Cloud ECS instances of the
// configured accounts and regions and publishes them as passes on NATS
// JetStream. Configuration comes from JMSSYNC_* environment variables.
package main

import (
	"github.com/jmssync/jmssync/libs/svc"
	"github.com/jmssync/jmssync/services/collector-aliyun/aliyuncollector"
)

func main() { svc.Main(aliyuncollector.Service, aliyuncollector.Run) }
