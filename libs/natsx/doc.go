// Package natsx owns every NATS convention of jms-sync in one place: the
// connection (reconnect forever, logged), the JetStream layout (stream and KV
// names, subjects and their builders, declared idempotently by
// [EnsureTopology]), publishing (Nats-Msg-Id and trace headers) and the
// consume loop that turns a handler's result into ack, nak-with-delay or
// terminate + dead letter.
//
// Services handle typed messages; they never build a subject by hand, set a
// header or call Ack themselves.
//
// Subject tokens (account ids, regions, pass ids, …) go through
// [EncodeToken]: bytes outside [A-Za-z0-9-] become "_" + two upper-case hex
// digits, so "prod.main" → "prod_2Emain" and "中文" → "_E4_B8_AD_E6_96_87".
// The encoding is deterministic, reversible ([DecodeToken]), ASCII only, and
// its output is valid in subjects, KV keys and stream/consumer names.
package natsx
