// Command jms-sync runs the whole pipeline in one process with an embedded
// JetStream server, and the operator commands (serve, once, plan, confirm,
// validate, demo, …).
package main

func main() {}
