// Package config loads a service's typed configuration from environment
// variables with caarlos0/env, validates it and reports every problem at once.
//
// A service declares one struct with env tags, implements Validate where a
// value needs more than parsing, and calls Load once in main:
//
//	type Config struct {
//		NATSURL  string        `env:"NATS_URL" envDefault:"nats://127.0.0.1:4222"`
//		Password config.Secret `env:"NATS_PASSWORD"` // or NATS_PASSWORD_FILE=/run/secrets/nats
//		Interval time.Duration `env:"INTERVAL" envDefault:"5m"`
//	}
//
//	cfg, err := config.Load[Config](config.WithPrefix("COLLECTOR_"))
//
// Values of type [Secret] print as [Redacted] everywhere; [SecretValues]
// lists them so the logger can mask them if they slip into a string.
package config
