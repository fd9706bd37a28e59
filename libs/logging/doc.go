// Package logging builds the zerolog JSON logger every service uses.
//
// Output is one JSON object per line (stdout by default) with "time",
// "level", "service" and "message". Events written with a context
// (logger.Info().Ctx(ctx) or through [Ctx]) carry "trace_id" and "span_id" of
// the OpenTelemetry span in that context.
//
// Every line passes through a redacting writer before it is written: values of
// secret-looking keys ("password", "token", "secret", …) and every value
// registered with [RegisterSecrets] or [WithSecrets] are replaced by
// "[REDACTED]", wherever they appear, so a secret that slipped into an error
// string is masked too. config.Secret values render as "[REDACTED]" on their own.
package logging
