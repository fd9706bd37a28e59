// Package e2e holds the end-to-end tests of jms-sync's whole pipeline: the
// four simulators (JumpServer, Aliyun ECS, Huawei ECS, DingTalk), the
// embedded JetStream and every service of the all-in-one, wired exactly as
// the jms-sync binary wires them (internal/app). The tests are the
// acceptance of the product's safety rules (ARCHITECTURE.md); the package
// has no code besides them.
package e2e
