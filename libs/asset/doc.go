// Package asset is the normalised, provider-neutral model of a cloud server
// that every jms-sync component shares: the Instance the collectors publish,
// the OS detection that decides the JumpServer platform, the lifecycle State,
// the identity of an asset (ID, its KV key and its deterministic JumpServer
// asset id) and the order-independent digest that lets the reconciler check a
// pass arrived whole.
//
// Everything here is pure: no I/O, no clocks, no randomness.
package asset
